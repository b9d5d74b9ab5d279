//! The stream of events: what a `yield_!` produces and how it reaches the transport.
//!
//! Read in this order: [`yielder`] (the hand-off from `yield_!`), [`event_iterator`] (the stream
//! and how it ends), [`cleanup`] (drop guards). An event, its metadata and the frame that carries
//! it are `orpc-protocol`'s types, re-exported here.

pub mod cleanup;
pub mod event_iterator;
pub mod yielder;

pub use cleanup::{finally, finally_async, wait_for_cleanups, AsyncCleanupGuard, CleanupGuard};
pub use event_iterator::EventIterator;
pub use orpc_protocol::{Event, EventId, EventMeta, Frame, InvalidMeta, LastEventId};
pub use yielder::{SlotCell, SlotKey, Yield, YieldWithMeta, Yielder};
