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
//!
//! The frame is written into a [`Sink`]: SSE bytes for an HTTP response, or one peer message for
//! oRPC's WebSocket transport (`ws/`). The checks above are the same for both.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use schemars::JsonSchema;
use serde::Serialize;

use orpc_protocol::peer;

use crate::schema::{holds_wide_integers, Issue, SchemaCheck};
use crate::sse::{EncodeError, Encoder};
use crate::{EventMeta, Frame, ORPCError};

/// Where a frame is written: SSE bytes, or a peer message for the call `id`.
pub(crate) enum Sink<'a> {
    Sse(&'a mut Encoder),
    Peer(&'a mut peer::Encoder, &'a peer::CallId),
}

impl Sink<'_> {
    fn message<T: Serialize>(&mut self, meta: &EventMeta, data: &T) -> Result<(), EncodeError> {
        match self {
            Sink::Sse(out) => out.message(meta, data),
            Sink::Peer(out, id) => out.message(id, meta, data),
        }
    }

    fn done<R: Serialize + 'static>(&mut self, value: &R) -> Result<(), EncodeError> {
        match self {
            Sink::Sse(out) => out.done(value),
            Sink::Peer(out, id) => out.done(id, value),
        }
    }

    fn set_safe_integers(&mut self, on: bool) {
        match self {
            Sink::Sse(out) => out.set_safe_integers(on),
            Sink::Peer(out, _) => out.set_safe_integers(on),
        }
    }

    fn error(&mut self, error: &ORPCError) -> Result<(), EncodeError> {
        match self {
            Sink::Sse(out) => out.error(error),
            Sink::Peer(out, id) => out.error(id, error),
        }
    }
}

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
        out: Sink<'_>,
    ) -> Poll<Option<Written>>;
}

/// The checks of an event iterator's events and return value, built once per procedure.
pub(crate) struct EventChecks<T, R> {
    /// Their schemas; `None` when the events go unchecked (`validate = false`).
    schemas: Option<(SchemaCheck<T>, SchemaCheck<R>)>,
    /// Whether an event, or the return value, can hold an integer a JavaScript client would
    /// round; only then is the encoded payload scanned for one.
    wide_event: bool,
    wide_done: bool,
}

impl<T: JsonSchema, R: JsonSchema> EventChecks<T, R> {
    /// The checks of a procedure, and the same without the schema checks, for calls that turn
    /// event validation off.
    pub(crate) fn new() -> (Arc<Self>, Arc<Self>) {
        let (event, done) = (SchemaCheck::<T>::new(false), SchemaCheck::<R>::new(false));
        let wide_event = holds_wide_integers(&event.schema);
        let wide_done = holds_wide_integers(&done.schema);
        let unvalidated = EventChecks {
            schemas: None,
            wide_event,
            wide_done,
        };
        let validated = EventChecks {
            schemas: Some((event, done)),
            wide_event,
            wide_done,
        };
        (Arc::new(validated), Arc::new(unvalidated))
    }
}

/// Erases a procedure's stream of frames.
pub(crate) fn erase<S, T, R>(stream: S, checks: Arc<EventChecks<T, R>>) -> Pin<Box<dyn FrameSource>>
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
        checks: Arc<EventChecks<T, R>>,
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
        mut out: Sink<'_>,
    ) -> Poll<Option<Written>> {
        let this = self.project();
        let frame = match this.stream.poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Ready(Some(frame)) => frame,
        };
        let checks = &**this.checks;
        if let Some((event_check, done_check)) = &checks.schemas {
            let checked = match &frame {
                Frame::Event(event) => event_check.check(&event.data).map_err(|i| (i, "message")),
                Frame::Done(value) => done_check.check(value).map_err(|i| (i, "done")),
                Frame::Error(_) => Ok(()),
            };
            if let Err((issues, frame)) = checked {
                out.error(&validation_failed(frame, &issues))
                    .expect("the error object always serializes");
                return Poll::Ready(Some(Written::Invalid));
            }
        }
        out.set_safe_integers(match frame {
            Frame::Event(_) => checks.wide_event,
            Frame::Done(_) => checks.wide_done,
            Frame::Error(_) => false,
        });
        let written = write(&frame, &mut out);
        out.set_safe_integers(false);
        Poll::Ready(Some(written))
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
        mut out: Sink<'_>,
    ) -> Poll<Option<Written>> {
        self.project()
            .stream
            .poll_next(cx)
            .map(|frame| frame.map(|frame| write(&frame, &mut out)))
    }
}

/// Encodes one frame, or, when it cannot be sent as it is (its payload does not serialize, its
/// metadata could forge SSE fields, it holds an integer a JavaScript client would round), the
/// `INTERNAL_SERVER_ERROR` frame that ends the stream.
fn write<T: Serialize, R: Serialize + 'static>(frame: &Frame<T, R>, out: &mut Sink<'_>) -> Written {
    let (encoded, written) = match frame {
        Frame::Event(event) => (out.message(&event.meta, &event.data), Written::Message),
        Frame::Done(value) => (out.done(value), Written::Done),
        Frame::Error(error) => (out.error(error), Written::Error),
    };
    match encoded {
        Ok(()) => written,
        Err(EncodeError::UnsafeInteger(found)) => {
            tracing::error!(error = %found, "event holds an unsafe integer; ending the stream");
            out.error(&unsafe_integer(&found))
                .expect("the error object always serializes");
            Written::Error
        }
        Err(error) => {
            tracing::error!(%error, "event does not serialize; ending the stream");
            out.error(&ORPCError::internal())
                .expect("the error object always serializes");
            Written::Error
        }
    }
}

/// The error a client gets in place of a payload that holds an integer beyond 2^53 − 1: the
/// server's mistake, said plainly, rather than a number the client silently rounds.
pub(crate) fn unsafe_integer(found: &orpc_protocol::UnsafeInteger) -> ORPCError {
    ORPCError::internal().with_message(format!("Output not sent: {found}"))
}

fn validation_failed(frame: &str, issues: &[Issue]) -> ORPCError {
    for issue in issues {
        tracing::warn!(frame, %issue, "event iterator validation failed");
    }
    ORPCError::new("EVENT_ITERATOR_VALIDATION_FAILED")
        .with_message("Event iterator validation failed")
}
