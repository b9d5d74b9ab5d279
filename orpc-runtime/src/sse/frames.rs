//! A running procedure's frames on their way to the response: erased, validated, encoded.
//!
//! [`Route::event_iterator`](crate::Route) erases each procedure's typed stream once, at
//! registration, into a [`FrameSource`]: the typed code that checks each frame against its
//! schema and encodes it is monomorphised per procedure, so serving an event costs one virtual
//! call per poll and no other dynamic dispatch. The response body in `http/response.rs` polls
//! the source until it has a batch. A stream served by an
//! [`EventStream`](crate::http::EventStream) from a plain handler is erased the same way, without
//! the schema checks.
//!
//! Each poll turns at most one frame into bytes, whole or not at all:
//! - an event or `done` value that breaks its schema is not sent; an
//!   `EVENT_ITERATOR_VALIDATION_FAILED` error frame ends the stream instead (the issues go to the
//!   log, not to the client, as oRPC does);
//! - an event that does not serialize, or whose metadata could forge SSE fields, is not sent; an
//!   `INTERNAL_SERVER_ERROR` frame ends the stream instead.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use schemars::JsonSchema;
use serde::Serialize;

use crate::schema::{Issue, SchemaCheck};
use crate::sse::Encoder;
use crate::{Frame, ORPCError};

/// What one call to [`FrameSource::poll_encode`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Written {
    /// An `event: message` frame.
    Message,
    /// The `done` frame: the stream is over.
    Done,
    /// An `error` frame from the handler (an error it returned, a panic, a refused event): the
    /// stream is over.
    Error,
    /// An `error` frame for an event or return value that broke its schema: the stream is over.
    Invalid,
}

/// A running event iterator, erased: each poll encodes at most one frame.
pub(crate) trait FrameSource {
    /// Polls the next frame and encodes it, saying what it wrote.
    fn poll_encode(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut Encoder,
    ) -> Poll<Option<Written>>;
}

/// The checks of an event iterator's events and return value, built once per procedure.
pub(crate) struct EventChecks<T, R> {
    event: SchemaCheck<T>,
    done: SchemaCheck<R>,
}

impl<T: JsonSchema, R: JsonSchema> EventChecks<T, R> {
    pub(crate) fn new() -> Self {
        EventChecks {
            event: SchemaCheck::new(false),
            done: SchemaCheck::new(false),
        }
    }
}

/// Erases a procedure's stream of frames; `checks` is `None` when its events go unchecked.
pub(crate) fn erase<S, T, R>(
    stream: S,
    checks: Option<Arc<EventChecks<T, R>>>,
) -> Pin<Box<dyn FrameSource>>
where
    S: Stream<Item = Frame<T, R>> + 'static,
    T: Serialize + JsonSchema + 'static,
    R: Serialize + JsonSchema + 'static,
{
    Box::pin(Frames { stream, checks })
}

pin_project_lite::pin_project! {
    struct Frames<S, T, R> {
        #[pin]
        stream: S,
        checks: Option<Arc<EventChecks<T, R>>>,
    }
}

impl<S, T, R> FrameSource for Frames<S, T, R>
where
    S: Stream<Item = Frame<T, R>>,
    T: Serialize + JsonSchema,
    R: Serialize + JsonSchema + 'static,
{
    fn poll_encode(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut Encoder,
    ) -> Poll<Option<Written>> {
        let this = self.project();
        let frame = match this.stream.poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(frame)) => frame,
        };
        if let Some(checks) = this.checks {
            let checked = match &frame {
                Frame::Event(event) => checks.event.check(&event.data).map_err(|i| (i, "message")),
                Frame::Done(value) => checks.done.check(value).map_err(|i| (i, "done")),
                Frame::Error(_) => Ok(()),
            };
            if let Err((issues, frame)) = checked {
                out.error(&validation_failed(frame, &issues))
                    .expect("the error object always serializes");
                return Poll::Ready(Some(Written::Invalid));
            }
        }
        Poll::Ready(Some(write(&frame, out)))
    }
}

/// Erases a stream of frames whose events are not checked against a schema, such as an
/// [`EventStream`](crate::http::EventStream)'s: encoded exactly as a procedure's are.
pub(crate) fn erase_unchecked<S, T, R>(stream: S) -> Pin<Box<dyn FrameSource>>
where
    S: Stream<Item = Frame<T, R>> + 'static,
    T: Serialize + 'static,
    R: Serialize + 'static,
{
    Box::pin(Unchecked { stream })
}

pin_project_lite::pin_project! {
    struct Unchecked<S> {
        #[pin]
        stream: S,
    }
}

impl<S, T, R> FrameSource for Unchecked<S>
where
    S: Stream<Item = Frame<T, R>>,
    T: Serialize,
    R: Serialize + 'static,
{
    fn poll_encode(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut Encoder,
    ) -> Poll<Option<Written>> {
        self.project()
            .stream
            .poll_next(cx)
            .map(|frame| frame.map(|frame| write(&frame, out)))
    }
}

/// Encodes one frame, or, when it cannot be sent as it is (its payload does not serialize, its
/// metadata could forge SSE fields), the `INTERNAL_SERVER_ERROR` frame that ends the stream.
fn write<T: Serialize, R: Serialize + 'static>(frame: &Frame<T, R>, out: &mut Encoder) -> Written {
    let (encoded, written) = match frame {
        Frame::Event(event) => (out.message(&event.meta, &event.data), Written::Message),
        Frame::Done(value) => (out.done(value), Written::Done),
        Frame::Error(error) => (out.error(error), Written::Error),
    };
    if let Err(error) = encoded {
        tracing::error!(%error, "event does not serialize; ending the stream");
        out.error(&ORPCError::internal())
            .expect("the error object always serializes");
        return Written::Error;
    }
    written
}

fn validation_failed(frame: &str, issues: &[Issue]) -> ORPCError {
    for issue in issues {
        tracing::warn!(frame, %issue, "event iterator validation failed");
    }
    ORPCError::new("EVENT_ITERATOR_VALIDATION_FAILED")
        .with_message("Event iterator validation failed")
}
