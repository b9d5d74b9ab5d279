//! Telemetry without the `otel` feature: the interface of `otel.rs`, recording nothing.

use actix_web::HttpRequest;

use super::{Ending, Transport};
use crate::procedure::PlainFuture;

/// No telemetry.
#[derive(Clone, Default)]
pub(crate) struct Telemetry;

impl Telemetry {
    pub(crate) fn register(&self, _procedure: &'static str, _stream: bool) {}

    pub(crate) fn call(&self, _: &'static str, _: Transport, _: &HttpRequest) -> CallTrace {
        CallTrace
    }

    pub(crate) fn plain_call(
        &self,
        _: &'static str,
        _: CallTrace,
        future: PlainFuture,
    ) -> PlainFuture {
        future
    }

    pub(crate) fn call_failed(&self, _: &'static str, _: CallTrace, _: &crate::ORPCError) {}

    pub(crate) fn stream_started(
        &self,
        _: &'static str,
        _: Transport,
        _: CallTrace,
    ) -> StreamRecord {
        StreamRecord
    }
}

/// No span.
pub(crate) struct CallTrace;

impl CallTrace {
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        f()
    }
}

/// Nothing about a stream.
pub(crate) struct StreamRecord;

impl StreamRecord {
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        f()
    }

    pub(crate) fn sent(&mut self, _events: u64, _bytes: u64) {}

    pub(crate) fn invalid_event(&self) {}

    pub(crate) fn ended(self, _how: Ending, _cleanup: std::time::Duration) {}
}
