//! The front door: publish to a channel, subscribe to one.
//!
//! [`PubSub`] is a cheap handle (an `Arc`) to one backend; clone it into every handler. It
//! checks channel names and last ids, then leaves storage to the [`Backend`] and the resume
//! semantics to [`Subscription`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::backend::Backend;
use crate::{Error, GapPolicy, InMemory, MessageId, Settings, Subscription};
#[cfg(feature = "redis")]
use crate::{Redis, RedisConfig};

/// Publish/subscribe channels whose subscribers can resume after their last message.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), orpc_pubsub::Error> {
/// use futures_util::StreamExt;
/// use orpc_pubsub::{PubSub, Settings};
///
/// let pubsub = PubSub::in_memory(Settings::default());
/// let mut live = pubsub.subscribe("scores", None).await?;
/// let id = pubsub.publish("scores", "1-0").await?;
///
/// let message = live.next().await.unwrap()?;
/// assert_eq!(message.id(), id);
/// # Ok(())
/// # }
/// ```
///
/// Several server instances share channels through Redis ([`PubSub::redis`]).
#[derive(Clone)]
pub struct PubSub {
    backend: Arc<dyn Backend>,
    on_gap: GapPolicy,
}

impl PubSub {
    /// The longest channel name, in bytes.
    pub const MAX_CHANNEL_LEN: usize = 256;

    /// Channels on `backend`; `on_gap` applies to every subscription.
    pub fn new(backend: impl Backend, on_gap: GapPolicy) -> Self {
        PubSub {
            backend: Arc::new(backend),
            on_gap,
        }
    }

    /// Channels in this process's memory: no set-up, one instance only.
    pub fn in_memory(settings: Settings) -> Self {
        Self::new(InMemory::new(settings), settings.gap_policy())
    }

    /// Channels on Redis Streams at `url`, shared by every instance pointed at it. Fails when
    /// Redis cannot be reached now.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), orpc_pubsub::Error> {
    /// use orpc_pubsub::{PubSub, Settings};
    ///
    /// let pubsub = PubSub::redis("redis://127.0.0.1:6379", Settings::default()).await?;
    /// pubsub.publish("scores", "1-0").await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub async fn redis(url: &str, settings: Settings) -> Result<Self, Error> {
        let redis = Redis::connect(url, settings, RedisConfig::default()).await?;
        Ok(Self::new(redis, settings.gap_policy()))
    }

    /// Publishes `payload` on `channel` and returns the id it was given.
    ///
    /// It never waits for subscribers: a slow one falls behind and is ended, it does not slow
    /// the publisher. `Err` means the message may not have been stored (see
    /// [`Backend::publish`]).
    pub async fn publish(
        &self,
        channel: &str,
        payload: impl Into<Bytes>,
    ) -> Result<MessageId, Error> {
        check_channel(channel)?;
        self.backend.publish(channel, payload.into()).await
    }

    /// Subscribes to `channel`. With `last_id` (a client's `Last-Event-ID`), first replays the
    /// retained messages after it; without, starts with the next message published.
    ///
    /// The live feed is joined before this returns: every message published after it is
    /// delivered. Fails when the channel name or the last id is invalid, or when the backend is
    /// unreachable.
    pub async fn subscribe(
        &self,
        channel: &str,
        last_id: Option<&str>,
    ) -> Result<Subscription, Error> {
        check_channel(channel)?;
        let after = match last_id {
            Some(text) => Some(
                self.backend
                    .parse_id(text)
                    .ok_or_else(|| Error::invalid_last_id(text))?,
            ),
            None => None,
        };
        let live = self.backend.join(channel).await?;
        Ok(Subscription::new(
            self.backend.clone(),
            channel,
            live,
            after,
            self.on_gap,
        ))
    }

    /// How many subscriptions to `channel` this process has.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.backend.subscribers(channel)
    }

    /// The gap policy of this handle's subscriptions.
    pub fn gap_policy(&self) -> GapPolicy {
        self.on_gap
    }
}

impl fmt::Debug for PubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("on_gap", &self.on_gap)
            .finish_non_exhaustive()
    }
}

fn check_channel(channel: &str) -> Result<(), Error> {
    if channel.is_empty() || channel.len() > PubSub::MAX_CHANNEL_LEN {
        return Err(Error::InvalidChannel);
    }
    Ok(())
}
