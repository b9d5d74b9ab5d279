//! The client against the conformance server (`orpc_test_support::conformance`, which
//! `examples/conformance.rs` serves) over loopback HTTP: every procedure of
//! `shared/spec/conformance.md`, error answers, and cleanup on drop.

use std::time::Duration;

use futures_util::StreamExt;
use orpc_client::{Client, Error, Event, EventStream, Frame, ORPCError, ReconnectPolicy};
use orpc_test_support::conformance::Conformance;
use orpc_test_support::eventually;
use serde::Deserialize;
use serde_json::{json, Value};

/// Every test gives up after this; nothing here should take more than a second or two.
const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Deserialize, PartialEq)]
struct Tick {
    i: u32,
}

fn client(server: &Conformance) -> Client {
    Client::new(&server.rpc_url()).unwrap()
}

/// Every item of a stream, within `LIMIT`.
async fn frames<T, R>(stream: EventStream<T, R>) -> Vec<Result<Frame<T, R>, Error>> {
    tokio::time::timeout(LIMIT, stream.collect())
        .await
        .expect("the stream ended in time")
}

fn expect_orpc(error: &Error) -> &ORPCError {
    error
        .as_orpc()
        .unwrap_or_else(|| panic!("expected an oRPC error, got {error:?}"))
}

#[tokio::test]
async fn count_yields_typed_events_with_ids_and_retry_then_done() {
    let server = Conformance::start();
    let stream = client(&server)
        .stream::<Tick, String>("count", &json!({ "n": 5 }))
        .await
        .unwrap();
    let (events, done) = tokio::time::timeout(LIMIT, stream.collect_all())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done, "done!");
    let expected: Vec<_> = (0..5)
        .map(|i| Event {
            data: Tick { i },
            meta: orpc_client::EventMeta::new()
                .id(i)
                .retry(Duration::from_millis(1000)),
        })
        .collect();
    assert_eq!(events, expected);
}

#[tokio::test]
async fn count_resumes_after_a_given_last_event_id() {
    let server = Conformance::start();
    let stream = client(&server)
        .stream::<Tick, String>("count", &json!({ "n": 5 }))
        .last_event_id("2")
        .await
        .unwrap();
    let (events, done) = stream.collect_all().await.unwrap();
    let ids: Vec<_> = events.iter().map(|e| e.data.i).collect();
    assert_eq!((ids, done.as_str()), (vec![3, 4], "done!"));
}

#[tokio::test]
async fn the_stream_is_fused_after_done() {
    let server = Conformance::start();
    let mut stream = client(&server)
        .stream::<Tick, String>("count", &json!({ "n": 1 }))
        .await
        .unwrap();
    assert!(matches!(stream.next().await, Some(Ok(Frame::Event(_)))));
    assert!(matches!(stream.next().await, Some(Ok(Frame::Done(_)))));
    assert!(stream.next().await.is_none());
    assert!(stream.next().await.is_none());
    assert!(futures_util::stream::FusedStream::is_terminated(&stream));
}

#[tokio::test]
async fn fail_yields_its_event_then_the_error_and_does_not_retry_it() {
    let server = Conformance::start();
    let stream = client(&server)
        .stream::<Value, ()>("fail", &())
        .await
        .unwrap();
    let frames = frames(stream).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(matches!(&frames[0], Ok(Frame::Event(e)) if e.data == json!({"a": 1})));
    let error = expect_orpc(frames[1].as_ref().unwrap_err());
    assert_eq!(
        error,
        &ORPCError {
            defined: false,
            code: "BAD_REQUEST".into(),
            status: 400,
            message: "nope".into(),
            data: Some(json!({"x": 1})),
        }
    );
    // The default policy does not retry error events: one stream only.
    assert_eq!(server.started(), 1);
}

#[tokio::test]
async fn an_error_event_is_retried_when_the_policy_says_so() {
    let server = Conformance::start();
    let policy = ReconnectPolicy::builder()
        .max_attempts(2)
        .initial_delay(Duration::from_millis(10))
        .retry_errors(true)
        .build();
    let stream = client(&server)
        .stream::<Value, ()>("fail", &())
        .reconnect(policy)
        .await
        .unwrap();
    let frames = frames(stream).await;
    // Each attempt yields {a: 1} before failing; the last failure is returned.
    assert_eq!(frames.len(), 4, "{frames:?}");
    assert!(frames[..3].iter().all(|f| matches!(f, Ok(Frame::Event(_)))));
    assert_eq!(
        expect_orpc(frames[3].as_ref().unwrap_err()).code,
        "BAD_REQUEST"
    );
    assert_eq!(server.started(), 3);
}

#[tokio::test]
async fn dropping_a_forever_stream_runs_the_servers_cleanup_within_a_second() {
    let server = Conformance::start();
    let client = client(&server);
    let mut stream = client
        .stream::<Value, ()>("forever", &json!({ "interval_ms": 10 }))
        .await
        .unwrap();
    for k in 0..3 {
        let frame = tokio::time::timeout(LIMIT, stream.next()).await.unwrap();
        assert!(matches!(frame, Some(Ok(Frame::Event(e))) if e.data == json!({"tick": k})));
    }
    assert_eq!((server.started(), server.cleaned()), (1, 0));
    drop(stream);
    // `stats` itself, through the client, says the stream was cleaned up.
    let cleaned = eventually(Duration::from_secs(1), async || server.cleaned() == 1).await;
    let stats: Value = client.call("stats", &()).await.unwrap();
    assert!(cleaned, "cleanup did not run within 1 s: {stats}");
    assert_eq!(stats, json!({"started": 1, "cleaned": 1}));
}

#[tokio::test]
async fn validated_ends_at_the_first_value_its_schema_refuses() {
    let server = Conformance::start();
    let stream = client(&server)
        .stream::<Value, ()>("validated", &json!({ "values": [0, 100, 101, 5] }))
        .await
        .unwrap();
    let frames = frames(stream).await;
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert!(matches!(&frames[0], Ok(Frame::Event(e)) if e.data == json!({"value": 0})));
    assert!(matches!(&frames[1], Ok(Frame::Event(e)) if e.data == json!({"value": 100})));
    let error = expect_orpc(frames[2].as_ref().unwrap_err());
    assert_eq!(
        (error.code.as_str(), error.status, error.message.as_str()),
        (
            "EVENT_ITERATOR_VALIDATION_FAILED",
            500,
            "Event iterator validation failed"
        )
    );
}

#[tokio::test]
async fn invalid_input_is_an_error_response_before_the_stream() {
    let server = Conformance::start();
    let error = client(&server)
        .stream::<Value, ()>("validated", &json!({ "values": "no" }))
        .await
        .unwrap_err();
    let error = expect_orpc(&error);
    assert_eq!(
        (error.code.as_str(), error.status, error.message.as_str()),
        ("BAD_REQUEST", 400, "Input validation failed")
    );
    assert!(error.data.as_ref().unwrap()["issues"].is_array());
}

#[tokio::test]
async fn text_yields_every_string_unchanged() {
    let server = Conformance::start();
    let items = ["a\nb", "c\r\nd", "e\rf", "", "ü€😀", " lead", "trail\n"];
    let stream = client(&server)
        .stream::<String, ()>("text", &json!({ "items": items }))
        .await
        .unwrap();
    let (events, ()) = stream.collect_all().await.unwrap();
    let got: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(got, items);
}

#[tokio::test]
async fn panic_ends_with_an_internal_error_and_the_server_keeps_serving() {
    let server = Conformance::start();
    let client = client(&server);
    let frames = frames(client.stream::<Value, ()>("panic", &()).await.unwrap()).await;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert!(matches!(&frames[0], Ok(Frame::Event(e)) if e.data == json!({"a": 1})));
    let error = expect_orpc(frames[1].as_ref().unwrap_err());
    assert_eq!(
        (error.code.as_str(), error.status, error.message.as_str()),
        ("INTERNAL_SERVER_ERROR", 500, "Internal server error")
    );
    let out: Value = client
        .call("echo", &json!({ "name": "still here" }))
        .await
        .unwrap();
    assert_eq!(out, json!({"greeting": "hello still here"}));
}

#[tokio::test]
async fn meta_surfaces_ids_comments_and_retry() {
    let server = Conformance::start();
    let stream = client(&server)
        .stream::<Value, ()>("meta", &())
        .await
        .unwrap();
    let frames = frames(stream).await;
    assert_eq!(frames.len(), 3, "{frames:?}");
    let Ok(Frame::Event(first)) = &frames[0] else {
        panic!("{frames:?}")
    };
    assert_eq!(first.data, json!({"n": 1}));
    assert_eq!(first.id(), Some("α-1"));
    assert_eq!(first.meta.comments, ["hello", "world"]);
    assert_eq!(first.meta.retry, None);
    let Ok(Frame::Event(second)) = &frames[1] else {
        panic!("{frames:?}")
    };
    assert_eq!(second.data, json!({"n": 2}));
    assert_eq!(second.meta.retry, Some(Duration::from_millis(2500)));
    assert_eq!((second.id(), second.meta.comments.len()), (None, 0));
    let error = expect_orpc(frames[2].as_ref().unwrap_err());
    assert_eq!(
        (error.code.as_str(), error.status),
        ("INTERNAL_SERVER_ERROR", 500)
    );
}

#[tokio::test]
async fn echo_returns_its_typed_output() {
    #[derive(Deserialize)]
    struct Greeting {
        greeting: String,
    }
    let server = Conformance::start();
    let out: Greeting = client(&server)
        .call("echo", &json!({ "name": "ada" }))
        .await
        .unwrap();
    assert_eq!(out.greeting, "hello ada");
}

#[tokio::test]
async fn echo_refuses_an_empty_name_with_an_error_response() {
    let server = Conformance::start();
    let error = client(&server)
        .call::<Value, _>("echo", &json!({ "name": "" }))
        .await
        .unwrap_err();
    let error = expect_orpc(&error);
    assert_eq!(
        (error.code.as_str(), error.status, error.message.as_str()),
        ("BAD_REQUEST", 400, "Input validation failed")
    );
}

#[tokio::test]
async fn stats_counts_streams_started_and_cleaned() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Stats {
        started: u64,
        cleaned: u64,
    }
    let server = Conformance::start();
    let client = client(&server);
    let before: Stats = client.call("stats", &()).await.unwrap();
    assert_eq!(
        before,
        Stats {
            started: 0,
            cleaned: 0
        }
    );
    let stream = client
        .stream::<Tick, String>("count", &json!({ "n": 2 }))
        .await
        .unwrap();
    stream.collect_all().await.unwrap();
    assert!(eventually(Duration::from_secs(1), async || server.cleaned() == 1).await);
    let after: Stats = client.call("stats", &()).await.unwrap();
    assert_eq!(
        after,
        Stats {
            started: 1,
            cleaned: 1
        }
    );
}

#[tokio::test]
async fn an_unknown_procedure_is_not_found() {
    let server = Conformance::start();
    let client = client(&server);
    let error = client.call::<Value, _>("nope", &()).await.unwrap_err();
    assert_eq!(expect_orpc(&error).status, 404);
    let error = client.stream::<Value, ()>("nope", &()).await.unwrap_err();
    assert_eq!(expect_orpc(&error).code, "NOT_FOUND");
}

#[tokio::test]
async fn plain_and_streaming_calls_are_not_mixed_up() {
    let server = Conformance::start();
    let client = client(&server);
    let error = client
        .call::<Value, _>("count", &json!({ "n": 1 }))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Protocol(_)), "{error:?}");
    let error = client
        .stream::<Value, Value>("stats", &())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Protocol(_)), "{error:?}");
}

#[tokio::test]
async fn events_of_the_wrong_type_end_the_stream_with_a_decode_error() {
    let server = Conformance::start();
    let stream = client(&server)
        .stream::<String, String>("count", &json!({ "n": 3 }))
        .await
        .unwrap();
    let frames = frames(stream).await;
    assert_eq!(frames.len(), 1);
    assert!(
        matches!(&frames[0], Err(Error::Decode { what: "event", .. })),
        "{frames:?}"
    );
    // The connection closed with the stream, so the server cleaned up.
    assert!(eventually(Duration::from_secs(1), async || server.cleaned() == 1).await);
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_error_after_the_allowed_attempts() {
    // Bind, then drop, a listener: its port now refuses connections.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let policy = ReconnectPolicy::builder()
        .max_attempts(2)
        .initial_delay(Duration::from_millis(5))
        .build();
    let client = Client::builder(&format!("http://{addr}/rpc"))
        .reconnect(policy)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let error = tokio::time::timeout(LIMIT, client.stream::<Value, ()>("count", &()))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&error, Error::Transport(e) if e.is_connect()),
        "{error:?}"
    );
    assert!(error.is_connection_error());
    // Two waits of 5–10 ms, then 5–20 ms; far below a second.
    assert!(started.elapsed() < Duration::from_secs(5));
    let error = client.call::<Value, _>("echo", &()).await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)));
}

#[tokio::test]
async fn a_bad_base_url_is_refused() {
    for bad in ["not a url", "ftp://127.0.0.1/rpc", "mailto:a@b"] {
        assert!(
            matches!(Client::new(bad), Err(Error::InvalidUrl(_))),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn bigint_and_date_round_trip_with_meta() {
    #[derive(Debug, PartialEq, serde::Serialize, Deserialize)]
    struct Types {
        big: orpc_client::BigInt<i64>,
        at: orpc_client::Date<chrono::DateTime<chrono::Utc>>,
    }
    let at = |day| {
        chrono::DateTime::parse_from_rfc3339(&format!("2024-05-0{day}T12:00:00.000Z"))
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let server = Conformance::start();
    let input = Types {
        big: orpc_client::BigInt(9_007_199_254_740_993),
        at: orpc_client::Date(at(1)),
    };
    let stream = client(&server)
        .stream::<Types, Types>("types", &input)
        .await
        .unwrap();
    let (events, done) = tokio::time::timeout(LIMIT, stream.collect_all())
        .await
        .unwrap()
        .unwrap();
    let expected = Types {
        big: orpc_client::BigInt(9_007_199_254_740_994),
        at: orpc_client::Date(at(2)),
    };
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].data, expected);
    assert_eq!(done, expected);
}
