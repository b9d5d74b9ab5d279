//! How much of each channel's history a backend keeps for subscribers that resume.

use std::time::Duration;

/// Retention of published messages, per channel: at most `max_len` messages, and, when `max_age`
/// is set, none older than it.
///
/// The count is always bounded, so an in-memory channel's memory is too. Age is measured by the
/// backend's clock (Redis's own `TIME` for Redis) and enforced whenever a channel is published to
/// or replayed, so an expired message is never replayed even on an idle channel.
///
/// ```
/// use std::time::Duration;
/// use orpc_pubsub::Retention;
///
/// let retention = Retention::new(10_000).max_age(Duration::from_secs(3600));
/// assert_eq!(retention.max_len(), 10_000);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    max_len: usize,
    max_age: Option<Duration>,
}

impl Retention {
    /// The default count: enough for a client that was away for a while at one event a second.
    pub const DEFAULT_MAX_LEN: usize = 1000;

    /// Keeps the last `max_len` messages of each channel (at least 1).
    pub fn new(max_len: usize) -> Self {
        Retention {
            max_len: max_len.max(1),
            max_age: None,
        }
    }

    /// Also drops messages older than `age`.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// The most messages kept per channel.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The oldest a kept message may be, if limited.
    pub fn age(&self) -> Option<Duration> {
        self.max_age
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention::new(Self::DEFAULT_MAX_LEN)
    }
}
