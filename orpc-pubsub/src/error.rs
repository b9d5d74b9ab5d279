//! Everything that can go wrong when publishing or subscribing.

use std::fmt;
use std::sync::Arc;

use crate::{Gap, MessageId};

/// An error from [`PubSub`](crate::PubSub) or from a [`Subscription`](crate::Subscription).
///
/// In a subscription every `Err` is the last item, except [`Error::Gap`] under
/// [`GapPolicy::Marker`](crate::GapPolicy::Marker).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The channel name is empty or longer than
    /// [`PubSub::MAX_CHANNEL_LEN`](crate::PubSub::MAX_CHANNEL_LEN) bytes.
    InvalidChannel,
    /// The last id is not one this backend could have issued. Holds at most the first 64 bytes.
    InvalidLastId(String),
    /// Messages after the subscriber's last id are missing (see [`Gap`]).
    Gap(Gap),
    /// The subscriber fell more than its buffer behind the live feed and was ended. Subscribing
    /// again after the last received id catches up from retention.
    Lagged {
        /// How many live messages it missed.
        skipped: u64,
    },
    /// The backend cannot be reached, or answered something unexpected.
    Unavailable(Arc<str>),
    /// The backend's configuration (such as a Redis URL) is unusable.
    Config(Arc<str>),
    /// A payload that is not in the channel's format: refused by
    /// [`PubSub::publish`](crate::PubSub::publish) (`id: None`), or found in the channel by a
    /// subscription, which it ends. Only a format that readers on other platforms share has one
    /// (the [oRPC-compatible](crate::RedisFormat::OrpcCompatible) Redis format); the entry's `id`
    /// lets a client resume after it.
    InvalidPayload {
        /// The entry that could not be read, for one found in the channel.
        id: Option<MessageId>,
        /// What is wrong with it.
        reason: Arc<str>,
    },
    /// A publish with [`Durability::Replicas`](crate::Durability::Replicas) reached the master,
    /// which stored the message as `id` and sent it to subscribers, but fewer replicas than
    /// required confirmed it in time: a failover may lose it. Publishing it again stores it
    /// twice.
    NotReplicated {
        /// The id the master gave the message.
        id: MessageId,
        /// How many replicas confirmed it.
        replicas: u32,
        /// How many were required.
        required: u32,
    },
}

impl Error {
    pub(crate) fn unavailable(reason: impl fmt::Display) -> Self {
        Error::Unavailable(reason.to_string().into())
    }

    // Only the oRPC-compatible Redis format has payloads it can refuse.
    #[cfg(feature = "redis")]
    pub(crate) fn invalid_payload(id: Option<MessageId>, reason: impl fmt::Display) -> Self {
        Error::InvalidPayload {
            id,
            reason: reason.to_string().into(),
        }
    }

    pub(crate) fn invalid_last_id(text: &str) -> Self {
        let mut end = text.len().min(64);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        Error::InvalidLastId(text[..end].to_owned())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidChannel => write!(
                f,
                "a channel name must be 1 to {} bytes",
                crate::PubSub::MAX_CHANNEL_LEN
            ),
            Error::InvalidLastId(id) => write!(f, "{id:?} is not an id this channel issues"),
            Error::Gap(gap) => gap.fmt(f),
            Error::Lagged { skipped } => write!(
                f,
                "the subscriber fell {skipped} messages behind and was ended; resume after its last id"
            ),
            Error::Unavailable(reason) => write!(f, "the pub/sub backend is unavailable: {reason}"),
            Error::Config(reason) => write!(f, "invalid pub/sub configuration: {reason}"),
            Error::InvalidPayload { id: Some(id), reason } => {
                write!(f, "the message {id} of the channel cannot be read: {reason}")
            }
            Error::InvalidPayload { id: None, reason } => {
                write!(f, "the payload is not in the channel's format: {reason}")
            }
            Error::NotReplicated {
                id,
                replicas,
                required,
            } => write!(
                f,
                "the message {id} is stored on the master, but only {replicas} of the {required} \
                 required replicas confirmed it in time; a failover may lose it"
            ),
        }
    }
}

impl std::error::Error for Error {}
