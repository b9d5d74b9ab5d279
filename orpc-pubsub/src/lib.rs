//! # orpc-pubsub
//!
//! Publish/subscribe channels for oRPC event iterators, whose subscribers resume after their
//! last message: live scores, tickers, any one-to-many stream. A handler subscribes to a
//! channel and yields what others publish; a client that reconnects with its `Last-Event-ID`,
//! to this instance or another one, gets exactly the messages it missed, none lost, none twice.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), orpc_pubsub::Error> {
//! use futures_util::StreamExt;
//! use orpc_pubsub::{PubSub, Settings};
//!
//! let pubsub = PubSub::in_memory(Settings::default());
//! let mut live = pubsub.subscribe("scores", None).await?;
//! let id = pubsub.publish("scores", r#"{"home":1,"away":0}"#).await?;
//! let message = live.next().await.unwrap()?;
//! assert_eq!(message.id(), id);
//!
//! // The client disconnects: dropping its subscription unsubscribes it.
//! drop(live);
//! pubsub.publish("scores", r#"{"home":2,"away":0}"#).await?;
//!
//! // It reconnects with its last id and gets what it missed, then live messages.
//! let mut resumed = pubsub.subscribe("scores", Some(&id.to_string())).await?;
//! let missed = resumed.next().await.unwrap()?;
//! assert_eq!(missed.payload().as_ref(), br#"{"home":2,"away":0}"#);
//! # Ok(())
//! # }
//! ```
//!
//! In a `#[procedure]` handler of `orpc-runtime`, yield each message with its id as the SSE id
//! (`yield_!(event, id = message.id().to_string())`) and pass the handler's
//! `Option<LastEventId>` to [`PubSub::subscribe`]; `examples/pubsub.rs` in the workspace is a
//! complete server.
//!
//! ## Guarantees
//!
//! - **Ids** are assigned by the publisher's backend and increase within a channel:
//!   sequence numbers in memory, Redis stream ids on Redis ([`MessageId`]).
//! - **Resume** replays retained messages after the last id, then continues live, with no gap
//!   and no duplicate at the seam ([`Subscription`]).
//! - **Retention** is bounded by count and optionally by age ([`Retention`]). A last id whose
//!   successors retention dropped is reported, as an error or a marker ([`GapPolicy`]), never
//!   passed over in silence.
//! - **Slow subscribers** fall at most [`Settings::buffer`] messages behind, then end with
//!   [`Error::Lagged`] so that their client resumes from retention; they never block the
//!   publisher or other subscribers, and their memory does not grow.
//! - **Drop unsubscribes**: dropping a [`Subscription`] removes it from the live feed at once.
//!
//! ## Backends
//!
//! [`InMemory`] needs no set-up and serves one process. [`Redis`] (Redis 7 Streams) serves
//! several instances, on one Redis ([`Redis::connect`]) or a Redis Cluster
//! ([`Redis::connect_cluster`]), reading each active channel once per process whatever its
//! number of subscribers, on two connections per node whatever its number of channels. It
//! survives Redis going away and coming back, and a cluster's failovers; [`Durability`] says
//! when a publish counts as done, and what a failover can lose. Both implement [`Backend`] and
//! share the subscription semantics above.
//!
//! On Redis, [`RedisFormat::Native`] (the default) is this crate's own format, with exact
//! retention and gap checks: the better choice when only Rust instances share the channels.
//! [`RedisFormat::OrpcCompatible`] ([`RedisConfig::orpc_compatible`]) stores and announces
//! messages as oRPC's `IORedisPublisher` does, so that oRPC servers on Node and Rust ones share
//! channels both ways: payloads are oRPC's serialized payloads ([`orpc_payload`]), `retry` and
//! comments come through ([`Message::event_meta`]), and a trimmed last id is reported as a gap
//! even when nothing after it was lost. The [`redis_streams`] module docs compare the two, and
//! what oRPC's own subscribers guarantee on a shared channel.
//!
//! ## Features
//!
//! - `redis` (default): the Redis backend ([`Redis`], [`PubSub::redis`], the [`redis_streams`]
//!   module). Without it, only [`InMemory`] is built and the `redis` crate is not a dependency.
//! - `otel`: OpenTelemetry metrics ([`PubSub::meter_provider`]) and traces
//!   ([`PubSub::tracer_provider`]): a subscriber's delivery is linked to its publish, across
//!   instances on Redis.

#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// These docs are written for every feature, as docs.rs builds them; without `redis` or `otel`
// their links to those features' items have no target and show as plain text.
#![cfg_attr(
    not(all(feature = "redis", feature = "otel")),
    allow(rustdoc::broken_intra_doc_links)
)]

pub mod backend;
mod error;
mod gap;
mod id;
pub mod memory;
mod message;
mod pubsub;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis_streams;
mod retention;
mod settings;
pub mod subscription;
mod telemetry;

pub use backend::{Backend, FeedItem, LiveFeed, Page};
pub use error::Error;
pub use gap::{Gap, GapKind, GapPolicy};
pub use id::MessageId;
pub use memory::InMemory;
pub use message::{Message, TraceContext};
pub use pubsub::PubSub;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_streams::{orpc_payload, Durability, Redis, RedisConfig, RedisFormat};
pub use retention::Retention;
pub use settings::Settings;
pub use subscription::Subscription;

// The README's examples run as doctests, so that what crates.io shows stays true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
