//! What an event stream yields: typed events with their SSE metadata, then the return value.
//!
//! An oRPC event iterator is a sequence of events that ends with a return value (`event: done`)
//! or an error (`event: error`). The types are `orpc-protocol`'s, the ones the server encodes.
//! This crate's [`EventStream`](crate::EventStream) yields errors as `Err` items, so its
//! [`Frame`] has no error variant to match: its error type is
//! [`Infallible`](std::convert::Infallible).

use std::convert::Infallible;

pub use orpc_protocol::{Event, EventId, EventMeta};

/// One item of an event stream: an event, or the return value that ends the stream.
///
/// Errors come as `Err` items of the stream instead, so a `match` has two arms:
///
/// ```
/// use orpc_client::{Event, Frame};
///
/// let frames: Vec<Frame<u32, String>> = vec![Frame::Event(Event::new(1)), Frame::Done("done!".into())];
/// for frame in frames {
///     match frame {
///         Frame::Event(event) => assert_eq!(event.data, 1),
///         Frame::Done(value) => assert_eq!(value, "done!"),
///     }
/// }
/// ```
pub type Frame<T, R> = orpc_protocol::Frame<T, R, Infallible>;
