//! Telemetry without the `otel` feature: the interface of `otel.rs`, recording nothing.

use crate::{Error, Message, MessageId, TraceContext};

/// No telemetry.
#[derive(Clone, Default)]
pub(crate) struct Telemetry {}

impl Telemetry {
    pub(crate) fn publish(&self, _channel: &str) -> Publishing {
        Publishing {}
    }

    pub(crate) fn delivered(&self, _channel: &str, _message: &Message) {}

    pub(crate) fn lagged(&self) {}
}

/// No publish span.
pub(crate) struct Publishing {}

impl Publishing {
    pub(crate) fn trace_context(&self) -> Option<TraceContext> {
        None
    }

    pub(crate) fn done(self, _result: &Result<MessageId, Error>) {}
}

/// No error count.
#[cfg(feature = "redis")]
#[derive(Default)]
pub(crate) struct RedisErrors {}

#[cfg(feature = "redis")]
impl RedisErrors {
    pub(crate) fn count<T>(
        &self,
        _operation: super::RedisOperation,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        result
    }
}
