//! Interop tests: the official oRPC 1.15 JavaScript clients against the conformance server.
//!
//! `tests/interop/` is a small Node project (Node 20+, `node --test`) whose tests start
//! `examples/conformance.rs` on a free 127.0.0.1 port and drive it (uploads and downloads too)
//! with `RPCLink`, `BatchLinkPlugin` and `ClientRetryPlugin` from `@orpc/client`, `RPCLink` from
//! `@orpc/client/websocket` over the server's `/ws` (on the `ws` package's socket, as Node 20
//! has none), `OpenAPILink` from `@orpc/openapi-client` (with a contract built by `oc` from
//! `@orpc/contract`), and the `eventsource` package as a WHATWG `EventSource`; and it
//! type-checks a client typed by the server's generated TypeScript contract
//! (`--emit-typescript`) with `tsc`. The versions are pinned exactly in
//! `tests/interop/package.json` and the root lock file.
//!
//! This test:
//! 1. finds the conformance binary next to this test executable
//!    (`target/<profile>/deps/interop-*` → `target/<profile>/examples/conformance`); a plain
//!    `cargo test` builds the examples before it runs the tests, `cargo test --test interop` alone
//!    does not, so build it first (`cargo build --example conformance`);
//! 2. runs `npm ci` at the root (the npm workspace of every Node directory) when `node_modules`
//!    is missing or older than the lock file;
//! 3. writes a fresh self-signed certificate and key for the HTTP/2 tests (`http2.test.mjs`,
//!    Node's own `http2` module over TLS) and names them in `TLS_CERT` and `TLS_KEY`;
//! 4. runs `node --test` there with `CONFORMANCE_BIN` set, kills it after 120 s, and fails with
//!    its whole output unless it exits with status 0.
//!
//! Run it with `cargo test --test interop`, or the JS side alone with
//! `npm ci && cd tests/interop && CONFORMANCE_BIN=../../target/debug/examples/conformance npm test`.
//!
//! Another runs `tests/ai-sdk/`: the AI SDK's reader and types against the `ai_chat` example.
//!
//! A second test does the same for oRPC 2 (a beta) in `tests/interop-v2/`: its `RPCLink`
//! (`@orpc/client` 2.0.0-beta.16) against the server's `/v2/rpc` and, for the same checks,
//! against oRPC 2's own server; a client typed by the oRPC 2 contract (`--emit-typescript-v2`).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use orpc_test_support::node::{npm_ci, run_with_timeout};
use orpc_test_support::process::example_binary;
use orpc_test_support::tls::SelfSigned;
use orpc_test_support::tools;

const NODE_TEST_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn official_js_clients_interop_with_the_conformance_server() {
    // A fresh self-signed pair for the HTTPS tests (HTTP/2), named in TLS_CERT and TLS_KEY.
    let tls_dir = std::env::temp_dir().join(format!("orpc-interop-tls-{}", std::process::id()));
    std::fs::create_dir_all(&tls_dir).unwrap();
    let (cert, key) = SelfSigned::new().write_to(&tls_dir);
    run_suite(
        "interop tests with oRPC's TypeScript clients",
        "interop",
        &[("TLS_CERT", &cert), ("TLS_KEY", &key)],
    );
    let _ = std::fs::remove_dir_all(&tls_dir);
}

/// The AI SDK (`ai` 7.x) reading the `ai_chat` example through oRPC's client, in `tests/ai-sdk/`:
/// `readUIMessageStream` assembles its replies, and a client typed by its contract takes the
/// SDK's messages and yields the SDK's chunks (`tsc`).
#[test]
fn the_ai_sdk_reads_the_ai_chat_example() {
    let ai_chat = example_binary("ai_chat");
    run_suite(
        "the AI SDK's reader and types against the ai_chat example",
        "ai-sdk",
        &[("AI_CHAT_BIN", &ai_chat)],
    );
}

#[test]
fn orpc_2_clients_interop_with_v2_rpc() {
    run_suite(
        "interop tests with oRPC 2's TypeScript client",
        "interop-v2",
        &[],
    );
}

/// Runs `node --test` in `tests/{dir}` against the conformance binary, with `env`, unless Node.js
/// is missing (then the group is skipped, or fails under CI); fails with the runner's whole output
/// unless every test passes, and otherwise echoes its summary (`# tests N`, `# pass N`, ...).
fn run_suite(group: &str, dir: &str, env: &[(&str, &Path)]) {
    if !tools::available(group, tools::node(), tools::NODE_HOW) {
        return;
    }
    let bin = example_binary("conformance");
    npm_ci();
    let mut cmd = Command::new("node");
    cmd.arg("--test")
        .current_dir(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests")
                .join(dir),
        )
        .env("CONFORMANCE_BIN", &bin)
        .envs(env.iter().copied());
    let what = format!("`node --test` in tests/{dir}");
    let out = run_with_timeout(cmd, &what, NODE_TEST_TIMEOUT);
    assert!(out.success(), "{}", out.describe(&what));
    let summary = |l: &&str| l.starts_with("# ") && !l.starts_with("# Subtest");
    for line in out.stdout.lines().filter(summary) {
        println!("{line}");
    }
}
