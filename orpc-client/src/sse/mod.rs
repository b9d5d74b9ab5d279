//! The SSE decoding: `text/event-stream` bytes back to events, by the WHATWG parsing rules.
//!
//! [`Decoder`] turns chunks of a response body into [`RawEvent`]s, whose `data` is still text;
//! the event stream of this crate reads that text as oRPC's JSON envelope.

mod decoder;

pub use decoder::{Decoder, IncompleteEvent, RawEvent};
