//! The stream a `#[procedure(output = event_iterator(..))]` handler becomes.
//!
//! [`EventIterator`] polls the handler's body and turns what it does into [`Frame`]s:
//! each `yield_!` becomes a [`Frame::Event`], the body's return value a [`Frame::Done`], and an
//! error or a panic a single [`Frame::Error`]. After a `Done` or `Error` frame the stream is over.
//!
//! What happens at each end:
//! - The body finishes, returns early, or fails with `?`: its locals, cleanup guards included,
//!   are dropped before the final frame is handed out.
//! - The body panics: the panic is caught here, the body is dropped (running its guards) and an
//!   `INTERNAL_SERVER_ERROR` frame is sent. The thread and the other streams carry on.
//! - An event's metadata is refused (see [`EventMeta::check`](crate::EventMeta::check)): the event
//!   is discarded, the body dropped, and an `INTERNAL_SERVER_ERROR` frame is sent instead.
//! - The consumer drops the stream, for example because the client went away: the body is dropped
//!   where it was suspended, which runs its guards.
//!
//! Polling never allocates: the event moves from the body to the caller through the
//! procedure's [`SlotCell`].

use std::future::Future;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use pin_project_lite::pin_project;

use super::yielder::{SlotCell, SlotKey};
use crate::{Event, EventMeta, Frame, ORPCError};

pin_project! {
    /// The `Stream` of [`Frame`]s a streaming procedure returns.
    ///
    /// It is `Send` whenever the handler's body is. `S` names the procedure's slot, through
    /// which its `yield_!`s hand over their events: a type of the macro's own, which callers
    /// never need to name.
    pub struct EventIterator<T, R, F, S> {
        #[pin]
        body: Option<F>,
        _frames: PhantomData<fn() -> (T, R, S)>,
    }
}

impl<T, R, F, S> EventIterator<T, R, F, S>
where
    F: Future<Output = S::Output>,
    S: SlotKey<Event = T, Done = R>,
{
    /// Wraps a body that yields through the slot `S`. The macro calls this; handlers don't.
    #[doc(hidden)]
    pub fn new(body: F) -> Self {
        EventIterator {
            body: Some(body),
            _frames: PhantomData,
        }
    }
}

impl<T, R, F, S: SlotKey<Event = T>> EventIterator<T, R, F, S> {
    /// Drops the body, running its cleanup guards. A guard that panics is logged, never
    /// propagated, so that one broken cleanup cannot take the stream's consumer down with it.
    fn finish(self: Pin<&mut Self>) {
        let mut this = self.project();
        let dropped = catch_unwind(AssertUnwindSafe(|| this.body.set(None)));
        if dropped.is_err() {
            tracing::error!("a cleanup guard panicked while an event iterator ended");
        }
        // Leaves the slot as empty as it is after every poll, whatever the body did.
        drop(S::with(SlotCell::take));
    }
}

impl<T, R, F, S> Stream for EventIterator<T, R, F, S>
where
    F: Future<Output = S::Output>,
    S: SlotKey<Event = T, Done = R>,
{
    type Item = Frame<T, R>;

    #[inline]
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.as_mut().project();
        let Some(body) = this.body.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let frame = match catch_unwind(AssertUnwindSafe(|| body.poll(cx).map(S::finish))) {
            Ok(Poll::Pending) => match S::with(SlotCell::take) {
                None => return Poll::Pending,
                Some((data, None)) => {
                    let meta = EventMeta::new();
                    return Poll::Ready(Some(Frame::Event(Event { data, meta })));
                }
                Some((data, Some(meta))) => match meta.check() {
                    Ok(()) => return Poll::Ready(Some(Frame::Event(Event { data, meta }))),
                    Err(invalid) => {
                        tracing::error!(%invalid, "event refused; ending the stream");
                        Frame::Error(ORPCError::internal())
                    }
                },
            },
            Ok(Poll::Ready(Ok(value))) => Frame::Done(value),
            Ok(Poll::Ready(Err(error))) => Frame::Error(error),
            Err(panic) => {
                tracing::error!(
                    panic = panic_message(&*panic),
                    "event iterator handler panicked"
                );
                Frame::Error(ORPCError::internal())
            }
        };
        self.finish();
        Poll::Ready(Some(frame))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.body {
            Some(_) => (1, None),
            None => (0, Some(0)),
        }
    }
}

impl<T, R, F, S> FusedStream for EventIterator<T, R, F, S>
where
    F: Future<Output = S::Output>,
    S: SlotKey<Event = T, Done = R>,
{
    fn is_terminated(&self) -> bool {
        self.body.is_none()
    }
}

/// The text of a panic payload, for the log.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "<non-string panic payload>"
    }
}
