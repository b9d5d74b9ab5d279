//! What a `PubSub` handle reports (feature `otel`), read from OpenTelemetry's in-memory
//! exporters: its counters (publishes, deliveries, lagged subscribers, Redis errors), and its
//! spans, where a delivery on one instance is linked to the publish on another through Redis.

mod support;

use std::time::Duration;

use opentelemetry::context::FutureExt as _;
use opentelemetry::trace::{SpanKind, TraceContextExt, Tracer, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use orpc_pubsub::{Error, PubSub, RedisConfig, Settings};
use support::{next_text, next_within, redis_or_skip, redis_pubsub, redis_pubsub_with, unique};

/// A meter provider whose metrics a test reads with [`counter`].
fn meters() -> (SdkMeterProvider, InMemoryMetricExporter) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    (provider, exporter)
}

/// The value of the counter `name` in the series with `attributes` (exactly those), or `None`
/// when there is no such series.
fn counter(
    provider: &SdkMeterProvider,
    exporter: &InMemoryMetricExporter,
    name: &str,
    attributes: &[KeyValue],
) -> Option<u64> {
    provider.force_flush().unwrap();
    let exported = exporter.get_finished_metrics().unwrap();
    let metric = exported
        .iter()
        .rev()
        .flat_map(|resource| resource.scope_metrics())
        .filter(|scope| scope.scope().name() == "orpc-pubsub")
        .flat_map(|scope| scope.metrics())
        .find(|metric| metric.name() == name)?;
    let AggregatedMetrics::U64(MetricData::Sum(sum)) = metric.data() else {
        panic!("{name} is not a u64 counter");
    };
    let value = sum
        .data_points()
        .find(|point| {
            let mut found: Vec<_> = point.attributes().cloned().collect();
            found.sort_by(|a, b| a.key.cmp(&b.key));
            found == attributes
        })
        .map(|point| point.value());
    value
}

#[tokio::test]
async fn publishes_deliveries_and_lagged_subscribers_are_counted() {
    let (provider, exporter) = meters();
    let pubsub = PubSub::in_memory(Settings::default().buffer(2)).meter_provider(&provider);
    let count = |name, attributes: &[KeyValue]| counter(&provider, &exporter, name, attributes);
    let ok = [KeyValue::new("result", "ok")];
    let failed = [KeyValue::new("result", "error")];

    // Every series is there from the start, at 0.
    assert_eq!(count("orpc.pubsub.publishes", &ok), Some(0));
    assert_eq!(count("orpc.pubsub.publishes", &failed), Some(0));
    assert_eq!(count("orpc.pubsub.deliveries", &[]), Some(0));
    assert_eq!(count("orpc.pubsub.lagged", &[]), Some(0));

    let mut reader = pubsub.subscribe("scores", None).await.unwrap();
    let mut sleeper = pubsub.subscribe("scores", None).await.unwrap();
    for n in 0..2 {
        pubsub.publish("scores", n.to_string()).await.unwrap();
    }
    for _ in 0..2 {
        next_text(&mut reader).await;
    }
    // A refused channel name is not a publish.
    assert_eq!(
        pubsub.publish("", "x").await.unwrap_err(),
        Error::InvalidChannel
    );
    // `sleeper` read nothing: two more put it more than its buffer of 2 behind.
    for n in 2..4 {
        pubsub.publish("scores", n.to_string()).await.unwrap();
    }
    assert!(matches!(
        next_within(&mut sleeper, Duration::from_secs(5)).await,
        Some(Err(Error::Lagged { .. }))
    ));
    // A resume replays from retention: those deliveries count too.
    let mut resumed = pubsub.subscribe("scores", Some("2")).await.unwrap();
    next_text(&mut resumed).await;
    next_text(&mut resumed).await;

    assert_eq!(count("orpc.pubsub.publishes", &ok), Some(4));
    assert_eq!(count("orpc.pubsub.publishes", &failed), Some(0));
    assert_eq!(count("orpc.pubsub.deliveries", &[]), Some(4));
    assert_eq!(count("orpc.pubsub.lagged", &[]), Some(1));
}

#[tokio::test]
async fn two_handles_count_apart() {
    let (provider_a, exporter_a) = meters();
    let (provider_b, exporter_b) = meters();
    let a = PubSub::in_memory(Settings::default()).meter_provider(&provider_a);
    let b = PubSub::in_memory(Settings::default()).meter_provider(&provider_b);
    a.publish("c", "1").await.unwrap();
    a.publish("c", "2").await.unwrap();
    b.publish("c", "1").await.unwrap();
    let ok = [KeyValue::new("result", "ok")];
    let publishes = "orpc.pubsub.publishes";
    assert_eq!(counter(&provider_a, &exporter_a, publishes, &ok), Some(2));
    assert_eq!(counter(&provider_b, &exporter_b, publishes, &ok), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_errors_are_counted_by_operation() {
    let Some(url) = redis_or_skip("redis_errors_are_counted_by_operation").await else {
        return;
    };
    let proxy = support::Proxy::start(&url).await;
    let config = RedisConfig {
        command_timeout: Duration::from_millis(500),
        ..RedisConfig::default()
    };
    let (pubsub, _redis) = redis_pubsub_with(&proxy.url(), Settings::default(), config).await;
    let (provider, exporter) = meters();
    let pubsub = pubsub.meter_provider(&provider);
    let count = |operation: &str| {
        let attributes = [KeyValue::new("operation", operation.to_owned())];
        counter(
            &provider,
            &exporter,
            "orpc.pubsub.redis.errors",
            &attributes,
        )
    };
    for operation in ["publish", "subscribe", "replay", "read"] {
        assert_eq!(count(operation), Some(0), "{operation}");
    }

    let channel = unique("errors");
    pubsub.publish(&channel, "stored").await.unwrap();
    proxy.cut();
    assert!(matches!(
        pubsub.publish(&channel, "lost").await,
        Err(Error::Unavailable(_))
    ));
    assert!(count("publish").unwrap() >= 1);
    // A failed publish also counts as one, by its result.
    let failed = [KeyValue::new("result", "error")];
    let publishes = counter(&provider, &exporter, "orpc.pubsub.publishes", &failed);
    assert_eq!(publishes, Some(1));
    proxy.restore();
}

/// A tracer provider whose finished spans a test reads.
fn tracing() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    (provider, exporter)
}

fn finished(exporter: &InMemorySpanExporter, name: &str) -> Vec<SpanData> {
    let spans = exporter.get_finished_spans().unwrap();
    spans.into_iter().filter(|span| span.name == name).collect()
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// Publishes on `publisher` inside a span `handler`, receives on `subscriber` inside a span
/// `subscriber`, and checks the spans: the publish a child of its handler, the delivery a child
/// of its subscriber and linked to the publish.
async fn a_delivery_is_linked_to_its_publish(publisher: PubSub, subscriber: PubSub, channel: &str) {
    let (provider, exporter) = tracing();
    let publisher = publisher.tracer_provider(&provider);
    let subscriber = subscriber.tracer_provider(&provider);
    let tracer = provider.tracer("test");

    let mut subscription = subscriber.subscribe(channel, None).await.unwrap();
    let handler = Context::current_with_span(tracer.start("handler"));
    let id = publisher
        .publish(channel, "goal")
        .with_context(handler.clone())
        .await
        .unwrap();
    let receiving = Context::current_with_span(tracer.start("subscriber"));
    let (message, text) = next_text(&mut subscription)
        .with_context(receiving.clone())
        .await;
    assert_eq!((message.id(), text.as_str()), (id, "goal"));
    assert!(message.trace_context().is_some());

    let [publish] = &finished(&exporter, "publish")[..] else {
        panic!("one publish span");
    };
    let handler = handler.span().span_context().clone();
    assert_eq!(publish.span_kind, SpanKind::Producer);
    assert_eq!(publish.span_context.trace_id(), handler.trace_id());
    assert_eq!(publish.parent_span_id, handler.span_id());
    assert_eq!(
        attribute(publish, "messaging.destination.name"),
        Some(Value::from(channel.to_owned()))
    );
    assert_eq!(
        attribute(publish, "messaging.message.id"),
        Some(Value::from(id.to_string()))
    );

    let [deliver] = &finished(&exporter, "deliver")[..] else {
        panic!("one deliver span");
    };
    let receiving = receiving.span().span_context().clone();
    assert_eq!(deliver.span_kind, SpanKind::Consumer);
    assert_eq!(deliver.span_context.trace_id(), receiving.trace_id());
    assert_eq!(deliver.parent_span_id, receiving.span_id());
    // The link is to the publish span, which reached the subscriber as a remote context.
    let ids = |c: &opentelemetry::trace::SpanContext| (c.trace_id(), c.span_id());
    let links: Vec<_> = deliver.links.iter().map(|l| ids(&l.span_context)).collect();
    assert_eq!(links, [ids(&publish.span_context)]);
    assert_eq!(
        attribute(deliver, "messaging.message.id"),
        Some(Value::from(id.to_string()))
    );
}

#[tokio::test]
async fn in_memory_a_delivery_is_linked_to_its_publish() {
    let pubsub = PubSub::in_memory(Settings::default());
    a_delivery_is_linked_to_its_publish(pubsub.clone(), pubsub, "scores").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_a_delivery_on_another_instance_is_linked_to_its_publish() {
    let Some(url) =
        redis_or_skip("on_redis_a_delivery_on_another_instance_is_linked_to_its_publish").await
    else {
        return;
    };
    // Two instances: two connections of their own, as two processes have.
    let (publisher, _a) = redis_pubsub(&url, Settings::default()).await;
    let (subscriber, _b) = redis_pubsub(&url, Settings::default()).await;
    a_delivery_is_linked_to_its_publish(publisher, subscriber, &unique("traced")).await;
}

#[tokio::test]
async fn only_a_traced_publish_makes_a_delivery_span() {
    let (provider, exporter) = tracing();
    let plain = PubSub::in_memory(Settings::default());
    // A handle made from `plain` shares its channels; `plain` itself stays untraced.
    let traced = plain.clone().tracer_provider(&provider);
    let mut subscription = traced.subscribe("c", None).await.unwrap();
    plain.publish("c", "untraced").await.unwrap();
    traced.publish("c", "traced").await.unwrap();
    let (untraced, _) = next_text(&mut subscription).await;
    let (traced_message, _) = next_text(&mut subscription).await;
    assert!(untraced.trace_context().is_none());
    assert!(traced_message.trace_context().is_some());
    assert_eq!(finished(&exporter, "publish").len(), 1);
    let delivered = finished(&exporter, "deliver");
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        attribute(&delivered[0], "messaging.message.id"),
        Some(Value::from(traced_message.id().to_string()))
    );
}

/// Publishes its input on channel `c`.
#[orpc_runtime::procedure]
async fn announce(
    input: String,
    pubsub: actix_web::web::Data<PubSub>,
) -> Result<String, orpc_runtime::ORPCError> {
    let id = pubsub.publish("c", input).await;
    Ok(id
        .map_err(|_| orpc_runtime::ORPCError::internal())?
        .to_string())
}

#[actix_web::test]
async fn a_publish_in_a_handler_is_a_child_of_its_call_and_of_the_callers_trace() {
    let (provider, exporter) = tracing();
    let pubsub = PubSub::in_memory(Settings::default()).tracer_provider(&provider);
    let router = orpc_runtime::http::Router::new()
        .procedure(announce)
        .tracer_provider(&provider);
    let app = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(actix_web::web::Data::new(pubsub.clone()))
            .service(actix_web::web::scope("/rpc").configure(router.rpc())),
    )
    .await;
    let mut subscription = pubsub.subscribe("c", None).await.unwrap();
    let caller = "4bf92f3577b34da6a3ce929d0e0e4736";
    let request = actix_web::test::TestRequest::post()
        .uri("/rpc/announce")
        .insert_header(("traceparent", format!("00-{caller}-00f067aa0ba902b7-01")))
        .set_json(serde_json::json!({ "json": "goal" }))
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.status(), 200);
    let (message, _) = next_text(&mut subscription).await;

    let [call] = &finished(&exporter, "announce")[..] else {
        panic!("one call span");
    };
    let [publish] = &finished(&exporter, "publish")[..] else {
        panic!("one publish span");
    };
    assert_eq!(call.span_context.trace_id().to_string(), caller);
    assert_eq!(publish.span_context.trace_id().to_string(), caller);
    assert_eq!(publish.parent_span_id, call.span_context.span_id());
    let carried = message.trace_context().unwrap().traceparent().to_owned();
    assert_eq!(
        carried,
        format!("00-{caller}-{}-01", publish.span_context.span_id())
    );
}
