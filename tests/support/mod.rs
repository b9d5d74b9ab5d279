//! Test support: servers on loopback and a small reader of SSE responses.
//!
//! The reader here only splits frames for assertions on exact bytes; the WHATWG decoder with all
//! its line-ending rules is tested where it lives.

#![allow(dead_code)]

pub mod node;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use futures_util::StreamExt;
use serde_json::Value;

/// An actix-web server on 127.0.0.1, on a thread of its own, stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Serves what `configure` mounts on a free port, with disconnect detection installed, behind
    /// actix-web's `Compress` middleware when `compress` is set.
    pub fn start<F>(configure: F, compress: bool) -> Self
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    {
        Self::start_with_timeout(configure, compress, Duration::from_secs(5))
    }

    /// Like [`TestServer::start`], cutting off clients that take longer than `request_timeout`
    /// to send their request head.
    pub fn start_with_timeout<F>(configure: F, compress: bool, request_timeout: Duration) -> Self
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Send + Clone + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .wrap(actix_web::middleware::Condition::new(
                            compress,
                            actix_web::middleware::Compress::default(),
                        ))
                        .configure(configure.clone())
                })
                .workers(1)
                .client_request_timeout(request_timeout)
                .on_connect(orpc_runtime::http::watch_disconnects)
                .disable_signals()
                .shutdown_timeout(1)
                .bind("127.0.0.1:0")
                .expect("bind a free loopback port");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                server.await.unwrap();
            })
        });
        let (addr, handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server started");
        TestServer {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || futures_executor_block_on(handle.stop(false))).join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Reads SSE frames (the text between blank lines) from a response, one at a time.
pub struct Frames {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl Frames {
    pub fn new(response: reqwest::Response) -> Self {
        Frames {
            body: Box::pin(response.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next frame's text without its closing blank line, or `None` at the end of the body.
    /// Fails the test after `within`.
    pub async fn next_within(&mut self, within: Duration) -> Option<String> {
        tokio::time::timeout(within, self.next())
            .await
            .expect("a frame in time")
    }

    pub async fn next(&mut self) -> Option<String> {
        loop {
            if let Some(at) = self.buf.find("\n\n") {
                let frame = self.buf[..at].to_owned();
                self.buf.drain(..at + 2);
                return Some(frame);
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self
                    .buf
                    .push_str(std::str::from_utf8(&chunk).expect("UTF-8")),
                _ => return None,
            }
        }
    }

    /// Every remaining frame.
    pub async fn rest(&mut self) -> Vec<String> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next_within(Duration::from_secs(10)).await {
            frames.push(frame);
        }
        frames
    }
}

/// Polls `check` every 20 ms until it holds or `within` passes; returns whether it held.
pub async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An example binary, which `cargo test` builds next to the test binaries.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let binary = deps.parent().unwrap().join("examples").join(name);
    assert!(
        binary.exists(),
        "{} is missing: run `cargo test --workspace`, which builds the examples",
        binary.display()
    );
    binary
}

/// The conformance server, as a process, killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub addr: String,
}

impl ServerProcess {
    /// Starts it on a free port and waits for its ready line.
    pub fn start() -> Self {
        let mut child = Command::new(example_binary("conformance"))
            .args(["--addr", "127.0.0.1:0"])
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
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        kib * 1024
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
