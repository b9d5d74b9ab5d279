//! The stream of events: what a `yield_!` produces and how it reaches the transport.
//!
//! Read in this order: [`yielder`] (the hand-off from `yield_!`), [`event_iterator`] (the stream
//! and how it ends), [`event`] (an event and its metadata), [`cleanup`] (drop guards).

pub mod cleanup;
pub mod event;
pub mod event_iterator;
pub mod yielder;

pub use cleanup::{finally, finally_async, wait_for_cleanups, AsyncCleanupGuard, CleanupGuard};
pub use event::{Event, EventId, EventMeta, InvalidMeta, LastEventId};
pub use event_iterator::{EventIterator, Frame};
pub use yielder::{SlotCell, SlotKey, Yield, YieldWithMeta, Yielder};
