//! What an event stream yields: typed events with their SSE metadata, then the return value.
//!
//! An oRPC event iterator is a sequence of events that ends with a return value (`event: done`)
//! or an error (`event: error`). [`Frame`] is one item of that sequence as this crate's
//! [`EventStream`](crate::EventStream) yields it; errors come as `Err` items instead.

use std::time::Duration;

use crate::sse::RawEvent;

/// The SSE metadata of one event, as the server sent it.
///
/// ```
/// use orpc_client::EventMeta;
///
/// let meta = EventMeta::default();
/// assert!(meta.id.is_none() && meta.retry.is_none() && meta.comments.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventMeta {
    /// The event's `id` field. After a reconnect the stream resumes after the last id seen.
    pub id: Option<String>,
    /// The event's `retry` field: how long the server asks clients to wait before reconnecting.
    pub retry: Option<Duration>,
    /// The comment lines sent with the event.
    pub comments: Vec<String>,
}

impl EventMeta {
    pub(crate) fn from_raw(raw: &mut RawEvent) -> Self {
        EventMeta {
            id: raw.id.take(),
            retry: raw.retry,
            comments: std::mem::take(&mut raw.comments),
        }
    }
}

/// An event: a value the procedure yielded, with its metadata.
///
/// ```
/// use orpc_client::{Event, EventMeta};
///
/// let event = Event { data: 1, meta: EventMeta { id: Some("1".into()), ..EventMeta::default() } };
/// assert_eq!(event.id(), Some("1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<T> {
    /// The yielded value.
    pub data: T,
    /// The SSE metadata.
    pub meta: EventMeta,
}

impl<T> Event<T> {
    /// The event's id, if it had one.
    pub fn id(&self) -> Option<&str> {
        self.meta.id.as_deref()
    }
}

/// One item of an event stream: an event, or the return value that ends the stream.
///
/// ```
/// use orpc_client::{Event, EventMeta, Frame};
///
/// let frames: Vec<Frame<u32, String>> = vec![
///     Frame::Event(Event { data: 1, meta: EventMeta::default() }),
///     Frame::Done("done!".to_owned()),
/// ];
/// assert_eq!(frames[0].as_event().map(|e| e.data), Some(1));
/// assert_eq!(frames[1].as_done().map(String::as_str), Some("done!"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame<T, R> {
    /// A yielded event (`event: message`).
    Event(Event<T>),
    /// The return value (`event: done`). It is the last item.
    Done(R),
}

impl<T, R> Frame<T, R> {
    /// The event, unless this is the return value.
    pub fn as_event(&self) -> Option<&Event<T>> {
        match self {
            Frame::Event(event) => Some(event),
            Frame::Done(_) => None,
        }
    }

    /// The return value, if this is it.
    pub fn as_done(&self) -> Option<&R> {
        match self {
            Frame::Done(value) => Some(value),
            Frame::Event(_) => None,
        }
    }
}
