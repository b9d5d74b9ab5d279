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

use super::event::Event;

/// The per-procedure, per-thread place where a yielded event waits for its iterator.
pub type Slot<T> = LocalKey<Cell<Option<Event<T>>>>;

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
        Yield {
            slot: self.slot,
            event: Some(event),
        }
    }

    /// Sends a value without metadata. Taking `T` itself, not a conversion, makes a wrong type a
    /// plain "mismatched types" error at the `yield_!` site.
    pub fn value(self, value: T) -> Yield<T> {
        self.send(Event::new(value))
    }
}

/// The future of one `yield_!`: ready once its event has been handed over.
#[must_use = "a yield does nothing unless awaited"]
pub struct Yield<T: 'static> {
    slot: &'static Slot<T>,
    event: Option<Event<T>>,
}

// The event is moved, never pinned in place.
impl<T> Unpin for Yield<T> {}

impl<T> Future for Yield<T> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(event) = self.event.take() else {
            // Parked on an earlier poll, and every poll_next empties the slot before returning.
            return Poll::Ready(());
        };
        // The common case, an empty slot, costs one swap.
        let parked = match self.slot.replace(Some(event)) {
            None => None,
            Some(earlier) => self.slot.replace(Some(earlier)),
        };
        if parked.is_some() {
            // Another yield got there first in this poll; try again once it has been taken.
            self.event = parked;
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl<T: 'static> Yielder<T> {
    /// Sends a value with metadata.
    pub fn value_with_meta(self, value: T, meta: super::EventMeta) -> Yield<T> {
        self.send(Event::with_meta(value, meta))
    }
}
