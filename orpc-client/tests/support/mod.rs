//! Test support: the servers the client is tested against, all on 127.0.0.1.
//!
//! - [`Conformance`]: `examples/conformance.rs` served in-process by actix-web, as the root
//!   package's `tests/http.rs` serves it, with its stream counters at hand.
//! - [`NodeReference`]: oRPC's own server (`tests/node-reference/server.mjs`, `@orpc/server`
//!   1.15.3) in a `node` child process, killed when dropped.
//! - [`CutProxy`]: a TCP proxy that cuts its first connection after a set number of response
//!   bytes and records what each request carried.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::web;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[allow(dead_code)]
#[path = "../../../examples/conformance.rs"]
mod conformance;

/// The conformance server on a free loopback port, on a thread of its own, stopped when dropped.
pub struct Conformance {
    pub addr: SocketAddr,
    streams: web::Data<conformance::Streams>,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Conformance {
    pub fn start() -> Self {
        let streams = web::Data::new(conformance::Streams::default());
        let data = streams.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let router = conformance::router();
                // `stats` answers from the router's own counters, as the example's `main` sets up.
                let shared = web::Data::new(router.clone());
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .app_data(data.clone())
                        .app_data(shared.clone())
                        .service(web::scope("/rpc").configure(router.rpc()))
                })
                .workers(1)
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
            .expect("the conformance server started");
        Conformance {
            addr,
            streams,
            handle,
            thread: Some(thread),
        }
    }

    /// The RPC base URL.
    pub fn rpc_url(&self) -> String {
        format!("http://{}/rpc", self.addr)
    }

    pub fn started(&self) -> u64 {
        self.streams.started.load(Ordering::SeqCst)
    }

    pub fn cleaned(&self) -> u64 {
        self.streams.cleaned.load(Ordering::SeqCst)
    }
}

impl Drop for Conformance {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // `stop` needs a runtime, and the test's own may be the one being dropped.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(handle.stop(false))
        })
        .join();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `check` every 10 ms until it holds or `within` passes; returns whether it held.
pub async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const NPM_CI_TIMEOUT: Duration = Duration::from_secs(300);
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// `orpc-client/tests/node-reference`.
pub fn node_reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node-reference")
}

/// Installs the reference server's packages from its lock file, once per test process, when
/// `node_modules` is missing or older than the lock file.
fn npm_ci_once() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let dir = node_reference_dir();
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = modified(dir.join("node_modules/.package-lock.json"));
    let locked = modified(dir.join("package-lock.json"));
    if installed.is_none() || installed < locked {
        let mut child = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `npm ci` in {}: {e}. Node.js 20+ and npm must be on PATH.",
                    dir.display()
                )
            });
        let status = wait_with_timeout(&mut child, NPM_CI_TIMEOUT).unwrap_or_else(|| {
            panic!("`npm ci` in {} took over {NPM_CI_TIMEOUT:?}", dir.display())
        });
        assert!(
            status.success(),
            "`npm ci` in {} failed: {status}",
            dir.display()
        );
    }
    *done = true;
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a child process") {
            return Some(status);
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// oRPC's reference server in a `node` child process, killed when dropped.
pub struct NodeReference {
    pub addr: SocketAddr,
    child: Child,
}

impl NodeReference {
    /// Starts the server, or returns `None` when Node.js is missing and the test is to be
    /// skipped (locally; under `CI=true` a missing Node.js fails the test).
    pub fn start() -> Option<Self> {
        let group = "orpc-client against oRPC's own server";
        if !orpc_test_support::tools::available(
            group,
            orpc_test_support::tools::node(),
            orpc_test_support::tools::NODE_HOW,
        ) {
            return None;
        }
        npm_ci_once();
        let dir = node_reference_dir();
        let mut child = Command::new("node")
            .args(["server.mjs", "0"])
            .current_dir(&dir)
            // The server exits when its stdin closes: if this process dies unannounced, so does
            // the server.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `node server.mjs`: {e}. Node.js 20+ must be on PATH.")
            });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(addr.trim().to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(NODE_READY_TIMEOUT) {
            Ok(addr) => addr
                .parse()
                .expect("the reference server printed its address"),
            Err(_) => {
                let _ = child.kill();
                panic!("the node reference server did not print `listening on` within {NODE_READY_TIMEOUT:?}");
            }
        };
        Some(NodeReference { addr, child })
    }

    /// The RPC base URL.
    pub fn rpc_url(&self) -> String {
        format!("http://{}/rpc", self.addr)
    }
}

impl Drop for NodeReference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy on 127.0.0.1 in front of `upstream`. Its first connection is cut (both ways, at
/// once) after `cut_after` bytes of response; later connections pass through whole. It keeps
/// the head of each request it forwarded.
pub struct CutProxy {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CutProxy {
    pub async fn start(upstream: SocketAddr, cut_after: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            for n in 0.. {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                let limit = (n == 0).then_some(cut_after);
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        proxy(client, server, limit, seen).await;
                    }
                });
            }
        });
        CutProxy {
            addr,
            requests,
            task,
        }
    }

    pub fn rpc_url(&self) -> String {
        format!("http://{}/rpc", self.addr)
    }

    /// The head (request line and headers) of each request, in the order they came.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies bytes both ways until either side closes, or until `limit` response bytes have passed.
async fn proxy(
    mut client: TcpStream,
    mut server: TcpStream,
    limit: Option<usize>,
    requests: Arc<Mutex<Vec<String>>>,
) {
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let upstream = async {
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        let mut recorded = false;
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if !recorded {
                head.extend_from_slice(&buf[..n]);
                if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                    let text = String::from_utf8_lossy(&head[..end]).into_owned();
                    requests.lock().unwrap().push(text);
                    recorded = true;
                }
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let mut buf = [0u8; 4096];
        let mut left = limit.unwrap_or(usize::MAX);
        loop {
            let n = match server_read.read(&mut buf[..left.min(4096)]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
            left -= n;
            if left == 0 {
                return;
            }
        }
    };
    // Whichever way finishes first ends the connection: both sockets are dropped together.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}
