//! Load and fault tests on loopback, each bounded in time: 10,000 idle streams, and 20,000
//! streams dropped at four different points. (The client that reads nothing has a test binary of
//! its own, `slow_client.rs`, so that its memory figure is its own.)
//!
//! The idle and churn tests run the conformance server as its own process, so that its resident
//! memory and open descriptors can be read from `/proc` without the test's own.

use std::time::Duration;

use orpc_test_support::process::ServerProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes()
}

/// Reads from `socket` into `seen` until `until` appears after byte `from`, or `within` passes.
async fn read_until(
    socket: &mut TcpStream,
    seen: &mut Vec<u8>,
    from: usize,
    until: &[u8],
    within: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut chunk = [0u8; 1024];
    loop {
        if seen.len() > from && seen[from..].windows(until.len()).any(|w| w == until) {
            return true;
        }
        match tokio::time::timeout_at(deadline, socket.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&chunk[..n]),
            _ => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_streams_stay_small_get_keep_alives_and_clean_up_fast() {
    const STREAMS: usize = 10_000;
    let server = ServerProcess::start();
    // Warm up, so that the baseline includes what every server allocates once.
    assert_eq!(server.stats().await, (0, 0));
    let baseline = server.rss();

    let addr = server.addr.clone();
    let (opened_tx, mut opened_rx) = tokio::sync::mpsc::channel::<()>(STREAMS);
    let (kept_tx, mut kept_rx) = tokio::sync::mpsc::channel::<bool>(STREAMS);
    let (close_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut tasks = tokio::task::JoinSet::new();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(256));
    for _ in 0..STREAMS {
        let (addr, opened_tx, kept_tx, mut close_rx, gate) = (
            addr.clone(),
            opened_tx.clone(),
            kept_tx.clone(),
            close_tx.subscribe(),
            gate.clone(),
        );
        tasks.spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let mut socket = TcpStream::connect(&addr).await.unwrap();
            socket
                .write_all(&get("/api/forever?interval_ms=3600000"))
                .await
                .unwrap();
            let mut seen = Vec::with_capacity(512);
            let ticked = read_until(
                &mut socket,
                &mut seen,
                0,
                b"data: {\"tick\":0}\n\n",
                Duration::from_secs(60),
            )
            .await;
            drop(permit);
            let _ = opened_tx.send(()).await;
            if !ticked {
                let _ = kept_tx.send(false).await;
                return;
            }
            // The next thing to arrive is the 5 s keep-alive comment.
            let after = seen.len();
            let kept_alive = read_until(
                &mut socket,
                &mut seen,
                after,
                b": \n\n",
                Duration::from_secs(30),
            )
            .await;
            let _ = kept_tx.send(kept_alive).await;
            let _ = close_rx.recv().await;
        });
    }
    drop((opened_tx, kept_tx));
    for _ in 0..STREAMS {
        tokio::time::timeout(Duration::from_secs(90), opened_rx.recv())
            .await
            .expect("streams open in time");
    }
    let (started, _) = server.stats().await;
    assert_eq!(started, STREAMS as u64, "every stream is open");
    let per_stream = server.rss().saturating_sub(baseline) / STREAMS as u64;
    eprintln!(
        "{STREAMS} idle streams: {per_stream} bytes of resident memory each, {} descriptors",
        server.open_descriptors()
    );
    assert!(per_stream <= 16 * 1024, "{per_stream} bytes per stream");

    // Every stream gets its keep-alive (each waits for it up to 30 s); then all clients leave at
    // once.
    let mut kept_alive = 0;
    for _ in 0..STREAMS {
        let kept = tokio::time::timeout(Duration::from_secs(35), kept_rx.recv())
            .await
            .expect("every stream reports within its 30 s")
            .expect("every stream reports");
        kept_alive += usize::from(kept);
    }
    let _ = close_tx.send(());
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    assert_eq!(
        kept_alive, STREAMS,
        "every stream received a keep-alive comment"
    );
    let cleaned_in = server.all_cleaned_within(Duration::from_secs(2)).await;
    eprintln!("all {STREAMS} cleanups ran within {cleaned_in:?} of the disconnects");
    assert!(
        cleaned_in.is_some(),
        "every cleanup ran within 2 s: {:?}",
        server.stats().await
    );
}

/// Opens `streams` streams and leaves each at one of four points, 128 at a time.
async fn churn(addr: &str, streams: u64) {
    let mut tasks = tokio::task::JoinSet::new();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(128));
    for i in 0..streams {
        let (addr, gate) = (addr.to_owned(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let Ok(mut socket) = TcpStream::connect(&addr).await else {
                return;
            };
            let mut seen = Vec::new();
            // A cheap deterministic scatter over the four ways to leave.
            match i.wrapping_mul(2_654_435_761) % 4 {
                // Before the request is even complete.
                0 => {
                    let _ = socket
                        .write_all(b"GET /api/forever?interval_ms=10 HTTP/1.1\r\nHo")
                        .await;
                }
                // Before the response headers arrive.
                1 => {
                    let _ = socket
                        .write_all(&get("/api/count?n=1000000&delay_ms=1"))
                        .await;
                }
                // Mid-stream, with events flowing.
                2 => {
                    let _ = socket
                        .write_all(&get("/api/count?n=1000000&delay_ms=0"))
                        .await;
                    read_until(
                        &mut socket,
                        &mut seen,
                        0,
                        b"id: 3\n",
                        Duration::from_secs(10),
                    )
                    .await;
                }
                // While idle, after the first event.
                _ => {
                    let _ = socket
                        .write_all(&get("/api/forever?interval_ms=3600000"))
                        .await;
                    read_until(
                        &mut socket,
                        &mut seen,
                        0,
                        b"data: {\"tick\":0}",
                        Duration::from_secs(10),
                    )
                    .await;
                }
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_streams_dropped_at_random_points_leak_nothing() {
    let server = ServerProcess::start();
    assert_eq!(server.stats().await, (0, 0));
    let descriptors = server.open_descriptors();
    // Four rounds of 5,000. The first lets the allocator reach its working size. After it, a leak
    // grows resident memory in every round, while the allocator's own noise (arenas, trimming) is
    // a jump in one round now and then. So the smallest growth of the last three rounds bounds
    // the leak from above without tripping on one noisy round.
    let mut rss = Vec::new();
    for round in 0..4 {
        churn(&server.addr, 5_000).await;
        let cleaned_in = server.all_cleaned_within(Duration::from_secs(10)).await;
        let (started, cleaned) = server.stats().await;
        rss.push(server.rss());
        eprintln!(
            "churn round {round}: {started} streams started in all, {cleaned} cleaned, within {cleaned_in:?}; {} KiB resident",
            rss[round] / 1024
        );
        assert!(
            cleaned_in.is_some(),
            "every started stream was cleaned: {started} vs {cleaned}"
        );
    }
    let (started, _) = server.stats().await;
    assert!(
        started >= 10_000,
        "half of the 20,000 streams, the ones past the request head, started: {started}"
    );
    // Descriptors go back to where they were (a few may still be closing).
    let mut after = server.open_descriptors();
    for _ in 0..100 {
        if after <= descriptors + 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = server.open_descriptors();
    }
    let growth: Vec<u64> = rss.windows(2).map(|w| w[1].saturating_sub(w[0])).collect();
    let least = growth.iter().copied().min().unwrap();
    eprintln!(
        "churn: descriptors {descriptors} -> {after}; resident memory growth per round after the first: {:?} KiB",
        growth.iter().map(|g| g / 1024).collect::<Vec<_>>()
    );
    assert!(
        after <= descriptors + 4,
        "descriptors leaked: {descriptors} -> {after}"
    );
    // Each round starts about 3,750 streams (the rest are dropped before the handler runs): a
    // leak of 300 bytes per stream would add more than 1 MiB in every round.
    assert!(
        least < 1024 * 1024,
        "resident memory grew in every round, by {growth:?} bytes: a leak"
    );
}
