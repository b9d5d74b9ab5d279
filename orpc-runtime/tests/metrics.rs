//! The router's metrics (feature `otel`) through its Prometheus exposition, as a scrape reads
//! them: the spec's scenario over RPC, the same counts over the WebSocket transport and from an
//! `EventStream`, streams refused at the limit and ended by shutdown, every counter series there
//! from the start, and two routers counting apart.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{get, web};
use futures_util::{SinkExt, StreamExt};
use orpc_runtime::http::{EventStream, Router};
use orpc_test_support::conformance::Conformance;
use orpc_test_support::websocket::{self, Frame, Message};
use orpc_test_support::{client, eventually, Frames, Options, TestServer};
use serde_json::json;

/// One scrape: each series (`name{labels}`, labels sorted, the scope's left out) and its value.
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    async fn of(url: String) -> Scrape {
        let response = client().get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4"
        );
        Scrape::parse(&response.text().await.unwrap())
    }

    fn parse(text: &str) -> Scrape {
        let mut series = BTreeMap::new();
        let mut typed = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                typed.push(rest.split(' ').next().unwrap().to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (name, value) = line.rsplit_once(' ').unwrap();
            let (metric, labels) = name.split_once('{').unwrap_or((name, "}"));
            let mut labels: Vec<&str> = labels
                .trim_end_matches('}')
                .split(',')
                .filter(|label| !label.is_empty() && !label.starts_with("otel_scope_"))
                .collect();
            labels.sort_unstable();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| metric.strip_suffix(suffix))
                .filter(|family| typed.iter().any(|t| t == family))
                .unwrap_or(metric);
            assert!(
                typed.iter().any(|t| t == family),
                "{metric} has no # TYPE line before it"
            );
            series.insert(
                format!("{metric}{{{}}}", labels.join(",")),
                value.parse().unwrap(),
            );
        }
        Scrape(series)
    }

    /// The sum of the series of `metric` whose labels include every one of `labels`
    /// (`key="value"`), or `None` when there is none.
    fn sum(&self, metric: &str, labels: &[&str]) -> Option<f64> {
        let matching: Vec<f64> = self
            .0
            .iter()
            .filter(|(key, _)| {
                key.split_once('{').is_some_and(|(name, rest)| {
                    name == metric && labels.iter().all(|label| rest.contains(label))
                })
            })
            .map(|(_, value)| *value)
            .collect();
        (!matching.is_empty()).then(|| matching.iter().sum())
    }
}

async fn scrape(c: &Conformance) -> Scrape {
    Scrape::of(c.url("/metrics")).await
}

async fn drain(response: reqwest::Response) {
    let _ = response.bytes().await.unwrap();
}

/// The bytes of an SSE body's frames: every block but comments (`: ...`), with its blank line.
async fn frame_bytes(response: reqwest::Response) -> usize {
    let body = response.text().await.unwrap();
    body.split_inclusive("\n\n")
        .filter(|block| !block.starts_with(':'))
        .map(str::len)
        .sum()
}

#[actix_web::test]
async fn the_specs_scenario_over_rpc() {
    let c = Conformance::start();
    let fresh = scrape(&c).await;
    for (metric, labels) in [
        (
            "orpc_streams_ended_total",
            &[r#"procedure="count""#, r#"reason="done""#][..],
        ),
        (
            "orpc_streams_ended_total",
            &[r#"procedure="forever""#, r#"reason="disconnect""#],
        ),
        (
            "orpc_streams_ended_total",
            &[r#"reason="shutdown""#, r#"transport="websocket""#],
        ),
        ("orpc_events_sent_total", &[r#"procedure="count""#]),
        ("orpc_streams_active", &[r#"procedure="forever""#]),
        ("orpc_calls_total", &[r#"procedure="echo""#, r#"code="OK""#]),
        ("orpc_stream_sent_bytes_total", &[r#"procedure="count""#]),
        (
            "orpc_validation_failures_total",
            &[r#"procedure="echo""#, r#"kind="input""#],
        ),
        (
            "orpc_validation_failures_total",
            &[r#"procedure="validated""#, r#"kind="event""#],
        ),
    ] {
        assert_eq!(
            fresh.sum(metric, labels),
            Some(0.0),
            "{metric} {labels:?} at 0"
        );
    }

    let mut count_bytes = 0;
    for _ in 0..3 {
        count_bytes += frame_bytes(c.rpc("count", json!({ "n": 5 })).await).await;
    }
    let mut forever = Frames::new(c.rpc("forever", json!({ "interval_ms": 20 })).await);
    forever.next().await.expect("a first event");
    drop(forever);
    let invalid = c.rpc("echo", json!({ "name": "" })).await;
    assert_eq!(invalid.status(), 400);

    let mut after = scrape(&c).await;
    let ended = eventually(Duration::from_secs(5), async || {
        after = scrape(&c).await;
        after.sum("orpc_streams_active", &[r#"procedure="forever""#]) == Some(0.0)
    })
    .await;
    assert!(ended, "the forever stream ends once its client left");
    let count = [r#"procedure="count""#];
    assert_eq!(
        after.sum("orpc_streams_ended_total", &[count[0], r#"reason="done""#]),
        Some(3.0)
    );
    assert_eq!(after.sum("orpc_events_sent_total", &count), Some(15.0));
    // Every byte of their frames (five events and `done` each), none of the opening comment.
    assert_eq!(
        after.sum("orpc_stream_sent_bytes_total", &count),
        Some(count_bytes as f64)
    );
    assert_eq!(
        after.sum(
            "orpc_validation_failures_total",
            &[r#"procedure="echo""#, r#"kind="input""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        after.sum(
            "orpc_streams_ended_total",
            &[r#"procedure="forever""#, r#"reason="disconnect""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        after.sum(
            "orpc_calls_total",
            &[r#"procedure="echo""#, r#"code="BAD_REQUEST""#]
        ),
        Some(1.0)
    );
    // Durations and first events, one per stream; SSE only.
    assert_eq!(
        after.sum("orpc_stream_duration_seconds_count", &count),
        Some(3.0)
    );
    assert_eq!(
        after.sum("orpc_stream_first_event_seconds_count", &count),
        Some(3.0)
    );
    assert_eq!(
        after.sum(
            "orpc_stream_cleanup_seconds_count",
            &[r#"procedure="forever""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        after.sum("orpc_events_sent_total", &[r#"transport="websocket""#]),
        Some(0.0)
    );
    // A plain call that succeeds, and an event that fails its schema.
    drain(c.rpc("echo", json!({ "name": "ada" })).await).await;
    drain(c.rpc("validated", json!({ "values": [1, 101] })).await).await;
    let last = scrape(&c).await;
    assert_eq!(
        last.sum(
            "orpc_validation_failures_total",
            &[r#"procedure="validated""#, r#"kind="event""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        last.sum("orpc_validation_failures_total", &[r#"kind="input""#]),
        Some(1.0),
        "an error the handler returns is not an input validation failure"
    );
    assert_eq!(
        last.sum("orpc_calls_total", &[r#"procedure="echo""#, r#"code="OK""#]),
        Some(1.0)
    );
    assert_eq!(
        last.sum("orpc_call_duration_seconds_count", &[r#"procedure="echo""#]),
        Some(2.0)
    );
}

#[actix_web::test]
async fn the_websocket_transport_counts_as_websocket() {
    let c = Conformance::start();
    let mut socket = websocket::connect(c.addr, "/ws", &[]).await.unwrap();
    socket
        .send(Message::Text(
            r#"{"i":"1","p":{"u":"/count","b":{"json":{"n":4}}}}"#.into(),
        ))
        .await
        .unwrap();
    // The head, four events and `done`.
    for _ in 0..6 {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(matches!(frame, Frame::Text(_)), "{frame:?}");
    }
    let mut s = scrape(&c).await;
    let counted = eventually(Duration::from_secs(5), async || {
        s = scrape(&c).await;
        s.sum(
            "orpc_streams_ended_total",
            &[r#"transport="websocket""#, r#"reason="done""#],
        ) == Some(1.0)
    })
    .await;
    assert!(counted);
    let ws = [r#"procedure="count""#, r#"transport="websocket""#];
    assert_eq!(s.sum("orpc_events_sent_total", &ws), Some(4.0));
    assert!(
        s.sum("orpc_stream_sent_bytes_total", &ws).unwrap() > 4.0 * 20.0,
        "four events and done, each a JSON message"
    );
    assert_eq!(
        s.sum("orpc_events_sent_total", &[r#"transport="sse""#]),
        Some(0.0)
    );
}

#[actix_web::test]
async fn refused_and_shut_down_streams() {
    let router = orpc_test_support::conformance::router().max_streams(1);
    let c = Conformance::with(router.clone(), Options::default());
    let mut open = Frames::new(c.rpc("forever", json!({ "interval_ms": 20 })).await);
    open.next().await.expect("a first event");
    let refused = c.rpc("count", json!({ "n": 1 })).await;
    assert_eq!(refused.status(), 503);
    router.shutdown();
    let _ = open.rest().await;

    let mut s = scrape(&c).await;
    let ended = eventually(Duration::from_secs(5), async || {
        s = scrape(&c).await;
        s.sum("orpc_streams_ended_total", &[r#"reason="shutdown""#]) == Some(1.0)
    })
    .await;
    assert!(ended);
    assert_eq!(
        s.sum(
            "orpc_streams_ended_total",
            &[r#"procedure="forever""#, r#"reason="shutdown""#]
        ),
        Some(1.0)
    );
    assert_eq!(
        s.sum("orpc_streams_ended_total", &[r#"reason="disconnect""#]),
        Some(0.0)
    );
    assert_eq!(
        s.sum(
            "orpc_calls_total",
            &[r#"procedure="count""#, r#"code="SERVICE_UNAVAILABLE""#]
        ),
        Some(1.0)
    );
}

#[get("/events")]
async fn events() -> EventStream {
    EventStream::new(futures_util::stream::iter([1, 2, 3]))
}

#[actix_web::test]
async fn event_streams_and_two_routers_count_apart() {
    let one = Router::new().prometheus();
    let two = Router::new().prometheus();
    let bare = Router::new();
    let server = {
        let (one, two, bare) = (one.clone(), two.clone(), bare.clone());
        TestServer::with(
            move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(web::Data::new(one.clone()))
                    .service(events)
                    .route("/one", one.metrics())
                    .route("/two", two.metrics())
                    .route("/bare", bare.metrics());
            },
            Options::default(),
        )
    };
    drain(client().get(server.url("/events")).send().await.unwrap()).await;
    let mut s = Scrape::of(server.url("/one")).await;
    let counted = eventually(Duration::from_secs(5), async || {
        s = Scrape::of(server.url("/one")).await;
        s.sum("orpc_streams_ended_total", &[r#"procedure="event_stream""#]) == Some(1.0)
    })
    .await;
    assert!(counted);
    assert_eq!(
        s.sum("orpc_events_sent_total", &[r#"procedure="event_stream""#]),
        Some(3.0)
    );
    let other = Scrape::of(server.url("/two")).await;
    assert_eq!(other.sum("orpc_events_sent_total", &[]), None);
    let none = client().get(server.url("/bare")).send().await.unwrap();
    assert_eq!(none.status(), 404);
}
