//! One event iterator over oRPC's WebSocket transport against one SSE stream of the same events,
//! from the same server in the same run, with oRPC's own WebSocket handler on Node as the anchor.
//!
//!     cargo bench --bench websocket                     # N=2000000, 7 interleaved rounds
//!     WS_BENCH_N=200000 WS_BENCH_RUNS=3 cargo bench --bench websocket
//!
//! The conformance server runs in-process on a thread of its own (one actix-web worker); the
//! client runs on the bench's main thread. Each round calls `count` with `n` events:
//! - `sse`: `POST /rpc/count` (oRPC's RPC protocol, so both carry the same `{"json":..}` payloads
//!   and id/retry meta), read to the end of its body, which must end with the `done` frame;
//! - `ws`: the same call as a peer message on `/ws`, read until its `done` message;
//! - `node ws`: the same message to `bench/node/server.mjs`'s `/ws` (`@orpc/server/ws`'s
//!   `RPCHandler` on the `ws` package), when Node and the npm workspace are installed; with
//!   `WS_BENCH_NODE_N` events (default 20,000), since it is far slower.
//!
//! The rounds are interleaved so that other work on a shared machine falls on each alike; the
//! median of each is printed as events per second, with ws / sse. A round lasts about a third of
//! a second: with 200,000 events (30-70 ms) three runs of the same build on a quiet 2-core machine
//! gave ws / sse = 1.19, 0.45 and 1.83, as a round is short enough to fall whole on a moment when
//! the two threads share one core.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use orpc_test_support::conformance::Conformance;
use orpc_test_support::websocket::{self, Frame, Message};

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Events per second of one SSE stream of `n` events over RPC.
async fn sse(base: &str, n: u32) -> f64 {
    let started = Instant::now();
    let response = orpc_test_support::client()
        .post(format!("{base}/rpc/count"))
        .json(&serde_json::json!({ "json": { "n": n } }))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut tail = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        tail.clear();
        tail.extend_from_slice(&chunk[chunk.len().saturating_sub(64)..]);
    }
    let elapsed = started.elapsed();
    let tail = String::from_utf8_lossy(&tail);
    assert!(
        tail.contains("event: done"),
        "the stream ended without done: {tail}"
    );
    f64::from(n) / elapsed.as_secs_f64()
}

/// Events per second of one iterator of `n` events over the WebSocket at `addr`'s `/ws`.
async fn ws(addr: std::net::SocketAddr, n: u32) -> f64 {
    let mut socket = websocket::connect(addr, "/ws", &[]).await.unwrap();
    let started = Instant::now();
    let request = format!(r#"{{"i":"1","p":{{"u":"/count","b":{{"json":{{"n":{n}}}}}}}}}"#);
    socket.send(Message::Text(request.into())).await.unwrap();
    // The response that opens the stream, n events, then done.
    let mut messages = 0;
    let last = loop {
        match socket.next().await.unwrap().unwrap() {
            Frame::Text(text) => {
                messages += 1;
                if messages == n + 2 {
                    break text;
                }
            }
            Frame::Ping(bytes) => socket.send(Message::Pong(bytes)).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    };
    let elapsed = started.elapsed();
    let last = String::from_utf8_lossy(&last);
    assert!(
        last.contains(r#""e":"done""#),
        "the last message is not done: {last}"
    );
    let _ = socket.send(Message::Close(None)).await;
    f64::from(n) / elapsed.as_secs_f64()
}

/// `bench/node/server.mjs`, when it can run here; its address.
fn node_server() -> Option<(Child, std::net::SocketAddr)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    if !root.join("node_modules/ws").exists() {
        eprintln!(
            "websocket bench: no node_modules (run `npm ci` at the root); Node anchor skipped"
        );
        return None;
    }
    let mut child = Command::new("node")
        .arg(root.join("bench/node/server.mjs"))
        .args(["--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| eprintln!("websocket bench: node did not start ({e}); Node anchor skipped"))
        .ok()?;
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    let addr = lines.find_map(|line| {
        let line = line.ok()?;
        line.split("listening on http://").nth(1)?.parse().ok()
    })?;
    Some((child, addr))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for the list of benchmarks: there is none to list.
    }
    let n = env("WS_BENCH_N", 2_000_000);
    let node_n = env("WS_BENCH_NODE_N", 20_000);
    let runs = env("WS_BENCH_RUNS", 7).max(1);
    let server = Conformance::start();
    let base = format!("http://{}", server.addr);
    let node = node_server();
    actix_web::rt::System::new().block_on(async {
        // Warm both paths up.
        sse(&base, n / 10).await;
        ws(server.addr, n / 10).await;
        let (mut over_sse, mut over_ws, mut over_node) = (Vec::new(), Vec::new(), Vec::new());
        for round in 1..=runs {
            over_sse.push(sse(&base, n).await);
            over_ws.push(ws(server.addr, n).await);
            if let Some((_, addr)) = &node {
                over_node.push(ws(*addr, node_n).await);
            }
            eprintln!("websocket bench: round {round}/{runs} done");
        }
        let (sse, ws) = (median(over_sse), median(over_ws));
        println!("one stream of {n} events, median of {runs} interleaved rounds:");
        println!("  sse (POST /rpc/count)  {sse:>12.0} events/s");
        println!(
            "  ws  (/ws, peer msgs)   {ws:>12.0} events/s   ws / sse = {:.2}",
            ws / sse
        );
        if !over_node.is_empty() {
            let node = median(over_node);
            println!(
                "  node ws ({node_n} events) {node:>10.0} events/s   ours / node = {:.1}",
                ws / node
            );
        }
    });
    if let Some((mut child, _)) = node {
        let _ = child.kill();
        let _ = child.wait();
    }
}
