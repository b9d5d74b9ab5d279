//! The SSE response body: frames become bytes as fast as the socket takes them, and no faster.
//!
//! This is the one loop that turns a running event iterator into bytes: every
//! [`EventStream`](super::EventStream) response uses it (a procedure's, from the router, and any
//! other from a plain handler), and so does [`Route::encode`](crate::Route::encode) through
//! [`EncodedFrames`], without keep-alive, disconnects or shutdown.
//!
//! [`SseBody`] is polled by actix-web's dispatcher only while its write buffer has room, and it
//! polls the handler only when polled itself, so a client that stops reading stops the handler:
//! server memory is bounded by the socket buffers, actix-web's write buffer and one batch here.
//!
//! Each poll encodes every frame that is ready at once, up to [`BATCH`] bytes, and returns them as
//! one chunk; it never waits for a second frame, so a lone event is sent immediately.
//!
//! The initial comment and the keep-alive comments are encoded once per router ([`Shared`])
//! and sent as shared bytes: opening a stream and keeping it alive allocate nothing, and the
//! encoder's buffer exists only once the handler has sent something. A quiet HTTP/1 stream on a
//! watched connection has no keep-alive timer of its own either: its worker keeps the time
//! ([`DisconnectWatch::count_silence`]). The initial comment goes alone, as the first chunk; the
//! handler is polled from the next one.
//!
//! The first chunk of events takes its buffer with it (`Encoder::take_all`); the buffer the
//! stream keeps and reuses from then on is sized by the frames that follow. An opening burst (a
//! snapshot before the updates, say) leaves nothing behind, and neither does a stream that sends
//! one event and waits.
//!
//! A stream ends, and its handler is dropped (running its cleanup), when:
//! - the handler returns or fails: the `done` or `error` frame is the last chunk;
//! - the client goes away ([`DisconnectWatch`]), even while the handler is idle;
//! - the server shuts down ([`Router::shutdown`](super::Router::shutdown)): the body ends without a
//!   `done` frame, so the client reconnects, with its `Last-Event-ID`, to another instance;
//! - actix-web drops the body, after a failed write.
//!
//! Each stream runs inside a tracing span `stream` with its procedure and a process-unique id. A
//! poll of the handler that takes longer than [`SLOW_POLL`] is logged as a warning: the handler
//! blocked its worker thread (a blocking call, or a long computation without an await), which
//! stalls every other stream on that worker.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use futures_core::Stream;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::disconnect::DisconnectWatch;
use super::shutdown::ShutdownSignal;
use super::stats::StartedStream;
use crate::sse::frames::{FrameSource, Sink, Written};
use crate::sse::{Encoder, Envelope, KeepAlive};

/// How many bytes one poll encodes at most before handing them to the socket.
const BATCH: usize = 16 * 1024;

/// A poll of a handler that takes longer than this blocked its worker thread.
pub const SLOW_POLL: Duration = Duration::from_millis(100);

/// The longest an HTTP/2 stream stays silent: then it sends its keep-alive comment, even with
/// keep-alive comments turned off. actix-web's HTTP/2 dispatcher does not watch a stream for a
/// reset (`RST_STREAM`, a browser closing one `EventSource`) while the body is quiet; a write
/// is what finds it reset, and drops the body, which runs the handler's cleanup. So a reset is
/// noticed within this bound, at the cost of a keep-alive comment (3 bytes, in a 12-byte frame)
/// twice a second on each quiet stream.
pub const RESET_PROBE: Duration = Duration::from_millis(500);

/// What all the streams of a router share: its keep-alive settings with the comments encoded
/// once, and its shutdown signal.
pub(crate) struct Shared {
    interval: Option<Duration>,
    /// The interval over HTTP/2: at most [`RESET_PROBE`], since a write is how a stream the
    /// client reset is noticed there.
    interval_h2: Option<Duration>,
    keep_alive: Bytes,
    initial: Option<Bytes>,
    /// `None` outside a server ([`EncodedFrames`]): nothing shuts such a stream down.
    pub(crate) shutdown: Option<Arc<ShutdownSignal>>,
}

impl Shared {
    pub(crate) fn new(settings: &KeepAlive, shutdown: Option<Arc<ShutdownSignal>>) -> Self {
        let encode = |text: &str| {
            let mut encoder = Encoder::new(Envelope::Plain);
            encoder.comment(text);
            encoder.take()
        };
        Shared {
            interval: settings.interval,
            interval_h2: Some(
                settings
                    .interval
                    .map_or(RESET_PROBE, |every| every.min(RESET_PROBE)),
            ),
            keep_alive: encode(&settings.comment),
            initial: settings.initial_comment.as_deref().map(encode),
            shutdown,
        }
    }
}

/// The body of an [`EventStream`](super::EventStream) response: its events, encoded as the
/// socket takes them, and no faster. Opaque; actix-web polls it.
// 96 bytes: actix-web keeps it, in a box with 8 of its own, for as long as the stream is open,
// so what only some streams need waits in `Extras`.
pub struct SseBody {
    // Dropped first: the handler's cleanup runs before the ticket counts the stream finished.
    source: Option<Pin<Box<dyn FrameSource>>>,
    encoder: Encoder,
    shared: Arc<Shared>,
    /// The watched connection, through which the stream is woken when its client leaves, when
    /// the server shuts down (the stream then reads the router's flag) and, if `counted`, when
    /// its silence has lasted the keep-alive interval.
    watch: Option<DisconnectWatch>,
    extras: Option<Pin<Box<Extras>>>,
    ticket: Option<StartedStream>,
    phase: Phase,
    /// Whether the watch counts the stream's silence on the worker's clock
    /// ([`DisconnectWatch::count_silence`]); otherwise a keep-alive timer is in `extras`.
    counted: bool,
}

pin_project_lite::pin_project! {
    /// What some streams need and most don't, in one allocation.
    struct Extras {
        // The stream's span, when a subscriber wants it.
        span: Option<tracing::Span>,
        // The keep-alive interval and its timer, when the watch does not count the silence: on
        // HTTP/2 and on connections that are not watched.
        every: Option<Duration>,
        #[pin]
        quiet: Option<Sleep>,
        // Shutdown, on a connection that is not watched.
        #[pin]
        waiter: Option<WaitForCancellationFutureOwned>,
    }
}

/// How far a stream has got, for what its next chunk does with the encoder's buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Nothing sent: the first chunk is the initial comment, if there is one.
    Opening,
    /// No events sent yet: their first chunk takes the buffer with it.
    First,
    /// The buffer is kept and reused.
    Steady,
}

/// The options of one SSE response.
pub(crate) struct SseSettings {
    pub(crate) procedure: &'static str,
    pub(crate) envelope: Envelope,
    pub(crate) shared: Arc<Shared>,
    pub(crate) disconnect: Option<DisconnectWatch>,
    pub(crate) ticket: Option<StartedStream>,
    /// Whether the request came over HTTP/2.
    pub(crate) http2: bool,
}

impl SseBody {
    pub(crate) fn new(source: Pin<Box<dyn FrameSource>>, settings: SseSettings) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(0);
        let id = IDS.fetch_add(1, Ordering::Relaxed);
        let span = tracing::info_span!("stream", procedure = settings.procedure, stream = id);
        // Kept when a subscriber wants it, or when there is no subscriber at all: then, with
        // tracing's `log` feature, entering it is logged through the `log` crate.
        let wanted = !span.is_disabled() || !tracing::dispatcher::has_been_set();
        let span = wanted.then_some(span);
        let interval = if settings.http2 {
            settings.shared.interval_h2
        } else {
            settings.shared.interval
        };
        let watch = settings.disconnect;
        let counted = match (&watch, interval) {
            (Some(watch), Some(every)) => watch.count_silence(every),
            _ => false,
        };
        let every = interval.filter(|_| !counted);
        let waiter = match (&watch, &settings.shared.shutdown) {
            (None, Some(shutdown)) => Some(shutdown.waiter()),
            _ => None,
        };
        let extras = (span.is_some() || every.is_some() || waiter.is_some()).then(|| {
            Box::pin(Extras {
                span,
                every,
                quiet: every.map(tokio::time::sleep),
                waiter,
            })
        });
        SseBody {
            source: Some(source),
            encoder: Encoder::new(settings.envelope),
            shared: settings.shared,
            watch,
            extras,
            ticket: settings.ticket,
            phase: Phase::Opening,
            counted,
        }
    }

    /// Drops the handler, which runs its cleanup guards, then counts the stream finished.
    fn end(&mut self) {
        self.source = None;
        self.watch = None;
        if let Some(extras) = self.extras.as_mut() {
            if extras.span.is_some() {
                let mut extras = extras.as_mut().project();
                extras.quiet.set(None);
                extras.waiter.set(None);
            } else {
                self.extras = None;
            }
        }
        self.ticket = None;
    }

    /// Encodes what the handler has ready, up to a batch; ends the stream after its last frame.
    fn encode_ready(&mut self, cx: &mut Context<'_>) {
        let Some(source) = self.source.as_mut() else {
            return;
        };
        let started = std::time::Instant::now();
        let mut events = 0;
        let mut last = None;
        while self.encoder.len() < BATCH {
            match source
                .as_mut()
                .poll_encode(cx, Sink::Sse(&mut self.encoder))
            {
                Poll::Ready(Some(Written::Message)) => events += 1,
                Poll::Ready(Some(written)) => {
                    last = Some(written);
                    break;
                }
                Poll::Ready(None) => {
                    last = Some(Written::Done);
                    break;
                }
                Poll::Pending => break,
            }
        }
        account_poll(started, self.ticket.as_ref(), events, last);
        if last.is_some() {
            self.end();
        }
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

impl SseBody {
    /// The next chunk: what the handler had ready, or a keep-alive comment when it has been quiet
    /// for the interval; `None` once the stream is over.
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self;
        let span = this.extras.as_ref().and_then(|extras| extras.span.clone());
        let _entered = span.as_ref().map(tracing::Span::enter);
        let opening = if this.phase == Phase::Opening {
            this.phase = Phase::First;
            this.shared.initial.clone()
        } else {
            None
        };
        if this.source.is_some() {
            // Registers the waker first, then reads the flags, so that no wake-up is missed.
            let (gone, shutting_down) = if let Some(watch) = this.watch.as_mut() {
                (
                    watch.poll_gone(cx).is_ready(),
                    this.shared
                        .shutdown
                        .as_ref()
                        .is_some_and(|shutdown| shutdown.is_triggered()),
                )
            } else if let Some(extras) = this.extras.as_mut() {
                let waiter = extras.as_mut().project().waiter.as_pin_mut();
                (false, waiter.is_some_and(|w| w.poll(cx).is_ready()))
            } else {
                (false, false)
            };
            if gone {
                tracing::debug!("client went away; ending its stream");
                if let Some(ticket) = &this.ticket {
                    ticket
                        .counters()
                        .disconnects
                        .fetch_add(1, Ordering::Relaxed);
                }
                this.end();
                return Poll::Ready(None);
            }
            if shutting_down {
                tracing::debug!("server shutting down; ending the stream");
                this.end();
            } else if opening.is_none() {
                this.encode_ready(cx);
            }
        }
        let chunk = if let Some(comment) = opening {
            comment
        } else if !this.encoder.is_empty() {
            if this.phase == Phase::Steady {
                this.encoder.take()
            } else {
                this.phase = Phase::Steady;
                this.encoder.take_all()
            }
        } else {
            if this.source.is_none() {
                return Poll::Ready(None);
            }
            let due = if this.counted {
                // The worker's task wakes the stream, when due, through the waker that
                // `poll_gone` registered above.
                this.watch
                    .as_ref()
                    .is_some_and(DisconnectWatch::silence_is_due)
            } else {
                let quiet = this.extras.as_mut().and_then(|extras| {
                    let quiet = extras.as_mut().project().quiet;
                    quiet.as_pin_mut()
                });
                quiet.is_some_and(|quiet| quiet.poll(cx).is_ready())
            };
            if !due {
                return Poll::Pending;
            }
            this.shared.keep_alive.clone()
        };
        if this.counted {
            // `counted` means HTTP/1 with keep-alive on.
            if let (Some(watch), Some(every)) = (&this.watch, this.shared.interval) {
                watch.count_silence(every);
            }
        } else if let Some(extras) = this.extras.as_mut() {
            let extras = extras.as_mut().project();
            if let (Some(quiet), Some(every)) = (extras.quiet.as_pin_mut(), *extras.every) {
                quiet.reset(Instant::now() + every);
            }
        }
        Poll::Ready(Some(chunk))
    }
}

/// After one poll of a stream's handler, on SSE or a WebSocket: warns when the poll blocked its
/// worker thread for longer than [`SLOW_POLL`], and counts the events it wrote and how the
/// stream ended, if it did.
pub(crate) fn account_poll(
    started: std::time::Instant,
    ticket: Option<&StartedStream>,
    events: u64,
    last: Option<Written>,
) {
    let took = started.elapsed();
    if took > SLOW_POLL {
        tracing::warn!(
            took_ms = took.as_millis() as u64,
            "a handler poll blocked its worker thread; use async I/O or spawn_blocking"
        );
    }
    let Some(counters) = ticket.map(StartedStream::counters) else {
        return;
    };
    if events > 0 {
        counters.events.fetch_add(events, Ordering::Relaxed);
    }
    let ended_badly = match last {
        Some(Written::Error) => Some(&counters.errors),
        Some(Written::Invalid) => Some(&counters.validation_failures),
        _ => None,
    };
    if let Some(counter) = ended_badly {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A procedure's frames as SSE bytes, outside any HTTP server; see
/// [`Route::encode`](crate::Route::encode).
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

impl EncodedFrames {
    pub(crate) fn new(
        source: Pin<Box<dyn FrameSource>>,
        procedure: &'static str,
        envelope: Envelope,
    ) -> Self {
        let quiet = KeepAlive::default()
            .interval(None)
            .initial_comment(None::<&str>);
        let shared = Shared::new(&quiet, None);
        EncodedFrames(SseBody::new(
            source,
            SseSettings {
                procedure,
                envelope,
                shared: Arc::new(shared),
                disconnect: None,
                ticket: None,
                http2: false,
            },
        ))
    }
}

impl Stream for EncodedFrames {
    type Item = Bytes;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        self.get_mut().0.poll_chunk(cx)
    }
}

#[cfg(test)]
mod tests {
    /// actix-web boxes the body with 8 bytes of its own and keeps it while the stream is open:
    /// at 96 bytes the box takes a 112-byte block of the allocator, at 104 one of 128.
    #[test]
    fn an_idle_streams_body_stays_within_96_bytes() {
        assert!(
            std::mem::size_of::<super::SseBody>() <= 96,
            "SseBody is {} bytes",
            std::mem::size_of::<super::SseBody>()
        );
    }
}
