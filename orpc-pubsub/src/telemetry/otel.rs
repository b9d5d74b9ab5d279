//! Telemetry with the `otel` feature: OpenTelemetry metrics and spans, recorded through the
//! providers given to the [`PubSub`](crate::PubSub) handle, so that two handles count apart. A
//! handle given none records nothing.
//!
//! Spans follow OpenTelemetry's messaging conventions: a publish is a producer span `publish`,
//! a child of the current context (the call of the handler that publishes, under
//! `orpc-runtime`); its context travels with the message ([`TraceContext`]). Each delivery of a
//! message that carries one is a consumer span `deliver`, a child of the subscriber's current
//! context and linked to the publish, on whichever instance it was.
//!
//! | instrument | kind | attributes | Prometheus |
//! |---|---|---|---|
//! | `orpc.pubsub.publishes` | counter | `result` (`ok`, `error`) | `orpc_pubsub_publishes_total` |
//! | `orpc.pubsub.deliveries` | counter | | `orpc_pubsub_deliveries_total` |
//! | `orpc.pubsub.lagged` | counter | | `orpc_pubsub_lagged_total` |
//! | `orpc.pubsub.redis.errors` | counter | `operation` (`publish`, `subscribe`, `replay`, `read`) | `orpc_pubsub_redis_errors_total` |

use std::sync::Arc;

use opentelemetry::global::BoxedTracer;
use opentelemetry::metrics::{Counter, Meter};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{Link, SpanBuilder, SpanKind, Status, TraceContextExt, Tracer};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::propagation::TraceContextPropagator;

use crate::{Error, Message, MessageId, TraceContext};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// A handle's instruments and tracer, or none.
#[derive(Clone, Default)]
pub(crate) struct Telemetry {
    metrics: Option<Arc<Instruments>>,
    tracer: Option<Arc<BoxedTracer>>,
}

struct Instruments {
    publishes: Counter<u64>,
    deliveries: Counter<u64>,
    lagged: Counter<u64>,
}

/// The `result` attribute of a publish.
fn result(ok: bool) -> [KeyValue; 1] {
    [KeyValue::new("result", if ok { "ok" } else { "error" })]
}

impl Telemetry {
    /// This telemetry recording metrics with `meter`, its tracer kept. Every series starts at 0.
    pub(crate) fn with_metrics(self, meter: &Meter) -> Self {
        let instruments = Instruments {
            publishes: meter
                .u64_counter("orpc.pubsub.publishes")
                .with_description("Messages published, by result: ok or error")
                .build(),
            deliveries: meter
                .u64_counter("orpc.pubsub.deliveries")
                .with_description("Messages handed to subscribers, replayed or live")
                .build(),
            lagged: meter
                .u64_counter("orpc.pubsub.lagged")
                .with_description(
                    "Subscriptions ended because they fell more than their buffer behind",
                )
                .build(),
        };
        instruments.publishes.add(0, &result(true));
        instruments.publishes.add(0, &result(false));
        instruments.deliveries.add(0, &[]);
        instruments.lagged.add(0, &[]);
        Telemetry {
            metrics: Some(Arc::new(instruments)),
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

    /// A publish on `channel` begins: its span, a child of the current context.
    pub(crate) fn publish(&self, channel: &str) -> Publishing {
        let span = self.tracer.as_ref().map(|tracer| {
            let parent = Context::current();
            let span = tracer.build_with_context(
                SpanBuilder::from_name("publish")
                    .with_kind(SpanKind::Producer)
                    .with_attributes(messaging("publish", "send", channel)),
                &parent,
            );
            parent.with_span(span)
        });
        Publishing {
            metrics: self.metrics.clone(),
            span,
        }
    }

    /// `message` of `channel` goes to a subscriber, whose call is the current context.
    pub(crate) fn delivered(&self, channel: &str, message: &Message) {
        if let Some(i) = &self.metrics {
            i.deliveries.add(1, &[]);
        }
        let (Some(tracer), Some(trace)) = (&self.tracer, message.trace_context()) else {
            return;
        };
        let published = TraceContextPropagator::new().extract(&Carried(trace));
        let published = published.span().span_context().clone();
        if !published.is_valid() {
            return;
        }
        let mut attributes = messaging("deliver", "receive", channel);
        attributes.push(KeyValue::new(
            "messaging.message.id",
            message.id().to_string(),
        ));
        let mut span = tracer.build_with_context(
            SpanBuilder::from_name("deliver")
                .with_kind(SpanKind::Consumer)
                .with_attributes(attributes)
                .with_links(vec![Link::with_context(published)]),
            &Context::current(),
        );
        opentelemetry::trace::Span::end(&mut span);
    }

    /// A subscription fell behind and was ended.
    pub(crate) fn lagged(&self) {
        if let Some(i) = &self.metrics {
            i.lagged.add(1, &[]);
        }
    }
}

fn messaging(operation: &'static str, kind: &'static str, channel: &str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "orpc_pubsub"),
        KeyValue::new("messaging.operation.name", operation),
        KeyValue::new("messaging.operation.type", kind),
        KeyValue::new("messaging.destination.name", channel.to_owned()),
    ]
}

/// A publish under way: its span, if traced.
pub(crate) struct Publishing {
    metrics: Option<Arc<Instruments>>,
    span: Option<Context>,
}

impl Publishing {
    /// The trace context for the message to carry: the publish span's.
    pub(crate) fn trace_context(&self) -> Option<TraceContext> {
        let context = self.span.as_ref()?;
        let mut carrier = Carrier::default();
        TraceContextPropagator::new().inject_context(context, &mut carrier);
        Some(TraceContext::new(
            carrier.traceparent?,
            carrier.tracestate.unwrap_or_default(),
        ))
    }

    /// The publish ended with `result`.
    pub(crate) fn done(self, published: &Result<MessageId, Error>) {
        if let Some(i) = &self.metrics {
            i.publishes.add(1, &result(published.is_ok()));
        }
        let Some(context) = self.span else { return };
        let span = context.span();
        match published {
            Ok(id) => span.set_attribute(KeyValue::new("messaging.message.id", id.to_string())),
            Err(error) => span.set_status(Status::error(error.to_string())),
        }
        span.end();
    }
}

/// Where the propagator writes a publish's trace context.
#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            TRACESTATE => self.tracestate = Some(value),
            _ => {}
        }
    }
}

/// A message's trace context, as the propagator reads it.
struct Carried<'a>(&'a TraceContext);

impl Extractor for Carried<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.0.traceparent()),
            TRACESTATE => self.0.tracestate(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, TRACESTATE]
    }
}

/// The Redis backend's error counter, once a meter is given (see `Backend::meter`).
#[cfg(feature = "redis")]
#[derive(Default)]
pub(crate) struct RedisErrors(std::sync::OnceLock<Counter<u64>>);

#[cfg(feature = "redis")]
impl RedisErrors {
    /// Records with `meter` from now on, unless a meter was given before.
    pub(crate) fn meter(&self, meter: &Meter) {
        self.0.get_or_init(|| {
            let errors = meter
                .u64_counter("orpc.pubsub.redis.errors")
                .with_description(
                    "Redis commands that failed or timed out, by what the backend was doing",
                )
                .build();
            for operation in super::RedisOperation::ALL {
                errors.add(0, &[KeyValue::new("operation", operation.label())]);
            }
            errors
        });
    }

    /// `result`, counted when Redis failed it.
    pub(crate) fn count<T>(
        &self,
        operation: super::RedisOperation,
        result: Result<T, Error>,
    ) -> Result<T, Error> {
        if let (Err(Error::Unavailable(_)), Some(errors)) = (&result, self.0.get()) {
            errors.add(1, &[KeyValue::new("operation", operation.label())]);
        }
        result
    }
}
