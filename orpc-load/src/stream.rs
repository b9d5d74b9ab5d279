//! One stream from start to end: connect, send the request, read the response head, then count
//! frames until a `done` event, the end of the body, or the connection closing.
//!
//! Each stream has its own connection (the request says `Connection: close`), over TLS for an
//! `https://` target (the handshake counts in the time to headers, as the connect does), and one
//! read buffer; body bytes go through the [`Chunked`] decoder and the [`Frames`] counter straight
//! from that buffer, with no copy. Counts are added to the shared [`Counters`] once per read, so
//! a stream that is cut off still counts what it received. Every wait (connect, each read) is
//! bounded by the read timeout, so a stalled server ends the stream instead of the run.

use std::fmt;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use memchr::memmem;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::chunked::Chunked;
use crate::http2::Http2Request;
use crate::sse::{Frames, Seen};
use crate::tls::Tls;

/// What every stream needs, shared by all of them.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    /// The request bytes, written as they are on every connection.
    pub request: Vec<u8>,
    /// The same request for `--http2`.
    pub http2: Option<Http2Request>,
    /// TLS for an `https://` target.
    pub tls: Option<Tls>,
    /// Bound on the connect and on each read.
    pub read_timeout: Duration,
    /// Size of each stream's read buffer.
    pub buffer: usize,
}

/// Totals shared by all streams, read by the progress bar and the summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub events: AtomicU64,
    pub bytes: AtomicU64,
    /// Streams whose response head has arrived.
    pub opened: AtomicU64,
    /// Streams that ended, however.
    pub finished: AtomicU64,
    /// Streams that ended after their response head had arrived.
    pub closed: AtomicU64,
}

/// How a stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// A `done` event arrived.
    Done,
    /// The body ended (last chunk, full length, or close of a close-delimited body) without one.
    BodyComplete,
    /// The run's deadline or the end of `--hold` stopped it.
    Cut,
    /// An `error` event arrived.
    ErrorEvent,
    /// The connection closed before the body's end.
    Truncated,
    /// The response was not `200`.
    Status(u16),
    /// The response was not `text/event-stream`.
    NotSse,
    Malformed(String),
    Timeout,
    Io(ErrorKind),
    /// An HTTP/2 error: the stream reset, the connection gone away, a protocol error.
    Http2(String),
}

impl End {
    /// Whether the stream ended the way a stream should.
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Done | Self::BodyComplete)
    }
}

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done => f.write_str("done event"),
            Self::BodyComplete => f.write_str("end of body"),
            Self::Cut => f.write_str("cut off"),
            Self::ErrorEvent => f.write_str("error event"),
            Self::Truncated => f.write_str("closed before the end of the body"),
            Self::Status(code) => write!(f, "HTTP status {code}"),
            Self::NotSse => f.write_str("not text/event-stream"),
            Self::Malformed(why) => write!(f, "malformed response: {why}"),
            Self::Timeout => f.write_str("timed out"),
            Self::Io(kind) => write!(f, "I/O error: {kind}"),
            Self::Http2(why) => write!(f, "HTTP/2 error: {why}"),
        }
    }
}

/// What one stream measured. Filled in as the stream goes, so a stream cut off mid-way keeps
/// its timings.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// From the start of the connect to the end of the response head.
    pub headers: Option<Duration>,
    /// From the start of the connect to the read that completed the first `message` event.
    pub first_event: Option<Duration>,
    pub end: End,
}

impl Default for Outcome {
    fn default() -> Self {
        Self {
            headers: None,
            first_event: None,
            end: End::Cut,
        }
    }
}

/// How the body's length is known.
enum Body {
    Chunked(Chunked),
    Length(u64),
    UntilClose,
}

/// Runs one stream to its end, recording timings in `outcome` as they are known.
pub async fn run(settings: &Settings, counters: &Counters, outcome: &mut Outcome) -> End {
    let start = Instant::now();
    let socket = match connect(settings.addr, settings.read_timeout).await {
        Ok(socket) => socket,
        Err(end) => return end,
    };
    match &settings.tls {
        None => exchange(socket, start, settings, counters, outcome).await,
        Some(tls) => match tokio::time::timeout(settings.read_timeout, tls.connect(socket)).await {
            Err(_) => End::Timeout,
            Ok(Err(error)) => End::Io(error.kind()),
            Ok(Ok(socket)) => exchange(socket, start, settings, counters, outcome).await,
        },
    }
}

/// A TCP connection to `addr` within `limit`, with Nagle off: small requests and small frames,
/// no delay on either side of the measurement.
pub async fn connect(addr: SocketAddr, limit: Duration) -> Result<TcpStream, End> {
    match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => Err(End::Timeout),
        Ok(Err(error)) => Err(End::Io(error.kind())),
        Ok(Ok(socket)) => {
            let _ = socket.set_nodelay(true);
            Ok(socket)
        }
    }
}

/// Adds the `message` events counted since the last call to the shared counters, noting the
/// first; returns how the stream ends if `seen` says it has.
pub fn tally(
    seen: &Seen,
    counted: &mut u64,
    start: Instant,
    counters: &Counters,
    outcome: &mut Outcome,
) -> Option<End> {
    if seen.messages > *counted {
        counters.events.fetch_add(seen.messages - *counted, Relaxed);
        *counted = seen.messages;
        outcome.first_event.get_or_insert_with(|| start.elapsed());
    }
    if seen.done {
        Some(End::Done)
    } else if seen.errors > 0 {
        Some(End::ErrorEvent)
    } else {
        None
    }
}

/// The request and the response, on a connection made at `start`.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut socket: S,
    start: Instant,
    settings: &Settings,
    counters: &Counters,
    outcome: &mut Outcome,
) -> End {
    if let Err(error) = socket.write_all(&settings.request).await {
        return End::Io(error.kind());
    }

    let mut buf = vec![0u8; settings.buffer.max(1024)];
    let mut filled = 0;
    let (mut body, head_len) = loop {
        if filled == buf.len() {
            return End::Malformed("response head larger than the read buffer".into());
        }
        let n = match read(&mut socket, &mut buf[filled..], settings.read_timeout).await {
            Ok(0) => return End::Truncated,
            Ok(n) => n,
            Err(end) => return end,
        };
        counters.bytes.fetch_add(n as u64, Relaxed);
        let from = filled.saturating_sub(3);
        filled += n;
        if let Some(k) = memmem::find(&buf[from..filled], b"\r\n\r\n") {
            let head_len = from + k + 4;
            match head(&buf[..head_len]) {
                Ok(body) => break (body, head_len),
                Err(end) => return end,
            }
        }
    };
    outcome.headers = Some(start.elapsed());
    counters.opened.fetch_add(1, Relaxed);

    let mut frames = Frames::new();
    let mut seen = Seen::default();
    let mut counted = 0;
    let (mut from, mut to) = (head_len, filled);
    loop {
        let finished = match feed(&mut body, &mut frames, &buf[from..to], &mut seen) {
            Ok(finished) => finished,
            Err(end) => return end,
        };
        if let Some(end) = tally(&seen, &mut counted, start, counters, outcome) {
            return end;
        }
        if finished {
            return End::BodyComplete;
        }
        let n = match read(&mut socket, &mut buf, settings.read_timeout).await {
            Ok(0) if matches!(body, Body::UntilClose) => return End::BodyComplete,
            Ok(0) => return End::Truncated,
            Ok(n) => n,
            Err(end) => return end,
        };
        counters.bytes.fetch_add(n as u64, Relaxed);
        (from, to) = (0, n);
    }
}

async fn read<S: AsyncRead + Unpin>(
    socket: &mut S,
    buf: &mut [u8],
    limit: Duration,
) -> Result<usize, End> {
    match tokio::time::timeout(limit, socket.read(buf)).await {
        Err(_) => Err(End::Timeout),
        Ok(Err(error)) => Err(End::Io(error.kind())),
        Ok(Ok(n)) => Ok(n),
    }
}

/// Checks the response head and tells how its body is delimited.
fn head(bytes: &[u8]) -> Result<Body, End> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(bytes) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(End::Malformed("incomplete head".into())),
        Err(error) => return Err(End::Malformed(error.to_string())),
    }
    let code = response.code.unwrap_or(0);
    if code != 200 {
        return Err(End::Status(code));
    }
    let (mut chunked, mut length, mut sse) = (false, None, false);
    for header in response.headers.iter() {
        let value = String::from_utf8_lossy(header.value).to_ascii_lowercase();
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked |= value.contains("chunked");
        } else if header.name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| End::Malformed("bad content-length".into()))?,
            );
        } else if header.name.eq_ignore_ascii_case("content-type") {
            sse = value.trim_start().starts_with("text/event-stream");
        }
    }
    if !sse {
        return Err(End::NotSse);
    }
    Ok(match (chunked, length) {
        (true, _) => Body::Chunked(Chunked::new()),
        (false, Some(length)) => Body::Length(length),
        (false, None) => Body::UntilClose,
    })
}

/// Passes body bytes to the frame counter. Returns whether the body is complete.
fn feed(body: &mut Body, frames: &mut Frames, input: &[u8], seen: &mut Seen) -> Result<bool, End> {
    match body {
        Body::UntilClose => {
            frames.feed(input, seen);
            Ok(false)
        }
        Body::Length(remaining) => {
            let take = (*remaining).min(input.len() as u64);
            frames.feed(&input[..take as usize], seen);
            *remaining -= take;
            Ok(*remaining == 0)
        }
        Body::Chunked(decoder) => decoder
            .feed(input, |data| {
                frames.feed(data, seen);
                !seen.done
            })
            .map_err(|error| End::Malformed(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// Serves `response` once on a loopback port and runs one stream against it.
    async fn against(response: &'static [u8], buffer: usize) -> (End, Outcome, u64) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await.unwrap();
            // In small pieces, to split the head, chunk sizes and frames across reads.
            for piece in response.chunks(7) {
                socket.write_all(piece).await.unwrap();
                socket.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let settings = Settings {
            addr,
            request: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            http2: None,
            tls: None,
            read_timeout: Duration::from_secs(5),
            buffer,
        };
        let counters = Counters::default();
        let mut outcome = Outcome::default();
        let end = run(&settings, &counters, &mut outcome).await;
        server.await.unwrap();
        (end, outcome, counters.events.load(Relaxed))
    }

    #[tokio::test]
    async fn counts_a_chunked_stream_to_its_done_event() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
            transfer-encoding: chunked\r\n\r\n\
            4\r\n: \n\n\r\n\
            1e\r\nevent: message\nid: 0\ndata: 1\n\n\r\n\
            2e\r\nevent: message\nid: 1\ndata: 2\n\nevent: done\ndata\r\n\
            2\r\n\n\n\r\n0\r\n\r\n";
        let (end, outcome, events) = against(response, 1024).await;
        assert_eq!((end, events), (End::Done, 2));
        assert!(outcome.headers.unwrap() <= outcome.first_event.unwrap());
    }

    #[tokio::test]
    async fn close_delimited_bodies_end_at_close_and_errors_are_reported() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: a\n\n";
        assert_eq!(against(response, 1024).await.0, End::BodyComplete);
        let response = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(against(response, 1024).await.0, End::Status(503));
        let response = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
            transfer-encoding: chunked\r\n\r\n9\r\ndata: a\n\n\r\n";
        let (end, _, events) = against(response, 1024).await;
        assert_eq!((end, events), (End::Truncated, 1));
    }
}
