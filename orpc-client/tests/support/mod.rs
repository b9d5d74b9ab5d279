//! Test support of orpc-client's own: oRPC's reference server, and a proxy that cuts streams.
//! The rest (the conformance server in-process, `eventually`) is the workspace's
//! `orpc-test-support`.
//!
//! - [`node_reference`]: oRPC's own server (`tests/node-reference/server.mjs`, `@orpc/server`
//!   1.15.3) in a `node` child process, killed when dropped.
//! - [`CutProxy`]: a TCP proxy that cuts its first connection after a set number of response
//!   bytes and records what each request carried.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use orpc_test_support::node::NodeServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// oRPC's reference server, or `None` when Node.js is missing and the test is to be skipped
/// (locally; under `CI=true` a missing Node.js fails the test).
pub fn node_reference() -> Option<NodeServer> {
    NodeServer::start(
        "orpc-client against oRPC's own server",
        "orpc-client/tests/node-reference",
        &["server.mjs", "0"],
    )
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
