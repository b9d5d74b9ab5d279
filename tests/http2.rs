//! HTTPS with HTTP/1.1 and HTTP/2 (ALPN): many streams on one HTTP/2 connection, each reset on
//! its own while the others go on, the connection dropped, and an idle HTTP/1.1 client leaving
//! under TLS. Every cleanup within a second.

use std::time::{Duration, Instant};

use orpc_test_support::conformance::{self, Conformance};
use orpc_test_support::firehose::{firehose, paused_within};
use orpc_test_support::tls::h2_client;
use orpc_test_support::{eventually, Options};

fn tls() -> Options {
    Options {
        tls: true,
        ..Options::default()
    }
}

/// Waits until `cleaned` reaches `target`, up to `within`; when it did.
async fn cleaned_by(c: &Conformance, target: u64, within: Duration) -> Option<Instant> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if c.cleaned() >= target {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test]
async fn a_hundred_streams_share_one_connection_and_a_reset_ends_only_its_own() {
    let c = Conformance::with(conformance::router(), tls());
    let client = h2_client();
    let mut open = Vec::new();
    for _ in 0..100 {
        open.push(c.idle_stream_on(&client).await);
    }
    assert_eq!((c.started(), c.cleaned()), (100, 0));
    // Plain calls share the connection too.
    let one = client
        .get(c.url("/api/count?n=1&delay_ms=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(one.version(), reqwest::Version::HTTP_2, "ALPN chose HTTP/2");
    one.text().await.unwrap();
    assert!(eventually(Duration::from_secs(1), async || c.cleaned() == 1).await);

    // Fifty resets at different moments, each while every stream is idle: only a write finds a
    // reset, so this is the reset probe at work. Each cleanup comes within a second of its reset.
    for k in 1..=50u64 {
        drop(open.pop());
        let reset = Instant::now();
        let cleaned = cleaned_by(&c, k + 1, Duration::from_secs(2)).await;
        let took = cleaned.map(|at| at - reset);
        assert!(
            took.is_some_and(|took| took <= Duration::from_secs(1)),
            "reset {k}: cleanup after {took:?}"
        );
        tokio::time::sleep(Duration::from_millis(7 * k % 40)).await;
    }
    // The other fifty are untouched, and still stream: a call on the same connection works too.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!((c.started(), c.cleaned()), (101, 51));
    let body = client
        .get(c.url("/api/count?n=2&delay_ms=0"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.ends_with("event: done\ndata: \"done!\"\n\n"), "{body}");

    // The connection dropped: every stream on it ends, within a second.
    drop(open);
    drop(client);
    let dropped = Instant::now();
    assert!(
        cleaned_by(&c, 102, Duration::from_secs(1)).await.is_some(),
        "after the connection dropped: {} of 102 cleaned in {:?}",
        c.cleaned(),
        dropped.elapsed()
    );
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn an_idle_http1_client_leaving_under_tls_is_noticed_within_a_second() {
    let c = Conformance::with(conformance::router(), tls());
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .http1_only()
        .build()
        .unwrap();
    let stream = c.idle_stream_on(&client).await;
    drop(stream);
    drop(client);
    // No keep-alive write comes for 5 s: only the watched TCP socket under TLS can tell.
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn shutdown_ends_http2_streams_and_runs_their_cleanup() {
    let router = conformance::router();
    let c = Conformance::with(router.clone(), tls());
    let client = h2_client();
    let mut open = Vec::new();
    for _ in 0..10 {
        open.push(c.idle_stream_on(&client).await);
    }
    assert!(eventually(Duration::from_secs(1), async || c.started() == 10).await);
    router.shutdown();
    for frames in &mut open {
        assert_eq!(
            frames.next_within(Duration::from_secs(1)).await,
            None,
            "the stream ends, without a done event"
        );
    }
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
}

/// A body that never yields and records when it is dropped.
struct Quiet(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl futures_util::Stream for Quiet {
    type Item = Result<bytes::Bytes, actix_web::Error>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Pending
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The upstream gap that `RESET_PROBE` works around, reproduced with plain actix-web and no
/// orpc-rs in the response path: over HTTP/2, a client's `RST_STREAM` does not reach a quiet
/// response body; it is dropped only if it writes again. When this test fails, actix-web has
/// started watching for resets, and the probe writes can go.
#[tokio::test]
async fn upstream_gap_actix_web_keeps_a_quiet_http2_body_after_a_reset() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let server = orpc_test_support::TestServer::with(
        move |cfg: &mut actix_web::web::ServiceConfig| {
            let flag = flag.clone();
            cfg.route(
                "/quiet",
                actix_web::web::get().to(move || {
                    let flag = flag.clone();
                    async move { actix_web::HttpResponse::Ok().streaming(Quiet(flag)) }
                }),
            );
        },
        tls(),
    );
    let client = h2_client();
    let response = client.get(server.url("/quiet")).send().await.unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    drop(response); // RST_STREAM(CANCEL)
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !dropped.load(Ordering::SeqCst),
        "actix-web dropped a quiet HTTP/2 body after its reset: RESET_PROBE may no longer be needed"
    );
}

/// An HTTP/2 client that reads nothing of one stream: the handler pauses once the stream's
/// flow-control window is full, and the connection's other streams go on.
#[tokio::test]
async fn an_unread_http2_stream_pauses_its_handler_and_stalls_no_other() {
    let router = conformance::router().procedure(firehose);
    let c = Conformance::with(router, tls());
    let client = h2_client();
    let unread = client.post(c.url("/rpc/firehose")).send().await.unwrap();
    assert_eq!(unread.version(), reqwest::Version::HTTP_2);
    let (paused, produced) = paused_within(Duration::from_secs(10)).await;
    assert!(paused, "the handler kept producing: {produced} events");
    assert!(
        produced * 150 < 64 * 1024 * 1024,
        "{produced} events produced while unread"
    );
    // Another stream on the same connection still streams to its end.
    let body = client
        .get(c.url("/api/count?n=50&delay_ms=0"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("id: 49\n"), "{body}");
    assert!(body.ends_with("event: done\ndata: \"done!\"\n\n"));
    eprintln!("{produced} events produced before the unread HTTP/2 stream paused");
    drop(unread);
}
