//! Browser tests: the `live_scores`, `ai_chat` and `ticker` example pages, and the conformance
//! server over HTTP/2, in headless Chromium.
//!
//! `tests/browser/` is a small Node project (Node 20+, `node --test`) that starts each example
//! on a free 127.0.0.1 port and drives its page with `playwright-core` in Debian's Chromium
//! (`/usr/bin/chromium`; playwright-core never downloads a browser). Its version is pinned
//! exactly in `tests/browser/package.json` and the root lock file. The tests check that
//! - live scores change, and that after `POST /api/cut` ends the stream from the server side, the
//!   page's `EventSource` reconnects with `Last-Event-ID` and resumes with no duplicate and no
//!   gap in the event ids;
//! - a chat reply survives a reload mid-answer, shown whole and exactly once as the server has
//!   it, and Stop ends the next one on the server;
//! - the ticker shows its twenty symbols live and links to the OpenAPI document;
//! - over HTTPS (HTTP/2) one tab runs ten `EventSource`s at once, where HTTP/1.1's six-connection
//!   limit leaves four waiting, and closing one runs its cleanup on the server;
//!
//! and take a screenshot of each page.
//!
//! This test:
//! 1. is skipped with one `SKIPPED:` line (fails under `CI=true`) when Node.js or Chromium is
//!    missing (`scripts/test` installs Chromium when run as root);
//! 2. finds the example binaries next to this test executable
//!    (`target/<profile>/deps/browser-*` → `target/<profile>/examples/`); a plain `cargo test`
//!    builds the examples before it runs the tests, `cargo test --test browser` alone does not;
//! 3. runs `npm ci` at the root (the npm workspace of every Node directory) when `node_modules`
//!    is missing or older than the lock file;
//! 4. runs `node --test` there, kills it after 180 s, and fails with its whole output unless it
//!    exits with status 0.
//!
//! Screenshots go to `target/browser-screenshots/`, so that a test run leaves the work tree
//! alone. `UPDATE_SCREENSHOTS=1 cargo test --test browser` writes them to `docs/` instead, for the
//! README.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use orpc_test_support::node::{npm_ci, run_with_timeout};
use orpc_test_support::process::example_binary;
use orpc_test_support::tls::SelfSigned;
use orpc_test_support::tools;

const EXAMPLES: [&str; 4] = ["live_scores", "ai_chat", "ticker", "conformance"];
const NODE_TEST_TIMEOUT: Duration = Duration::from_secs(180);

/// `target/<profile>/examples`, with every example the tests start in it.
fn examples_dir() -> PathBuf {
    let mut dir = PathBuf::new();
    for name in EXAMPLES {
        dir = example_binary(name)
            .parent()
            .expect("an example is in a directory")
            .to_owned();
    }
    dir
}

#[test]
fn example_pages_work_in_headless_chromium() {
    let group = "browser tests of the examples";
    if !tools::available(group, tools::node(), tools::NODE_HOW)
        || !tools::available(group, tools::chromium(), tools::CHROMIUM_HOW)
    {
        return;
    }
    let examples = examples_dir();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("tests").join("browser");
    npm_ci();

    let screenshots = if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        root.join("docs")
    } else {
        root.join("target").join("browser-screenshots")
    };
    // A fresh self-signed pair for the HTTPS (HTTP/2) test, named in TLS_CERT and TLS_KEY.
    let tls_dir = std::env::temp_dir().join(format!("orpc-browser-tls-{}", std::process::id()));
    std::fs::create_dir_all(&tls_dir).unwrap();
    let (cert, key) = SelfSigned::new().write_to(&tls_dir);
    let mut cmd = Command::new("node");
    cmd.args(["--test", "--test-concurrency=1"])
        .current_dir(&dir)
        .env("EXAMPLES_DIR", &examples)
        .env("CHROMIUM", tools::CHROMIUM)
        .env("SCREENSHOTS_DIR", &screenshots)
        .env("TLS_CERT", &cert)
        .env("TLS_KEY", &key);
    let out = run_with_timeout(cmd, "`node --test` in tests/browser", NODE_TEST_TIMEOUT);
    let _ = std::fs::remove_dir_all(&tls_dir);
    assert!(
        out.success(),
        "{}",
        out.describe("`node --test` in tests/browser")
    );

    // Echo the runner's summary (`# tests N`, `# pass N`, ...) so it shows with --nocapture.
    let summary = |l: &&str| l.starts_with("# ") && !l.starts_with("# Subtest");
    for line in out.stdout.lines().filter(summary) {
        println!("{line}");
    }
    println!("screenshots in {}", screenshots.display());
}
