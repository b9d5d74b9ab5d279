//! Gaps: when a subscriber cannot be given every message after its last id.
//!
//! A resuming subscriber names the last message it received. If messages after that one were
//! dropped by retention, or the backend has no record of that id at all, the subscriber cannot
//! get "exactly what it missed". It is then told, never left to believe it is up to date: the
//! [`GapPolicy`] decides whether that ends the subscription with [`Error::Gap`](crate::Error::Gap)
//! or marks the gap and carries on with what is retained.

use std::fmt;

use crate::MessageId;

/// What a subscriber does when its history is incomplete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GapPolicy {
    /// The subscription yields `Err(Error::Gap(..))` and ends. The subscriber must rebuild its
    /// state some other way (a snapshot) and subscribe again without a last id. The default:
    /// nothing carries on as if it were complete.
    #[default]
    Error,
    /// The subscription yields `Err(Error::Gap(..))` as a marker and goes on with the oldest
    /// retained message after it, then live messages. The only `Err` that does not end a
    /// subscription.
    Marker,
}

/// Why the messages after a subscriber's last id are incomplete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapKind {
    /// Retention (by count or by age) dropped messages the subscriber had not received.
    Expired,
    /// The channel's history does not contain the id: it was issued before the backend lost its
    /// data (a restarted in-memory backend, a flushed Redis) or never issued at all.
    Unknown,
}

/// A gap in what a subscriber received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    /// The last id the subscriber had received, if any.
    pub after: Option<MessageId>,
    /// Why messages are missing.
    pub kind: GapKind,
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            GapKind::Expired => "retention dropped messages",
            GapKind::Unknown => "the channel has no record of the last id",
        };
        match self.after {
            Some(after) => write!(f, "messages after {after} are incomplete: {why}"),
            None => write!(f, "messages are incomplete: {why}"),
        }
    }
}
