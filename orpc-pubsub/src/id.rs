//! A message's id: assigned by the publisher, ordered within its channel, text on the wire.
//!
//! Two forms exist, one per kind of backend, and a channel only ever holds one of them:
//! - a **sequence number** (`"42"`), which the in-memory backend counts up from 1 in each
//!   channel, with no holes;
//! - a **Redis stream id** (`"1718000000000-0"`, milliseconds and a sequence), sent as Redis
//!   wrote it.
//!
//! Ids compare by their numbers, never as text (`"10" > "9"`). Parsing is strict: only the
//! canonical digits a backend produces are accepted, so that a `Last-Event-ID` a client made up
//! is refused rather than silently read as some other position.

use std::fmt;

/// The id of one published message.
///
/// ```
/// use orpc_pubsub::MessageId;
///
/// let a = MessageId::parse_sequence("9").unwrap();
/// let b = MessageId::parse_sequence("10").unwrap();
/// assert!(a < b);
/// assert_eq!(b.to_string(), "10");
///
/// let r = MessageId::parse_stream("1718000000000-3").unwrap();
/// assert_eq!(r, MessageId::stream(1_718_000_000_000, 3));
/// assert!(MessageId::parse_sequence("1-2").is_none());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(Repr);

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Repr {
    Sequence(u64),
    Stream { ms: u64, seq: u64 },
}

impl MessageId {
    /// A sequence number, the in-memory backend's form.
    pub const fn sequence(n: u64) -> Self {
        MessageId(Repr::Sequence(n))
    }

    /// A Redis stream id: milliseconds, then a sequence within that millisecond.
    pub const fn stream(ms: u64, seq: u64) -> Self {
        MessageId(Repr::Stream { ms, seq })
    }

    /// The sequence number, for an id in that form.
    pub const fn as_sequence(&self) -> Option<u64> {
        match self.0 {
            Repr::Sequence(n) => Some(n),
            Repr::Stream { .. } => None,
        }
    }

    /// The `(milliseconds, sequence)` pair, for an id in the Redis stream form.
    pub const fn as_stream(&self) -> Option<(u64, u64)> {
        match self.0 {
            Repr::Stream { ms, seq } => Some((ms, seq)),
            Repr::Sequence(_) => None,
        }
    }

    /// Parses decimal digits, as the in-memory backend writes them.
    pub fn parse_sequence(text: &str) -> Option<Self> {
        digits(text).map(Self::sequence)
    }

    /// Parses `<ms>-<seq>`, as Redis writes stream ids.
    pub fn parse_stream(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self::stream(digits(ms)?, digits(seq)?))
    }

    /// The smallest id of the same form greater than this one, `None` past the last one.
    // Only the Redis backend asks for an id's successor (as the start of an inclusive range).
    #[cfg(feature = "redis")]
    pub(crate) fn successor(&self) -> Option<Self> {
        match self.0 {
            Repr::Sequence(n) => n.checked_add(1).map(Self::sequence),
            Repr::Stream { ms, seq } => match seq.checked_add(1) {
                Some(seq) => Some(Self::stream(ms, seq)),
                None => ms.checked_add(1).map(|ms| Self::stream(ms, 0)),
            },
        }
    }
}

/// ASCII digits only: `u64::from_str` would also take a leading `+`.
fn digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Repr::Sequence(n) => write!(f, "{n}"),
            Repr::Stream { ms, seq } => write!(f, "{ms}-{seq}"),
        }
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MessageId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_order_by_number_not_text() {
        let nine = MessageId::parse_sequence("9").unwrap();
        assert!(nine < MessageId::parse_sequence("10").unwrap());
        assert!(MessageId::stream(5, 9) < MessageId::stream(5, 10));
        assert!(MessageId::stream(5, u64::MAX) < MessageId::stream(6, 0));
    }

    #[test]
    fn only_canonical_text_parses() {
        for bad in [
            "",
            "+1",
            "-1",
            " 1",
            "1 ",
            "a",
            "1.0",
            "18446744073709551616",
        ] {
            assert!(MessageId::parse_sequence(bad).is_none(), "{bad:?}");
        }
        for bad in ["1", "1-", "-1", "1-2-3", "1-+2", "a-1"] {
            assert!(MessageId::parse_stream(bad).is_none(), "{bad:?}");
        }
        let id = MessageId::parse_stream("18446744073709551615-0").unwrap();
        assert_eq!(id.to_string(), "18446744073709551615-0");
    }

    #[test]
    #[cfg(feature = "redis")]
    fn successors_carry_and_stop_at_the_end() {
        assert_eq!(
            MessageId::stream(1, u64::MAX).successor(),
            Some(MessageId::stream(2, 0))
        );
        assert_eq!(MessageId::stream(u64::MAX, u64::MAX).successor(), None);
        assert_eq!(MessageId::sequence(u64::MAX).successor(), None);
        assert_eq!(
            MessageId::sequence(1).successor(),
            Some(MessageId::sequence(2))
        );
    }
}
