//! One item of an event iterator: an event, the value it returns, or the error that ends it.
//!
//! On the wire these are the three SSE event types oRPC uses: `message`, `done` and `error`. A
//! `done` or `error` frame is always the last one of its stream.
//!
//! The error type is a parameter so that each end can say which errors come as frames. A server's
//! stream carries its error as a frame (`Frame<T, R>`, with [`ORPCError`]). A client that reports
//! errors as `Err` items uses [`Infallible`](std::convert::Infallible) there: the `Error` variant
//! then cannot exist, and a `match` needs no arm for it.

use crate::{Event, ORPCError};

/// One item of an event iterator.
///
/// ```
/// use orpc_protocol::{Event, Frame, ORPCError};
///
/// let frames: Vec<Frame<u32, String>> = vec![
///     Frame::Event(Event::new(1)),
///     Frame::Done("done!".to_owned()),
/// ];
/// assert_eq!(frames[0].as_event().map(|e| e.data), Some(1));
/// assert_eq!(frames[1].as_done().map(String::as_str), Some("done!"));
/// assert!(frames[1].is_last() && !frames[0].is_last());
///
/// // An end that cannot produce error frames names `Infallible`, and skips that arm.
/// let frame: Frame<u32, String, std::convert::Infallible> = Frame::Done("ok".into());
/// match frame {
///     Frame::Event(event) => println!("event {}", event.data),
///     Frame::Done(value) => println!("returned {value}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<T, R, E = ORPCError> {
    /// A yielded event, sent as `event: message`.
    Event(Event<T>),
    /// The return value, sent as `event: done`. It is the last frame.
    Done(R),
    /// The error that ended the stream, sent as `event: error`. It is the last frame.
    Error(E),
}

impl<T, R, E> Frame<T, R, E> {
    /// The event, unless this frame ends the stream.
    pub fn as_event(&self) -> Option<&Event<T>> {
        match self {
            Frame::Event(event) => Some(event),
            _ => None,
        }
    }

    /// The return value, if this is the `done` frame.
    pub fn as_done(&self) -> Option<&R> {
        match self {
            Frame::Done(value) => Some(value),
            _ => None,
        }
    }

    /// The error, if this is the `error` frame.
    pub fn as_error(&self) -> Option<&E> {
        match self {
            Frame::Error(error) => Some(error),
            _ => None,
        }
    }

    /// Whether this frame ends the stream (`done` or `error`).
    pub fn is_last(&self) -> bool {
        !matches!(self, Frame::Event(_))
    }
}
