//! Telemetry with the `otel` feature: OpenTelemetry metrics and traces, recorded through the
//! meter and tracer providers the router was given
//! ([`Router::meter_provider`](crate::http::Router::meter_provider),
//! [`Router::tracer_provider`](crate::http::Router::tracer_provider)), so that two routers count
//! apart. A router given none records nothing.
//!
//! Traces: each call is a server span named after its procedure, whose parent is the W3C
//! `traceparent`/`tracestate` of the call's headers (a WebSocket call's own, else its upgrade
//! request's), with `rpc.system`, `rpc.method` and `orpc.transport`; a stream's span ends with
//! the stream, with `orpc.stream.events` and `orpc.stream.ended`, a plain call's with `orpc.code`.
//! The span is the current context while the handler runs, so that what it calls (a publish
//! through `orpc-pubsub`, say) joins the trace.
//!
//! The instruments, and the names a Prometheus exporter gives them:
//!
//! | instrument | kind | attributes | Prometheus |
//! |---|---|---|---|
//! | `orpc.streams.active` | up-down counter | `procedure`, `transport` | `orpc_streams_active` |
//! | `orpc.streams.ended` | counter | `procedure`, `transport`, `reason` | `orpc_streams_ended_total` |
//! | `orpc.events.sent` | counter | `procedure`, `transport` | `orpc_events_sent_total` |
//! | `orpc.stream.sent` | counter, By | `procedure`, `transport` | `orpc_stream_sent_bytes_total` |
//! | `orpc.validation.failures` | counter | `procedure`, `kind` (`input`, `event`) | `orpc_validation_failures_total` |
//! | `orpc.stream.duration` | histogram, s | `procedure`, `transport` | `orpc_stream_duration_seconds` |
//! | `orpc.stream.first_event` | histogram, s | `procedure`, `transport` | `orpc_stream_first_event_seconds` |
//! | `orpc.stream.cleanup` | histogram, s | `procedure`, `transport`, `reason` | `orpc_stream_cleanup_seconds` |
//! | `orpc.calls` | counter | `procedure`, `code` | `orpc_calls_total` |
//! | `orpc.call.duration` | histogram, s | `procedure`, `code` | `orpc_call_duration_seconds` |
//!
//! Every counter series of a registered procedure exists from the start at 0 (streams: each
//! transport and reason; plain calls: `code="OK"`; input validation failures for every
//! procedure, event ones for streams); a histogram's series appear with its first measurement,
//! as OpenTelemetry has no empty histogram.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{HttpMessage, HttpRequest};
use opentelemetry::context::FutureExt as _;
use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;

use super::{Ending, Transport};
use crate::procedure::PlainFuture;

/// Bucket bounds of the duration histograms, in seconds: from a millisecond (a plain call, a
/// first event) to an hour (a stream).
const DURATION_BOUNDS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0,
    3600.0,
];

/// A router's instruments and tracer, or none.
#[derive(Clone, Default)]
pub(crate) struct Telemetry {
    metrics: Option<Arc<Instruments>>,
    tracer: Option<Arc<BoxedTracer>>,
}

struct Instruments {
    streams_active: UpDownCounter<i64>,
    streams_ended: Counter<u64>,
    events_sent: Counter<u64>,
    bytes_sent: Counter<u64>,
    validation_failures: Counter<u64>,
    stream_duration: Histogram<f64>,
    first_event: Histogram<f64>,
    cleanup: Histogram<f64>,
    calls: Counter<u64>,
    call_duration: Histogram<f64>,
}

fn seconds(meter: &Meter, name: &'static str, description: &'static str) -> Histogram<f64> {
    meter
        .f64_histogram(name)
        .with_description(description)
        .with_unit("s")
        .with_boundaries(DURATION_BOUNDS.to_vec())
        .build()
}

fn stream_attributes(procedure: &'static str, transport: Transport) -> [KeyValue; 2] {
    [
        KeyValue::new("procedure", procedure),
        KeyValue::new("transport", transport.label()),
    ]
}

fn ended_attributes(procedure: &'static str, transport: Transport, how: Ending) -> [KeyValue; 3] {
    [
        KeyValue::new("procedure", procedure),
        KeyValue::new("transport", transport.label()),
        KeyValue::new("reason", how.label()),
    ]
}

fn validation_attributes(procedure: &'static str, kind: &'static str) -> [KeyValue; 2] {
    [
        KeyValue::new("procedure", procedure),
        KeyValue::new("kind", kind),
    ]
}

/// Whether a call's error is its input failing the procedure's schema.
fn is_invalid_input(error: &crate::ORPCError) -> bool {
    error.code == "BAD_REQUEST" && error.message == crate::input::INPUT_VALIDATION_FAILED
}

fn call_attributes(procedure: &'static str, code: &str) -> [KeyValue; 2] {
    // A successful call, the common case, allocates nothing.
    let code: opentelemetry::Value = match code {
        "OK" => "OK".into(),
        other => other.to_owned().into(),
    };
    [
        KeyValue::new("procedure", procedure),
        KeyValue::new("code", code),
    ]
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        Instruments {
            streams_active: meter
                .i64_up_down_counter("orpc.streams.active")
                .with_description("Streams open now")
                .build(),
            streams_ended: meter
                .u64_counter("orpc.streams.ended")
                .with_description("Streams that ended, by how: done, error, disconnect, shutdown")
                .build(),
            events_sent: meter
                .u64_counter("orpc.events.sent")
                .with_description("Events sent (message frames; not done, error or comments)")
                .build(),
            bytes_sent: meter
                .u64_counter("orpc.stream.sent")
                .with_description("Bytes of streams' frames written: events, done and error")
                .with_unit("By")
                .build(),
            validation_failures: meter
                .u64_counter("orpc.validation.failures")
                .with_description(
                    "Inputs and events that failed their schema: a call answered 400, a stream ended",
                )
                .build(),
            stream_duration: seconds(
                meter,
                "orpc.stream.duration",
                "From a stream's start to its end",
            ),
            first_event: seconds(
                meter,
                "orpc.stream.first_event",
                "From a stream's start to its first event",
            ),
            cleanup: seconds(
                meter,
                "orpc.stream.cleanup",
                "How long a stream's handler and cleanup guards took to drop once it ended",
            ),
            calls: meter
                .u64_counter("orpc.calls")
                .with_description(
                    "Plain calls, and streams that failed before starting, by result: OK or the error's code",
                )
                .build(),
            call_duration: seconds(
                meter,
                "orpc.call.duration",
                "How long plain calls took, by result",
            ),
        }
    }
}

/// The W3C trace context of a call's headers: a WebSocket call's (or a batched call's) own,
/// in the request's extensions, before the request's.
struct CallHeaders<'a> {
    own: Option<std::cell::Ref<'a, orpc_protocol::peer::Headers>>,
    req: &'a HttpRequest,
}

impl Extractor for CallHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.own
            .as_ref()
            .and_then(|own| own.get(key))
            .or_else(|| self.req.headers().get(key)?.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.req
            .headers()
            .keys()
            .map(|name| name.as_str())
            .collect()
    }
}

impl Telemetry {
    /// This telemetry recording metrics with `meter`, its tracer kept.
    pub(crate) fn with_metrics(self, meter: &Meter) -> Self {
        Telemetry {
            metrics: Some(Arc::new(Instruments::new(meter))),
            ..self
        }
    }

    /// This telemetry tracing with `tracer`, its metrics kept.
    pub(crate) fn with_tracer(self, tracer: BoxedTracer) -> Self {
        Telemetry {
            tracer: Some(Arc::new(tracer)),
            ..self
        }
    }

    /// Gives a procedure its counter series at 0: a stream procedure's for each transport and
    /// reason, a plain procedure's `code="OK"`.
    pub(crate) fn register(&self, procedure: &'static str, stream: bool) {
        let Some(i) = &self.metrics else { return };
        i.validation_failures
            .add(0, &validation_attributes(procedure, "input"));
        if !stream {
            i.calls.add(0, &call_attributes(procedure, "OK"));
            return;
        }
        i.validation_failures
            .add(0, &validation_attributes(procedure, "event"));
        for transport in Transport::ALL {
            let attributes = stream_attributes(procedure, transport);
            i.streams_active.add(0, &attributes);
            i.events_sent.add(0, &attributes);
            i.bytes_sent.add(0, &attributes);
            for how in Ending::ALL {
                i.streams_ended
                    .add(0, &ended_attributes(procedure, transport, how));
            }
        }
    }

    /// A call of `procedure` arriving on `transport` with `req`: its span, a child of the
    /// caller's trace.
    pub(crate) fn call(
        &self,
        procedure: &'static str,
        transport: Transport,
        req: &HttpRequest,
    ) -> CallTrace {
        let Some(tracer) = &self.tracer else {
            return CallTrace(None);
        };
        let parent = {
            let extensions = req.extensions();
            let own =
                std::cell::Ref::filter_map(extensions, |e| e.get::<orpc_protocol::peer::Headers>())
                    .ok();
            TraceContextPropagator::new().extract(&CallHeaders { own, req })
        };
        let transport = match transport {
            Transport::Sse => "http",
            Transport::WebSocket => "websocket",
        };
        let span = tracer.build_with_context(
            SpanBuilder::from_name(procedure)
                .with_kind(SpanKind::Server)
                .with_attributes([
                    KeyValue::new("rpc.system", "orpc"),
                    KeyValue::new("rpc.method", procedure),
                    KeyValue::new("orpc.transport", transport),
                ]),
            &parent,
        );
        CallTrace(Some(parent.with_span(span)))
    }

    /// `future`, a plain call's answer, counted by its result and its span ended when it
    /// resolves; the span is current while it runs.
    pub(crate) fn plain_call(
        &self,
        procedure: &'static str,
        trace: CallTrace,
        future: PlainFuture,
    ) -> PlainFuture {
        if self.metrics.is_none() && trace.0.is_none() {
            return future;
        }
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let context = trace.0.clone();
        let future: PlainFuture = match context {
            Some(context) => Box::pin(future.with_context(context)),
            None => future,
        };
        Box::pin(async move {
            let answer = future.await;
            let code = match &answer {
                Ok(_) => "OK",
                Err(error) => error.code.as_str(),
            };
            if let Some(i) = &metrics {
                if matches!(&answer, Err(error) if is_invalid_input(error)) {
                    i.validation_failures
                        .add(1, &validation_attributes(procedure, "input"));
                }
                let attributes = call_attributes(procedure, code);
                i.calls.add(1, &attributes);
                i.call_duration
                    .record(started.elapsed().as_secs_f64(), &attributes);
            }
            trace.end_call(code);
            answer
        })
    }

    /// A stream that failed before it started: invalid input, a failed extractor, refused at the
    /// router's limit.
    pub(crate) fn call_failed(
        &self,
        procedure: &'static str,
        trace: CallTrace,
        error: &crate::ORPCError,
    ) {
        if let Some(i) = &self.metrics {
            if is_invalid_input(error) {
                i.validation_failures
                    .add(1, &validation_attributes(procedure, "input"));
            }
            i.calls.add(1, &call_attributes(procedure, &error.code));
        }
        trace.end_call(&error.code);
    }

    /// A stream of `procedure` has started on `transport`, traced by `trace`.
    pub(crate) fn stream_started(
        &self,
        procedure: &'static str,
        transport: Transport,
        trace: CallTrace,
    ) -> StreamRecord {
        if self.metrics.is_none() && trace.0.is_none() {
            return StreamRecord(None);
        }
        if let Some(i) = &self.metrics {
            i.streams_active
                .add(1, &stream_attributes(procedure, transport));
        }
        StreamRecord(Some(Box::new(Open {
            metrics: self.metrics.clone(),
            trace: trace.0,
            procedure,
            transport,
            started: Instant::now(),
            events: 0,
        })))
    }
}

/// A call's span in its context, or nothing.
pub(crate) struct CallTrace(Option<Context>);

impl CallTrace {
    /// Runs `f` with the call's span as the current context.
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.0 {
            Some(context) => {
                let _current = context.clone().attach();
                f()
            }
            None => f(),
        }
    }

    /// Ends the span of a call that answered `code`.
    fn end_call(self, code: &str) {
        let Some(context) = self.0 else { return };
        let span = context.span();
        span.set_attribute(KeyValue::new("orpc.code", code.to_owned()));
        if code != "OK" {
            span.set_status(Status::error(code.to_owned()));
        }
        span.end();
    }
}

/// What is recorded about one open stream. Boxed, so that a stream of a router without
/// telemetry carries a null pointer.
pub(crate) struct StreamRecord(Option<Box<Open>>);

struct Open {
    metrics: Option<Arc<Instruments>>,
    trace: Option<Context>,
    procedure: &'static str,
    transport: Transport,
    started: Instant,
    events: u64,
}

impl StreamRecord {
    /// Runs `f`, a poll of the stream's handler, with its call's span as the current context.
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        match self.0.as_ref().and_then(|open| open.trace.as_ref()) {
            Some(context) => {
                let _current = context.clone().attach();
                f()
            }
            None => f(),
        }
    }

    /// `events` more events sent, in frames of `bytes` bytes in all (with a last frame's).
    pub(crate) fn sent(&mut self, events: u64, bytes: u64) {
        let Some(open) = &mut self.0 else { return };
        let first = open.events == 0 && events > 0;
        open.events += events;
        let Some(i) = &open.metrics else { return };
        let attributes = stream_attributes(open.procedure, open.transport);
        if events > 0 {
            i.events_sent.add(events, &attributes);
        }
        if bytes > 0 {
            i.bytes_sent.add(bytes, &attributes);
        }
        if first {
            i.first_event
                .record(open.started.elapsed().as_secs_f64(), &attributes);
        }
    }

    /// An event, or the return value, failed its schema: the stream ends with an error.
    pub(crate) fn invalid_event(&self) {
        let Some(open) = &self.0 else { return };
        if let Some(i) = &open.metrics {
            i.validation_failures
                .add(1, &validation_attributes(open.procedure, "event"));
        }
    }

    /// The stream ended `how`; dropping its handler took `cleanup`.
    pub(crate) fn ended(self, how: Ending, cleanup: Duration) {
        let Some(open) = self.0 else { return };
        if let Some(i) = &open.metrics {
            let attributes = stream_attributes(open.procedure, open.transport);
            i.streams_active.add(-1, &attributes);
            i.stream_duration
                .record(open.started.elapsed().as_secs_f64(), &attributes);
            let ended = ended_attributes(open.procedure, open.transport, how);
            i.streams_ended.add(1, &ended);
            i.cleanup.record(cleanup.as_secs_f64(), &ended);
        }
        if let Some(context) = open.trace {
            let span = context.span();
            span.set_attribute(KeyValue::new("orpc.stream.events", open.events as i64));
            span.set_attribute(KeyValue::new("orpc.stream.ended", how.label()));
            if how == Ending::Error {
                span.set_status(Status::error("the stream ended with an error event"));
            }
            span.end();
        }
    }
}
