//! The Redis Streams backend: channels shared by every instance pointed at one Redis.
//!
//! Each channel is one stream, at key `{key_prefix}{channel}`, whose entries hold the payload in
//! field `p`. Ids are Redis's own stream ids, sent to clients as Redis writes them
//! (`1718000000000-0`), so a client can resume on any instance.
//!
//! - **Publish**: one atomic script appends with `XADD` and applies retention (count and age,
//!   with `XDEL`: see `script.rs` for why not `MAXLEN`), on the shared, multiplexed,
//!   automatically reconnecting connection (`ConnectionManager`: one connection carries every
//!   command of the process concurrently, so no pool is needed).
//! - **Replay**: the same script-per-step approach reads `XRANGE` pages together with the
//!   stream's `max-deleted-entry-id`, which makes the gap check exact (see `script.rs`).
//! - **Live**: one reader per active channel per process, fanning out to local subscribers
//!   (see `reader.rs`).
//! - **Timeouts**: every command is bounded by [`RedisConfig::command_timeout`]; nothing waits
//!   on Redis forever.

mod reader;
mod script;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use self::script::{End, Scripts, Window};
use crate::backend::{Backend, LiveFeed, Page};
use crate::{Error, GapKind, MessageId, Retention, Settings};

/// Settings of the Redis backend itself.
///
/// ```
/// use std::time::Duration;
/// use orpc_pubsub::RedisConfig;
///
/// let config = RedisConfig {
///     key_prefix: "scores:".into(),
///     reconnect_grace: Duration::from_secs(5),
///     ..RedisConfig::default()
/// };
/// assert_eq!(config.command_timeout, Duration::from_secs(2));
/// ```
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// Prepended to each channel name to make its stream's key. Default `orpc:pubsub:`.
    pub key_prefix: String,
    /// How long one command may take. Default 2 s.
    pub command_timeout: Duration,
    /// How long a channel's reader keeps retrying a lost Redis, its subscribers waiting, before
    /// it ends them with [`Error::Unavailable`]. Default 10 s.
    pub reconnect_grace: Duration,
    /// How long one blocking read waits for new entries before it is sent again. Default 5 s.
    pub block: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: "orpc:pubsub:".into(),
            command_timeout: Duration::from_secs(2),
            reconnect_grace: Duration::from_secs(10),
            block: Duration::from_secs(5),
        }
    }
}

/// Channels on Redis Streams. See the [module docs](self).
///
/// ```no_run
/// # async fn run() -> Result<(), orpc_pubsub::Error> {
/// use orpc_pubsub::{PubSub, Redis, RedisConfig, Settings};
///
/// let settings = Settings::default();
/// let redis = Redis::connect("redis://127.0.0.1:6379", settings, RedisConfig::default()).await?;
/// let pubsub = PubSub::new(redis, settings.gap_policy());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    conn: ConnectionManager,
    scripts: Scripts,
    retention: Retention,
    buffer: usize,
    config: RedisConfig,
    /// Where readers run: the runtime the connection manager's own task runs on.
    runtime: tokio::runtime::Handle,
    readers: reader::Readers,
    serial: AtomicU64,
}

impl Redis {
    /// Connects to Redis at `url` (`redis://[:password@]host:port[/db]`). Fails when it cannot
    /// be reached within the command timeout. Must be called within a Tokio runtime, which runs
    /// the channels' readers from then on.
    pub async fn connect(
        url: &str,
        settings: Settings,
        config: RedisConfig,
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("Redis::connect must run within a Tokio runtime".into()))?;
        let client =
            redis::Client::open(url).map_err(|err| Error::Config(err.to_string().into()))?;
        let manager = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.command_timeout))
            .set_response_timeout(Some(config.command_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connecting = ConnectionManager::new_with_config(client.clone(), manager);
        let conn = tokio::time::timeout(config.command_timeout * 3, connecting)
            .await
            .map_err(|_| Error::unavailable("connecting to Redis timed out"))?
            .map_err(Error::unavailable)?;
        Ok(Redis {
            inner: Arc::new(Inner {
                client,
                conn,
                scripts: Scripts::new(),
                retention: settings.retention_policy(),
                buffer: settings.buffer_len(),
                config,
                runtime,
                readers: Mutex::new(HashMap::new()),
                serial: AtomicU64::new(0),
            }),
        })
    }

    /// How many channels this process is reading from Redis: those with at least one local
    /// subscriber.
    pub fn active_readers(&self) -> usize {
        reader::active(&self.inner)
    }
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn key(&self, channel: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.config.key_prefix.len() + channel.len());
        key.extend_from_slice(self.config.key_prefix.as_bytes());
        key.extend_from_slice(channel.as_bytes());
        key
    }

    async fn window(
        &self,
        key: &[u8],
        check: Option<MessageId>,
        start: Option<MessageId>,
        end: Option<End>,
        count: usize,
    ) -> Result<Window, Error> {
        let mut conn = self.conn.clone();
        let reading = self
            .scripts
            .window(&mut conn, key, check, start, end, count, self.retention);
        tokio::time::timeout(self.config.command_timeout, reading)
            .await
            .map_err(|_| Error::unavailable("Redis did not answer in time"))?
    }

    /// Up to `limit` entries after `after` up to `end`, with the gap check for `after`.
    async fn page(
        &self,
        key: &[u8],
        after: Option<MessageId>,
        end: Option<End>,
        limit: usize,
    ) -> Result<Page, Error> {
        let (start, end) = match after.map(|after| after.successor()) {
            None => (None, end),
            Some(Some(next)) => (Some(next), end),
            // Nothing can follow the largest id there is.
            Some(None) => (None, None),
        };
        let window = self.window(key, after, start, end, limit).await?;
        let gap = classify(after, &window);
        let more = window.entries.len() >= limit;
        Ok(Page {
            messages: window.entries,
            more,
            gap,
        })
    }
}

/// Whether the entries after `after` are complete in what `WINDOW` saw.
///
/// Retention deletes entries oldest first, and `XDEL` raises `max-deleted-entry-id` to the
/// newest one it deleted, so: anything deleted after `after` means a gap; an `after` that is
/// neither present nor the newest deleted id was never part of this stream's history (or left
/// it some other way, such as an `XTRIM` by hand: reported all the same).
fn classify(after: Option<MessageId>, window: &Window) -> Option<GapKind> {
    let after = after?;
    if !window.exists {
        return Some(GapKind::Unknown);
    }
    if window.max_deleted.is_some_and(|deleted| after < deleted) {
        return Some(GapKind::Expired);
    }
    if window.present || window.max_deleted == Some(after) {
        return None;
    }
    Some(GapKind::Unknown)
}

impl Backend for Redis {
    fn parse_id(&self, text: &str) -> Option<MessageId> {
        MessageId::parse_stream(text)
    }

    fn publish<'a>(
        &'a self,
        channel: &'a str,
        payload: Bytes,
    ) -> BoxFuture<'a, Result<MessageId, Error>> {
        async move {
            let inner = &self.inner;
            let key = inner.key(channel);
            let mut conn = inner.conn.clone();
            let publishing = inner
                .scripts
                .publish(&mut conn, &key, &payload, inner.retention);
            tokio::time::timeout(inner.config.command_timeout, publishing)
                .await
                .map_err(|_| Error::unavailable("Redis did not answer in time"))?
        }
        .boxed()
    }

    fn join<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<LiveFeed, Error>> {
        reader::join(&self.inner, channel).boxed()
    }

    fn replay<'a>(
        &'a self,
        channel: &'a str,
        after: Option<MessageId>,
        upto: Option<MessageId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        async move {
            if after.is_none() && upto.is_none() {
                return Ok(Page::default());
            }
            let key = self.inner.key(channel);
            self.inner.page(&key, after, upto.map(End::At), limit).await
        }
        .boxed()
    }

    fn subscribers(&self, channel: &str) -> usize {
        reader::subscribers(&self.inner, channel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(present: bool, max_deleted: (u64, u64)) -> Window {
        Window {
            exists: true,
            last_generated: Some(MessageId::stream(10, 0)),
            max_deleted: Some(MessageId::stream(max_deleted.0, max_deleted.1)),
            present,
            entries: Vec::new(),
        }
    }

    #[test]
    fn gaps_are_classified_from_max_deleted_and_presence() {
        let id = |ms| Some(MessageId::stream(ms, 0));
        assert_eq!(classify(None, &window(false, (9, 0))), None);
        assert_eq!(classify(id(5), &window(true, (0, 0))), None);
        assert_eq!(classify(id(5), &window(false, (5, 0))), None);
        assert_eq!(
            classify(id(5), &window(false, (6, 0))),
            Some(GapKind::Expired)
        );
        assert_eq!(
            classify(id(7), &window(false, (6, 0))),
            Some(GapKind::Unknown)
        );
        assert_eq!(classify(id(5), &Window::default()), Some(GapKind::Unknown));
    }
}
