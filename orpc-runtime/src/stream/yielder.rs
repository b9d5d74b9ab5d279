//! The hand-off between a handler's `yield_!` and the stream that carries its events.
//!
//! `#[procedure]` gives each streaming procedure its own thread-local [`SlotCell`], named at the
//! type level by a [`SlotKey`]. A `yield_!` parks its event in the slot and suspends the body
//! once; the [`EventIterator`](crate::EventIterator) that was polling the body finds the event in
//! the slot and returns it as its next item. Both sides run inside one synchronous `poll_next`
//! call on one thread, so a thread-local is the shared place without any locking, reference
//! counting or `unsafe`, and the event moves by value with no heap allocation.
//!
//! The slot is a type, not a pointer kept in the iterator, so that the compiler sees which
//! thread-local each side touches: the access compiles to one thread-relative address instead of
//! a call through `LocalKey`'s accessor.
//!
//! Guarantees:
//! - The slot is empty whenever `poll_next` returns: the iterator always takes what a poll put
//!   there. Recursion (a body polling another stream of its own procedure) therefore nests
//!   cleanly, and a thread never ends with an event in its slot (which is why the slot needs no
//!   destructor).
//! - If two yields race within one poll (for example two branches of a `join!`), the second finds
//!   the slot full, wakes its task and waits its turn: no event is overwritten or lost.
//! - A body polled outside its iterator, on another task, would park events where no iterator
//!   looks. The macro makes that unreachable by refusing `yield_!` inside closures and nested
//!   `async` blocks.

use std::cell::Cell;
use std::future::Future;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::ORPCError;
use crate::{Event, EventMeta};

/// What `#[procedure]` tells an [`EventIterator`](crate::EventIterator) about one streaming
/// body: the thread-local slot its yields go through, and how the value it returns ends the
/// stream. The macro implements it on a type of its own for every streaming procedure; handlers
/// never name it.
pub trait SlotKey: 'static {
    /// The procedure's event type.
    type Event: 'static;
    /// What the body returns, as written in the handler's signature.
    type Output;
    /// The value of the final `done` event.
    type Done;

    /// Runs `f` with this thread's slot.
    fn with<R>(f: impl FnOnce(&SlotCell<Self::Event>) -> R) -> R;

    /// Turns the body's value into the stream's end: `done` or `error`.
    fn finish(output: Self::Output) -> Result<Self::Done, ORPCError>;
}

/// What a slot holds. The value travels alone, so that an event without metadata moves only its
/// own bytes; metadata, when there is some, waits beside it.
///
/// Neither cell is dropped with the thread: both are empty whenever no poll is running, so
/// `ManuallyDrop` only spares the thread-local its destructor registration and the state check
/// that comes with it on every access.
pub struct SlotCell<T> {
    /// The value, and whether `meta` holds its metadata.
    value: Cell<Option<ManuallyDrop<(T, bool)>>>,
    meta: Cell<Option<ManuallyDrop<EventMeta>>>,
}

impl<T> SlotCell<T> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        SlotCell {
            value: Cell::new(None),
            meta: Cell::new(None),
        }
    }

    /// Takes the parked value, and its metadata if it has some.
    #[inline]
    pub(crate) fn take(&self) -> Option<(T, Option<EventMeta>)> {
        let (data, has_meta) = ManuallyDrop::into_inner(self.value.take()?);
        let meta = if has_meta {
            Some(
                self.meta
                    .take()
                    .map(ManuallyDrop::into_inner)
                    .unwrap_or_default(),
            )
        } else {
            None
        };
        Some((data, meta))
    }

    /// Parks a value, unless one is parked already: then hands it back.
    #[inline]
    fn park(&self, value: T, meta: &mut Option<EventMeta>) -> Option<T> {
        let has_meta = meta.is_some();
        match self
            .value
            .replace(Some(ManuallyDrop::new((value, has_meta))))
        {
            None => {
                if has_meta {
                    self.meta.set(meta.take().map(ManuallyDrop::new));
                }
                None
            }
            Some(earlier) => self
                .value
                .replace(Some(earlier))
                .map(|parked| ManuallyDrop::into_inner(parked).0),
        }
    }
}

impl<T> Default for SlotCell<T> {
    fn default() -> Self {
        SlotCell::new()
    }
}

/// The handle a `#[procedure]` body yields through. The macro creates it; handlers never name it.
pub struct Yielder<S> {
    _slot: PhantomData<fn() -> S>,
}

impl<S> Clone for Yielder<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S> Copy for Yielder<S> {}

impl<S: SlotKey> Yielder<S> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        Yielder { _slot: PhantomData }
    }

    /// Sends `event` and suspends the body until the iterator has taken it.
    pub fn send(self, event: Event<S::Event>) -> YieldWithMeta<S> {
        let meta = (!event.meta.is_empty()).then_some(event.meta);
        YieldWithMeta {
            value: Some(event.data),
            meta,
            _slot: PhantomData,
        }
    }

    /// Sends a value without metadata. Taking the event type itself, not a conversion, makes a
    /// wrong type a plain "mismatched types" error at the `yield_!` site.
    #[inline]
    pub fn value(self, value: S::Event) -> Yield<S> {
        Yield {
            value: Some(value),
            _slot: PhantomData,
        }
    }

    /// Sends a value with metadata.
    pub fn value_with_meta(self, value: S::Event, meta: EventMeta) -> YieldWithMeta<S> {
        self.send(Event::with_meta(value, meta))
    }
}

/// The future of one `yield_!` without metadata: ready once its value has been handed over.
///
/// It is a type of its own, apart from [`YieldWithMeta`], so that a body's plain yields carry no
/// metadata to drop.
#[must_use = "a yield does nothing unless awaited"]
pub struct Yield<S: SlotKey> {
    value: Option<S::Event>,
    _slot: PhantomData<fn() -> S>,
}

/// The future of one `yield_!` with metadata: ready once its event has been handed over.
#[must_use = "a yield does nothing unless awaited"]
pub struct YieldWithMeta<S: SlotKey> {
    value: Option<S::Event>,
    meta: Option<EventMeta>,
    _slot: PhantomData<fn() -> S>,
}

// The event is moved, never pinned in place.
impl<S: SlotKey> Unpin for Yield<S> {}
impl<S: SlotKey> Unpin for YieldWithMeta<S> {}

impl<S: SlotKey> Future for Yield<S> {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        hand_over::<S>(&mut self.value, &mut None, cx)
    }
}

impl<S: SlotKey> Future for YieldWithMeta<S> {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        hand_over::<S>(&mut this.value, &mut this.meta, cx)
    }
}

/// One poll of a yield: parks the value (and its metadata) and suspends, or, on the poll after
/// that, lets the body go on.
#[inline(always)]
fn hand_over<S: SlotKey>(
    value: &mut Option<S::Event>,
    meta: &mut Option<EventMeta>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let Some(parked) = value.take() else {
        // Parked on an earlier poll, and every poll_next empties the slot before returning.
        return Poll::Ready(());
    };
    if let Some(refused) = S::with(|cell| cell.park(parked, meta)) {
        // Another yield got there first in this poll; try again once it has been taken.
        *value = Some(refused);
        cx.waker().wake_by_ref();
    }
    Poll::Pending
}
