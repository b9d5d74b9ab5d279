//! The Redis Streams backend: channels shared by every instance pointed at one Redis.
//!
//! Each channel is one stream, at key `{key_prefix}{channel}`, whose entries hold the payload in
//! field `p` (and the publish's trace context, when it was traced, in `t` and `s`). Ids are Redis's own stream ids, sent to clients as Redis writes them
//! (`1718000000000-0`), so a client can resume on any instance.
//!
//! - **Publish**: one atomic script appends with `XADD` and applies retention (count and age,
//!   with `XDEL`: see `script.rs` for why not `MAXLEN`), on the shared, multiplexed,
//!   automatically reconnecting connection (`ConnectionManager`: one connection carries every
//!   command of the process concurrently, so no pool is needed).
//! - **Replay**: the same script-per-step approach reads `XRANGE` pages together with the
//!   stream's `max-deleted-entry-id`, which makes the gap check exact (see `script.rs`).
//! - **Live**: each publish also announces the new entry on the stream's key (pub/sub); one
//!   reader per active channel per process wakes on it, reads the stream and fans out to local
//!   subscribers (see `reader.rs`). A process holds two connections (per node, on a cluster):
//!   commands and notifications, whatever its numbers of channels and subscribers.
//! - **Cluster**: [`Redis::connect_cluster`] follows a Redis Cluster's redirects and failovers.
//!   Every command touches one key, the channel's stream, so no hash tags are needed, and key
//!   names are the same as on one Redis. [`Durability`] says when a publish counts as done, and
//!   what a failover can lose.
//! - **Timeouts**: every command is bounded by [`RedisConfig::command_timeout`]; nothing waits
//!   on Redis forever.
//!
//! ## Two formats
//!
//! [`RedisFormat::Native`], the default and the above, is for fleets where only this crate reads
//! and writes the channels. [`RedisFormat::OrpcCompatible`] stores and announces messages as
//! oRPC's `IORedisPublisher` (`@orpc/experimental-publisher` 1.x, with `resumeRetentionSeconds`
//! set) does, so that Node and Rust instances share channels both ways:
//!
//! | | native | oRPC-compatible |
//! |---|---|---|
//! | key (stream and channel) | `orpc:pubsub:{channel}` | `orpc:publisher:{channel}` |
//! | entry | field `p`: the payload's bytes | field `data`: oRPC's serialized payload, `{"json", "meta", "eventMeta"}` (see `orpc.rs`) |
//! | payload | any bytes | oRPC's serialized payload ([`orpc_payload`]), checked on publish |
//! | `retry`, comments | not carried | carried ([`Message::event_meta`](crate::Message::event_meta)) |
//! | trace context of the publish | carried, fields `t` and `s` ([`TraceContext`]) | not carried: oRPC's entry has no place for it |
//! | notification | `PUBLISH` of the id on the key (`SPUBLISH` on a cluster) | `PUBLISH` of the entry on the key, for oRPC's subscribers |
//! | retention | count and age, enforced exactly by `XDEL`, also on read | age (`resumeRetentionSeconds` = [`Retention::max_age`](crate::Retention::max_age)) and count by `XTRIM ~`/`MAXLEN ~` on publish, at least that much kept; the key expires after twice the age without a publish |
//! | gap check on resume | exact | reported whenever the last id is no longer retained, even if nothing after it was dropped |
//! | gap check of the live feed | exact | exact while the stream exists (it counts entries); an expired stream is taken as "nothing more" |
//!
//! In both, this crate's subscribers read the stream, never the notifications: they receive in
//! stream order whoever published, resume exactly once with no gap at the seam, and a
//! notification that is not oRPC's format (one `PUBLISH` by hand ends every oRPC subscription
//! of the channel) does not reach them. An entry that is not oRPC's format ends only the
//! subscriptions that reach it, with [`Error::InvalidPayload`] naming its id.
//!
//! What oRPC's subscribers get on a shared channel is oRPC's own guarantee: live messages at most
//! once, in notification order, which across several oRPC publishers may differ from stream
//! order (this crate's publishers notify in stream order, atomically with the append); resume
//! after `lastEventId` with no gap at the seam, but with no report when the history after it was
//! trimmed or expired; at most `maxBufferedEvents` (default 100) unread events per iterator, the
//! oldest dropped in silence.

mod connection;
mod orpc;
mod reader;
mod script;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt};

use self::connection::{Connection, Notifier, Target};
use self::script::{End, Scripts, Window};
use crate::backend::{Backend, LiveFeed, Page};
use crate::telemetry::{RedisErrors, RedisOperation};
use crate::{Error, GapKind, MessageId, Retention, Settings, TraceContext};

pub use self::orpc::orpc_payload;

/// How a [`Redis`] backend stores and announces messages. See the [module docs](self) for what
/// each format keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisFormat {
    /// This crate's own: any payload bytes, exact retention and gap checks, notifications that
    /// carry only the new id. The better choice when only this crate reads and writes the
    /// channels.
    #[default]
    Native,
    /// oRPC's `IORedisPublisher` with resume enabled: payloads are oRPC's serialized payloads
    /// ([`orpc_payload`]), each publish also notifies oRPC's subscribers, and
    /// [`Retention::max_age`](crate::Retention::max_age) plays `resumeRetentionSeconds`. For
    /// channels shared with oRPC on Node.
    OrpcCompatible,
}

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
    /// How long a channel's reader waits for a notification of new entries before it reads
    /// the stream anyway. A notification lost with a dropped connection delays messages by at
    /// most this much. Default 5 s.
    pub block: Duration,
    /// How messages are stored and announced. Default [`RedisFormat::Native`].
    pub format: RedisFormat,
    /// When a publish counts as done. Default [`Durability::Master`].
    pub durability: Durability,
}

/// When [`PubSub::publish`](crate::PubSub::publish) on Redis returns `Ok`.
///
/// Redis replicates asynchronously: a master acknowledges a write before its replicas have it.
/// If the master then fails and a replica that lacks the write is promoted (as Redis Cluster or
/// Sentinel do), the write is gone. Redis' documentation of replication and of the cluster
/// specification states this plainly, and so does this type:
///
/// - With [`Durability::Master`], a message acknowledged in the last moments before a master
///   fails (usually well under a second of writes: what its replicas had not yet received) can be
///   lost at the failover. Subscribers that were reading from that master may already have
///   received it; a client that resumes after such an id on another instance is told of an
///   unknown gap.
/// - With [`Durability::Replicas`], a publish returns once `count` replicas have the message
///   (Redis' `WAIT`), so a failover that promotes one of them keeps it. With one replica per
///   master (the usual cluster layout) and `count: 1`, every acknowledged message survives the
///   failure of its master. `WAIT` does not make Redis strongly consistent: a replica that did not
///   confirm can still be promoted by hand, or a network partition can leave two masters for a
///   while. A publish whose replicas do not confirm in time fails with
///   [`Error::NotReplicated`], which names the id the message was stored under. A master with
///   fewer than `count` replicas, such as a promoted replica before a new replica joins it,
///   stores every publish but acknowledges none.
///
/// ```
/// use std::time::Duration;
/// use orpc_pubsub::{Durability, RedisConfig};
///
/// let config = RedisConfig {
///     durability: Durability::replicas(1, Duration::from_millis(500)),
///     ..RedisConfig::default()
/// };
/// assert!(matches!(config.durability, Durability::Replicas { count: 1, .. }));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Durability {
    /// Done when the master has the message. The default, and the fastest.
    #[default]
    Master,
    /// Done when the master and `count` of its replicas have the message, waiting at most
    /// `timeout`, which must be shorter than [`RedisConfig::command_timeout`].
    Replicas {
        /// How many replicas must confirm; at least 1.
        count: u32,
        /// How long to wait for them.
        timeout: Duration,
    },
}

impl Durability {
    /// [`Durability::Replicas`] with `count` replicas within `timeout`.
    pub fn replicas(count: u32, timeout: Duration) -> Self {
        Durability::Replicas { count, timeout }
    }
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            key_prefix: "orpc:pubsub:".into(),
            command_timeout: Duration::from_secs(2),
            reconnect_grace: Duration::from_secs(10),
            block: Duration::from_secs(5),
            format: RedisFormat::Native,
            durability: Durability::Master,
        }
    }
}

impl RedisConfig {
    /// The settings of a fleet shared with oRPC's `IORedisPublisher`: its format, and its key
    /// prefix, `orpc:publisher:` (change [`key_prefix`](Self::key_prefix) to the `prefix` the
    /// Node side sets). The retention age must be set, to oRPC's `resumeRetentionSeconds`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), orpc_pubsub::Error> {
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// use orpc_protocol::{Envelope, EventMeta};
    /// use orpc_pubsub::{orpc_payload, PubSub, Redis, RedisConfig, Retention, Settings};
    ///
    /// // On Node: new IORedisPublisher({ commander, listener, resumeRetentionSeconds: 60 })
    /// let settings = Settings::default()
    ///     .retention(Retention::new(10_000).max_age(Duration::from_secs(60)));
    /// let config = RedisConfig::orpc_compatible();
    /// let redis = Redis::connect("redis://127.0.0.1:6379", settings, config).await?;
    /// let pubsub = PubSub::new(redis, settings.gap_policy());
    ///
    /// // Node's `publisher.subscribe('scores', { lastEventId })` receives this one too.
    /// let mut scores = pubsub.subscribe("scores", None).await?;
    /// let goal = serde_json::json!({ "home": 1, "away": 0 });
    /// let meta = EventMeta::new().retry(Duration::from_secs(2));
    /// let id = pubsub.publish("scores", orpc_payload(&goal, &meta)?).await?;
    ///
    /// let message = scores.next().await.unwrap()?;
    /// assert_eq!(message.id(), id);
    /// assert_eq!(message.event_meta().retry, Some(Duration::from_secs(2)));
    /// let received: serde_json::Value = Envelope::Rpc.read(message.payload()).unwrap();
    /// assert_eq!(received, goal);
    /// # Ok(())
    /// # }
    /// ```
    pub fn orpc_compatible() -> Self {
        RedisConfig {
            key_prefix: "orpc:publisher:".into(),
            format: RedisFormat::OrpcCompatible,
            ..RedisConfig::default()
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
    conn: Connection,
    notifier: Arc<Notifier>,
    /// The command that announces a new entry: `PUBLISH`, or `SPUBLISH` for the native format
    /// on a cluster.
    notify: &'static str,
    scripts: Scripts,
    retention: Retention,
    buffer: usize,
    config: RedisConfig,
    /// Where readers run: the runtime the connections' own tasks run on.
    runtime: tokio::runtime::Handle,
    readers: reader::Readers,
    serial: AtomicU64,
    /// Counts what Redis failed, once a meter is given.
    errors: RedisErrors,
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
        Self::open(Target::Single(url), settings, config).await
    }

    /// Connects to a Redis Cluster through any of its nodes (`redis://host:port` each; one is
    /// enough, more help when some are down). Commands follow the cluster's `MOVED` and `ASK`
    /// redirects and its failovers; each channel is one key, so channels spread over the
    /// cluster's masters by their hash slots (a channel named with a `{hash tag}` is placed by
    /// the tag, as Redis places any key). Key names and formats are those of [`connect`], so a
    /// deployment's data moves between one Redis and a cluster as it is.
    ///
    /// [`connect`]: Self::connect
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), orpc_pubsub::Error> {
    /// use std::time::Duration;
    /// use orpc_pubsub::{Durability, PubSub, Redis, RedisConfig, Settings};
    ///
    /// let nodes = ["redis://10.0.0.1:7000".to_owned(), "redis://10.0.0.2:7000".to_owned()];
    /// let config = RedisConfig {
    ///     durability: Durability::replicas(1, Duration::from_millis(500)),
    ///     ..RedisConfig::default()
    /// };
    /// let redis = Redis::connect_cluster(&nodes, Settings::default(), config).await?;
    /// let pubsub = PubSub::new(redis, Settings::default().gap_policy());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_cluster(
        nodes: &[String],
        settings: Settings,
        config: RedisConfig,
    ) -> Result<Self, Error> {
        Self::open(Target::Cluster(nodes), settings, config).await
    }

    async fn open(
        target: Target<'_>,
        settings: Settings,
        config: RedisConfig,
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("Redis::connect must run within a Tokio runtime".into()))?;
        let retention = settings.retention_policy();
        if config.format == RedisFormat::OrpcCompatible
            && retention.age().is_none_or(|age| age.as_millis() == 0)
        {
            return Err(Error::Config(
                "the oRPC-compatible format needs a retention age (Retention::max_age), the \
                 resumeRetentionSeconds of oRPC's IORedisPublisher"
                    .into(),
            ));
        }
        if let Durability::Replicas { count, timeout } = config.durability {
            if count == 0 || timeout.is_zero() || timeout >= config.command_timeout {
                return Err(Error::Config(
                    "Durability::Replicas needs at least one replica and a timeout above zero \
                     and below the command timeout"
                        .into(),
                ));
            }
        }
        // Native notifications stay on their stream's shard in a cluster; oRPC's subscribers
        // listen with plain SUBSCRIBE, which only PUBLISH reaches.
        let sharded = matches!(target, Target::Cluster(_)) && config.format == RedisFormat::Native;
        let connections = connection::connect(target, &config, sharded).await?;
        Ok(Redis {
            inner: Arc::new(Inner {
                conn: connections.commands,
                notifier: connections.notifier,
                notify: if sharded { "SPUBLISH" } else { "PUBLISH" },
                scripts: Scripts::new(config.format),
                retention,
                buffer: settings.buffer_len(),
                config,
                runtime,
                readers: Mutex::new(HashMap::new()),
                serial: AtomicU64::new(0),
                errors: RedisErrors::default(),
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
        Ok(self.page_within(key, after, end, limit).await?.0)
    }

    /// [`page`](Self::page), and the stream's oldest entry and last generated id.
    async fn page_within(
        &self,
        key: &[u8],
        after: Option<MessageId>,
        end: Option<End>,
        limit: usize,
    ) -> Result<(Page, Bounds), Error> {
        let (start, end) = match after.map(|after| after.successor()) {
            None => (None, end),
            Some(Some(next)) => (Some(next), end),
            // Nothing can follow the largest id there is.
            Some(None) => (None, None),
        };
        let window = self.window(key, after, start, end, limit).await?;
        let gap = match self.config.format {
            RedisFormat::Native => classify(after, &window),
            RedisFormat::OrpcCompatible => classify_trimmed(after, &window),
        };
        let more = window.entries.len() >= limit;
        let bounds = Bounds {
            first: window.first,
            last_generated: window.last_generated,
        };
        let page = Page {
            messages: window.entries,
            more,
            gap,
        };
        Ok((page, bounds))
    }
}

/// Where a stream began and ended when a page of it was read.
#[derive(Clone, Copy, Debug)]
struct Bounds {
    /// The oldest entry, `None` when the stream was empty or gone.
    first: Option<MessageId>,
    /// The last id Redis generated for it.
    last_generated: Option<MessageId>,
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

/// [`classify`] for streams that oRPC's publishers trim with `XTRIM`, which leaves no record of
/// what it removed: a last id older than the oldest entry was trimmed, and whether entries after
/// it were too cannot be known, so that is reported as a gap. A stream that is gone (expired, or
/// never written) has no record of any id.
fn classify_trimmed(after: Option<MessageId>, window: &Window) -> Option<GapKind> {
    let after = after?;
    match classify(Some(after), window) {
        Some(GapKind::Unknown) if window.first.is_some_and(|first| after < first) => {
            Some(GapKind::Expired)
        }
        kind => kind,
    }
}

impl Backend for Redis {
    fn parse_id(&self, text: &str) -> Option<MessageId> {
        MessageId::parse_stream(text)
    }

    fn publish<'a>(
        &'a self,
        channel: &'a str,
        payload: Bytes,
        trace: Option<TraceContext>,
    ) -> BoxFuture<'a, Result<MessageId, Error>> {
        async move {
            let inner = &self.inner;
            let key = inner.key(channel);
            let entry;
            let stored = match inner.config.format {
                RedisFormat::Native => &payload[..],
                RedisFormat::OrpcCompatible => {
                    entry = orpc::for_publish(&payload)?;
                    &entry[..]
                }
            };
            let mut conn = inner.conn.clone();
            let publishing = inner.scripts.publish(
                &mut conn,
                &key,
                stored,
                trace.as_ref(),
                inner.retention,
                inner.notify,
                inner.config.durability,
            );
            let published = tokio::time::timeout(inner.config.command_timeout, publishing)
                .await
                .unwrap_or_else(|_| Err(Error::unavailable("Redis did not answer in time")));
            inner.errors.count(RedisOperation::Publish, published)
        }
        .boxed()
    }

    fn join<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<LiveFeed, Error>> {
        async move {
            let joined = reader::join(&self.inner, channel).await;
            self.inner.errors.count(RedisOperation::Subscribe, joined)
        }
        .boxed()
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
            let page = self.inner.page(&key, after, upto.map(End::At), limit).await;
            self.inner.errors.count(RedisOperation::Replay, page)
        }
        .boxed()
    }

    fn subscribers(&self, channel: &str) -> usize {
        reader::subscribers(&self.inner, channel)
    }

    #[cfg(feature = "otel")]
    fn meter(&self, meter: &opentelemetry::metrics::Meter) {
        self.inner.errors.meter(meter);
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
            first: None,
            added: 0,
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

    #[test]
    fn a_trimmed_last_id_is_a_gap_in_the_orpc_format() {
        let id = |ms| Some(MessageId::stream(ms, 0));
        let trimmed = |first| Window {
            first: id(first),
            max_deleted: Some(MessageId::stream(0, 0)),
            ..window(false, (0, 0))
        };
        assert_eq!(classify_trimmed(id(3), &trimmed(5)), Some(GapKind::Expired));
        assert_eq!(classify_trimmed(id(7), &trimmed(5)), Some(GapKind::Unknown));
        assert_eq!(classify_trimmed(id(7), &window(true, (0, 0))), None);
        assert_eq!(classify_trimmed(None, &trimmed(5)), None);
        assert_eq!(
            classify_trimmed(id(3), &Window::default()),
            Some(GapKind::Unknown)
        );
    }
}
