//! Node.js from Rust tests: the workspace's npm packages installed once, Node test suites run
//! with a timeout that takes down everything they started, and Node servers as child processes.
//!
//! The npm packages of every Node directory (the interop and browser suites, orpc-client's
//! reference server, the benchmarks' servers) form one npm workspace at the repository's root:
//! one `package.json` listing them, one lock file, one `node_modules`.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use crate::tools;

const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The repository's root, where the npm workspace is.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("orpc-test-support is one level below the root")
        .to_owned()
}
/// What a child process printed, and how it ended.
pub struct Output {
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe(&self, what: &str) -> String {
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

/// Spawns `cmd` in its own process group, collects its output, and kills the whole group (with
/// the servers and browsers it started) if it runs longer than `timeout`.
pub fn run_with_timeout(mut cmd: Command, what: &str, timeout: Duration) -> Output {
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
            "cannot run {what}: the program was not found ({e}). These tests need \
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

/// Runs `npm ci` at the workspace's root, once per test process, unless `node_modules` is at
/// least as new as the lock file.
pub fn npm_ci() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let root = workspace_root();
    let installed = modified(&root.join("node_modules").join(".package-lock.json"));
    let lock = modified(&root.join("package-lock.json"));
    if !matches!((installed, lock), (Some(i), Some(l)) if i >= l) {
        let mut cmd = Command::new("npm");
        cmd.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root);
        let what = format!("`npm ci` in {}", root.display());
        let out = run_with_timeout(cmd, &what, NPM_CI_TIMEOUT);
        assert!(out.success(), "{}", out.describe(&what));
    }
    *done = true;
}

/// A Node.js server in a child process, killed when dropped. It prints
/// `listening on http://HOST:PORT` once ready, and exits when its stdin closes: if the test
/// process dies unannounced, so does the server.
pub struct NodeServer {
    pub addr: SocketAddr,
    child: Child,
}

impl NodeServer {
    /// Runs `node` with `args` in `dir` (relative to the root) for test group `group`, after
    /// [`npm_ci`]; `None` when Node.js is missing and the group is skipped (see [`tools`]).
    pub fn start(group: &str, dir: &str, args: &[&str]) -> Option<Self> {
        if !tools::available(group, tools::node(), tools::NODE_HOW) {
            return None;
        }
        npm_ci();
        let mut child = Command::new("node")
            .args(args)
            .current_dir(workspace_root().join(dir))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node {}`: {e}", args.join(" ")));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(NODE_READY_TIMEOUT) {
            Ok(addr) => addr.parse().expect("the Node server printed its address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`node {}` did not print `listening on` within {NODE_READY_TIMEOUT:?}",
                    args.join(" ")
                );
            }
        };
        Some(NodeServer { addr, child })
    }

    /// The RPC base URL.
    pub fn rpc_url(&self) -> String {
        format!("http://{}/rpc", self.addr)
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
