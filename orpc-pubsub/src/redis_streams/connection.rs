//! The connections of one [`Redis`](super::Redis) backend: one for commands, one for
//! notifications, to a single Redis or to a Redis Cluster.
//!
//! - **Commands** go over one multiplexed connection (a single Redis: `ConnectionManager`, which
//!   reconnects; a cluster: the `redis` crate's cluster connection, which keeps one connection
//!   per node, follows `MOVED` and `ASK`, and refreshes its slot map after a failover). Every
//!   command the backend sends touches one key, so no command spans two slots.
//! - **Notifications** arrive on a second connection, in RESP3, subscribed to the channels this
//!   process reads: each publish announces its new entry on the stream's key (see `script.rs`),
//!   and [`Notifier`] wakes that channel's reader, which then reads the stream. However many
//!   channels a process reads, it holds this one connection (per node, on a cluster), not one
//!   blocking reader each. On a cluster the native format uses sharded pub/sub (`SPUBLISH`,
//!   `SSUBSCRIBE`: a notification stays on the shard of its stream); oRPC's format keeps
//!   `PUBLISH`, which oRPC's subscribers listen to.
//!
//! When a cluster moves a slot to another master (resharding), commands follow its `ASK` and
//! `MOVED` replies; the source master unsubscribes the slot's sharded channels when the move
//! ends, and [`Notifier`] subscribes them again, on the new owner. While the move is under way,
//! notifications of the moving channels go out on the target and are not received, so their
//! messages wait for the end of the move or the reader's next poll.
//!
//! A notification is only a hint. Readers also read on their own every
//! [`block`](super::RedisConfig::block) period and whenever the notification connection drops
//! or subscribes again, so a lost notification delays a message by at most that period, and
//! never loses it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, PushInfo, PushKind, RedisFuture, Value,
};
use tokio::sync::Notify;

use super::RedisConfig;
use crate::Error;

/// Where the backend's Redis is.
pub(super) enum Target<'a> {
    Single(&'a str),
    Cluster(&'a [String]),
}

/// The command connection, to one Redis or to a cluster.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(conn) => conn.req_packed_command(cmd),
            Connection::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(conn) => conn.get_db(),
            Connection::Cluster(conn) => conn.get_db(),
        }
    }
}

/// Both connections of a backend.
pub(super) struct Connections {
    pub commands: Connection,
    pub notifier: Arc<Notifier>,
}

/// Connects both connections; fails when Redis cannot be reached within the command timeout.
pub(super) async fn connect(
    target: Target<'_>,
    config: &RedisConfig,
    sharded: bool,
) -> Result<Connections, Error> {
    let notifier = Arc::new(Notifier::default());
    let pushes = {
        let notifier = Arc::downgrade(&notifier);
        move |push: PushInfo| {
            if let Some(notifier) = notifier.upgrade() {
                notifier.on_push(push);
            }
            Ok::<(), std::convert::Infallible>(())
        }
    };
    let timeout = config.command_timeout;
    let connecting = async {
        match target {
            Target::Single(url) => {
                let info = url
                    .into_connection_info()
                    .map_err(|err| Error::Config(err.to_string().into()))?;
                let client = redis::Client::open(info.clone())
                    .map_err(|err| Error::Config(err.to_string().into()))?;
                let resp3 = info.clone().set_redis_settings(
                    info.redis_settings()
                        .clone()
                        .set_protocol(ProtocolVersion::RESP3),
                );
                let push_client = redis::Client::open(resp3)
                    .map_err(|err| Error::Config(err.to_string().into()))?;
                let manager = || {
                    ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(timeout))
                        .set_response_timeout(Some(timeout))
                        .set_number_of_retries(1)
                        .set_max_delay(Duration::from_secs(1))
                };
                let commands = ConnectionManager::new_with_config(client, manager())
                    .await
                    .map_err(Error::unavailable)?;
                // After a drop it reconnects and subscribes again at once; if Redis is still
                // away then, readers revive it when they reach Redis again (`Notifier::revive`).
                let subscriptions = ConnectionManager::new_with_config(
                    push_client,
                    manager()
                        .set_push_sender(pushes)
                        .set_automatic_resubscription(),
                )
                .await
                .map_err(Error::unavailable)?;
                Ok((
                    Connection::Single(commands),
                    Subscriptions::Single(subscriptions),
                ))
            }
            Target::Cluster(urls) => {
                if urls.is_empty() {
                    return Err(Error::Config(
                        "a Redis Cluster needs at least one node's URL".into(),
                    ));
                }
                let builder = || {
                    ClusterClientBuilder::new(urls.iter().map(String::as_str))
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        .retries(3)
                        .max_retry_wait(500)
                };
                let client = builder()
                    .build()
                    .map_err(|err| Error::Config(err.to_string().into()))?;
                let push_client = builder()
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(pushes)
                    .build()
                    .map_err(|err| Error::Config(err.to_string().into()))?;
                let commands = client
                    .get_async_connection()
                    .await
                    .map_err(Error::unavailable)?;
                let subscriptions = push_client
                    .get_async_connection()
                    .await
                    .map_err(Error::unavailable)?;
                Ok((
                    Connection::Cluster(commands),
                    Subscriptions::Cluster(subscriptions),
                ))
            }
        }
    };
    let (commands, subscriptions) = tokio::time::timeout(timeout * 3, connecting)
        .await
        .map_err(|_| Error::unavailable("connecting to Redis timed out"))??;
    *notifier.lock() = Some(State {
        conn: subscriptions,
        sharded,
        channels: HashMap::new(),
        runtime: tokio::runtime::Handle::current(),
    });
    Ok(Connections { commands, notifier })
}

/// The notification connection.
#[derive(Clone)]
enum Subscriptions {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Wakes the reader of a channel when its stream has news.
///
/// Readers register their stream's key with [`Notifier::subscribe`] and hold the returned
/// [`Subscribed`] while they run; the channel is unsubscribed when the last one for its key
/// is dropped. Subscribing and unsubscribing are serialized, so a reader that starts while the
/// previous one's unsubscribe is under way is never left without notifications.
#[derive(Default)]
pub(super) struct Notifier {
    state: Mutex<Option<State>>,
    /// Serializes `SUBSCRIBE` and `UNSUBSCRIBE`, which must reach Redis in the order the
    /// reference counts changed.
    order: tokio::sync::Mutex<()>,
}

struct State {
    conn: Subscriptions,
    sharded: bool,
    channels: HashMap<Vec<u8>, Channel>,
    /// Where a channel that Redis unsubscribed is subscribed again.
    runtime: tokio::runtime::Handle,
}

struct Channel {
    wake: Arc<Notify>,
    readers: usize,
}

/// A reader's registration: wakes it on news, and unsubscribes when the last one is dropped.
pub(super) struct Subscribed {
    notifier: Arc<Notifier>,
    key: Vec<u8>,
    wake: Arc<Notify>,
    runtime: tokio::runtime::Handle,
}

impl Subscribed {
    /// Waits for a notification of the channel (one that came while the reader was busy
    /// counts), or `period`, whichever comes first.
    pub async fn wait(&self, period: Duration) {
        let _ = tokio::time::timeout(period, self.wake.notified()).await;
    }
}

impl Drop for Subscribed {
    fn drop(&mut self) {
        let notifier = self.notifier.clone();
        let key = std::mem::take(&mut self.key);
        self.runtime
            .spawn(async move { notifier.release(key).await });
    }
}

impl Notifier {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<State>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Subscribes to the stream `key`'s notifications; returns once Redis has confirmed, so
    /// that a reader that reads the stream afterwards misses nothing in between.
    pub async fn subscribe(
        self: &Arc<Self>,
        key: &[u8],
        runtime: tokio::runtime::Handle,
    ) -> Result<Subscribed, Error> {
        let _order = self.order.lock().await;
        let (wake, conn, sharded, first) = {
            let mut state = self.lock();
            let state = state
                .as_mut()
                .ok_or_else(|| Error::unavailable("the notification connection is closed"))?;
            let channel = state
                .channels
                .entry(key.to_vec())
                .or_insert_with(|| Channel {
                    wake: Arc::new(Notify::new()),
                    readers: 0,
                });
            channel.readers += 1;
            (
                channel.wake.clone(),
                state.conn.clone(),
                state.sharded,
                channel.readers == 1,
            )
        };
        let subscribed = Subscribed {
            notifier: self.clone(),
            key: key.to_vec(),
            wake,
            runtime,
        };
        if first {
            // On failure, dropping `subscribed` gives the count back.
            command(conn, sharded, true, key).await?;
        }
        Ok(subscribed)
    }

    async fn release(&self, key: Vec<u8>) {
        let _order = self.order.lock().await;
        let unsubscribe = {
            let mut state = self.lock();
            let Some(state) = state.as_mut() else { return };
            let Some(channel) = state.channels.get_mut(&key) else {
                return;
            };
            channel.readers -= 1;
            if channel.readers > 0 {
                return;
            }
            state.channels.remove(&key);
            (state.conn.clone(), state.sharded)
        };
        let (conn, sharded) = unsubscribe;
        if let Err(err) = command(conn, sharded, false, &key).await {
            // The connection is gone or going; its resubscription only covers what is still
            // subscribed, and a stray notification of this key wakes no one.
            tracing::debug!(%err, "unsubscribing from a channel's notifications failed");
        }
    }

    /// Sends a `PING` on the notification connection, which makes a connection that gave up
    /// reconnecting (Redis was away longer than its retries) connect and subscribe again. Called
    /// by readers that reached Redis again after failing.
    pub async fn revive(&self) {
        let conn = match self.lock().as_ref() {
            Some(state) => state.conn.clone(),
            None => return,
        };
        let ping = redis::cmd("PING");
        let result = match conn {
            Subscriptions::Single(mut conn) => ping.query_async::<Value>(&mut conn).await,
            Subscriptions::Cluster(mut conn) => ping.query_async::<Value>(&mut conn).await,
        };
        if let Err(err) = result {
            tracing::debug!(%err, "the notification connection did not answer a PING");
        }
    }

    /// A message on a subscribed channel wakes its reader; a dropped or re-established
    /// subscription wakes every reader, which then reads what it may have missed. A sharded
    /// channel whose slot moved to another master is unsubscribed by Redis itself: it is
    /// subscribed again, where the slot now is.
    fn on_push(self: &Arc<Self>, push: PushInfo) {
        let state = self.lock();
        let Some(state) = state.as_ref() else { return };
        let channel = match push.data.first() {
            Some(Value::BulkString(key)) => state.channels.get(key.as_slice()),
            _ => None,
        };
        match push.kind {
            // A message, or the confirmation of a (re)subscription, names its channel.
            PushKind::Message | PushKind::SMessage | PushKind::Subscribe | PushKind::SSubscribe => {
                if let Some(channel) = channel {
                    channel.wake.notify_one();
                }
            }
            PushKind::SUnsubscribe => {
                // Our own unsubscribe removed the channel before it was sent; one still here
                // was unsubscribed by Redis.
                if let (Some(channel), Some(Value::BulkString(key))) = (channel, push.data.first())
                {
                    channel.wake.notify_one();
                    let (notifier, key) = (self.clone(), key.clone());
                    state
                        .runtime
                        .spawn(async move { notifier.resubscribe(key).await });
                }
            }
            PushKind::Disconnection => {
                for channel in state.channels.values() {
                    channel.wake.notify_one();
                }
            }
            _ => {}
        }
    }

    /// Subscribes again to a channel Redis unsubscribed, if a reader still wants it.
    async fn resubscribe(&self, key: Vec<u8>) {
        let _order = self.order.lock().await;
        let (conn, sharded) = {
            let state = self.lock();
            let Some(state) = state.as_ref() else { return };
            if !state.channels.contains_key(&key) {
                return;
            }
            (state.conn.clone(), state.sharded)
        };
        match command(conn, sharded, true, &key).await {
            // The confirmation wakes the reader, which reads what came in between.
            Ok(()) => {}
            Err(err) => tracing::warn!(
                %err,
                "a channel's notifications moved with its slot and could not be subscribed \
                 again; its reader polls every `block` period"
            ),
        }
    }
}

/// `(S)SUBSCRIBE` or `(S)UNSUBSCRIBE` one key, bounded by the connection's response timeout.
async fn command(
    conn: Subscriptions,
    sharded: bool,
    subscribe: bool,
    key: &[u8],
) -> Result<(), Error> {
    let result = match (conn, subscribe) {
        (Subscriptions::Single(mut conn), true) => conn.subscribe(key).await,
        (Subscriptions::Single(mut conn), false) => conn.unsubscribe(key).await,
        (Subscriptions::Cluster(mut conn), true) if sharded => conn.ssubscribe(key).await,
        (Subscriptions::Cluster(mut conn), false) if sharded => conn.sunsubscribe(key).await,
        (Subscriptions::Cluster(mut conn), true) => conn.subscribe(key).await,
        (Subscriptions::Cluster(mut conn), false) => conn.unsubscribe(key).await,
    };
    result.map_err(Error::unavailable)
}
