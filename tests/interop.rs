//! Interop tests: the official oRPC 1.15 JavaScript clients against the conformance server.
//!
//! `tests/interop/` is a small Node project (Node 20+, `node --test`) whose tests start
//! `examples/conformance.rs` on a free 127.0.0.1 port and drive it with `RPCLink` and
//! `ClientRetryPlugin` from `@orpc/client`, `OpenAPILink` from `@orpc/openapi-client` (with a
//! contract built by `oc` from `@orpc/contract`), and the `eventsource` package as a WHATWG
//! `EventSource`. The versions are pinned exactly in `tests/interop/package.json` and its lock file.
//!
//! This test:
//! 1. finds the conformance binary next to this test executable
//!    (`target/<profile>/deps/interop-*` → `target/<profile>/examples/conformance`); a plain
//!    `cargo test` builds the examples before it runs the tests, `cargo test --test interop` alone
//!    does not, so build it first (`cargo build --example conformance`);
//! 2. runs `npm ci` in `tests/interop` when `node_modules` is missing or older than the lock file;
//! 3. runs `node --test` there with `CONFORMANCE_BIN` set, kills it after 120 s, and fails with
//!    its whole output unless it exits with status 0.
//!
//! Run it with `cargo test --test interop`, or the JS side alone with
//! `cd tests/interop && npm ci && CONFORMANCE_BIN=../../target/debug/examples/conformance npm test`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const NODE_TEST_TIMEOUT: Duration = Duration::from_secs(120);
const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);

/// `target/<profile>/examples/conformance`, found from this test executable's own path.
fn conformance_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe
        .parent()
        .expect("the test executable has a parent directory");
    let bin = deps
        .parent()
        .expect("the deps directory has a parent directory")
        .join("examples")
        .join(format!("conformance{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the conformance server binary is missing: {}\n\
         `cargo test --test interop` alone does not build examples. Run `cargo test --workspace` \
         (which builds the examples before the tests), or `cargo build --example conformance` \
         first with the same profile.",
        bin.display()
    );
    bin
}

struct Output {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Output {
    fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    fn describe(&self, what: &str) -> String {
        let status = match self.status {
            Some(s) => format!("exited with {s}"),
            None => format!("was killed after {:.0?} (timeout)", self.elapsed),
        };
        format!(
            "{what} {status}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.stdout, self.stderr
        )
    }
}

/// Spawns `cmd` in its own process group, collects its output, and kills the whole group
/// (so the conformance servers the tests started go too) if it runs longer than `timeout`.
fn run_with_timeout(mut cmd: Command, what: &str, timeout: Duration) -> Output {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let mut child: Child = match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "cannot run {what}: the program was not found ({e}). The interop tests need \
             Node.js 20+ and npm on PATH."
        ),
        Err(e) => panic!("cannot run {what}: {e}"),
    };

    let pipe_reader = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = pipe_reader(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = pipe_reader(Box::new(child.stderr.take().expect("piped stderr")));

    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("waiting for the child process") {
            Some(status) => break Some(status),
            None if start.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                break None;
            }
            None => thread::sleep(Duration::from_millis(50)),
        }
    };
    let elapsed = start.elapsed();
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed,
    }
}

fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        // The child leads its own process group (see `process_group(0)`): kill the group.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// Runs `npm ci` unless `node_modules` exists and is at least as new as `package-lock.json`.
fn ensure_node_modules(dir: &Path) {
    let installed = modified(&dir.join("node_modules").join(".package-lock.json"));
    let lock = modified(&dir.join("package-lock.json"));
    let fresh = matches!((installed, lock), (Some(i), Some(l)) if i >= l);
    if fresh {
        return;
    }
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    let out = run_with_timeout(cmd, "`npm ci` in tests/interop", NPM_CI_TIMEOUT);
    assert!(
        out.success(),
        "{}",
        out.describe("`npm ci` in tests/interop")
    );
}

#[test]
fn official_js_clients_interop_with_the_conformance_server() {
    let bin = conformance_bin();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("interop");
    ensure_node_modules(&dir);

    let mut cmd = Command::new("node");
    cmd.arg("--test")
        .current_dir(&dir)
        .env("CONFORMANCE_BIN", &bin);
    let out = run_with_timeout(cmd, "`node --test` in tests/interop", NODE_TEST_TIMEOUT);
    assert!(
        out.success(),
        "{}",
        out.describe("`node --test` in tests/interop")
    );

    // Echo the runner's summary (`# tests N`, `# pass N`, ...) so it shows with --nocapture.
    let summary = |l: &&str| l.starts_with("# ") && !l.starts_with("# Subtest");
    for line in out.stdout.lines().filter(summary) {
        println!("{line}");
    }
}
