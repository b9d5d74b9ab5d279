//! The router's traces (feature `otel`), read from OpenTelemetry's in-memory exporter: a call's
//! span is a child of the caller's W3C `traceparent` (sent as a header, as `RPCLink`'s
//! `headers` option sends it; over a WebSocket, the call's own or the upgrade's), ends with the
//! call or the stream however it ends, and is current while the handler runs.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use opentelemetry::trace::{SpanId, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use orpc_runtime::procedure;
use orpc_test_support::conformance::{self, Conformance};
use orpc_test_support::websocket::{self, Frame, Message};
use orpc_test_support::{client, eventually, Frames, Options};
use serde_json::json;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn traceparent() -> String {
    format!("00-{TRACE}-{PARENT}-01")
}

/// The conformance procedures and `seen`, traced into an in-memory exporter.
fn traced() -> (Conformance, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let router = conformance::router()
        .procedure(seen)
        .tracer_provider(&provider);
    (Conformance::with(router, Options::default()), exporter)
}

/// The trace and span that are current while the handler runs.
#[procedure]
async fn seen() -> (String, String) {
    let context = Context::current();
    let span = context.span();
    let ids = span.span_context();
    (ids.trace_id().to_string(), ids.span_id().to_string())
}

/// The finished span named `name`, waiting up to 5 s for it to end.
async fn span(exporter: &InMemorySpanExporter, name: &str) -> SpanData {
    let mut found = None;
    let ended = eventually(Duration::from_secs(5), async || {
        found = exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .find(|span| span.name == name);
        found.is_some()
    })
    .await;
    assert!(ended, "no finished span named {name}");
    found.unwrap()
}

fn attribute(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn is_child_of_the_caller(span: &SpanData) {
    assert_eq!(
        span.span_context.trace_id(),
        TraceId::from_hex(TRACE).unwrap()
    );
    assert_eq!(span.parent_span_id, SpanId::from_hex(PARENT).unwrap());
    assert_eq!(span.span_kind, SpanKind::Server);
}

#[actix_web::test]
async fn a_plain_calls_span_is_a_child_of_the_callers_traceparent() {
    let (c, exporter) = traced();
    let answer = client()
        .post(c.url("/rpc/echo"))
        .header("traceparent", traceparent())
        .json(&json!({ "json": { "name": "ada" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let echo = span(&exporter, "echo").await;
    is_child_of_the_caller(&echo);
    assert_eq!(attribute(&echo, "rpc.system"), Some("orpc".into()));
    assert_eq!(attribute(&echo, "rpc.method"), Some("echo".into()));
    assert_eq!(attribute(&echo, "orpc.transport"), Some("http".into()));
    assert_eq!(attribute(&echo, "orpc.code"), Some("OK".into()));

    // The span is current while the handler runs.
    let current: serde_json::Value = client()
        .post(c.url("/rpc/seen"))
        .header("traceparent", traceparent())
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let own = span(&exporter, "seen").await;
    assert_eq!(current["json"][0], TRACE);
    assert_eq!(current["json"][1], own.span_context.span_id().to_string());

    // Without a traceparent, a new trace.
    let _ = c.rpc("limited", json!(null)).await;
    let limited = span(&exporter, "limited").await;
    assert_eq!(limited.parent_span_id, SpanId::INVALID);
    assert_eq!(
        attribute(&limited, "orpc.code"),
        Some("RATE_LIMITED".into())
    );
}

#[actix_web::test]
async fn a_streams_span_ends_with_the_stream_however_it_ends() {
    let (c, exporter) = traced();
    let count = client()
        .post(c.url("/rpc/count"))
        .header("traceparent", traceparent())
        .json(&json!({ "json": { "n": 3 } }))
        .send()
        .await
        .unwrap();
    let _ = count.bytes().await.unwrap();
    let counted = span(&exporter, "count").await;
    is_child_of_the_caller(&counted);
    assert_eq!(
        attribute(&counted, "orpc.stream.events"),
        Some(Value::I64(3))
    );
    assert_eq!(
        attribute(&counted, "orpc.stream.ended"),
        Some("done".into())
    );

    // The client leaves: the span ends too.
    let mut forever = Frames::new(c.rpc("forever", json!({ "interval_ms": 20 })).await);
    forever.next().await.expect("a first event");
    drop(forever);
    let left = span(&exporter, "forever").await;
    assert_eq!(
        attribute(&left, "orpc.stream.ended"),
        Some("disconnect".into())
    );

    let _ = c.rpc("fail", json!(null)).await.bytes().await;
    let failed = span(&exporter, "fail").await;
    assert_eq!(
        attribute(&failed, "orpc.stream.ended"),
        Some("error".into())
    );
    assert_eq!(
        failed.status,
        opentelemetry::trace::Status::error("the stream ended with an error event")
    );
}

#[actix_web::test]
async fn over_a_websocket_each_calls_headers_come_before_the_upgrades() {
    let (c, exporter) = traced();
    let upgrade_parent = format!("00-{TRACE}-{}-01", "1111111111111111");
    let mut socket = websocket::connect(c.addr, "/ws", &[("traceparent", &upgrade_parent)])
        .await
        .unwrap();
    let call = format!(
        r#"{{"i":"1","p":{{"u":"/echo","b":{{"json":{{"name":"a"}}}},"h":{{"traceparent":"{}"}}}}}}"#,
        traceparent()
    );
    socket.send(Message::Text(call.into())).await.unwrap();
    socket
        .send(Message::Text(
            r#"{"i":"2","p":{"u":"/limited","b":{}}}"#.into(),
        ))
        .await
        .unwrap();
    for _ in 0..2 {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(matches!(frame, Frame::Text(_)), "{frame:?}");
    }
    let echo = span(&exporter, "echo").await;
    is_child_of_the_caller(&echo);
    assert_eq!(attribute(&echo, "orpc.transport"), Some("websocket".into()));
    let limited = span(&exporter, "limited").await;
    assert_eq!(
        limited.parent_span_id,
        SpanId::from_hex("1111111111111111").unwrap()
    );
}
