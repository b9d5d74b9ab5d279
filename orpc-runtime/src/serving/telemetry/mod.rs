//! What the serving core reports about calls and streams, the same for every transport: with the
//! `otel` feature and a meter provider given to the router, OpenTelemetry metrics (`otel.rs`);
//! otherwise nothing, at no cost (`off.rs`, the same interface, empty).
//!
//! The core calls it at the points where it already knows what happened: a call's arrival
//! ([`Telemetry::call`], its span), a plain call's answer ([`Telemetry::plain_call`]), a call
//! refused before its stream started ([`Telemetry::call_failed`]), a stream's start
//! ([`Telemetry::stream_started`]), each poll's events ([`StreamRecord::events`]) and the
//! stream's end ([`StreamRecord::ended`]). A handler runs inside its call's span
//! ([`CallTrace::enter`], [`StreamRecord::enter`]).

#[cfg(not(feature = "otel"))]
mod off;
#[cfg(feature = "otel")]
mod otel;
#[cfg(feature = "otel")]
mod prometheus;

#[cfg(not(feature = "otel"))]
pub(crate) use off::{CallTrace, StreamRecord, Telemetry};
#[cfg(feature = "otel")]
pub(crate) use otel::{CallTrace, StreamRecord, Telemetry};
#[cfg(feature = "otel")]
pub(crate) use prometheus::{Prometheus, CONTENT_TYPE as PROMETHEUS_CONTENT_TYPE};

/// How a stream reached its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Server-sent events: the RPC and OpenAPI protocols, and `EventStream`.
    Sse,
    /// oRPC's WebSocket transport.
    WebSocket,
}

impl Transport {
    /// Both, for the series every stream procedure has from the start.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) const ALL: [Transport; 2] = [Transport::Sse, Transport::WebSocket];

    /// The metrics' `transport` label.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::WebSocket => "websocket",
        }
    }
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Its handler returned: the `done` frame.
    Done,
    /// An `error` frame: the handler's error, a panic, a refused or invalid event.
    Error,
    /// Its client left, or could no longer be written to.
    Disconnect,
    /// Its router shut down.
    Shutdown,
}

impl Ending {
    /// All of them, for the series every stream procedure has from the start.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) const ALL: [Ending; 4] = [
        Ending::Done,
        Ending::Error,
        Ending::Disconnect,
        Ending::Shutdown,
    ];

    /// The metrics' `reason` label.
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            Ending::Done => "done",
            Ending::Error => "error",
            Ending::Disconnect => "disconnect",
            Ending::Shutdown => "shutdown",
        }
    }
}
