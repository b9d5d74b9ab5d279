//! The in-memory backend: channels in this process, no set-up.
//!
//! Each channel is a ring of retained messages and a `tokio::sync::broadcast` ring for the live
//! feed, both behind one mutex that is held only to number, store and send a message, or to
//! copy one page of retention. Because numbering and sending happen under that lock, and a
//! receiver joins under it too, the head a subscriber joins after is exact.
//!
//! - **Ids** are sequence numbers counted from 1 in each channel, without holes, so a gap is
//!   found by arithmetic: the subscriber's last id is below the oldest retained one minus one,
//!   or above the newest ever issued (an id from before a restart of the process).
//! - **Memory** per channel is at most [`Retention::max_len`] messages plus the live ring of
//!   [`Settings::buffer_len`] messages, whatever the number of subscribers and however slow
//!   they are. With an age limit ([`Retention::max_age`]), a channel whose messages have all
//!   expired and that has no subscriber goes dormant: every few hundred publishes a sweep frees
//!   its ring and messages and keeps only its last id (eight bytes and its name), so that
//!   channels made for one story each (a chat reply, a job) do not add up. A dormant channel
//!   comes back with its numbering where it was: a resuming client is never given the wrong
//!   messages.
//! - **Contention**: publishers to one channel serialize on its lock; channels are independent
//!   but for a read lock on the channel table.
//! - **Age** is measured with `tokio::time::Instant`, so tests may pause time.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use bytes::Bytes;
use futures_util::future::{self, BoxFuture, FutureExt};
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::backend::{Backend, FeedItem, LiveFeed, Page};
use crate::{Error, GapKind, Message, MessageId, Retention, Settings, TraceContext};

/// Channels in this process's memory. See the [module docs](self).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), orpc_pubsub::Error> {
/// use orpc_pubsub::{GapPolicy, InMemory, PubSub, Retention, Settings};
///
/// let settings = Settings::default().retention(Retention::new(100));
/// let pubsub = PubSub::new(InMemory::new(settings), GapPolicy::Error);
/// assert_eq!(pubsub.publish("a", "x").await?.to_string(), "1");
/// assert_eq!(pubsub.publish("a", "y").await?.to_string(), "2");
/// assert_eq!(pubsub.publish("b", "z").await?.to_string(), "1");
/// # Ok(())
/// # }
/// ```
pub struct InMemory {
    channels: RwLock<Channels>,
    retention: Retention,
    buffer: usize,
    /// Publishes since the last sweep of dormant channels.
    publishes: AtomicU64,
}

#[derive(Default)]
struct Channels {
    active: HashMap<Box<str>, Arc<Channel>>,
    /// Channels with nothing retained and no subscriber: their last id only.
    dormant: HashMap<Box<str>, u64>,
}

/// How many publishes between two sweeps for dormant channels.
const SWEEP_EVERY: u64 = 256;

struct Channel {
    log: Mutex<Log>,
    live: broadcast::Sender<FeedItem>,
}

struct Log {
    /// Set by the sweep that made the channel dormant: whoever holds this channel then must
    /// look it up again.
    retired: bool,
    /// The last id issued, 0 before the first message.
    head: u64,
    /// Retained messages, oldest first, with consecutive ids ending at `head`.
    retained: VecDeque<(Instant, Message)>,
}

impl InMemory {
    /// An empty set of channels with `settings`' retention and buffer.
    pub fn new(settings: Settings) -> Self {
        InMemory {
            channels: RwLock::new(Channels::default()),
            retention: settings.retention_policy(),
            buffer: settings.buffer_len(),
            publishes: AtomicU64::new(0),
        }
    }

    /// The channel, active or brought back from dormancy; `None` if it never had a message or a
    /// subscriber.
    fn channel(&self, name: &str) -> Option<Arc<Channel>> {
        let channels = self.channels.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(channel) = channels.active.get(name) {
            return Some(channel.clone());
        }
        if !channels.dormant.contains_key(name) {
            return None;
        }
        drop(channels);
        Some(self.channel_or_new(name))
    }

    fn channel_or_new(&self, name: &str) -> Arc<Channel> {
        {
            let channels = self.channels.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(channel) = channels.active.get(name) {
                return channel.clone();
            }
        }
        let mut channels = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Channels { active, dormant } = &mut *channels;
        active
            .entry(name.into())
            .or_insert_with(|| {
                Arc::new(Channel {
                    log: Mutex::new(Log {
                        retired: false,
                        head: dormant.remove(name).unwrap_or(0),
                        retained: VecDeque::new(),
                    }),
                    live: broadcast::channel(self.buffer).0,
                })
            })
            .clone()
    }

    /// The channel's log, locked, on a channel that is not dormant.
    fn locked<T>(&self, name: &str, f: impl FnOnce(&Channel, &mut Log) -> T) -> T {
        loop {
            let channel = self.channel_or_new(name);
            let mut log = channel.log.lock().unwrap_or_else(PoisonError::into_inner);
            if !log.retired {
                return f(&channel, &mut log);
            }
        }
    }

    /// Makes dormant every channel whose messages all expired and that has no subscriber.
    fn sweep(&self) {
        let now = Instant::now();
        let mut channels = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Channels { active, dormant } = &mut *channels;
        active.retain(|name, channel| {
            let mut log = channel.log.lock().unwrap_or_else(PoisonError::into_inner);
            log.expire(&self.retention, now);
            if !log.retained.is_empty() || channel.live.receiver_count() > 0 {
                return true;
            }
            log.retired = true;
            dormant.insert(name.clone(), log.head);
            false
        });
    }

    fn publish_now(
        &self,
        name: &str,
        payload: Bytes,
        trace: Option<TraceContext>,
    ) -> Result<MessageId, Error> {
        if self.retention.age().is_some()
            && self.publishes.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1
        {
            self.sweep();
        }
        self.locked(name, |channel, log| {
            Self::append(channel, log, &self.retention, payload, trace)
        })
    }

    fn append(
        channel: &Channel,
        log: &mut Log,
        retention: &Retention,
        payload: Bytes,
        trace: Option<TraceContext>,
    ) -> Result<MessageId, Error> {
        let Some(head) = log.head.checked_add(1) else {
            return Err(Error::unavailable("the channel has used up its ids"));
        };
        log.head = head;
        let id = MessageId::sequence(head);
        let mut message = Message::new(id, payload);
        if let Some(trace) = trace {
            message = message.with_trace_context(trace);
        }
        let now = Instant::now();
        log.retained.push_back((now, message.clone()));
        log.expire(retention, now);
        // No receiver is not an error: the message is retained for those who resume.
        let _ = channel.live.send(FeedItem::Message(message));
        Ok(id)
    }

    fn join_now(&self, name: &str) -> LiveFeed {
        self.locked(name, |channel, log| {
            let head = (log.head > 0).then(|| MessageId::sequence(log.head));
            LiveFeed::new(channel.live.subscribe(), head, None)
        })
    }

    fn replay_now(
        &self,
        name: &str,
        after: Option<MessageId>,
        upto: Option<MessageId>,
        limit: usize,
    ) -> Page {
        let Some(channel) = self.channel(name) else {
            return Page {
                gap: after.map(|_| GapKind::Unknown),
                ..Page::default()
            };
        };
        let mut log = channel.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.expire(&self.retention, Instant::now());
        let oldest = log.head + 1 - log.retained.len() as u64;
        let after_n = after.map(|id| id.as_sequence().unwrap_or(u64::MAX));
        let gap = match after_n {
            Some(n) if n > log.head => Some(GapKind::Unknown),
            // Messages after `n` start at `n + 1`; any below `oldest` are gone.
            Some(n) if n + 1 < oldest => Some(GapKind::Expired),
            _ => None,
        };
        let from = match (gap, after_n) {
            (None, Some(n)) => n + 1,
            _ => oldest,
        };
        let upto = upto
            .and_then(|id| id.as_sequence())
            .unwrap_or(0)
            .min(log.head);
        if gap == Some(GapKind::Unknown) || from > upto {
            return Page {
                gap,
                ..Page::default()
            };
        }
        let skip = (from - oldest) as usize;
        let available = (upto - from + 1) as usize;
        let take = available.min(limit);
        let messages = log
            .retained
            .iter()
            .skip(skip)
            .take(take)
            .map(|(_, message)| message.clone())
            .collect();
        Page {
            messages,
            more: take < available,
            gap,
        }
    }
}

impl Log {
    /// Drops what retention no longer keeps.
    fn expire(&mut self, retention: &Retention, now: Instant) {
        while self.retained.len() > retention.max_len() {
            self.retained.pop_front();
        }
        if let Some(age) = retention.age() {
            while let Some((at, _)) = self.retained.front() {
                if now.saturating_duration_since(*at) <= age {
                    break;
                }
                self.retained.pop_front();
            }
        }
    }
}

impl Backend for InMemory {
    fn parse_id(&self, text: &str) -> Option<MessageId> {
        MessageId::parse_sequence(text)
    }

    fn publish<'a>(
        &'a self,
        channel: &'a str,
        payload: Bytes,
        trace: Option<TraceContext>,
    ) -> BoxFuture<'a, Result<MessageId, Error>> {
        future::ready(self.publish_now(channel, payload, trace)).boxed()
    }

    fn join<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<LiveFeed, Error>> {
        future::ready(Ok(self.join_now(channel))).boxed()
    }

    fn replay<'a>(
        &'a self,
        channel: &'a str,
        after: Option<MessageId>,
        upto: Option<MessageId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>> {
        future::ready(Ok(self.replay_now(channel, after, upto, limit))).boxed()
    }

    fn subscribers(&self, channel: &str) -> usize {
        // A dormant channel has none.
        let channels = self.channels.read().unwrap_or_else(PoisonError::into_inner);
        channels
            .active
            .get(channel)
            .map_or(0, |channel| channel.live.receiver_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(page: &Page) -> Vec<u64> {
        page.messages
            .iter()
            .map(|m| m.id().as_sequence().unwrap())
            .collect()
    }

    fn seq(n: u64) -> Option<MessageId> {
        Some(MessageId::sequence(n))
    }

    #[test]
    fn replay_pages_stop_at_the_head_and_find_gaps() {
        let memory = InMemory::new(Settings::default().retention(Retention::new(5)));
        for _ in 0..8 {
            memory.publish_now("c", Bytes::new(), None).unwrap();
        }
        // Retained: 4..=8.
        let page = memory.replay_now("c", seq(5), seq(7), 10);
        assert_eq!((ids(&page), page.more, page.gap), (vec![6, 7], false, None));
        let page = memory.replay_now("c", seq(3), seq(8), 2);
        assert_eq!((ids(&page), page.more, page.gap), (vec![4, 5], true, None));
        let page = memory.replay_now("c", seq(2), seq(8), 10);
        assert_eq!(
            (ids(&page), page.gap),
            (vec![4, 5, 6, 7, 8], Some(GapKind::Expired))
        );
        let page = memory.replay_now("c", seq(9), seq(8), 10);
        assert_eq!((ids(&page), page.gap), (vec![], Some(GapKind::Unknown)));
        let page = memory.replay_now("c", None, seq(8), 10);
        assert_eq!((ids(&page), page.gap), (vec![4, 5, 6, 7, 8], None));
        let page = memory.replay_now("c", seq(8), None, 10);
        assert_eq!((ids(&page), page.gap), (vec![], None));
        let page = memory.replay_now("other", seq(1), None, 10);
        assert_eq!(page.gap, Some(GapKind::Unknown));
        let stream_id = Some(MessageId::stream(1, 1));
        assert_eq!(
            memory.replay_now("c", stream_id, seq(8), 10).gap,
            Some(GapKind::Unknown)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn channels_whose_messages_expired_go_dormant_and_keep_their_numbering() {
        let age = std::time::Duration::from_secs(10);
        let memory = InMemory::new(Settings::default().retention(Retention::new(100).max_age(age)));
        for i in 0..300 {
            memory
                .publish_now(&format!("reply-{i}"), Bytes::new(), None)
                .unwrap();
        }
        memory.publish_now("reply-0", Bytes::new(), None).unwrap();
        let watched = memory.join_now("reply-1");
        tokio::time::advance(age * 2).await;
        // The next sweep comes within SWEEP_EVERY publishes.
        for _ in 0..SWEEP_EVERY {
            memory.publish_now("busy", Bytes::new(), None).unwrap();
        }
        let active = |memory: &InMemory| memory.channels.read().unwrap().active.len();
        // Left: "busy", and "reply-1", which has a subscriber.
        assert_eq!(active(&memory), 2);
        drop(watched);
        // A dormant channel numbers on from where it was, for a publisher and for a resume.
        assert_eq!(memory.replay_now("reply-0", seq(2), seq(2), 10).gap, None);
        assert_eq!(
            memory.replay_now("reply-0", seq(1), seq(2), 10).gap,
            Some(GapKind::Expired)
        );
        assert_eq!(
            memory.replay_now("reply-5", seq(2), seq(2), 10).gap,
            Some(GapKind::Unknown)
        );
        let id = memory.publish_now("reply-0", Bytes::new(), None).unwrap();
        assert_eq!(id, MessageId::sequence(3));
        assert_eq!(memory.join_now("reply-7").head, seq(1));
        assert_eq!(memory.subscribers("reply-9"), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn age_expires_messages_even_on_an_idle_channel() {
        let retention = Retention::new(100).max_age(std::time::Duration::from_secs(10));
        let memory = InMemory::new(Settings::default().retention(retention));
        memory.publish_now("c", Bytes::new(), None).unwrap();
        tokio::time::advance(std::time::Duration::from_secs(6)).await;
        memory.publish_now("c", Bytes::new(), None).unwrap();
        tokio::time::advance(std::time::Duration::from_secs(6)).await;
        let page = memory.replay_now("c", seq(0), seq(2), 10);
        assert_eq!((ids(&page), page.gap), (vec![2], Some(GapKind::Expired)));
        let page = memory.replay_now("c", seq(1), seq(2), 10);
        assert_eq!((ids(&page), page.gap), (vec![2], None));
    }
}
