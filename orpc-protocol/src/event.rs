//! One event of an event iterator: its data and its SSE metadata.
//!
//! Metadata fields become SSE lines (`id:`, `retry:`, `: comment`). A CR, LF or NUL inside an id
//! or a comment would end the line early and let the rest forge new fields or events, so
//! [`EventMeta::check`] refuses them, and the [encoder](crate::sse::Encoder) runs that check before
//! it writes anything: a refused event is never sent. Ids that arrive from a client
//! ([`LastEventId`]) are bounded and stripped of control characters before a handler sees them.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use compact_str::CompactString;
use thin_vec::ThinVec;

/// An event's id, sent as the SSE `id:` field and echoed back as `Last-Event-ID` on reconnect.
///
/// Ids up to 24 bytes are stored inline, so numeric ids cost no allocation.
///
/// ```
/// use orpc_protocol::EventId;
///
/// assert_eq!(EventId::from(42u32).as_str(), "42");
/// assert_eq!(EventId::from("α-1").as_str(), "α-1");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct EventId(CompactString);

impl EventId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for EventId {
    fn from(s: &str) -> Self {
        EventId(CompactString::from(s))
    }
}

impl From<String> for EventId {
    fn from(s: String) -> Self {
        EventId(CompactString::from(s))
    }
}

impl From<&String> for EventId {
    fn from(s: &String) -> Self {
        EventId::from(s.as_str())
    }
}

impl From<Cow<'_, str>> for EventId {
    fn from(s: Cow<'_, str>) -> Self {
        EventId::from(s.as_ref())
    }
}

/// An id serializes as its text, as it appears on the wire.
impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        CompactString::deserialize(deserializer).map(EventId)
    }
}

macro_rules! event_id_from_integers {
    ($($int:ty),*) => {$(
        impl From<$int> for EventId {
            /// Formats with `itoa` on the stack, then stores inline: an integer id is written
            /// once per event, so this stays off the allocator and out of `fmt`.
            #[inline]
            fn from(n: $int) -> Self {
                EventId(CompactString::new(itoa::Buffer::new().format(n)))
            }
        }
    )*};
}
event_id_from_integers!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);

/// Why an event's metadata was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidMeta {
    /// The id contains CR, LF or NUL.
    Id,
    /// A comment contains CR or LF (or NUL).
    Comment,
}

impl fmt::Display for InvalidMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidMeta::Id => f.write_str("event id contains CR, LF or NUL"),
            InvalidMeta::Comment => f.write_str("event comment contains CR, LF or NUL"),
        }
    }
}

impl std::error::Error for InvalidMeta {}

/// The SSE metadata of one event: `id`, `retry` and comments.
///
/// ```
/// use std::time::Duration;
/// use orpc_protocol::EventMeta;
///
/// let meta = EventMeta::new().id(7u32).retry(Duration::from_secs(1)).comment("hi");
/// assert!(meta.check().is_ok());
/// assert!(EventMeta::new().id("bad\nid").check().is_err());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventMeta {
    /// The `id:` field.
    pub id: Option<EventId>,
    /// The `retry:` field: how long a client waits before reconnecting.
    pub retry: Option<Duration>,
    /// `: comment` lines sent before the event. A [`ThinVec`] is one pointer wide and needs no
    /// allocation when empty, which keeps the metadata of the common event (no comments) small.
    pub comments: ThinVec<Cow<'static, str>>,
}

impl EventMeta {
    /// Metadata with no fields set.
    pub const fn new() -> Self {
        EventMeta {
            id: None,
            retry: None,
            comments: ThinVec::new(),
        }
    }

    /// Sets the id.
    #[inline]
    pub fn id(mut self, id: impl Into<EventId>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the reconnection delay.
    #[inline]
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Adds one comment line.
    #[inline]
    pub fn comment(mut self, comment: impl Into<Cow<'static, str>>) -> Self {
        self.comments.push(comment.into());
        self
    }

    /// Adds several comment lines.
    pub fn comments<C: Into<Cow<'static, str>>>(
        mut self,
        comments: impl IntoIterator<Item = C>,
    ) -> Self {
        self.comments.extend(comments.into_iter().map(Into::into));
        self
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.retry.is_none() && self.comments.is_empty()
    }

    /// Refuses ids and comments that would break out of their SSE line.
    #[inline]
    pub fn check(&self) -> Result<(), InvalidMeta> {
        if self.id.is_none() && self.comments.is_empty() {
            return Ok(());
        }
        self.check_fields()
    }

    fn check_fields(&self) -> Result<(), InvalidMeta> {
        let breaks_line = |s: &str| s.bytes().any(|b| matches!(b, b'\r' | b'\n' | b'\0'));
        if self.id.as_ref().is_some_and(|id| breaks_line(id.as_str())) {
            return Err(InvalidMeta::Id);
        }
        if self.comments.iter().any(|c| breaks_line(c)) {
            return Err(InvalidMeta::Comment);
        }
        Ok(())
    }
}

/// An event: the value a handler yields, with its metadata.
///
/// ```
/// use orpc_protocol::{Event, EventMeta};
///
/// let event = Event::with_meta(1, EventMeta::new().id("1"));
/// assert_eq!(event.id(), Some("1"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<T> {
    /// The yielded value, sent as the event's `data`.
    pub data: T,
    /// The SSE metadata.
    pub meta: EventMeta,
}

impl<T> Event<T> {
    /// An event without metadata.
    pub const fn new(data: T) -> Self {
        Event {
            data,
            meta: EventMeta::new(),
        }
    }

    /// An event with metadata.
    pub const fn with_meta(data: T, meta: EventMeta) -> Self {
        Event { data, meta }
    }

    /// The event's id, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.meta.id.as_ref().map(EventId::as_str)
    }
}

/// The `Last-Event-ID` a reconnecting client sent: the id of the last event it received.
///
/// Declare `last_event_id: Option<LastEventId>` in a handler to receive it. A header that is not
/// valid text, is longer than [`LastEventId::MAX_LEN`] bytes or holds control characters is treated
/// as absent.
///
/// ```
/// use orpc_protocol::LastEventId;
///
/// let id = LastEventId::new("41").unwrap();
/// assert_eq!(id.parse::<u32>(), Some(41));
/// assert!(LastEventId::new("a\u{7}b").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LastEventId(EventId);

impl LastEventId {
    /// The longest id accepted from a client.
    pub const MAX_LEN: usize = 1024;

    /// Accepts an id sent by a client, or `None` when it is too long or holds control characters.
    pub fn new(id: &str) -> Option<Self> {
        let acceptable = id.len() <= Self::MAX_LEN && !id.chars().any(char::is_control);
        acceptable.then(|| LastEventId(EventId::from(id)))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The id parsed as a number (or any `FromStr` type), `None` when it does not parse.
    pub fn parse<N: std::str::FromStr>(&self) -> Option<N> {
        self.as_str().parse().ok()
    }
}

impl fmt::Display for LastEventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<LastEventId> for EventId {
    fn from(id: LastEventId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event carries its metadata by value, so its size is paid on every yield: an inline
    /// id, a retry and one pointer for the comments.
    #[test]
    fn metadata_stays_small() {
        assert!(std::mem::size_of::<EventMeta>() <= 48);
        let empty = EventMeta::new();
        assert!(empty.is_empty() && empty.comments.capacity() == 0);
    }

    #[test]
    fn every_line_breaking_character_is_refused() {
        for bad in ["a\rb", "a\nb", "a\r\nb", "a\0b"] {
            assert_eq!(
                EventMeta::new().id(bad).check(),
                Err(InvalidMeta::Id),
                "{bad:?}"
            );
            assert_eq!(
                EventMeta::new().comment(bad.to_owned()).check(),
                Err(InvalidMeta::Comment)
            );
        }
        assert!(EventMeta::new()
            .id("α-1")
            .comment("ünïcode")
            .check()
            .is_ok());
    }

    #[test]
    fn hostile_last_event_ids_are_absent() {
        assert!(LastEventId::new(&"9".repeat(LastEventId::MAX_LEN + 1)).is_none());
        assert!(LastEventId::new("1\r\n").is_none());
        assert_eq!(LastEventId::new("").map(|id| id.parse::<u32>()), Some(None));
    }
}
