//! Telemetry with the `otel` feature: OpenTelemetry metrics, recorded through the meter provider
//! the router was given ([`Router::meter_provider`](crate::http::Router::meter_provider)), so
//! that two routers count apart. A router given none records nothing.
//!
//! The instruments, and the names a Prometheus exporter gives them:
//!
//! | instrument | kind | attributes | Prometheus |
//! |---|---|---|---|
//! | `orpc.streams.active` | up-down counter | `procedure`, `transport` | `orpc_streams_active` |
//! | `orpc.streams.ended` | counter | `procedure`, `transport`, `reason` | `orpc_streams_ended_total` |
//! | `orpc.events.sent` | counter | `procedure`, `transport` | `orpc_events_sent_total` |
//! | `orpc.stream.duration` | histogram, s | `procedure`, `transport` | `orpc_stream_duration_seconds` |
//! | `orpc.stream.first_event` | histogram, s | `procedure`, `transport` | `orpc_stream_first_event_seconds` |
//! | `orpc.stream.cleanup` | histogram, s | `procedure`, `transport`, `reason` | `orpc_stream_cleanup_seconds` |
//! | `orpc.calls` | counter | `procedure`, `code` | `orpc_calls_total` |
//! | `orpc.call.duration` | histogram, s | `procedure`, `code` | `orpc_call_duration_seconds` |
//!
//! Every counter series of a registered procedure exists from the start at 0 (streams: each
//! transport and reason; plain calls: `code="OK"`); a histogram's series appear with its first
//! measurement, as OpenTelemetry has no empty histogram.

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Counter, Histogram, Meter, UpDownCounter};
use opentelemetry::KeyValue;

use super::{Ending, Transport};
use crate::procedure::PlainFuture;

/// Bucket bounds of the duration histograms, in seconds: from a millisecond (a plain call, a
/// first event) to an hour (a stream).
const DURATION_BOUNDS: [f64; 16] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 60.0, 600.0,
    3600.0,
];

/// A router's instruments, or none.
#[derive(Clone, Default)]
pub(crate) struct Telemetry(Option<Arc<Instruments>>);

struct Instruments {
    streams_active: UpDownCounter<i64>,
    streams_ended: Counter<u64>,
    events_sent: Counter<u64>,
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

fn call_attributes(procedure: &'static str, code: &str) -> [KeyValue; 2] {
    [
        KeyValue::new("procedure", procedure),
        KeyValue::new("code", code.to_owned()),
    ]
}

impl Telemetry {
    /// Instruments made with `meter`.
    pub(crate) fn new(meter: &Meter) -> Self {
        let instruments = Instruments {
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
        };
        Telemetry(Some(Arc::new(instruments)))
    }

    /// Gives a procedure its counter series at 0: a stream procedure's for each transport and
    /// reason, a plain procedure's `code="OK"`.
    pub(crate) fn register(&self, procedure: &'static str, stream: bool) {
        let Some(i) = &self.0 else { return };
        if !stream {
            i.calls.add(0, &call_attributes(procedure, "OK"));
            return;
        }
        for transport in Transport::ALL {
            let attributes = stream_attributes(procedure, transport);
            i.streams_active.add(0, &attributes);
            i.events_sent.add(0, &attributes);
            for how in Ending::ALL {
                i.streams_ended
                    .add(0, &ended_attributes(procedure, transport, how));
            }
        }
    }

    /// `future`, a plain call's answer, counted by its result when it resolves.
    pub(crate) fn plain_call(&self, procedure: &'static str, future: PlainFuture) -> PlainFuture {
        let Some(i) = self.0.clone() else {
            return future;
        };
        let started = Instant::now();
        Box::pin(async move {
            let answer = future.await;
            let code = match &answer {
                Ok(_) => "OK",
                Err(error) => error.code.as_str(),
            };
            let attributes = call_attributes(procedure, code);
            i.calls.add(1, &attributes);
            i.call_duration
                .record(started.elapsed().as_secs_f64(), &attributes);
            answer
        })
    }

    /// A stream that failed before it started: invalid input, a failed extractor, refused at the
    /// router's limit.
    pub(crate) fn call_failed(&self, procedure: &'static str, code: &str) {
        if let Some(i) = &self.0 {
            i.calls.add(1, &call_attributes(procedure, code));
        }
    }

    /// A stream of `procedure` has started on `transport`.
    pub(crate) fn stream_started(
        &self,
        procedure: &'static str,
        transport: Transport,
    ) -> StreamRecord {
        let Some(i) = &self.0 else {
            return StreamRecord(None);
        };
        i.streams_active
            .add(1, &stream_attributes(procedure, transport));
        StreamRecord(Some(Box::new(Open {
            instruments: i.clone(),
            procedure,
            transport,
            started: Instant::now(),
            first_event: None,
        })))
    }
}

/// What is recorded about one open stream. Boxed, so that a stream of a router without
/// telemetry carries a null pointer.
pub(crate) struct StreamRecord(Option<Box<Open>>);

struct Open {
    instruments: Arc<Instruments>,
    procedure: &'static str,
    transport: Transport,
    started: Instant,
    /// When the first event went out.
    first_event: Option<Instant>,
}

impl StreamRecord {
    /// `count` more events sent.
    pub(crate) fn events(&mut self, count: u64) {
        let Some(open) = &mut self.0 else { return };
        let attributes = stream_attributes(open.procedure, open.transport);
        open.instruments.events_sent.add(count, &attributes);
        if open.first_event.is_none() {
            let now = Instant::now();
            open.first_event = Some(now);
            open.instruments
                .first_event
                .record((now - open.started).as_secs_f64(), &attributes);
        }
    }

    /// The stream ended `how`; dropping its handler took `cleanup`.
    pub(crate) fn ended(self, how: Ending, cleanup: Duration) {
        let Some(open) = self.0 else { return };
        let attributes = stream_attributes(open.procedure, open.transport);
        let i = &open.instruments;
        i.streams_active.add(-1, &attributes);
        i.stream_duration
            .record(open.started.elapsed().as_secs_f64(), &attributes);
        let ended = ended_attributes(open.procedure, open.transport, how);
        i.streams_ended.add(1, &ended);
        i.cleanup.record(cleanup.as_secs_f64(), &ended);
    }
}
