//! What a [`PubSub`](crate::PubSub) reports: with the `otel` feature and the providers given to
//! the handle, OpenTelemetry metrics and spans (`otel.rs`); otherwise nothing, at no cost
//! (`off.rs`, the same interface, empty).
//!
//! The front door calls it around each publish ([`Telemetry::publish`], which also gives the
//! trace context the message carries); a subscription at each delivery
//! ([`Telemetry::delivered`]) and when it falls behind ([`Telemetry::lagged`]). The Redis
//! backend counts its own errors ([`RedisErrors`]).

#[cfg(not(feature = "otel"))]
mod off;
#[cfg(feature = "otel")]
mod otel;

#[cfg(not(feature = "otel"))]
pub(crate) use off::*;
#[cfg(feature = "otel")]
pub(crate) use otel::*;

/// What the Redis backend was doing when Redis failed it: the `operation` label of
/// `orpc.pubsub.redis.errors`.
#[cfg(feature = "redis")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RedisOperation {
    /// Storing a message.
    Publish,
    /// Joining a channel's live feed.
    Subscribe,
    /// Reading retention for a resuming subscriber.
    Replay,
    /// A channel's reader reading new entries (it retries; each failure counts).
    Read,
}

#[cfg(feature = "redis")]
impl RedisOperation {
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) const ALL: [RedisOperation; 4] = [
        RedisOperation::Publish,
        RedisOperation::Subscribe,
        RedisOperation::Replay,
        RedisOperation::Read,
    ];

    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            RedisOperation::Publish => "publish",
            RedisOperation::Subscribe => "subscribe",
            RedisOperation::Replay => "replay",
            RedisOperation::Read => "read",
        }
    }
}
