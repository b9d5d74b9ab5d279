//! The settings every backend shares: retention, the subscriber buffer and the gap policy.

use crate::{GapPolicy, Retention};

/// What a [`PubSub`](crate::PubSub) keeps and how its subscribers behave.
///
/// ```
/// use orpc_pubsub::{GapPolicy, Retention, Settings};
///
/// let settings = Settings::default()
///     .retention(Retention::new(500))
///     .buffer(256)
///     .on_gap(GapPolicy::Marker);
/// assert_eq!(settings.buffer_len(), 256);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    retention: Retention,
    buffer: Buffer,
    on_gap: GapPolicy,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Buffer(usize);

impl Default for Buffer {
    fn default() -> Self {
        Buffer(Settings::DEFAULT_BUFFER)
    }
}

impl Settings {
    /// The default buffer: how many messages a subscriber may fall behind the live feed.
    pub const DEFAULT_BUFFER: usize = 1024;

    /// How much history each channel keeps.
    pub fn retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// How many live messages a subscriber may fall behind (at least 1) before it is ended with
    /// [`Error::Lagged`](crate::Error::Lagged). The buffer is one ring per channel shared by all
    /// of its local subscribers, so its memory does not grow with the number of subscribers.
    pub fn buffer(mut self, messages: usize) -> Self {
        self.buffer = Buffer(messages.max(1));
        self
    }

    /// What a subscriber does when its history is incomplete.
    pub fn on_gap(mut self, policy: GapPolicy) -> Self {
        self.on_gap = policy;
        self
    }

    /// The retention.
    pub fn retention_policy(&self) -> Retention {
        self.retention
    }

    /// The buffer length.
    pub fn buffer_len(&self) -> usize {
        self.buffer.0
    }

    /// The gap policy.
    pub fn gap_policy(&self) -> GapPolicy {
        self.on_gap
    }
}
