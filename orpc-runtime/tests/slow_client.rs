//! A client that reads nothing: the handler produces no more than the socket buffers hold, then
//! stalls, and memory stays flat. In a binary of its own, so that the process's resident memory
//! is this test's alone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_};
use orpc_test_support::TestServer;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

static PRODUCED: AtomicU64 = AtomicU64::new(0);

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u32,
}

/// `count` with a counter of the events the handler produced.
#[procedure(output = event_iterator(Tick))]
async fn counted(input: u32) {
    for i in 0..input {
        PRODUCED.fetch_add(1, Ordering::SeqCst);
        yield_!(Tick { i }, id = i, retry = Duration::from_millis(1000));
    }
}

fn own_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap()
        * 1024
}

fn sysctl_max(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_client_that_reads_nothing_stalls_the_handler_and_costs_little() {
    let router = Router::new().procedure(counted);
    let server = TestServer::start(
        move |cfg| {
            cfg.service(web::scope("/rpc").configure(router.rpc()));
        },
        false,
    );
    let before = own_rss();
    let mut socket = TcpStream::connect(server.addr).await.unwrap();
    let body = json!({ "json": u32::MAX }).to_string();
    let request = format!(
        "POST /rpc/counted HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    // Wait until the handler has produced nothing new for a whole second (the socket buffers are
    // full and actix-web stopped polling the body), at most 10 s: a handler that ran ahead of the
    // socket would still be producing then, and fail the bound below.
    let started = std::time::Instant::now();
    let (mut last, mut still_since) = (0, started);
    while started.elapsed() < Duration::from_secs(10)
        && still_since.elapsed() < Duration::from_secs(1)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = PRODUCED.load(Ordering::SeqCst);
        if now != last {
            (last, still_since) = (now, std::time::Instant::now());
        }
    }
    let waited = started.elapsed();
    let produced = PRODUCED.load(Ordering::SeqCst);
    let grown = own_rss().saturating_sub(before);
    // What the kernel may buffer between the handler and the client, at most.
    let buffers =
        sysctl_max("/proc/sys/net/ipv4/tcp_wmem") + sysctl_max("/proc/sys/net/ipv4/tcp_rmem");
    let frame = "event: message\nretry: 1000\nid: 1000000\ndata: {\"json\":{\"i\":1000000}}\n\n"
        .len() as u64;
    eprintln!("unread for {waited:.1?}: {produced} events produced (≤ {} fit in socket buffers), memory grew {} KiB", buffers / frame, grown / 1024);
    assert!(produced > 0);
    assert!(
        produced <= buffers / frame + 64 * 1024 / frame,
        "the handler ran ahead of the socket: {produced} events"
    );
    assert!(grown <= 16 * 1024 * 1024, "memory grew by {grown} bytes");
    drop(socket);
}
