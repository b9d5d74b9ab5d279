//! The serving core: what every transport shares, and nothing of any one transport.
//!
//! A call goes the same way whether it came as an RPC request, an OpenAPI route, a WebSocket
//! message or an [`EventStream`](crate::http::EventStream) response:
//! 1. the transport finds the procedure in the table ([`Core::find`]) and decodes its input into
//!    a [`RawInput`];
//! 2. [`Core::call`] starts it: the input is validated and the extractors run as the handler's
//!    future is made; a plain procedure gives a future of its JSON answer, an event iterator
//!    first takes its place under the stream limit (`streams.rs`) and gives a [`Starting`]
//!    stream;
//! 3. the transport awaits the answer, or opens the stream and polls its frames
//!    ([`OpenStream`]) into its own encoding, and turns an error into its own error answer.
//!
//! The core owns the procedure table, the stream policy (limit, counters, telemetry) and the
//! router's lifecycle (shutdown, asynchronous cleanups); every handler is polled and dropped
//! inside the router's cleanups. Transports depend on the core, never the other way round, and never on
//! each other; the documents (OpenAPI, TypeScript) read the table without the core knowing them.

mod lifecycle;
mod route_error;
mod stats;
mod streams;
mod table;
mod telemetry;

use std::future::poll_fn;
use std::sync::Arc;

use actix_web::HttpRequest;

pub use route_error::RouteError;
pub use stats::StreamStats;
pub(crate) use streams::{OpenStream, Reserved, StreamPolicy};
pub(crate) use table::Procedures;
pub(crate) use telemetry::Transport;
#[cfg(feature = "otel")]
pub(crate) use telemetry::{Prometheus, PROMETHEUS_CONTENT_TYPE};

use crate::input::PathParams;
use crate::procedure::{Handler, PlainFuture, Route, StartFuture};
use crate::stream::cleanup::Scoped;
use crate::{ORPCError, RawInput};

/// A router's procedures, stream policy and lifecycle. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct Core {
    pub(crate) procedures: Procedures,
    pub(crate) streams: StreamPolicy,
}

/// A started call.
pub(crate) enum Call {
    /// A plain procedure's answer: its output as JSON, with the `meta` list of what JSON alone
    /// cannot carry, not yet in its transport's envelope.
    Plain(Scoped<PlainFuture>),
    /// An event iterator, its place taken, its handler starting.
    Stream(Starting),
}

/// An event iterator whose extractors and handler are starting.
pub(crate) struct Starting {
    reserved: Reserved,
    start: StartFuture,
}

impl Starting {
    /// The open stream once the handler has started, or the error that kept it from starting
    /// (a failed extractor, invalid input, the handler's own error); the place is then given
    /// back and nothing is counted.
    pub(crate) async fn open(self) -> Result<OpenStream, ORPCError> {
        let Starting {
            reserved,
            mut start,
        } = self;
        match poll_fn(|cx| reserved.enter(|| start.as_mut().poll(cx))).await {
            Ok(source) => Ok(OpenStream::new(source, Some(reserved))),
            Err(error) => {
                reserved.failed(&error);
                Err(error)
            }
        }
    }
}

impl Core {
    /// The procedure named `name`, or oRPC's `NOT_FOUND`.
    pub(crate) fn find(&self, name: &str) -> Result<&Arc<Route>, ORPCError> {
        self.procedures
            .get(name)
            .ok_or_else(|| ORPCError::not_found(format!("No procedure named {name:?}")))
    }

    /// Starts `route` on `input`, its path parameters `params`, with `req` for its extractors;
    /// a stream would go out on `transport`. The handler's future is made now, while `req` is at
    /// hand; a stream past the router's limit is refused here.
    pub(crate) fn call(
        &self,
        route: &Route,
        input: RawInput,
        params: PathParams,
        req: &HttpRequest,
        transport: Transport,
    ) -> Result<Call, ORPCError> {
        let cleanups = self.streams.lifecycle.cleanups();
        let telemetry = &self.streams.telemetry;
        let trace = telemetry.call(route.name, transport, req);
        match &route.handler {
            Handler::Plain(handler) => {
                let running = trace.enter(|| cleanups.enter(|| handler(input, params, req)));
                let running = telemetry.plain_call(route.name, trace, running);
                Ok(Call::Plain(cleanups.scope(running)))
            }
            Handler::Stream(handler) => {
                let reserved = self.streams.reserve(route.name, transport, trace)?;
                let start = reserved.enter(|| handler(input, params, req, route.validate_events));
                Ok(Call::Stream(Starting { reserved, start }))
            }
        }
    }
}

/// The RPC protocol's answer to a call made other than with `POST`.
pub(crate) fn rpc_method_not_supported() -> ORPCError {
    ORPCError::new("METHOD_NOT_SUPPORTED").with_message("RPC procedures are called with POST")
}
