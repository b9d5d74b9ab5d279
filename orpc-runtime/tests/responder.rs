//! `EventStream` in plain actix-web handlers, over real HTTP on loopback: oRPC's exact bytes,
//! cleanup within a second of an idle client leaving, keep-alive comments, shutdown and the
//! stream limit, all from the router found in the app's data.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{get, web, HttpRequest, HttpResponse};
use futures_util::{stream, StreamExt};
use orpc_runtime::http::{EventStream, Router};
use orpc_runtime::sse::{Envelope, KeepAlive};
use orpc_runtime::{procedure, yield_, Event, EventMeta, ORPCError};
use orpc_test_support::{client, eventually, Frames, TestServer};
use serde_json::Value;

#[get("/numbers")]
async fn numbers() -> EventStream {
    EventStream::new(stream::iter([1, 2, 3]))
}

#[procedure(output = event_iterator(u32, String))]
async fn count(input: u32) -> String {
    for i in 0..input {
        yield_!(i, id = i, retry = Duration::from_millis(1500));
    }
    "done!".to_owned()
}

#[get("/count/{n}")]
async fn count_to(n: web::Path<u32>, req: HttpRequest) -> Result<EventStream, ORPCError> {
    Ok(EventStream::from_frames(count.call(n.into_inner(), &req).await?).envelope(Envelope::Rpc))
}

#[get("/forged")]
async fn forged() -> EventStream {
    EventStream::from_events(stream::iter([
        Event {
            data: "ok",
            meta: EventMeta::new().comment("first"),
        },
        Event {
            data: "forged",
            meta: EventMeta::new().id("1\ndata: injected"),
        },
    ]))
}

/// How many idle streams have been dropped: each holds a guard that counts here when dropped.
#[derive(Default)]
struct Cleanups(Arc<AtomicU64>);

struct Guard(Arc<AtomicU64>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// One event, then silence until the client leaves or the server stops it.
#[get("/idle")]
async fn idle(cleanups: web::Data<Cleanups>) -> EventStream {
    let guard = Guard(cleanups.0.clone());
    EventStream::new(
        stream::iter(["hello"])
            .chain(stream::pending())
            .map(move |event| {
                let _held = &guard;
                event
            }),
    )
}

/// Serves the handlers with `router` in the app's data.
fn serve(router: &Router, cleanups: &Arc<AtomicU64>) -> TestServer {
    let data = web::Data::new(router.clone());
    let cleanups = web::Data::new(Cleanups(cleanups.clone()));
    TestServer::start(
        move |cfg| {
            cfg.app_data(data.clone())
                .app_data(cleanups.clone())
                .service(numbers)
                .service(count_to)
                .service(forged)
                .service(idle)
                .route("/plain", web::get().to(HttpResponse::Ok));
        },
        false,
    )
}

fn quiet_router() -> Router {
    Router::new().keep_alive(
        KeepAlive::default()
            .interval(None)
            .initial_comment(None::<&str>),
    )
}

async fn open(server: &TestServer, path: &str) -> reqwest::Response {
    client().get(server.url(path)).send().await.unwrap()
}

/// Opens `/idle` and reads up to its event: a stream that is open and idle.
async fn open_idle(server: &TestServer) -> Frames {
    let mut frames = Frames::new(open(server, "/idle").await);
    let mut first = frames.next_within(Duration::from_secs(5)).await.unwrap();
    if first.starts_with(':') {
        first = frames.next_within(Duration::from_secs(5)).await.unwrap();
    }
    assert_eq!(first, "event: message\ndata: \"hello\"");
    frames
}

#[tokio::test]
async fn a_plain_handler_streams_events_in_orpcs_wire_format() {
    let server = serve(&Router::new(), &Arc::default());

    let response = open(&server, "/numbers").await;
    assert_eq!(response.status(), 200);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "text/event-stream");
    assert_eq!(header("cache-control"), "no-cache");
    assert_eq!(
        Frames::new(response).rest().await,
        [
            ": ",
            "event: message\ndata: 1",
            "event: message\ndata: 2",
            "event: message\ndata: 3",
            "event: done\ndata: null",
        ]
    );

    // A procedure's stream, in the RPC envelope: ids, retry delays and the return value.
    assert_eq!(
        Frames::new(open(&server, "/count/2").await).rest().await,
        [
            ": ",
            "event: message\nretry: 1500\nid: 0\ndata: {\"json\":0}",
            "event: message\nretry: 1500\nid: 1\ndata: {\"json\":1}",
            "event: done\ndata: {\"json\":\"done!\"}",
        ]
    );

    // An id that would forge a field is never sent.
    assert_eq!(
        Frames::new(open(&server, "/forged").await).rest().await,
        [
            ": ",
            ": first\nevent: message\ndata: \"ok\"",
            "event: error\ndata: {\"defined\":false,\"code\":\"INTERNAL_SERVER_ERROR\",\"status\":500,\"message\":\"Internal server error\"}",
        ]
    );
}

#[tokio::test]
async fn without_a_router_it_streams_with_the_default_settings() {
    let server = TestServer::start(
        |cfg| {
            cfg.service(numbers);
        },
        false,
    );
    let frames = Frames::new(open(&server, "/numbers").await).rest().await;
    assert_eq!(frames.len(), 5);
    assert_eq!(frames[0], ": ");
    assert_eq!(frames[4], "event: done\ndata: null");
}

#[tokio::test]
async fn an_idle_client_that_leaves_is_cleaned_up_within_a_second() {
    // No keep-alive comments: only the disconnect watcher can notice the client leaving.
    let router = quiet_router();
    let cleanups = Arc::default();
    let server = serve(&router, &cleanups);
    let frames = open_idle(&server).await;
    assert_eq!(cleanups.load(Ordering::SeqCst), 0);
    assert_eq!(router.stats().started(), 1);

    let left = Instant::now();
    drop(frames);
    let cleaned = eventually(Duration::from_secs(1), async || {
        cleanups.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(
        cleaned,
        "not cleaned up {:?} after the client left",
        left.elapsed()
    );
    let stats = router.stats();
    assert_eq!(
        (stats.finished(), stats.disconnects(), stats.active()),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn a_quiet_stream_gets_the_routers_keep_alive_comments() {
    let router = Router::new().keep_alive(
        KeepAlive::default()
            .interval(Some(Duration::from_millis(200)))
            .comment("still here")
            .initial_comment(Some("hi")),
    );
    let server = serve(&router, &Arc::default());
    let mut frames = Frames::new(open(&server, "/idle").await);
    let within = Duration::from_secs(2);
    assert_eq!(frames.next_within(within).await.as_deref(), Some(": hi"));
    assert_eq!(
        frames.next_within(within).await.as_deref(),
        Some("event: message\ndata: \"hello\"")
    );
    for _ in 0..2 {
        assert_eq!(
            frames.next_within(within).await.as_deref(),
            Some(": still here")
        );
    }
}

#[tokio::test]
async fn shutdown_ends_an_idle_stream_without_done() {
    let router = quiet_router();
    let cleanups = Arc::default();
    let server = serve(&router, &cleanups);
    let mut frames = open_idle(&server).await;

    router.shutdown();
    assert_eq!(frames.next_within(Duration::from_secs(1)).await, None);
    assert_eq!(cleanups.load(Ordering::SeqCst), 1);
    assert_eq!(router.stats().finished(), 1);
}

#[tokio::test]
async fn past_the_stream_limit_the_answer_is_503() {
    let router = quiet_router().max_streams(1);
    let cleanups = Arc::default();
    let server = serve(&router, &cleanups);
    let _open = open_idle(&server).await;

    let refused = open(&server, "/idle").await;
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    // The refused stream was dropped unopened; the open one carries on.
    assert_eq!(cleanups.load(Ordering::SeqCst), 1);
    let stats = router.stats();
    assert_eq!(
        (stats.started(), stats.rejected(), stats.active()),
        (1, 1, 1)
    );
}
