//! The conformance example as a process of its own, so that its resident memory and open
//! descriptors can be read from `/proc` apart from the test's own.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::client;

/// `target/<profile>/examples/<name>`: an example binary, found from the test executable's own
/// path (`target/<profile>/deps/...`). `cargo test --workspace` builds the examples before the
/// tests; `cargo test --test X` alone does not.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let binary = std::env::current_exe()
        .expect("current_exe")
        .parent()
        .and_then(std::path::Path::parent)
        .expect("the test executable is in target/<profile>/deps")
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "the {name} example is missing: {}\n`cargo test --test ...` alone does not build \
         examples. Run `cargo test --workspace` (which builds them before the tests), or \
         `cargo build --examples` first with the same profile.",
        binary.display()
    );
    binary
}

/// An example server (the conformance server unless said otherwise) as a process, killed when
/// dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: String,
}

impl ServerProcess {
    /// Starts the conformance example on a free port and waits for its ready line.
    pub fn start() -> Self {
        Self::example("conformance")
    }

    /// Starts example `name`, which takes `--addr` and prints `listening on http://ADDR` once
    /// ready, on a free port.
    pub fn example(name: &str) -> Self {
        Self::example_with(name, &[])
    }

    /// [`example`](Self::example) with more arguments after `--addr`.
    pub fn example_with(name: &str, args: &[&str]) -> Self {
        Self::example_with_env(name, args, &[])
    }

    /// [`example_with`](Self::example_with), with environment variables set for the process.
    pub fn example_with_env(name: &str, args: &[&str], env: &[(&str, &std::ffi::OsStr)]) -> Self {
        let mut child = Command::new(example_binary(name))
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .expect("ready line")
            .to_owned();
        ServerProcess { child, addr }
    }

    /// Resident memory, in bytes.
    pub fn rss(&self) -> u64 {
        self.status_kib("VmRSS:") * 1024
    }

    /// The most resident memory the process has had so far, in bytes.
    pub fn peak_rss(&self) -> u64 {
        self.status_kib("VmHWM:") * 1024
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    pub fn open_descriptors(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .unwrap()
            .count()
    }

    pub async fn stats(&self) -> (u64, u64) {
        let body: Value = client()
            .post(format!("http://{}/rpc/stats", self.addr))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            body["json"]["started"].as_u64().unwrap(),
            body["json"]["cleaned"].as_u64().unwrap(),
        )
    }

    /// Waits until every stream started has been cleaned; returns how long that took.
    pub async fn all_cleaned_within(&self, within: Duration) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < within {
            let (opened, cleaned) = self.stats().await;
            if opened == cleaned {
                return Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

impl ServerProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, once the process has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
