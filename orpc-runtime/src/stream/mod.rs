//! The stream of events: what a `yield_!` produces and how it reaches the transport.
//!
//! Read in this order: `yielder.rs` (the hand-off from `yield_!`), `event_iterator.rs` (the
//! stream and how it ends), `cleanup.rs` (drop guards). An event, its metadata and the frame
//! that carries it are `orpc-protocol`'s types, re-exported at the crate's root. The yielder is
//! plumbing for the code `#[procedure]` generates, reached through `__private`.

pub(crate) mod cleanup;
pub(crate) mod event_iterator;
pub(crate) mod yielder;
