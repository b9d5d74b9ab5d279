//! Stream limits, the router's counters, per-stream spans and the slow-poll warning, over HTTP.

use std::time::Duration;

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::{finally, procedure, yield_, ORPCError};
use orpc_test_support::{client, eventually, Frames, TestServer};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};

#[derive(Serialize, JsonSchema)]
struct N {
    #[schemars(range(max = 10))]
    n: u32,
}

#[procedure(output = event_iterator(N))]
async fn idle() {
    yield_!(N { n: 1 });
    std::future::pending::<()>().await;
}

#[procedure(output = event_iterator(N))]
async fn three(input: u32) -> Result<(), ORPCError> {
    for n in 0..3 {
        yield_!(N { n: n * input });
    }
    if input == 2 {
        return Err(ORPCError::bad_request("two"));
    }
    Ok(())
}

/// Blocks its worker thread for 150 ms: the bug the slow-poll warning points at.
#[procedure(output = event_iterator(N))]
async fn blocking() {
    std::thread::sleep(Duration::from_millis(150));
    yield_!(N { n: 1 });
}

fn serve(router: Router) -> TestServer {
    TestServer::start(
        move |cfg| {
            cfg.service(web::scope("/rpc").configure(router.rpc()));
        },
        false,
    )
}

async fn open(server: &TestServer, name: &str, input: Value) -> reqwest::Response {
    client()
        .post(server.url(&format!("/rpc/{name}")))
        .json(&json!({ "json": input }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn over_the_stream_limit_calls_get_503_and_open_streams_carry_on() {
    let router = Router::new()
        .procedure(idle)
        .procedure(three)
        .max_streams(2);
    let server = serve(router.clone());
    let mut first = Frames::new(open(&server, "idle", Value::Null).await);
    let mut second = Frames::new(open(&server, "idle", Value::Null).await);
    for frames in [&mut first, &mut second] {
        assert_eq!(
            frames.next_within(Duration::from_secs(5)).await.as_deref(),
            Some(": ")
        );
    }
    let refused = open(&server, "three", json!(1)).await;
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["json"]["code"], "SERVICE_UNAVAILABLE");
    // The open streams are untouched.
    assert_eq!(
        first.next_within(Duration::from_secs(5)).await.as_deref(),
        Some("event: message\ndata: {\"json\":{\"n\":1}}")
    );
    assert_eq!(router.stats().active(), 2);
    assert_eq!(router.stats().rejected(), 1);
    // A place frees up when a stream ends.
    drop(first);
    assert!(
        eventually(Duration::from_secs(2), async || router.stats().active()
            == 1)
        .await
    );
    let admitted = open(&server, "three", json!(1)).await;
    assert_eq!(admitted.status(), 200);
    assert_eq!(Frames::new(admitted).rest().await.len(), 5);
}

#[tokio::test]
async fn counters_follow_every_way_a_stream_ends() {
    let router = Router::new().procedure(idle).procedure(three);
    let server = serve(router.clone());
    assert_eq!(
        Frames::new(open(&server, "three", json!(1)).await)
            .rest()
            .await
            .len(),
        5
    ); // done
    assert_eq!(
        Frames::new(open(&server, "three", json!(2)).await)
            .rest()
            .await
            .len(),
        5
    ); // error
    assert_eq!(
        Frames::new(open(&server, "three", json!(6)).await)
            .rest()
            .await
            .len(),
        4
    ); // invalid
       // A call refused for its input never started a stream.
    assert_eq!(
        open(&server, "three", json!("not a number")).await.status(),
        400
    );
    let mut idle_stream = Frames::new(open(&server, "idle", Value::Null).await);
    idle_stream.next_within(Duration::from_secs(5)).await;
    idle_stream.next_within(Duration::from_secs(5)).await;
    drop(idle_stream); // disconnect
    assert!(
        eventually(Duration::from_secs(2), async || router.stats().active()
            == 0)
        .await
    );
    let stats = router.stats();
    assert_eq!(
        (stats.started(), stats.finished(), stats.active()),
        (4, 4, 0)
    );
    assert_eq!(stats.events(), 3 + 3 + 2 + 1);
    assert_eq!(
        (
            stats.errors(),
            stats.validation_failures(),
            stats.disconnects()
        ),
        (1, 1, 1)
    );
}

#[test]
fn a_blocking_handler_is_reported_inside_its_stream_span() {
    let captured = orpc_test_support::logs::capture();

    let server = serve(Router::new().procedure(blocking));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let frames = runtime.block_on(async {
        Frames::new(open(&server, "blocking", Value::Null).await)
            .rest()
            .await
    });
    assert_eq!(frames.len(), 3);
    let log = captured.text();
    // Other tests of this binary log too; this stream's warning names its procedure.
    let warning = log
        .lines()
        .find(|l| {
            l.contains("blocked its worker thread")
                && l.contains("stream{procedure=\"blocking\" stream=")
        })
        .unwrap_or_else(|| panic!("{log}"));
    assert!(warning.contains("WARN"), "{warning}");
}

static PANICKY_CLEANUPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Panics, and its cleanup panics too while the first panic unwinds.
#[procedure(output = event_iterator(N))]
async fn double_panic() {
    let _cleanup = finally(|| {
        PANICKY_CLEANUPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        panic!("the cleanup panics as well");
    });
    yield_!(N { n: 1 });
    panic!("the handler panics");
}

#[tokio::test]
async fn a_cleanup_that_panics_during_a_panic_is_contained() {
    let router = Router::new().procedure(double_panic).procedure(three);
    let server = serve(router.clone());
    let frames = Frames::new(open(&server, "double_panic", Value::Null).await)
        .rest()
        .await;
    assert_eq!(frames.last().unwrap(), "event: error\ndata: {\"json\":{\"defined\":false,\"code\":\"INTERNAL_SERVER_ERROR\",\"status\":500,\"message\":\"Internal server error\"}}");
    assert_eq!(
        PANICKY_CLEANUPS.load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    // The process did not abort, and the server still serves.
    assert_eq!(
        Frames::new(open(&server, "three", json!(1)).await)
            .rest()
            .await
            .len(),
        5
    );
}
