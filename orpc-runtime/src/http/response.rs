//! The SSE response body: frames become bytes as fast as the socket takes them, and no faster.
//!
//! [`SseBody`] is polled by actix-web's dispatcher only while its write buffer has room, and it
//! polls the handler only when polled itself, so a client that stops reading stops the handler:
//! server memory is bounded by the socket buffers, actix-web's write buffer and one batch here.
//!
//! Each poll encodes every frame that is ready at once, up to [`BATCH`] bytes, and returns them as
//! one chunk; it never waits for a second frame, so a lone event is sent immediately.
//!
//! A stream ends, and its handler is dropped (running its cleanup), when:
//! - the handler returns or fails: the `done` or `error` frame is the last chunk;
//! - the client goes away ([`DisconnectWatch`]), even while the handler is idle;
//! - the server shuts down ([`Router::shutdown`](super::Router::shutdown)): the body ends without a
//!   `done` frame, so the client reconnects, with its `Last-Event-ID`, to another instance;
//! - actix-web drops the body, after a failed write.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use super::disconnect::DisconnectWatch;
use crate::procedure::FrameSource;
use crate::sse::{Encoder, Envelope, KeepAlive};

/// How many bytes one poll encodes at most before handing them to the socket.
const BATCH: usize = 16 * 1024;

pub(crate) struct SseBody {
    source: Option<Pin<Box<dyn FrameSource>>>,
    encoder: Encoder,
    keep_alive: Arc<KeepAlive>,
    /// Fires when the stream has been silent for the keep-alive interval.
    quiet: Option<Pin<Box<Sleep>>>,
    disconnect: Option<DisconnectWatch>,
    shutdown: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl SseBody {
    pub(crate) fn new(
        source: Pin<Box<dyn FrameSource>>,
        envelope: Envelope,
        keep_alive: Arc<KeepAlive>,
        disconnect: Option<DisconnectWatch>,
        shutdown: WaitForCancellationFutureOwned,
    ) -> Self {
        let mut encoder = Encoder::new(envelope);
        if let Some(text) = &keep_alive.initial_comment {
            encoder.comment(text);
        }
        let quiet = keep_alive
            .interval
            .map(|every| Box::pin(tokio::time::sleep(every)));
        SseBody {
            source: Some(source),
            encoder,
            keep_alive,
            quiet,
            disconnect,
            shutdown: Box::pin(shutdown),
        }
    }

    /// Drops the handler, which runs its cleanup guards.
    fn end(&mut self) {
        self.source = None;
        self.disconnect = None;
        self.quiet = None;
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
        let this = self.get_mut();
        if let Some(source) = this.source.as_mut() {
            let gone = this
                .disconnect
                .as_mut()
                .is_some_and(|watch| watch.poll_gone(cx).is_ready());
            if gone {
                tracing::debug!("client went away; ending its stream");
                this.end();
                return Poll::Ready(None);
            }
            if this.shutdown.as_mut().poll(cx).is_ready() {
                this.end();
            } else {
                let mut source = source.as_mut();
                while this.encoder.len() < BATCH {
                    match source.as_mut().poll_encode(cx, &mut this.encoder) {
                        Poll::Ready(Some(false)) => continue,
                        Poll::Ready(Some(true)) | Poll::Ready(None) => {
                            this.end();
                            break;
                        }
                        Poll::Pending => break,
                    }
                }
            }
        }
        if this.encoder.is_empty() {
            if this.source.is_none() {
                return Poll::Ready(None);
            }
            let Some(quiet) = this.quiet.as_mut() else {
                return Poll::Pending;
            };
            if quiet.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.encoder.comment(&this.keep_alive.comment);
        }
        if let (Some(quiet), Some(every)) = (this.quiet.as_mut(), this.keep_alive.interval) {
            quiet.as_mut().reset(Instant::now() + every);
        }
        Poll::Ready(Some(Ok(this.encoder.take())))
    }
}
