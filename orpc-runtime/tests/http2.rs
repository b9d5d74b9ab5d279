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

/// curl, 100 transfers multiplexed on one HTTP/2 connection, each giving up (`RST_STREAM`) at its
/// own moment, 10 ms apart: every cleanup comes within a second of its reset.
#[tokio::test]
async fn curl_resets_a_hundred_http2_streams_each_at_its_own_moment() {
    use orpc_test_support::tools;
    if !tools::available("curl over HTTP/2", tools::curl_http2(), tools::CURL_HOW) {
        return;
    }
    let c = Conformance::with(conformance::router(), tls());
    let url = c.url("/api/forever?interval_ms=3600000");
    let mut curl = tokio::process::Command::new("curl");
    curl.args(["--silent", "--parallel", "--parallel-max", "100"]);
    // Transfer k gives up after 1 s + 10 k ms; `num_connects` says whether it opened a connection.
    for k in 0..100 {
        if k > 0 {
            curl.arg("--next");
        }
        let max_time = format!("{:.2}", 1.0 + f64::from(k) * 0.01);
        curl.args(["--http2", "--insecure", "--max-time", &max_time])
            .args([
                "--output",
                "/dev/null",
                "--write-out",
                "%{num_connects}\\n",
                &url,
            ]);
    }
    let started = Instant::now();
    let run = curl.output();
    let watch = async {
        // When every stream was open (every transfer had started by then), and when the count of
        // cleanups reached 1, 2, ...
        let (mut all_open, mut cleanups) = (None, Vec::new());
        while cleanups.len() < 100 && started.elapsed() < Duration::from_secs(10) {
            if all_open.is_none() && c.started() == 100 {
                all_open = Some(started.elapsed());
            }
            while (cleanups.len() as u64) < c.cleaned() {
                cleanups.push(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (all_open, cleanups)
    };
    let (out, (all_open, cleanups)) = tokio::join!(run, watch);
    let out = out.expect("curl runs");
    let connects: u32 = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|n| n.trim().parse::<u32>().unwrap_or(0))
        .sum();
    assert_eq!(connects, 1, "the 100 transfers shared one connection");
    let all_open = all_open.expect("all 100 streams opened");
    assert_eq!(cleanups.len(), 100, "every reset stream was cleaned up");
    for (k, cleaned) in cleanups.iter().enumerate() {
        // Transfer k started by `all_open`, so it was reset by `all_open` + its max time at the
        // latest.
        let reset_by = all_open + Duration::from_millis(1000 + 10 * k as u64);
        assert!(
            *cleaned <= reset_by + Duration::from_secs(1),
            "cleanup {} came at {cleaned:?}, more than a second after its reset (by {reset_by:?})",
            k + 1
        );
        assert!(
            *cleaned >= Duration::from_millis(1000),
            "cleanup {} before any reset",
            k + 1
        );
    }
}
