//! An actix-web server in the test's own process, and what tests read its answers with.

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::web::ServiceConfig;
use futures_util::StreamExt;

/// How a [`TestServer`] is set up beyond what it mounts.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Behind actix-web's `Compress` middleware.
    pub compress: bool,
    /// Clients that take longer to send their request head are cut off.
    pub request_timeout: Duration,
    /// HTTPS with a fresh self-signed certificate, HTTP/1.1 and HTTP/2 by ALPN.
    pub tls: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            compress: false,
            request_timeout: Duration::from_secs(5),
            tls: false,
        }
    }
}

/// An actix-web server on 127.0.0.1 (port 0: the kernel picks a free one), with disconnect
/// detection installed, one worker, on a thread of its own; stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    scheme: &'static str,
    handle: ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Serves what `configure` mounts, behind actix-web's `Compress` middleware when `compress`
    /// is set.
    pub fn start<F>(configure: F, compress: bool) -> Self
    where
        F: Fn(&mut ServiceConfig) + Send + Clone + 'static,
    {
        Self::with(
            configure,
            Options {
                compress,
                ..Options::default()
            },
        )
    }

    /// Like [`TestServer::start`], cutting off clients that take longer than `request_timeout`
    /// to send their request head.
    pub fn start_with_timeout<F>(configure: F, compress: bool, request_timeout: Duration) -> Self
    where
        F: Fn(&mut ServiceConfig) + Send + Clone + 'static,
    {
        Self::with(
            configure,
            Options {
                compress,
                request_timeout,
                ..Options::default()
            },
        )
    }

    /// Serves what `configure` mounts, set up as `options` say.
    pub fn with<F>(configure: F, options: Options) -> Self
    where
        F: Fn(&mut ServiceConfig) + Send + Clone + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let tls = options
            .tls
            .then(|| crate::tls::SelfSigned::new().server_config());
        let scheme = if tls.is_some() { "https" } else { "http" };
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(move || {
                    actix_web::App::new()
                        .wrap(actix_web::middleware::Condition::new(
                            options.compress,
                            actix_web::middleware::Compress::default(),
                        ))
                        .configure(configure.clone())
                })
                .workers(1)
                .client_request_timeout(options.request_timeout)
                .on_connect(orpc_runtime::http::watch_disconnects)
                .disable_signals()
                .shutdown_timeout(1);
                let server = match tls {
                    None => server.bind("127.0.0.1:0"),
                    Some(tls) => server.bind_rustls_0_23("127.0.0.1:0", tls),
                }
                .expect("bind a free loopback port");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                let _ = server.await;
            })
        });
        let (addr, handle) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the test server started");
        TestServer {
            addr,
            scheme,
            handle,
            thread: Some(thread),
        }
    }

    /// `http://` (or `https://`) + the address + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }
}

impl Drop for TestServer {
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

/// An HTTP client that gives up after 20 s.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// Reads SSE frames (the text between blank lines) from a response, one at a time.
///
/// It only splits frames for assertions on exact bytes; the WHATWG decoder with all its
/// line-ending rules is tested where it lives, in `orpc-protocol`.
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

/// Polls `check` every 10 ms until it holds or `within` passes; returns whether it held.
pub async fn eventually(within: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
