//! `--http2`: every stream of the run multiplexed on one HTTP/2 connection over TLS.
//!
//! The run opens the connection once ([`Connection::open`]: TCP, the TLS handshake with ALPN
//! `h2`, the HTTP/2 preface and settings) and each stream is one request on it, read to its end
//! exactly as an HTTP/1.1 stream is: the same [`Frames`] counter over the DATA frames' payload,
//! the same ends, the same read timeout on every wait. A stream's time to headers runs from
//! sending its request, as the connection is already open; the connection's own setup counts in
//! the run's wall time.
//!
//! Flow control: the client takes DATA payload as it arrives and gives the window back at once,
//! so the windows only bound how much is in flight. They are those of hyper's client (2 MiB per
//! stream, 5 MiB for the connection), not h2's 64 KiB default, which would throttle the server
//! on loopback.
//!
//! On drop: a stream cut off (deadline) or ended by its `done` event drops its request, which
//! resets the stream (RST_STREAM CANCEL), as closing the socket ends an HTTP/1.1 stream. When
//! the last handle is dropped the connection task ends and closes the socket; [`Connection`]'s
//! drop aborts that task in any case.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use bytes::Bytes;
use h2::client::SendRequest;
use tokio::task::JoinHandle;

use crate::sse::{Frames, Seen};
use crate::stream::{self, tally, Counters, End, Outcome, Settings};

/// hyper's client defaults.
const STREAM_WINDOW: u32 = 2 * 1024 * 1024;
const CONNECTION_WINDOW: u32 = 5 * 1024 * 1024;

/// The request every stream sends.
#[derive(Debug, Clone)]
pub struct Http2Request {
    pub head: http::Request<()>,
    pub body: Option<Bytes>,
}

/// The run's one HTTP/2 connection, or why it could not be opened.
pub struct Connection {
    send: Result<SendRequest<Bytes>, End>,
    driver: Option<JoinHandle<()>>,
}

impl Connection {
    /// Connects to the target and sets up HTTP/2 over TLS, each step bounded by the read
    /// timeout.
    pub async fn open(settings: &Settings) -> Self {
        match Self::handshake(settings).await {
            Ok((send, driver)) => Self {
                send: Ok(send),
                driver: Some(driver),
            },
            Err(end) => Self {
                send: Err(end),
                driver: None,
            },
        }
    }

    async fn handshake(settings: &Settings) -> Result<(SendRequest<Bytes>, JoinHandle<()>), End> {
        let limit = settings.read_timeout;
        let tls = settings
            .tls
            .as_ref()
            .ok_or_else(|| End::Http2("--http2 needs an https:// URL".into()))?;
        let socket = stream::connect(settings.addr, limit).await?;
        let socket = match tokio::time::timeout(limit, tls.connect(socket)).await {
            Err(_) => return Err(End::Timeout),
            Ok(Err(error)) => {
                eprintln!("orpc-load: TLS: {error}");
                return Err(End::Io(error.kind()));
            }
            Ok(Ok(socket)) => socket,
        };
        let handshake = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .handshake::<_, Bytes>(socket);
        let (send, connection) = match tokio::time::timeout(limit, handshake).await {
            Err(_) => return Err(End::Timeout),
            Ok(Err(error)) => return Err(h2_end(error)),
            Ok(Ok(pair)) => pair,
        };
        let driver = tokio::spawn(async move {
            if let Err(error) = connection.await {
                eprintln!("orpc-load: the HTTP/2 connection ended: {error}");
            }
        });
        Ok((send, driver))
    }

    /// Runs one stream on the connection, recording timings in `outcome` as they are known.
    pub async fn run(
        &self,
        settings: &Settings,
        counters: &Counters,
        outcome: &mut Outcome,
    ) -> End {
        let send = match &self.send {
            Ok(send) => send.clone(),
            Err(end) => return end.clone(),
        };
        let Some(request) = &settings.http2 else {
            return End::Http2("no HTTP/2 request was prepared".into());
        };
        let start = Instant::now();
        let limit = settings.read_timeout;
        // Waits while the server's limit on concurrent streams is reached.
        let mut send = match tokio::time::timeout(limit, send.ready()).await {
            Err(_) => return End::Timeout,
            Ok(Err(error)) => return h2_end(error),
            Ok(Ok(send)) => send,
        };
        let (response, mut body_out) =
            match send.send_request(request.head.clone(), request.body.is_none()) {
                Ok(pair) => pair,
                Err(error) => return h2_end(error),
            };
        if let Some(body) = &request.body {
            if let Err(error) = body_out.send_data(body.clone(), true) {
                return h2_end(error);
            }
        }
        let response = match tokio::time::timeout(limit, response).await {
            Err(_) => return End::Timeout,
            Ok(Err(error)) => return h2_end(error),
            Ok(Ok(response)) => response,
        };
        if response.status() != http::StatusCode::OK {
            return End::Status(response.status().as_u16());
        }
        let sse = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("text/event-stream")
            });
        if !sse {
            return End::NotSse;
        }
        outcome.headers = Some(start.elapsed());
        counters.opened.fetch_add(1, Relaxed);

        let mut body = response.into_body();
        let mut frames = Frames::new();
        let mut seen = Seen::default();
        let mut counted = 0;
        loop {
            let data = match tokio::time::timeout(limit, body.data()).await {
                Err(_) => return End::Timeout,
                Ok(None) => return End::BodyComplete,
                Ok(Some(Err(error))) => return h2_end(error),
                Ok(Some(Ok(data))) => data,
            };
            let _ = body.flow_control().release_capacity(data.len());
            counters.bytes.fetch_add(data.len() as u64, Relaxed);
            frames.feed(&data, &mut seen);
            if let Some(end) = tally(&seen, &mut counted, start, counters, outcome) {
                return end;
            }
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
    }
}

fn h2_end(error: h2::Error) -> End {
    match error.get_io() {
        Some(io) => End::Io(io.kind()),
        None => End::Http2(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    use std::time::Duration;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::net::TcpListener;
    use tokio_rustls::TlsAcceptor;

    use super::*;
    use crate::run::{self, Plan};
    use crate::target::Target;
    use crate::tls::{Alpn, Tls};

    /// An HTTP/2-over-TLS server answering every request with three events and `done`, in
    /// separate DATA frames; returns its address and how many connections it accepted.
    async fn server(cert: &Path, key: &Path) -> (std::net::SocketAddr, Arc<AtomicU64>) {
        let certs = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                count.fetch_add(1, Relaxed);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let tls = acceptor.accept(socket).await.unwrap();
                    let mut connection = h2::server::handshake(tls).await.unwrap();
                    while let Some(Ok((_, mut respond))) = connection.accept().await {
                        let head = http::Response::builder()
                            .header("content-type", "text/event-stream")
                            .body(())
                            .unwrap();
                        let mut body = respond.send_response(head, false).unwrap();
                        for i in 0..3 {
                            let frame = format!("event: message\nid: {i}\ndata: {i}\n\n");
                            body.send_data(Bytes::from(frame), false).unwrap();
                        }
                        let done = Bytes::from_static(b"event: done\ndata: \"done!\"\n\n");
                        body.send_data(done, true).unwrap();
                    }
                });
            }
        });
        (addr, accepted)
    }

    #[tokio::test]
    async fn counts_every_stream_on_one_connection() {
        let dir = std::env::temp_dir().join(format!("orpc-load-h2-{}", std::process::id()));
        let (cert, key) = crate::self_signed::write(&dir).unwrap();
        let (addr, accepted) = server(&cert, &key).await;
        let target = Target::parse(&format!("https://{addr}/api/count")).unwrap();
        let settings = Settings {
            addr,
            request: target.request("GET", None, &[]),
            http2: Some(Http2Request {
                head: target.h2_request("GET", None, &[]).unwrap(),
                body: None,
            }),
            tls: Some(Tls::new(&cert, &target.host, Alpn::H2).unwrap()),
            read_timeout: Duration::from_secs(5),
            buffer: 64 * 1024,
        };
        let plan = Plan {
            connections: 10,
            streams: Some(30),
            deadline: Duration::from_secs(20),
            hold: None,
            http2: true,
            server_pid: None,
            quiet: true,
        };
        let report = run::run(settings, &plan).await;
        let _ = std::fs::remove_dir_all(&dir);
        let ends: Vec<_> = report.outcomes.iter().map(|o| o.end.clone()).collect();
        assert_eq!(ends, vec![End::Done; 30]);
        assert_eq!(report.events, 90);
        assert_eq!(accepted.load(Relaxed), 1, "one connection for every stream");
    }
}
