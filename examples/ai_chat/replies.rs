//! Replies that live apart from the connections reading them.
//!
//! Starting a reply spawns a task (the generator) that reads the model and publishes the reply's
//! chunks to a pub/sub channel of its own, `ai-chat/{chatId}/{replyId}`. Clients read that
//! channel: the one that asked, and any that resume, on this instance or, with Redis, another.
//! A client that leaves stops reading; the generator goes on. Each chunk reaches clients with
//! the id `{replyId}.{messageId}`, so a `Last-Event-ID` names both the reply and the place in it.
//!
//! Per chat, the registry knows the current reply (replayable from its `start` until retention
//! drops it) and whether it is still generating: a lease its generator holds. `stop` asks the
//! generator to end; the generator then drops the upstream request (stopping the spending),
//! closes the open part and publishes `finish`. On Redis the lease is a key with a 2 s expiry
//! that the generator renews every 250 ms, when it also looks for a stop request; a generator
//! whose instance died lets it expire, and readers waiting on that reply say so with an `error`
//! chunk instead of waiting forever.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use orpc_pubsub::{Error, PubSub, RedisConfig, Subscription};
use orpc_runtime::ORPCError;
use tokio::sync::watch;

use crate::chunks::{Chunk, FinishReason};
use crate::upstream::{Message, Model, Piece};

/// How long a reply stays replayable after its last chunk.
pub const RETENTION: Duration = Duration::from_secs(600);
/// The most chunks of a reply kept: a reply longer than this can no longer be replayed from its
/// `start`, only resumed near its end.
pub const MAX_CHUNKS: usize = 100_000;
/// A Redis lease lives this long unless its generator renews it.
const LEASE: Duration = Duration::from_secs(2);
/// How often a generator on Redis renews its lease and looks for a stop request.
const TICK: Duration = Duration::from_millis(250);
/// How often a reader waiting for chunks checks that the reply is still generating.
const LIVENESS: Duration = Duration::from_millis(500);
/// How long a reader still waits for the last chunks of a reply whose generator is gone: they
/// may be on their way.
const GRACE: Duration = Duration::from_secs(1);

/// The replies of every chat.
#[derive(Clone)]
pub struct Replies {
    pubsub: PubSub,
    registry: Arc<Registry>,
    model: Model,
}

/// Where chats' current replies and leases are kept.
enum Registry {
    /// This process: one instance.
    Memory(Mutex<HashMap<String, ChatState>>),
    /// Redis, shared by every instance.
    Redis(redis::aio::ConnectionManager),
}

struct ChatState {
    reply: String,
    /// Set while the reply is generating: its stop switch.
    generating: Option<watch::Sender<bool>>,
    /// Whether its last chunk was published.
    finished: bool,
    /// When it stopped generating.
    ended: Option<Instant>,
}

/// A reply a reader follows: its id, and the channel's subscription.
pub struct Followed {
    pub reply: String,
    pub subscription: Subscription,
}

impl Replies {
    /// Replies kept in this process.
    pub fn in_memory(pubsub: PubSub, model: Model) -> Self {
        Replies {
            pubsub,
            registry: Arc::new(Registry::Memory(Mutex::new(HashMap::new()))),
            model,
        }
    }

    /// Replies whose registry is on the Redis at `url`; `pubsub` should be on it too.
    pub async fn on_redis(pubsub: PubSub, model: Model, url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|err| err.to_string())?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(|err| err.to_string())?;
        Ok(Replies {
            pubsub,
            registry: Arc::new(Registry::Redis(conn)),
            model,
        })
    }

    /// Starts a reply to `messages` in `chat`, and follows it from its first chunk. A reply still
    /// generating in that chat is a 409 `CONFLICT`.
    pub async fn start(&self, chat: &str, messages: Vec<Message>) -> Result<Followed, ORPCError> {
        let reply = new_reply_id();
        let stop = self.registry.claim(chat, &reply).await?;
        let channel = channel(chat, &reply);
        // Subscribed before the generator starts: nothing it publishes is missed.
        let subscription = match self.pubsub.subscribe(&channel, None).await {
            Ok(subscription) => subscription,
            Err(err) => {
                self.registry.release(chat, &reply, false).await;
                return Err(unavailable(&err));
            }
        };
        let generator = Generator {
            pubsub: self.pubsub.clone(),
            registry: self.registry.clone(),
            chat: chat.to_owned(),
            reply: reply.clone(),
            channel,
        };
        tokio::spawn(generator.run(self.model.reply(messages), stop));
        Ok(Followed {
            reply,
            subscription,
        })
    }

    /// Follows the chat's reply: after `last` (a `Last-Event-ID` this server sent), or, without
    /// one, the current or last reply from its `start`. `None` when the chat has no reply.
    pub async fn resume(
        &self,
        chat: &str,
        last: Option<&str>,
    ) -> Result<Option<Followed>, ORPCError> {
        let (reply, after) = match last {
            Some(last) => {
                let (reply, after) = last
                    .split_once('.')
                    .filter(|(reply, _)| is_reply_id(reply))
                    .ok_or_else(|| {
                        ORPCError::bad_request("This Last-Event-ID is not one of this chat's")
                    })?;
                (reply.to_owned(), Some(after))
            }
            None => match self.registry.current(chat).await? {
                Some(reply) => (reply, None),
                None => return Ok(None),
            },
        };
        let channel = channel(chat, &reply);
        let subscription = match after {
            Some(after) => self.pubsub.subscribe(&channel, Some(after)).await,
            None => self.pubsub.subscribe_from_oldest(&channel).await,
        };
        let subscription = subscription.map_err(|err| match err {
            Error::InvalidLastId(_) => {
                ORPCError::bad_request("This Last-Event-ID is not one of this chat's")
            }
            err => unavailable(&err),
        })?;
        Ok(Some(Followed {
            reply,
            subscription,
        }))
    }

    /// Asks the chat's generating reply to stop; whether one was generating.
    pub async fn stop(&self, chat: &str) -> Result<bool, ORPCError> {
        self.registry.stop(chat).await
    }

    /// Reads `followed` as events: each chunk with its id, to the reply's last chunk. Ends with
    /// an `error` chunk when the reply's chunks can no longer come: retention dropped them, or
    /// its generator is gone without finishing it.
    pub fn reader(&self, chat: &str, followed: Followed) -> Reader {
        Reader {
            replies: self.clone(),
            chat: chat.to_owned(),
            reply: followed.reply,
            subscription: followed.subscription,
            last: None,
            orphaned: None,
            over: false,
        }
    }
}

/// A reader of one reply (see [`Replies::reader`]).
pub struct Reader {
    replies: Replies,
    chat: String,
    reply: String,
    subscription: Subscription,
    /// The last message id read, to subscribe again after a lag.
    last: Option<String>,
    /// Since when the reply has had no generator.
    orphaned: Option<Instant>,
    over: bool,
}

impl Reader {
    /// The next chunk and its event id (none for an error this reader made up); `None` after
    /// the reply's last chunk.
    pub async fn next(&mut self) -> Option<(Chunk, Option<String>)> {
        while !self.over {
            let item = tokio::time::timeout(LIVENESS, self.subscription.next()).await;
            let message = match item {
                Err(_) => match self.check_liveness().await {
                    Liveness::Waiting => continue,
                    Liveness::Over => return None,
                    Liveness::Dead(chunk) => return Some((chunk, None)),
                },
                Ok(None) => return None,
                Ok(Some(Ok(message))) => message,
                Ok(Some(Err(Error::Lagged { .. }))) => {
                    // Behind the live feed: the rest is in retention.
                    let channel = channel(&self.chat, &self.reply);
                    let pubsub = &self.replies.pubsub;
                    let again = match self.last.as_deref() {
                        Some(last) => pubsub.subscribe(&channel, Some(last)).await,
                        None => pubsub.subscribe_from_oldest(&channel).await,
                    };
                    match again {
                        Ok(subscription) => self.subscription = subscription,
                        Err(err) => return Some((self.end(error_chunk(&err)), None)),
                    }
                    continue;
                }
                Ok(Some(Err(err))) => return Some((self.end(error_chunk(&err)), None)),
            };
            let Ok(chunk) = serde_json::from_slice::<Chunk>(message.payload()) else {
                tracing::warn!(id = %message.id(), "an unreadable chunk in a reply's channel; skipped");
                continue;
            };
            self.orphaned = None;
            let id = message.id().to_string();
            self.over = chunk.is_last();
            let event_id = format!("{}.{id}", self.reply);
            self.last = Some(id);
            return Some((chunk, Some(event_id)));
        }
        None
    }

    fn end(&mut self, chunk: Chunk) -> Chunk {
        self.over = true;
        chunk
    }
    /// With no chunk for a while, and no generator for longer than [`GRACE`] (its last chunks may
    /// still be on their way): the reader ends, silently if the reply finished (it resumed after
    /// its last chunk), with an error chunk if its generator is gone without finishing it.
    async fn check_liveness(&mut self) -> Liveness {
        let state = self.replies.registry.state(&self.chat, &self.reply).await;
        if state == ReplyState::Generating {
            self.orphaned = None;
            return Liveness::Waiting;
        }
        let since = *self.orphaned.get_or_insert_with(Instant::now);
        if since.elapsed() < GRACE {
            return Liveness::Waiting;
        }
        self.over = true;
        match state {
            ReplyState::Finished => Liveness::Over,
            _ => Liveness::Dead(Chunk::Error {
                error_text: "The reply stopped: the server writing it is gone. Send the message \
                             again."
                    .to_owned(),
            }),
        }
    }
}

/// What a reader waiting for chunks learns from the registry.
enum Liveness {
    Waiting,
    Over,
    Dead(Chunk),
}

/// Where a reply is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplyState {
    /// Its generator holds its lease.
    Generating,
    /// Its last chunk was published.
    Finished,
    /// Neither: its generator died, or retention forgot it.
    Gone,
}

fn error_chunk(err: &Error) -> Chunk {
    let error_text = match err {
        Error::Gap(_) => "This reply is no longer kept; send the message again.".to_owned(),
        err => format!("The chat store failed: {err}"),
    };
    Chunk::Error { error_text }
}

fn unavailable(err: &Error) -> ORPCError {
    tracing::warn!(%err, "the chat store is unavailable");
    ORPCError::new("SERVICE_UNAVAILABLE").with_message("The chat store is unavailable; retry later")
}

/// The channel of one reply.
fn channel(chat: &str, reply: &str) -> String {
    format!("ai-chat/{chat}/{reply}")
}

/// A reply id unique across instances and restarts: the time, the process and a counter.
fn new_reply_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("r{nanos:x}{:x}{n:x}", std::process::id())
}

fn is_reply_id(text: &str) -> bool {
    text.len() <= 64 && text.starts_with('r') && text[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The task that writes one reply.
struct Generator {
    pubsub: PubSub,
    registry: Arc<Registry>,
    chat: String,
    reply: String,
    channel: String,
}

/// Open part: which kind, and its id.
#[derive(Clone, Copy, PartialEq)]
enum Part {
    Text,
    Reasoning,
}

impl Generator {
    async fn run(self, mut pieces: crate::upstream::Pieces, mut stop: Stop) {
        let started = self
            .publish(&Chunk::Start {
                message_id: self.reply.clone(),
            })
            .await;
        let mut open: Option<(Part, String)> = None;
        let mut parts = 0;
        let end = loop {
            if !started {
                break None;
            }
            let piece = tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => {
                    break Some(Chunk::Finish { finish_reason: FinishReason::Other });
                }
                piece = pieces.next() => piece,
            };
            let (kind, delta) = match piece {
                Some(Ok(Piece::Text(delta))) => (Part::Text, delta),
                Some(Ok(Piece::Reasoning(delta))) => (Part::Reasoning, delta),
                Some(Ok(Piece::Finish(reason))) => {
                    break Some(Chunk::Finish {
                        finish_reason: reason,
                    })
                }
                Some(Err(error_text)) => break Some(Chunk::Error { error_text }),
                None => {
                    break Some(Chunk::Error {
                        error_text: "the model's stream ended without finishing".to_owned(),
                    })
                }
            };
            if open.as_ref().is_none_or(|(part, _)| *part != kind) {
                if !self.close(&mut open).await {
                    break None;
                }
                parts += 1;
                let id = format!("{}{parts}", if kind == Part::Text { "t" } else { "r" });
                let start = match kind {
                    Part::Text => Chunk::TextStart { id: id.clone() },
                    Part::Reasoning => Chunk::ReasoningStart { id: id.clone() },
                };
                if !self.publish(&start).await {
                    break None;
                }
                open = Some((kind, id));
            }
            let id = open.as_ref().map(|(_, id)| id.clone()).unwrap_or_default();
            let chunk = match kind {
                Part::Text => Chunk::TextDelta { id, delta },
                Part::Reasoning => Chunk::ReasoningDelta { id, delta },
            };
            if !self.publish(&chunk).await {
                break None;
            }
        };
        // Dropping the pieces drops the upstream request: no more tokens are paid for.
        drop(pieces);
        let finished = match end {
            Some(end) => self.close(&mut open).await && self.publish(&end).await,
            None => false,
        };
        self.registry
            .release(&self.chat, &self.reply, finished)
            .await;
    }

    /// Closes the open part, if any; whether its chunk was published.
    async fn close(&self, open: &mut Option<(Part, String)>) -> bool {
        match open.take() {
            Some((Part::Text, id)) => self.publish(&Chunk::TextEnd { id }).await,
            Some((Part::Reasoning, id)) => self.publish(&Chunk::ReasoningEnd { id }).await,
            None => true,
        }
    }

    /// Publishes `chunk`; whether it was stored. A reply the store refuses is abandoned: its
    /// readers learn it from the lease.
    async fn publish(&self, chunk: &Chunk) -> bool {
        let payload = serde_json::to_vec(chunk).expect("a chunk always serializes");
        match self.pubsub.publish(&self.channel, payload).await {
            Ok(_) => true,
            Err(err) => {
                tracing::warn!(%err, chat = %self.chat, "a reply could not be stored; abandoned");
                false
            }
        }
    }
}

/// How a generator hears a stop request: its chat's switch. On Redis a keeper task sets it, which
/// renews the lease every [`TICK`] and looks for a stop request at the same time.
type Stop = watch::Receiver<bool>;

/// Renews `reply`'s lease until its generator is over (drops its [`Stop`]); flips the switch when
/// a stop is requested, or when the lease is no longer the reply's.
async fn keep_lease(
    mut conn: redis::aio::ConnectionManager,
    chat: String,
    reply: String,
    switch: watch::Sender<bool>,
) {
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if switch.is_closed() {
            return;
        }
        let renewed: Result<i64, _> = RENEW
            .key(lease_key(&chat))
            .key(stop_key(&reply))
            .arg(&reply)
            .arg(LEASE.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        match renewed {
            // Renewed, no stop request.
            Ok(0) => {}
            // Stop requested, or the lease is not ours any more.
            Ok(_) => {
                let _ = switch.send(true);
                return;
            }
            // Redis is away: the lease may expire; readers will say so.
            Err(err) => tracing::warn!(%err, "a reply's lease could not be renewed"),
        }
    }
}

/// `KEYS`: the lease, the stop request; `ARGV`: the reply, the lease's life in ms. 0: renewed;
/// 1: stop requested; 2: the lease is not this reply's.
static RENEW: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 2 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 0
",
    )
});

/// `KEYS`: the lease, the reply's finished mark, the reply's stream, the chat's current reply;
/// `ARGV`: the reply, whether it finished ('1' or '0'), retention in s. Deletes the lease if it is
/// the reply's, marks the reply finished, keeps it the chat's current reply for retention from
/// now, and lets its stream go once retention is over: nobody publishes to it again, and the
/// pub/sub backend only trims a stream that someone reads.
static RELEASE: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
if ARGV[2] == '1' then redis.call('SET', KEYS[2], '1', 'EX', ARGV[3]) end
redis.call('EXPIRE', KEYS[3], ARGV[3])
if redis.call('GET', KEYS[4]) == ARGV[1] then redis.call('EXPIRE', KEYS[4], ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

/// `KEYS`: the lease; `ARGV`: the stop keys' prefix, their life in s. Marks the generating reply
/// to stop; 1 if there was one.
static REQUEST_STOP: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
    redis::Script::new(
        r"
local reply = redis.call('GET', KEYS[1])
if not reply then return 0 end
redis.call('SET', ARGV[1] .. reply, '1', 'EX', ARGV[2])
return 1
",
    )
});

fn lease_key(chat: &str) -> String {
    format!("ai-chat:lease:{chat}")
}

fn current_key(chat: &str) -> String {
    format!("ai-chat:current:{chat}")
}

fn finished_key(reply: &str) -> String {
    format!("ai-chat:finished:{reply}")
}

const STOP_PREFIX: &str = "ai-chat:stop:";

fn stop_key(reply: &str) -> String {
    format!("{STOP_PREFIX}{reply}")
}

fn store_failed(err: redis::RedisError) -> ORPCError {
    tracing::warn!(%err, "the chat registry on Redis failed");
    ORPCError::new("SERVICE_UNAVAILABLE").with_message("The chat store is unavailable; retry later")
}

fn conflict() -> ORPCError {
    ORPCError::new("CONFLICT")
        .with_status(409)
        .with_message("A reply is still being written in this chat: stop it, or wait for it")
}

impl Registry {
    /// Makes `reply` the chat's current, generating reply; 409 if one is generating.
    async fn claim(&self, chat: &str, reply: &str) -> Result<Stop, ORPCError> {
        match self {
            Registry::Memory(chats) => {
                let mut chats = chats.lock().unwrap_or_else(PoisonError::into_inner);
                // Forget chats whose last reply retention dropped.
                chats
                    .retain(|_, state| state.ended.is_none_or(|ended| ended.elapsed() < RETENTION));
                if chats
                    .get(chat)
                    .is_some_and(|state| state.generating.is_some())
                {
                    return Err(conflict());
                }
                let (switch, stop) = watch::channel(false);
                chats.insert(
                    chat.to_owned(),
                    ChatState {
                        reply: reply.to_owned(),
                        generating: Some(switch),
                        finished: false,
                        ended: None,
                    },
                );
                Ok(stop)
            }
            Registry::Redis(conn) => {
                let mut conn = conn.clone();
                let claimed: Option<String> = redis::cmd("SET")
                    .arg(lease_key(chat))
                    .arg(reply)
                    .arg("NX")
                    .arg("PX")
                    .arg(LEASE.as_millis() as u64)
                    .query_async(&mut conn)
                    .await
                    .map_err(store_failed)?;
                if claimed.is_none() {
                    return Err(conflict());
                }
                let _: () = redis::cmd("SET")
                    .arg(current_key(chat))
                    .arg(reply)
                    .arg("EX")
                    .arg(RETENTION.as_secs())
                    .query_async(&mut conn)
                    .await
                    .map_err(store_failed)?;
                let (switch, stop) = watch::channel(false);
                tokio::spawn(keep_lease(conn, chat.to_owned(), reply.to_owned(), switch));
                Ok(stop)
            }
        }
    }

    /// The reply stopped generating; `finished` if its last chunk was published.
    async fn release(&self, chat: &str, reply: &str, finished: bool) {
        match self {
            Registry::Memory(chats) => {
                let mut chats = chats.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(state) = chats.get_mut(chat).filter(|s| s.reply == reply) {
                    state.generating = None;
                    state.finished = finished;
                    state.ended = Some(Instant::now());
                }
            }
            Registry::Redis(conn) => {
                let stream = format!(
                    "{}{}",
                    RedisConfig::default().key_prefix,
                    channel(chat, reply)
                );
                let released: Result<i64, _> = RELEASE
                    .key(lease_key(chat))
                    .key(finished_key(reply))
                    .key(stream)
                    .key(current_key(chat))
                    .arg(reply)
                    .arg(if finished { "1" } else { "0" })
                    .arg(RETENTION.as_secs())
                    .invoke_async(&mut conn.clone())
                    .await;
                if let Err(err) = released {
                    tracing::warn!(%err, "a reply's lease could not be released; it expires");
                }
            }
        }
    }

    /// The chat's current or last reply, if retention still has it.
    async fn current(&self, chat: &str) -> Result<Option<String>, ORPCError> {
        match self {
            Registry::Memory(chats) => {
                let chats = chats.lock().unwrap_or_else(PoisonError::into_inner);
                Ok(chats.get(chat).map(|state| state.reply.clone()))
            }
            Registry::Redis(conn) => redis::cmd("GET")
                .arg(current_key(chat))
                .query_async(&mut conn.clone())
                .await
                .map_err(store_failed),
        }
    }

    /// Where `reply` is in its life. A registry that cannot be asked says generating: the
    /// reader keeps waiting rather than calling a live reply dead.
    async fn state(&self, chat: &str, reply: &str) -> ReplyState {
        match self {
            Registry::Memory(chats) => {
                let chats = chats.lock().unwrap_or_else(PoisonError::into_inner);
                match chats.get(chat) {
                    Some(state) if state.reply == reply => match &state.generating {
                        Some(_) => ReplyState::Generating,
                        None if state.finished => ReplyState::Finished,
                        None => ReplyState::Gone,
                    },
                    // A chat's earlier replies were over before the next one could start.
                    Some(_) => ReplyState::Finished,
                    None => ReplyState::Gone,
                }
            }
            Registry::Redis(conn) => {
                let asked: Result<(Option<String>, bool), _> = redis::pipe()
                    .cmd("GET")
                    .arg(lease_key(chat))
                    .cmd("EXISTS")
                    .arg(finished_key(reply))
                    .query_async(&mut conn.clone())
                    .await;
                match asked {
                    Err(err) => {
                        tracing::warn!(%err, "the chat registry on Redis failed");
                        ReplyState::Generating
                    }
                    Ok((lease, _)) if lease.as_deref() == Some(reply) => ReplyState::Generating,
                    Ok((_, true)) => ReplyState::Finished,
                    Ok(_) => ReplyState::Gone,
                }
            }
        }
    }

    /// Asks the chat's generating reply to stop; whether there was one.
    async fn stop(&self, chat: &str) -> Result<bool, ORPCError> {
        match self {
            Registry::Memory(chats) => {
                let chats = chats.lock().unwrap_or_else(PoisonError::into_inner);
                let switch = chats.get(chat).and_then(|state| state.generating.as_ref());
                Ok(switch.is_some_and(|switch| switch.send(true).is_ok()))
            }
            Registry::Redis(conn) => {
                let stopped: i64 = REQUEST_STOP
                    .key(lease_key(chat))
                    .arg(STOP_PREFIX)
                    .arg(60)
                    .invoke_async(&mut conn.clone())
                    .await
                    .map_err(store_failed)?;
                Ok(stopped == 1)
            }
        }
    }
}
