//! Telemetry without the `otel` feature: the interface of `otel.rs`, recording nothing.

use super::{Ending, Transport};
use crate::procedure::PlainFuture;

/// No telemetry.
#[derive(Clone, Default)]
pub(crate) struct Telemetry;

impl Telemetry {
    pub(crate) fn register(&self, _procedure: &'static str, _stream: bool) {}

    pub(crate) fn plain_call(&self, _procedure: &'static str, future: PlainFuture) -> PlainFuture {
        future
    }

    pub(crate) fn call_failed(&self, _procedure: &'static str, _code: &str) {}

    pub(crate) fn stream_started(
        &self,
        _procedure: &'static str,
        _transport: Transport,
    ) -> StreamRecord {
        StreamRecord
    }
}

/// Nothing about a stream.
pub(crate) struct StreamRecord;

impl StreamRecord {
    pub(crate) fn events(&mut self, _count: u64) {}

    pub(crate) fn ended(self, _how: Ending, _cleanup: std::time::Duration) {}
}
