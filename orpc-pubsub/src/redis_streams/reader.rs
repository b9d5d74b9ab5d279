//! One reader per channel per process: the Redis side of the live feed.
//!
//! However many local subscribers a channel has, this process reads it from Redis once: a task
//! waits for the notification each publish sends on the stream's key (see `connection.rs`), then
//! reads what arrived with the atomic `WINDOW` script on the shared command connection and sends
//! it into the channel's broadcast ring, from which every local subscription receives. A reader
//! holds no connection of its own: a process has one command connection and one notification
//! connection (per node, on a cluster), whatever its numbers of channels and subscribers.
//!
//! - **Start and seam.** The reader starts at the stream's last generated id, read before the
//!   first subscriber joins. The reader's cursor (the last id it sent) is updated under the same
//!   lock a subscriber joins under, so a subscriber's head is exact (see
//!   [`Backend`](crate::Backend)).
//! - **Gaps.** Each read checks `max-deleted-entry-id` against the cursor in the same atomic
//!   step, so messages trimmed before the reader got to them (after a long disconnect) are
//!   announced as a [`FeedItem::Gap`], never skipped silently. A stream that lost its history
//!   (deleted, or Redis restarted empty) is reported as a gap at its next entry or within one
//!   [`block`](super::RedisConfig::block) period, whichever comes first. One case cannot be seen:
//!   a new stream whose first entry has, by chance, exactly the id the reader last sent (the same
//!   millisecond); its entries up to the next one are then taken as already sent.
//! - **Roll-back.** A cursor the stream no longer has, that retention did not delete, while
//!   the stream still has entries from before it, was rolled back with the newest entries: a
//!   failover promoted a replica that had not received them (see
//!   [`Durability`](super::Durability)). The reader goes on after the cursor, reporting no gap,
//!   since nothing its subscribers have not seen is missing. Entries the new master adds get
//!   later ids (they are made from its clock, and a failover takes over a second); if its clock
//!   were behind the old master's by more than that, subscribers would skip those with ids at
//!   or before the last one they received.
//! - **Gaps in the oRPC-compatible format.** oRPC's publishers trim with `XTRIM`, which leaves no
//!   `max-deleted-entry-id` behind, and its streams expire when idle, so there the reader counts:
//!   it notes the stream's `entries-added` each time it has read to the newest entry, and when
//!   the next complete read brought fewer entries than were added since, some were trimmed before
//!   it got to them, which it announces as an expired gap. A stream that is gone (it expired
//!   after twice the retention age without a publish, as oRPC's do) is taken as "nothing more",
//!   not as a gap: its entries were all read, unless the reader was away from Redis for longer
//!   than the stream lived, which it cannot tell.
//! - **Redis going away.** On any error the reader retries with backoff from its cursor, so
//!   subscribers lose nothing Redis still retains. If Redis stays
//!   away longer than [`RedisConfig::reconnect_grace`](super::RedisConfig::reconnect_grace),
//!   every subscriber is ended with [`Error::Unavailable`] and the reader stops; clients then
//!   reconnect, possibly to another instance, and resume from retention.
//! - **Drop.** The reader stops as soon as the last subscription holding it is dropped: its
//!   task is aborted where it waits, and the channel is unsubscribed from notifications.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::connection::Subscribed;
use super::script::End;
use super::{Bounds, Inner, RedisFormat};
use crate::backend::{FeedItem, LiveFeed};
use crate::telemetry::RedisOperation;
use crate::{Error, GapKind, Message, MessageId};

/// How many entries one read of the reader fetches.
const BATCH: usize = 512;
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A channel's entry in the process-wide table of readers.
pub(super) struct Entry {
    serial: u64,
    handle: Weak<FeedHandle>,
}

pub(super) type Readers = Mutex<HashMap<String, Entry>>;

/// What the reader task and the subscriptions share.
struct Feed {
    sender: broadcast::Sender<FeedItem>,
    state: Mutex<FeedState>,
}

struct FeedState {
    /// The last id sent to the live feed, `None` when the stream had no entry.
    cursor: Option<MessageId>,
    /// The reader gave up; a new subscriber starts a new one.
    closed: bool,
}

impl Feed {
    fn state(&self) -> std::sync::MutexGuard<'_, FeedState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends messages in order, moving the cursor with them under the lock joins take.
    fn send(&self, messages: Vec<Message>) {
        let mut state = self.state();
        for message in messages {
            if state.cursor.is_some_and(|cursor| message.id() <= cursor) {
                continue;
            }
            state.cursor = Some(message.id());
            let _ = self.sender.send(FeedItem::Message(message));
        }
    }

    /// Moves the cursor back from `from` to `to`, unless it has moved meanwhile.
    fn rewind(&self, from: MessageId, to: MessageId) {
        let mut state = self.state();
        if state.cursor == Some(from) {
            state.cursor = Some(to);
        }
    }

    fn announce_gap(&self, kind: GapKind) {
        let mut state = self.state();
        if kind == GapKind::Unknown {
            state.cursor = None;
        }
        let _ = self.sender.send(FeedItem::Gap(kind));
    }

    fn close(&self, err: Error) {
        let mut state = self.state();
        state.closed = true;
        let _ = self.sender.send(FeedItem::Closed(err));
    }
}

/// Held by every subscription of the channel; the last one dropped stops the reader.
pub(super) struct FeedHandle {
    feed: Arc<Feed>,
    task: AbortHandle,
    inner: Arc<Inner>,
    channel: String,
    serial: u64,
}

impl FeedHandle {
    /// A live receiver and the head it joined after, or `None` if the reader has given up.
    fn join(self: &Arc<Self>) -> Option<LiveFeed> {
        let state = self.feed.state();
        if state.closed {
            return None;
        }
        let receiver = self.feed.sender.subscribe();
        Some(LiveFeed::new(
            receiver,
            state.cursor,
            Some(Box::new(self.clone())),
        ))
    }
}

impl Drop for FeedHandle {
    fn drop(&mut self) {
        self.task.abort();
        let mut readers = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if readers
            .get(&self.channel)
            .is_some_and(|entry| entry.serial == self.serial)
        {
            readers.remove(&self.channel);
        }
    }
}

fn running(inner: &Inner, channel: &str) -> Option<Arc<FeedHandle>> {
    let readers = inner.readers.lock().unwrap_or_else(PoisonError::into_inner);
    readers
        .get(channel)
        .and_then(|entry| entry.handle.upgrade())
}

/// Joins the channel's live feed, starting its reader if this process has none.
pub(super) async fn join(inner: &Arc<Inner>, channel: &str) -> Result<LiveFeed, Error> {
    if let Some(live) = running(inner, channel).and_then(|handle| handle.join()) {
        return Ok(live);
    }
    // The reader starts at the stream's last generated id, read before anyone joins it.
    let key = inner.key(channel);
    let head = inner.window(&key, None, None, None, 1).await?;
    let (start, count) = (head.last_generated, Count::from_head(head.added));

    let mut readers = inner.readers.lock().unwrap_or_else(PoisonError::into_inner);
    // Another subscriber may have started one meanwhile; its head is as good as ours.
    if let Some(live) = readers
        .get(channel)
        .and_then(|entry| entry.handle.upgrade())
        .and_then(|handle| handle.join())
    {
        return Ok(live);
    }
    let feed = Arc::new(Feed {
        sender: broadcast::channel(inner.buffer).0,
        state: Mutex::new(FeedState {
            cursor: start,
            closed: false,
        }),
    });
    let task = inner
        .runtime
        .spawn(run(inner.clone(), feed.clone(), key, count))
        .abort_handle();
    let serial = inner.serial.fetch_add(1, Ordering::Relaxed);
    let handle = Arc::new(FeedHandle {
        feed,
        task,
        inner: inner.clone(),
        channel: channel.to_owned(),
        serial,
    });
    readers.insert(
        channel.to_owned(),
        Entry {
            serial,
            handle: Arc::downgrade(&handle),
        },
    );
    drop(readers);
    handle
        .join()
        .ok_or_else(|| Error::unavailable("the channel's reader stopped at once"))
}

/// How many live receivers the channel has in this process.
pub(super) fn subscribers(inner: &Inner, channel: &str) -> usize {
    running(inner, channel).map_or(0, |handle| handle.feed.sender.receiver_count())
}

/// How many channels have a reader in this process.
pub(super) fn active(inner: &Inner) -> usize {
    let readers = inner.readers.lock().unwrap_or_else(PoisonError::into_inner);
    readers
        .values()
        .filter(|entry| entry.handle.strong_count() > 0)
        .count()
}

/// What the reader of an oRPC-compatible stream has counted: the stream's `entries-added` when
/// it last read to the newest entry, and how many entries it has read since.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Count {
    added: u64,
    read: u64,
}

impl Count {
    fn from_head(added: u64) -> Self {
        Count { added, read: 0 }
    }

    /// Takes one read of the stream up to its newest entry (`complete`) or a page of it, whose
    /// `entries-added` was `added`; returns whether entries were deleted before they were read.
    fn take(&mut self, added: u64, read: usize, complete: bool) -> bool {
        if added < self.added {
            // A new stream under the same key (the old one expired): count from its start.
            *self = Count::default();
        }
        self.read += read as u64;
        if !complete {
            return false;
        }
        let missed = self.read < added - self.added;
        *self = Count::from_head(added);
        missed
    }
}

/// The reader task: subscribe to the channel's notifications, then catch up, wait, repeat;
/// reconnect on errors within the grace period.
async fn run(inner: Arc<Inner>, feed: Arc<Feed>, key: Vec<u8>, mut count: Count) {
    let mut subscribed: Option<Subscribed> = None;
    let mut failing_since: Option<Instant> = None;
    let mut backoff = MIN_BACKOFF;
    loop {
        let step = async {
            // Subscribed before reading, so that nothing published after the read goes
            // unannounced.
            if subscribed.is_none() {
                let registered = inner
                    .notifier
                    .subscribe(&key, inner.runtime.clone())
                    .await?;
                subscribed = Some(registered);
            }
            match inner.config.format {
                RedisFormat::Native => catch_up(&inner, &feed, &key).await?,
                RedisFormat::OrpcCompatible => {
                    catch_up_counting(&inner, &feed, &key, &mut count).await?
                }
            }
            Ok::<(), Error>(())
        };
        let result = inner.errors.count(RedisOperation::Read, step.await);
        match result {
            Ok(()) => {
                if failing_since.take().is_some() {
                    tracing::info!("a pub/sub reader is connected to Redis again");
                    // Before waiting on it: notifications may have stopped with the outage.
                    inner.notifier.revive().await;
                }
                backoff = MIN_BACKOFF;
                // Read after every wait, also when it timed out with nothing new: a stream that
                // lost its history (deleted, a Redis restarted empty) may have new entries at or
                // before the cursor, and a notification may have been lost with its connection.
                if let Some(subscribed) = &subscribed {
                    subscribed.wait(inner.config.block).await;
                }
            }
            Err(err) => {
                let since = *failing_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= inner.config.reconnect_grace {
                    tracing::warn!(%err, "a pub/sub reader gave up on Redis; ending its subscribers");
                    feed.close(err);
                    return;
                }
                tracing::warn!(%err, "a pub/sub reader lost Redis; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Sends everything after the cursor to the live feed.
async fn catch_up(inner: &Inner, feed: &Feed, key: &[u8]) -> Result<(), Error> {
    loop {
        let cursor = feed.state().cursor;
        let (page, bounds) = inner
            .page_within(key, cursor, Some(End::Newest), BATCH)
            .await?;
        match (page.gap, cursor) {
            (Some(GapKind::Unknown), Some(cursor)) if rolled_back(cursor, bounds) => {
                tracing::warn!(
                    sent = %cursor,
                    "a pub/sub channel's stream lost entries its subscribers had received (a \
                     failover to a replica that lacked them?); reading on after them"
                );
                // Moved to an id the stream has, so that the next read finds its place.
                if let Some(last) = bounds.last_generated.filter(|last| *last < cursor) {
                    feed.rewind(cursor, last);
                }
            }
            (Some(GapKind::Unknown), _) => {
                // The stream lost its history (a flushed or restarted Redis): say so, then
                // start again from its oldest entry.
                feed.announce_gap(GapKind::Unknown);
                continue;
            }
            (Some(kind), _) => feed.announce_gap(kind),
            (None, _) => {}
        }
        let more = page.more;
        feed.send(page.messages);
        if !more {
            return Ok(());
        }
    }
}

/// Whether a cursor the stream does not know, and that retention did not delete, was rolled
/// back with the newest entries of the stream, rather than lost with all of its history: the
/// stream still has entries from before it. That is what a failover to a replica that had not
/// received the newest entries leaves (or a Redis restarted from a slightly old snapshot). Its
/// entries up to the cursor are those the reader sent before; those after it are new.
fn rolled_back(cursor: MessageId, bounds: Bounds) -> bool {
    bounds.first.is_some_and(|first| first < cursor)
}

/// [`catch_up`] for oRPC-compatible streams: gaps found by counting (see the module docs).
async fn catch_up_counting(
    inner: &Inner,
    feed: &Feed,
    key: &[u8],
    count: &mut Count,
) -> Result<(), Error> {
    loop {
        let cursor = feed.state().cursor;
        let start = match cursor.map(|cursor| cursor.successor()) {
            None => None,
            Some(Some(next)) => Some(next),
            Some(None) => return Ok(()),
        };
        let window = inner
            .window(key, None, start, Some(End::Newest), BATCH)
            .await?;
        if !window.exists {
            *count = Count::default();
            return Ok(());
        }
        let complete = window.entries.len() < BATCH;
        if count.take(window.added, window.entries.len(), complete) {
            feed.announce_gap(GapKind::Expired);
        }
        feed.send(window.entries);
        if complete {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_deleted_before_they_were_read_are_counted() {
        let mut count = Count::from_head(10);
        assert!(!count.take(13, 3, true), "three added, three read");
        assert!(!count.take(20, 4, false), "a page: nothing to say yet");
        assert!(
            !count.take(21, 4, true),
            "eight added, eight read over two pages"
        );
        assert!(
            count.take(25, 2, true),
            "four added, two read: two were trimmed first"
        );
        assert!(!count.take(25, 0, true));
        // The key expired and a new stream started under it.
        assert!(!count.take(2, 2, true));
        assert!(count.take(5, 1, true));
    }
}
