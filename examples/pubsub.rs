//! Live channels over SSE: `publish` to a channel, `subscribe` to it, resume with
//! `Last-Event-ID` on this instance or any other one sharing the same Redis.
//!
//!     cargo run --example pubsub                                        # in memory
//!     cargo run --example pubsub -- --addr 127.0.0.1:8791 --redis redis://127.0.0.1:6379
//!     cargo run --example pubsub -- --redis redis://127.0.0.1:6379 --orpc-compatible
//!     cargo run --example pubsub -- --redis-cluster redis://127.0.0.1:7000,redis://127.0.0.1:7001
//!
//!     curl -N 'http://127.0.0.1:8790/api/subscribe?channel=scores'
//!     curl -X POST http://127.0.0.1:8790/api/publish -H 'content-type: application/json' \
//!          -d '{"channel":"scores","payload":{"home":1,"away":0}}'
//!
//! Its metrics, the channels' (`orpc_pubsub_*`) with the procedures', are at `/metrics`.
//!
//! Each event's SSE id is the id the publisher's backend assigned (`"7"` in memory,
//! `"1718000000000-0"` on Redis). A client that reconnects with `Last-Event-ID` gets exactly the
//! events it missed, then live ones.
//!
//! With `--redis-cluster`, the channels live on a Redis Cluster reached through any of the
//! listed nodes; each channel is one key, so channels spread over the cluster's masters. A
//! publish returns once the channel's master and one of its replicas have the message
//! (`Durability::replicas(1, ..)`), so that a failover of that master loses no event a client
//! was told was published. Add `--master-only` for the faster default, which can lose the last
//! moments of writes at a failover (see `orpc_pubsub::Durability`).
//!
//! With `--orpc-compatible`, channels are stored as oRPC's `IORedisPublisher` stores them (key
//! `orpc:publisher:{channel}`, `resumeRetentionSeconds: 60`), so that an oRPC server on Node
//! with `new IORedisPublisher({ commander, listener, resumeRetentionSeconds: 60 })` shares them:
//! its `publisher.publish('scores', ..)` reaches this example's subscribers, with the `retry` and
//! comments it set, and this example's `publish` reaches its `publisher.subscribe('scores',
//! { lastEventId })`. A client may resume on either server with the id the other one sent.
//!
//! When a subscription cannot go on, the stream ends with an `error` event whose code tells the
//! client what to do; every one of them is an error rather than a silent end, so that an oRPC
//! client sees it (a bare end would look like `done`) and an `EventSource` reconnects anyway:
//! - `SUBSCRIBER_LAGGED` (503): the client read too slowly and fell more than the buffer
//!   behind. Reconnect with `Last-Event-ID`: the rest comes from retention.
//! - `SERVICE_UNAVAILABLE` (503): Redis is unreachable. Reconnect with `Last-Event-ID`, later
//!   or to another instance; nothing Redis retained is lost.
//! - `EVENTS_LOST` (410): the events after `Last-Event-ID` are no longer retained, or that id is
//!   unknown to the channel. Resuming cannot fill the hole: reload the state another way and
//!   subscribe without `Last-Event-ID`.
//! - `BAD_REQUEST` (400): an empty or overlong channel name, or a `Last-Event-ID` this backend
//!   never issues; with `--orpc-compatible`, also a payload that is not an object or an array,
//!   which oRPC's subscribers cannot read.
//! - `NOT_REPLICATED` (503), from `publish` with `--redis-cluster` only: the channel's master
//!   stored the event (its `data.id`) and subscribers receive it, but no replica confirmed it
//!   within 500 ms, so a failover may lose it. Publishing again would store it twice.
//! - `INVALID_EVENT` (502), with `--orpc-compatible` only: someone wrote an entry into the
//!   channel that is not oRPC's payload. Its `data.id` is the entry's id: reconnect with it as
//!   `Last-Event-ID` to skip it.

use actix_web::web;
use futures_util::StreamExt;
use std::time::Duration;

use orpc_protocol::Envelope;
use orpc_pubsub::{
    orpc_payload, Durability, Error, GapKind, PubSub, Redis, RedisConfig, Retention, Settings,
};
use orpc_runtime::http::{self, Router};
use orpc_runtime::{procedure, yield_, EventMeta, LastEventId, ORPCError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, JsonSchema)]
struct PublishInput {
    channel: String,
    payload: Value,
}

#[derive(Serialize, JsonSchema)]
struct Published {
    id: String,
}

/// How payloads are written into channels: plain JSON, or oRPC's serialized payload for the
/// oRPC-compatible format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Payloads {
    Json,
    Orpc,
}

/// Publishes `payload` on `channel`; returns the id subscribers see it with.
#[procedure]
async fn publish(
    input: PublishInput,
    pubsub: web::Data<PubSub>,
    payloads: web::Data<Payloads>,
) -> Result<Published, ORPCError> {
    let payload = match **payloads {
        Payloads::Json => serde_json::to_vec(&input.payload).map_err(|_| ORPCError::internal())?,
        Payloads::Orpc => orpc_payload(&input.payload, &EventMeta::new())
            .map_err(|_| ORPCError::internal())?
            .into(),
    };
    let id = pubsub
        .publish(&input.channel, payload)
        .await
        .map_err(|err| to_orpc(err, &input.channel))?;
    Ok(Published { id: id.to_string() })
}

#[derive(Deserialize, JsonSchema)]
struct SubscribeInput {
    channel: String,
}

#[derive(Serialize, JsonSchema)]
struct ChannelEvent {
    channel: String,
    payload: Value,
}

/// The events of `channel`, from after `Last-Event-ID` when there is one, then live.
#[procedure(output = event_iterator(ChannelEvent), method = GET)]
async fn subscribe(
    input: SubscribeInput,
    last_event_id: Option<LastEventId>,
    pubsub: web::Data<PubSub>,
    payloads: web::Data<Payloads>,
) -> Result<(), ORPCError> {
    let channel = input.channel;
    let last = last_event_id.as_ref().map(LastEventId::as_str);
    // Dropping `messages` (the client left, or the server is shutting down) unsubscribes.
    let mut messages = pubsub
        .subscribe(&channel, last)
        .await
        .map_err(|err| to_orpc(err, &channel))?;
    while let Some(message) = messages.next().await {
        let message = message.map_err(|err| to_orpc(err, &channel))?;
        let payload = match **payloads {
            Payloads::Json => payload_json(message.payload()),
            // The backend checked it is oRPC's payload: reading it cannot fail but for a bug.
            Payloads::Orpc => Envelope::Rpc
                .read(message.payload())
                .map_err(|_| ORPCError::internal())?,
        };
        let event = ChannelEvent {
            channel: channel.clone(),
            payload,
        };
        // The id is the message's; `retry` and comments come from an oRPC publisher.
        let EventMeta {
            id,
            retry,
            comments,
            ..
        } = message.event_meta();
        let id = id.unwrap_or_default();
        match retry {
            Some(retry) => yield_!(event, id = id, retry = retry, comments = comments),
            None => yield_!(event, id = id, comments = comments),
        }
    }
    // Subscriptions end only with an error, so this is not reached; were it, `done` says so.
    Ok(())
}

/// Payloads are JSON when published here. One written to Redis by someone else is passed on as a
/// string rather than ending every subscriber of the channel on it.
fn payload_json(payload: &[u8]) -> Value {
    serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()))
}

/// The codes of the module docs.
fn to_orpc(err: Error, channel: &str) -> ORPCError {
    match err {
        Error::Lagged { skipped } => ORPCError::new("SUBSCRIBER_LAGGED")
            .with_status(503)
            .with_message("the subscriber fell behind; reconnect with Last-Event-ID")
            .with_data(json!({ "channel": channel, "skipped": skipped }))
            .with_defined(true),
        Error::Gap(gap) => ORPCError::new("EVENTS_LOST")
            .with_status(410)
            .with_message("events after Last-Event-ID are no longer available")
            .with_data(json!({
                "channel": channel,
                "lastEventId": gap.after.map(|id| id.to_string()),
                "reason": match gap.kind {
                    GapKind::Expired => "expired",
                    GapKind::Unknown => "unknown",
                },
            }))
            .with_defined(true),
        // A payload oRPC could not carry, such as a bare number: `publish` refused it.
        Error::InvalidPayload { id: None, reason } => {
            ORPCError::bad_request(format!("oRPC's subscribers cannot read this payload: {reason}"))
                .with_defined(true)
        }
        Error::InvalidPayload { id, reason } => ORPCError::new("INVALID_EVENT")
            .with_status(502)
            .with_message(format!(
                "an event of the channel is not oRPC's payload ({reason}); resume after its id to skip it"
            ))
            .with_data(json!({ "channel": channel, "id": id.map(|id| id.to_string()) }))
            .with_defined(true),
        Error::InvalidChannel | Error::InvalidLastId(_) => {
            ORPCError::bad_request(err.to_string()).with_defined(true)
        }
        Error::NotReplicated { id, .. } => ORPCError::new("NOT_REPLICATED")
            .with_status(503)
            .with_message(
                "published, but no replica confirmed it in time: a failover may lose it; \
                 publishing it again stores it twice",
            )
            .with_data(json!({ "channel": channel, "id": id.to_string() }))
            .with_defined(true),
        err => {
            tracing::warn!(%err, channel, "pub/sub unavailable");
            ORPCError::new("SERVICE_UNAVAILABLE")
                .with_message("the pub/sub backend is unavailable; retry with Last-Event-ID")
                .with_defined(true)
        }
    }
}

/// Both procedures.
pub(crate) fn router() -> Router {
    Router::new().procedure(publish).procedure(subscribe)
}

/// Registers `pubsub` as app data, for a test server's `App`, with payloads in plain JSON.
#[allow(dead_code)] // the tests' (orpc-pubsub/tests/example.rs)
pub(crate) fn configure(
    pubsub: PubSub,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    configure_with(pubsub, Payloads::Json)
}

/// [`configure`] with payloads written as `payloads` says.
pub(crate) fn configure_with(
    pubsub: PubSub,
    payloads: Payloads,
) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let pubsub = web::Data::new(pubsub);
    let payloads = web::Data::new(payloads);
    move |cfg| {
        cfg.app_data(pubsub.clone()).app_data(payloads.clone());
    }
}

/// oRPC's `resumeRetentionSeconds`, which the Node side must set to the same value.
const ORPC_RETENTION: Duration = Duration::from_secs(60);

/// Where the channels live.
enum Store {
    Memory,
    Redis(String),
    Cluster(Vec<String>),
}

struct Args {
    addr: String,
    store: Store,
    orpc_compatible: bool,
    master_only: bool,
}

fn parse_args() -> Result<Args, String> {
    const USAGE: &str = "usage: pubsub [--addr HOST:PORT] [--redis URL | --redis-cluster \
                         URL,URL,... [--master-only]] [--orpc-compatible]";
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        addr: "127.0.0.1:8790".to_owned(),
        store: Store::Memory,
        orpc_compatible: false,
        master_only: false,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                parsed.addr = args
                    .next()
                    .ok_or(format!("--addr needs a value; {USAGE}"))?
            }
            "--redis" => {
                let url = args.next().ok_or(format!("--redis needs a URL; {USAGE}"))?;
                parsed.store = Store::Redis(url);
            }
            "--redis-cluster" => {
                let urls = args
                    .next()
                    .ok_or(format!("--redis-cluster needs URLs; {USAGE}"))?;
                let urls: Vec<String> = urls
                    .split(',')
                    .map(str::trim)
                    .filter(|url| !url.is_empty())
                    .map(str::to_owned)
                    .collect();
                if urls.is_empty() {
                    return Err(format!("--redis-cluster needs at least one URL; {USAGE}"));
                }
                parsed.store = Store::Cluster(urls);
            }
            "--orpc-compatible" => parsed.orpc_compatible = true,
            "--master-only" => parsed.master_only = true,
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if parsed.orpc_compatible && matches!(parsed.store, Store::Memory) {
        return Err(format!(
            "--orpc-compatible needs --redis or --redis-cluster; {USAGE}"
        ));
    }
    if parsed.master_only && !matches!(parsed.store, Store::Cluster(_)) {
        return Err(format!("--master-only goes with --redis-cluster; {USAGE}"));
    }
    Ok(parsed)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let args = parse_args().map_err(invalid)?;
    let settings = Settings::default();
    let unreachable = |url: &str, e: Error| std::io::Error::other(format!("Redis at {url}: {e}"));
    let (settings, mut config, payloads) = if args.orpc_compatible {
        let settings =
            settings.retention(Retention::new(Retention::DEFAULT_MAX_LEN).max_age(ORPC_RETENTION));
        (settings, RedisConfig::orpc_compatible(), Payloads::Orpc)
    } else {
        (settings, RedisConfig::default(), Payloads::Json)
    };
    let pubsub = match &args.store {
        Store::Memory => PubSub::in_memory(settings),
        Store::Redis(url) => {
            let redis = Redis::connect(url, settings, config)
                .await
                .map_err(|e| unreachable(url, e))?;
            PubSub::new(redis, settings.gap_policy())
        }
        Store::Cluster(urls) => {
            if !args.master_only {
                config.durability = Durability::replicas(1, Duration::from_millis(500));
            }
            let redis = Redis::connect_cluster(urls, settings, config)
                .await
                .map_err(|e| unreachable(&urls.join(","), e))?;
            PubSub::new(redis, settings.gap_policy())
        }
    };
    let router = router();
    // Metrics at `/metrics`: the router's and the channels', in one exposition.
    #[cfg(feature = "otel")]
    let (router, pubsub) = {
        let router = router.prometheus();
        let pubsub = match router.prometheus_meter_provider() {
            Some(provider) => pubsub.meter_provider(&provider),
            None => pubsub,
        };
        (router, pubsub)
    };
    http::serve_with(router, args.addr, configure_with(pubsub, payloads)).await
}
