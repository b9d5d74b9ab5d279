//! Live football scores in a browser: a simulator publishes goals through `orpc-pubsub`, and
//! the page at `/` follows them with an `EventSource` that resumes after every reconnect.
//!
//!     cargo run --example live_scores              # then open http://127.0.0.1:8080
//!     cargo run --example live_scores -- --tls-cert cert.pem --tls-key key.pem   # https://, HTTP/2
//!     curl -N http://127.0.0.1:8080/api/scores
//!     curl -X POST http://127.0.0.1:8080/api/cut   # demo and test hook: cut every scores stream
//!
//! Every change goes through the publisher, so every event has the publisher's id (1, 2, 3, ..
//! in memory) as its SSE id. A browser that loses its connection reconnects with that id as
//! `Last-Event-ID` and gets exactly the goals it missed: the page counts duplicates and gaps in
//! the ids it sees, and shows both (they stay at 0).
//!
//! `POST /api/cut` exists so that a person or a test can watch a reconnect without pulling a
//! cable: it ends every open scores stream with a `STREAM_CUT` error event (not `done`, which
//! would tell clients the stream is over), and browsers reconnect after the `retry` delay.
//! `Router::shutdown` would not do: it ends the whole router, for good.

mod common;

use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;
use orpc_pubsub::{MessageId, PubSub, Settings};
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_, LastEventId, ORPCError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex};

/// The publisher's channel for goals (and kick-offs).
const CHANNEL: &str = "scores";

/// How long browsers wait before reconnecting; sent with every event, so it holds from the first.
const RETRY: Duration = Duration::from_secs(1);

const FIXTURES: [(&str, &str); 6] = [
    ("Arsenal", "Chelsea"),
    ("Barcelona", "Real Madrid"),
    ("Bayern", "Dortmund"),
    ("Inter", "Milan"),
    ("PSG", "Marseille"),
    ("Ajax", "Feyenoord"),
];

/// One match as it stands. Published whole, not as a delta, so that applying it twice is
/// harmless and one message is enough to draw its card.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
struct Match {
    id: u32,
    home: String,
    away: String,
    home_goals: u32,
    away_goals: u32,
}

/// What the scores stream sends.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ScoreEvent {
    /// Every match, first thing on a connection that is not resuming. Its SSE id is the last
    /// message it includes, so a client resumes after it like after any other event.
    Snapshot { matches: Vec<Match> },
    /// One match after a change.
    Update(Match),
}

/// The matches, and the id of the last message published about them. One lock guards both,
/// and the simulator holds it while it publishes, so a snapshot is exactly "everything up to
/// `as_of`".
struct Scoreboard {
    matches: Vec<Match>,
    as_of: MessageId,
}

type Board = web::Data<Mutex<Scoreboard>>;

/// Publishes each match's kick-off (0-0), so that the board has an id before any client asks.
async fn kick_off(pubsub: &PubSub) -> Result<Scoreboard, orpc_pubsub::Error> {
    let mut matches = Vec::new();
    let mut as_of = None;
    for (id, (home, away)) in (1..).zip(FIXTURES) {
        let kicked_off = Match {
            id,
            home: home.to_owned(),
            away: away.to_owned(),
            home_goals: 0,
            away_goals: 0,
        };
        as_of = Some(publish(pubsub, &kicked_off).await?);
        matches.push(kicked_off);
    }
    let as_of = as_of.expect("FIXTURES is not empty");
    Ok(Scoreboard { matches, as_of })
}

/// Roughly every second, a random team scores.
async fn simulate(pubsub: PubSub, board: Board) {
    loop {
        tokio::time::sleep(Duration::from_millis(600 + random(800))).await;
        let mut board = board.lock().await;
        let scored = random(board.matches.len() as u64) as usize;
        let game = &mut board.matches[scored];
        if random(2) == 0 {
            game.home_goals += 1;
        } else {
            game.away_goals += 1;
        }
        let game = game.clone();
        match publish(&pubsub, &game).await {
            Ok(id) => board.as_of = id,
            Err(err) => eprintln!("publishing a goal failed: {err}"),
        }
    }
}

async fn publish(pubsub: &PubSub, game: &Match) -> Result<MessageId, orpc_pubsub::Error> {
    let payload = serde_json::to_vec(game).expect("a match serializes");
    pubsub.publish(CHANNEL, payload).await
}

/// A number below `n`. `RandomState` is seeded randomly and differently each time: good enough
/// for a demo, and no `rand` dependency.
fn random(n: u64) -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(()) % n.max(1)
}

/// The demo and test hook's switch: every scores stream watches it, `cut` flips it.
type CutSwitch = watch::Sender<()>;

/// The scores: a snapshot then every change, or, after `Last-Event-ID`, exactly what was missed.
#[procedure(output = event_iterator(ScoreEvent), method = GET)]
async fn scores(
    last_event_id: Option<LastEventId>,
    pubsub: web::Data<PubSub>,
    board: Board,
    cuts: web::Data<CutSwitch>,
) -> Result<(), ORPCError> {
    let mut cut_off = cuts.subscribe();
    let last = last_event_id.as_ref().map(LastEventId::as_str);
    // Subscribe before taking the snapshot: every message is then in one or the other. Dropping
    // `updates` (client gone, stream cut, server stopping) unsubscribes.
    let mut updates = pubsub.subscribe(CHANNEL, last).await.map_err(to_orpc)?;
    // A client that is not resuming starts from a snapshot; the messages it includes are
    // skipped below.
    let mut included = None;
    if last.is_none() {
        let (matches, as_of) = {
            let board = board.lock().await;
            (board.matches.clone(), board.as_of)
        };
        included = Some(as_of);
        yield_!(
            ScoreEvent::Snapshot { matches },
            id = as_of.to_string(),
            retry = RETRY
        );
    }
    loop {
        let next = tokio::select! {
            next = updates.next() => next,
            _ = cut_off.changed() => {
                return Err(ORPCError::new("STREAM_CUT")
                    .with_status(503)
                    .with_message("cut by POST /api/cut; reconnect with Last-Event-ID"));
            }
        };
        // The subscription ends only with an error; were it to end, `done` would say so.
        let Some(message) = next else { return Ok(()) };
        let message = message.map_err(to_orpc)?;
        // Published between subscribing and the snapshot: already in it.
        if included.is_some_and(|as_of| message.id() <= as_of) {
            continue;
        }
        let game: Match =
            serde_json::from_slice(message.payload()).map_err(|_| ORPCError::internal())?;
        yield_!(
            ScoreEvent::Update(game),
            id = message.id().to_string(),
            retry = RETRY
        );
    }
}

#[derive(Serialize, JsonSchema)]
struct Cut {
    /// How many scores streams were open, and are now ending.
    streams: usize,
}

/// A demo and test hook: ends every open scores stream with a `STREAM_CUT` error event, so that
/// browsers reconnect and resume after their `Last-Event-ID`.
#[procedure]
async fn cut(cuts: web::Data<CutSwitch>) -> Cut {
    let streams = cuts.receiver_count();
    cuts.send_replace(());
    Cut { streams }
}

/// The publisher's errors as the page reads them: `SUBSCRIBER_LAGGED` means "reconnect and
/// resume", `EVENTS_LOST` and `BAD_REQUEST` mean "start again without `Last-Event-ID`" (the
/// server restarted and lost its in-memory history, or the id was never ours).
fn to_orpc(err: orpc_pubsub::Error) -> ORPCError {
    use orpc_pubsub::Error;
    match err {
        Error::Lagged { .. } => ORPCError::new("SUBSCRIBER_LAGGED")
            .with_status(503)
            .with_message("the client fell behind; reconnect with Last-Event-ID"),
        Error::Gap(gap) => ORPCError::new("EVENTS_LOST")
            .with_status(410)
            .with_message(gap.to_string()),
        Error::InvalidChannel | Error::InvalidLastId(_) => ORPCError::bad_request(err.to_string()),
        err => ORPCError::new("SERVICE_UNAVAILABLE").with_message(err.to_string()),
    }
}

/// The page, embedded in the binary: nothing to build, nothing fetched.
fn page(cfg: &mut web::ServiceConfig) {
    common::page(
        cfg,
        include_str!("web/live_scores.html"),
        "/live_scores.js",
        include_str!("web/live_scores.js"),
    );
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    common::init_logs();
    let args = common::args("live_scores", "127.0.0.1:8080")?;

    let pubsub = PubSub::in_memory(Settings::default());
    let board = Board::new(Mutex::new(
        kick_off(&pubsub).await.map_err(std::io::Error::other)?,
    ));
    tokio::spawn(simulate(pubsub.clone(), board.clone()));

    let router = Router::new()
        .info("live scores", "1.0.0")
        .procedure(scores)
        .procedure(cut);
    let pubsub = web::Data::new(pubsub);
    let cuts = web::Data::new(CutSwitch::new(()));
    common::serve(router, args, move |cfg| {
        cfg.app_data(pubsub.clone())
            .app_data(board.clone())
            .app_data(cuts.clone())
            .configure(page);
    })
    .await
}
