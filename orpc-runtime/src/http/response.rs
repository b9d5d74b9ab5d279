//! The SSE response: a running event iterator's frames become bytes as fast as the socket takes
//! them, and no faster.
//!
//! Every stream served over SSE uses [`SseBody`]: a procedure's over RPC or OpenAPI, and any
//! [`EventStream`](super::EventStream) from a plain handler; [`EncodedFrames`] is the same body
//! outside a server, without keep-alive, disconnects or shutdown.
//!
//! Guarantees:
//! - **Back-pressure**: actix-web polls the body only while its write buffer has room, and the
//!   body polls the handler only when polled itself, so a client that stops reading stops the
//!   handler; memory is bounded by the socket buffers, actix-web's write buffer and one batch.
//! - **Batching**: each poll encodes every frame that is ready, up to [`BATCH`] bytes, as one
//!   chunk, and never waits for a second frame: a lone event goes out at once.
//! - **Keep-alive**: one timer per stream, reset by every chunk, sends the router's comment
//!   when the stream has been quiet for the interval; the initial comment goes alone, as the
//!   first chunk. Over HTTP/2 the interval is at most [`RESET_PROBE`].
//! - **How a stream ends**, each dropping the handler (running its cleanup) once:
//!   - the handler returns or fails: its `done` or `error` frame is the last chunk;
//!   - the client leaves: its connection's watch (`disconnect/`) wakes the body, even while the
//!     handler is idle; on HTTP/2, the next write finds it;
//!   - the router shuts down: the body ends without a `done` frame, so the client reconnects,
//!     with its `Last-Event-ID`, to another instance;
//!   - actix-web drops the body after a failed write.
//!
//! Each stream runs inside a tracing span `stream` with its procedure and a process-unique id,
//! when a subscriber wants it.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{StatusCode, Version};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_core::Stream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::disconnect::ConnectionWatch;
use crate::input::PathParams;
use crate::procedure::{Handler, Route};
use crate::serving::OpenStream;
use crate::sse::frames::{Sink, Written};
use crate::sse::{Encoder, Envelope, KeepAlive};
use crate::{ORPCError, RawInput};

/// How many bytes one poll encodes at most before handing them to the socket.
const BATCH: usize = 16 * 1024;

/// The longest an HTTP/2 stream stays silent: then it sends its keep-alive comment, even with
/// keep-alive comments turned off. actix-web's HTTP/2 dispatcher does not watch a stream for a
/// reset (`RST_STREAM`, a browser closing one `EventSource`) while its body is quiet, nor for
/// its connection dropping; a write is what finds either, and drops the body.
const RESET_PROBE: Duration = Duration::from_millis(500);

/// A router's keep-alive settings, with its comments encoded once and shared by its streams.
pub(crate) struct SseSettings {
    interval: Option<Duration>,
    keep_alive: Bytes,
    initial: Option<Bytes>,
}

impl SseSettings {
    pub(crate) fn new(settings: &KeepAlive) -> Self {
        let encode = |text: &str| {
            let mut encoder = Encoder::new(Envelope::Plain);
            encoder.comment(text);
            encoder.take()
        };
        SseSettings {
            interval: settings.interval,
            keep_alive: encode(&settings.comment),
            initial: settings.initial_comment.as_deref().map(encode),
        }
    }

    /// No comments at all, for [`EncodedFrames`].
    fn quiet() -> Self {
        Self::new(
            &KeepAlive::default()
                .interval(None)
                .initial_comment(None::<&str>),
        )
    }

    /// The keep-alive interval over `version`: at most [`RESET_PROBE`] over HTTP/2.
    fn interval(&self, version: Version) -> Option<Duration> {
        if version >= Version::HTTP_2 {
            Some(
                self.interval
                    .map_or(RESET_PROBE, |every| every.min(RESET_PROBE)),
            )
        } else {
            self.interval
        }
    }
}

/// Answers with `stream` as `text/event-stream`, its payloads in `envelope`.
pub(crate) fn sse_response(
    stream: OpenStream,
    req: &HttpRequest,
    settings: Arc<SseSettings>,
    procedure: &'static str,
    envelope: Envelope,
) -> HttpResponse<SseBody> {
    let every = settings.interval(req.version());
    let body = SseBody::new(
        stream,
        settings,
        every,
        ConnectionWatch::of(req),
        procedure,
        envelope,
    );
    let mut response = HttpResponse::with_body(StatusCode::OK, body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    // Tells nginx not to buffer the stream.
    headers.insert(
        header::HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    response
}

/// The body of an [`EventStream`](super::EventStream) response: its events, encoded as the
/// socket takes them, and no faster. Opaque; actix-web polls it.
pub struct SseBody {
    stream: OpenStream,
    encoder: Encoder,
    settings: Arc<SseSettings>,
    /// The connection's watch, on a watched HTTP/1 connection.
    connection: Option<ConnectionWatch>,
    /// The keep-alive interval, and the timers, if the stream has either.
    every: Option<Duration>,
    timers: Option<Pin<Box<Timers>>>,
    span: Option<tracing::Span>,
    phase: Phase,
}

pin_project_lite::pin_project! {
    /// A stream's timers, in one allocation.
    struct Timers {
        // The keep-alive comment is due when this fires.
        #[pin]
        quiet: Option<Sleep>,
        // Ready once the router shuts down. Polled until it has registered the body's waker;
        // after that the body reads the router's flag, an atomic load, as the waiter takes a
        // lock the router's streams share: actix-web polls a body from one task for its whole
        // life, so the registered waker stays the right one.
        #[pin]
        shutdown: Option<WaitForCancellationFutureOwned>,
        listening: bool,
    }
}

/// How far a stream has got, for what its next chunk does with the encoder's buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing sent: the first chunk is the initial comment, if there is one.
    Opening,
    /// No events sent yet: their first chunk takes the buffer with it, so that an opening burst
    /// leaves no large buffer behind.
    First,
    /// The buffer is kept and reused.
    Steady,
}

impl SseBody {
    fn new(
        stream: OpenStream,
        settings: Arc<SseSettings>,
        every: Option<Duration>,
        connection: Option<ConnectionWatch>,
        procedure: &'static str,
        envelope: Envelope,
    ) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(0);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("stream", procedure, stream = id);
        // Kept when a subscriber wants it, or when there is no subscriber at all: then, with
        // tracing's `log` feature, entering it is logged through the `log` crate.
        let wanted = !span.is_disabled() || !tracing::dispatcher::has_been_set();
        let shutdown = stream.lifecycle().map(|lifecycle| lifecycle.waiter());
        let timers = (every.is_some() || shutdown.is_some()).then(|| {
            Box::pin(Timers {
                quiet: every.map(tokio::time::sleep),
                shutdown,
                listening: false,
            })
        });
        SseBody {
            stream,
            encoder: Encoder::new(envelope),
            settings,
            connection,
            every,
            timers,
            span: wanted.then_some(span),
            phase: Phase::Opening,
        }
    }

    /// Encodes what the handler has ready, up to a batch; the stream ends after its last frame.
    fn encode_ready(&mut self, cx: &mut Context<'_>) {
        let started = std::time::Instant::now();
        let before = self.encoder.len();
        let encoder = &mut self.encoder;
        let polled = self.stream.poll_with(|mut source| {
            let mut events = 0;
            while encoder.len() < BATCH {
                match source.as_mut().poll_encode(cx, Sink::Sse(encoder)) {
                    Poll::Ready(Some(Written::Message)) => events += 1,
                    Poll::Ready(Some(written)) => return (events, Some(written)),
                    Poll::Ready(None) => return (events, Some(Written::Done)),
                    Poll::Pending => break,
                }
            }
            (events, None)
        });
        if let Some((events, last)) = polled {
            let bytes = self.encoder.len().saturating_sub(before) as u64;
            self.stream.account(started, events, bytes, last);
        }
    }

    /// Whether the router has shut down; registers the waker to hear it otherwise.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(lifecycle) = self.stream.lifecycle() else {
            return false;
        };
        if lifecycle.is_shut_down() {
            return true;
        }
        let Some(timers) = self.timers.as_mut() else {
            return false;
        };
        let timers = timers.as_mut().project();
        if *timers.listening {
            return false;
        }
        *timers.listening = true;
        let shutdown = timers.shutdown.as_pin_mut();
        shutdown.is_some_and(|shutdown| shutdown.poll(cx).is_ready())
    }

    /// Whether the keep-alive comment is due; registers the waker to hear when it is otherwise.
    fn poll_quiet(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(timers) = self.timers.as_mut() else {
            return false;
        };
        let quiet = timers.as_mut().project().quiet.as_pin_mut();
        quiet.is_some_and(|quiet| quiet.poll(cx).is_ready())
    }

    /// The next chunk: what the handler had ready, or a keep-alive comment when it has been quiet
    /// for the interval; `None` once the stream is over.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let span = self.span.clone();
        let _entered = span.as_ref().map(tracing::Span::enter);
        let opening = if self.phase == Phase::Opening {
            self.phase = Phase::First;
            self.settings.initial.clone()
        } else {
            None
        };
        if self.stream.is_open() {
            if self
                .connection
                .as_ref()
                .is_some_and(|c| c.poll_gone(cx).is_ready())
            {
                self.stream.client_left();
                return Poll::Ready(None);
            }
            if self.poll_shutdown(cx) {
                self.stream.shut_down();
            } else if opening.is_none() {
                self.encode_ready(cx);
            }
        }
        let chunk = if let Some(comment) = opening {
            comment
        } else if !self.encoder.is_empty() {
            if self.phase == Phase::Steady {
                self.encoder.take()
            } else {
                self.phase = Phase::Steady;
                self.encoder.take_all()
            }
        } else if !self.stream.is_open() {
            return Poll::Ready(None);
        } else if self.poll_quiet(cx) {
            self.settings.keep_alive.clone()
        } else {
            return Poll::Pending;
        };
        if let (Some(timers), Some(every)) = (self.timers.as_mut(), self.every) {
            if let Some(quiet) = timers.as_mut().project().quiet.as_pin_mut() {
                quiet.reset(Instant::now() + every);
            }
        }
        Poll::Ready(Some(chunk))
    }
}

impl MessageBody for SseBody {
    type Error = std::convert::Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        self.get_mut().poll_chunk(cx).map(|chunk| chunk.map(Ok))
    }
}

/// A procedure's frames as SSE bytes, outside any HTTP server; see [`Route::encode`].
///
/// It is the server's own response body without keep-alive comments, disconnect watching,
/// shutdown or stream counting. Dropping it drops the handler, which runs its cleanup.
///
/// ```
/// use futures_util::StreamExt;
/// use orpc_runtime::sse::Envelope;
/// use orpc_runtime::{procedure, yield_, Procedure, RawInput};
///
/// #[procedure(output = event_iterator(u32))]
/// async fn two() {
///     yield_!(1);
///     yield_!(2);
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let route = two.into_route();
/// let request = actix_web::test::TestRequest::default().to_http_request();
/// let chunks: Vec<_> = route
///     .encode(RawInput::Json(serde_json::Value::Null), &request, Envelope::Plain)
///     .await
///     .unwrap()
///     .collect()
///     .await;
/// assert_eq!(
///     chunks.concat(),
///     b"event: message\ndata: 1\n\nevent: message\ndata: 2\n\nevent: done\ndata: null\n\n"
/// );
/// # }
/// ```
pub struct EncodedFrames(SseBody);

impl Stream for EncodedFrames {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.get_mut().0.poll_chunk(cx)
    }
}

impl Route {
    /// Starts the procedure outside any HTTP server and encodes its frames as SSE bytes, through
    /// the same response body the server uses, without keep-alive comments: each item holds
    /// every frame that was ready at once (up to 16 KiB), the last one ends with `done` or
    /// `error`. For serving from another framework, and for measuring. Events are validated as
    /// they are when served.
    pub async fn encode(
        &self,
        input: RawInput,
        req: &HttpRequest,
        envelope: Envelope,
    ) -> Result<EncodedFrames, ORPCError> {
        let Handler::Stream(start) = &self.handler else {
            return Err(ORPCError::bad_request(format!(
                "{} is not an event iterator",
                self.name
            )));
        };
        let source = start(input, PathParams::new(), req, self.validate_events).await?;
        let settings = Arc::new(SseSettings::quiet());
        let stream = OpenStream::new(source, None);
        Ok(EncodedFrames(SseBody::new(
            stream, settings, None, None, self.name, envelope,
        )))
    }
}
