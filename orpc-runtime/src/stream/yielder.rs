//! The hand-off between a handler's `yield_!` and the stream that carries its events.
//!
//! `#[procedure]` gives each streaming procedure its own thread-local [`Slot`]. A `yield_!` parks
//! its event in the slot and suspends the body once; the [`EventIterator`](super::EventIterator)
//! that was polling the body finds the event in the slot and returns it as its next item. Both
//! sides run inside one synchronous `poll_next` call on one thread, so a thread-local is the
//! shared place without any locking, reference counting or `unsafe`, and the event moves by value
//! with no heap allocation.
//!
//! Guarantees:
//! - The slot is empty whenever `poll_next` returns: the iterator always takes what a poll put
//!   there. Recursion (a body polling another stream of its own procedure) therefore nests
//!   cleanly.
//! - If two yields race within one poll (for example two branches of a `join!`), the second finds
//!   the slot full, wakes its task and waits its turn: no event is overwritten or lost.
//! - A body polled outside its iterator, on another task, would park events where no iterator
//!   looks. The macro makes that unreachable by refusing `yield_!` inside closures and nested
//!   `async` blocks.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::LocalKey;

use super::event::{Event, EventMeta};

/// The per-procedure, per-thread place where a yielded event waits for its iterator.
pub type Slot<T> = LocalKey<SlotCell<T>>;

/// What a slot holds. The value travels alone, so that an event without metadata moves only its
/// own bytes; metadata, when there is some, waits beside it.
pub struct SlotCell<T> {
    /// The value, and whether `meta` holds its metadata.
    value: Cell<Option<(T, bool)>>,
    meta: Cell<Option<EventMeta>>,
}

impl<T> SlotCell<T> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        SlotCell {
            value: Cell::new(None),
            meta: Cell::new(None),
        }
    }

    /// Takes the parked event, if any.
    #[inline]
    pub(crate) fn take(&self) -> Option<Event<T>> {
        let (data, has_meta) = self.value.take()?;
        let meta = if has_meta {
            self.meta.take().unwrap_or_default()
        } else {
            EventMeta::new()
        };
        Some(Event { data, meta })
    }

    /// Parks a value, unless one is parked already: then hands it back.
    #[inline]
    fn park(&self, value: T, meta: &mut Option<EventMeta>) -> Option<T> {
        let has_meta = meta.is_some();
        match self.value.replace(Some((value, has_meta))) {
            None => {
                if has_meta {
                    self.meta.set(meta.take());
                }
                None
            }
            Some(earlier) => self.value.replace(Some(earlier)).map(|(value, _)| value),
        }
    }
}

impl<T> Default for SlotCell<T> {
    fn default() -> Self {
        SlotCell::new()
    }
}

/// The handle a `#[procedure]` body yields through. The macro creates it; handlers never name it.
pub struct Yielder<T: 'static> {
    slot: &'static Slot<T>,
}

impl<T: 'static> Clone for Yielder<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: 'static> Copy for Yielder<T> {}

impl<T: 'static> Yielder<T> {
    #[doc(hidden)]
    pub const fn new(slot: &'static Slot<T>) -> Self {
        Yielder { slot }
    }

    /// Sends `event` and suspends the body until the iterator has taken it.
    pub fn send(self, event: Event<T>) -> Yield<T> {
        let meta = (!event.meta.is_empty()).then_some(event.meta);
        Yield {
            slot: self.slot,
            value: Some(event.data),
            meta,
        }
    }

    /// Sends a value without metadata. Taking `T` itself, not a conversion, makes a wrong type a
    /// plain "mismatched types" error at the `yield_!` site.
    pub fn value(self, value: T) -> Yield<T> {
        Yield {
            slot: self.slot,
            value: Some(value),
            meta: None,
        }
    }

    /// Sends a value with metadata.
    pub fn value_with_meta(self, value: T, meta: EventMeta) -> Yield<T> {
        self.send(Event::with_meta(value, meta))
    }
}

/// The future of one `yield_!`: ready once its event has been handed over.
#[must_use = "a yield does nothing unless awaited"]
pub struct Yield<T: 'static> {
    slot: &'static Slot<T>,
    value: Option<T>,
    meta: Option<EventMeta>,
}

// The event is moved, never pinned in place.
impl<T> Unpin for Yield<T> {}

impl<T> Future for Yield<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let Some(value) = this.value.take() else {
            // Parked on an earlier poll, and every poll_next empties the slot before returning.
            return Poll::Ready(());
        };
        let slot = this.slot;
        if let Some(value) = slot.with(|cell| cell.park(value, &mut this.meta)) {
            // Another yield got there first in this poll; try again once it has been taken.
            this.value = Some(value);
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
