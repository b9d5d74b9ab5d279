//! A subscription: replay from retention, then live, as one `Stream`.
//!
//! Guarantees, for every backend:
//! - **Order, exactly once.** Messages arrive in id order. A subscription given a last id first
//!   replays the retained messages after it (one made
//!   [from the oldest](crate::PubSub::subscribe_from_oldest): all of them) up to the channel's
//!   head when it joined, then goes on with the live feed, which starts right after that head
//!   (see [`Backend`]). Any message
//!   at or before the last delivered id is dropped, so nothing is delivered twice even when the
//!   last id is ahead of this process (a client that comes from another instance).
//! - **Never silence.** Incomplete history is reported per [`GapPolicy`]. A subscriber that falls
//!   further behind the live feed than its buffer ends with [`Error::Lagged`]; a backend that
//!   fails ends it with [`Error::Unavailable`]. After an `Err` the stream ends, except for a gap
//!   marker under [`GapPolicy::Marker`].
//! - **An unreadable entry ends only who reaches it.** An entry the backend found but could not
//!   read ([`Message::unreadable`], as someone else may write into a shared format) ends a
//!   subscription that reaches it with [`Error::InvalidPayload`], which names the entry's id: a
//!   client may resume after it. Other channels, and subscriptions resuming after it, go on.
//! - **Bounded memory.** Replay reads pages of [`PAGE`] messages; live messages wait in the
//!   channel's shared ring, which never grows. A subscriber that is not polled costs the same as
//!   one that is.
//! - **Drop unsubscribes.** Dropping the stream, at any point, including in the middle of a
//!   replay, drops its live receiver at once: the publisher stops counting it, and with the
//!   Redis backend the channel's reader stops with the last subscriber of the process. Inside a
//!   `#[procedure]` handler that is what a client disconnect does, through the same drop that
//!   runs its `finally` guards.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::stream::{FusedStream, Stream};
use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;

use crate::backend::{Backend, FeedItem, LiveFeed};
use crate::telemetry::Telemetry;
use crate::{Error, Gap, GapKind, GapPolicy, Message, MessageId};

/// How many retained messages one replay step reads.
pub const PAGE: usize = 256;

/// The messages of one channel, as a [`Stream`] of `Result<Message, Error>`.
///
/// Made by [`PubSub::subscribe`](crate::PubSub::subscribe); see the [module docs](self) for its
/// guarantees.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), orpc_pubsub::Error> {
/// use futures_util::StreamExt;
/// use orpc_pubsub::{PubSub, Settings};
///
/// let pubsub = PubSub::in_memory(Settings::default());
/// let first = pubsub.publish("ticker", "a").await?;
/// pubsub.publish("ticker", "b").await?;
///
/// // A client that received `first` resumes after it: it gets "b", then live messages.
/// let mut resumed = pubsub.subscribe("ticker", Some(&first.to_string())).await?;
/// pubsub.publish("ticker", "c").await?;
/// let b = resumed.next().await.unwrap()?;
/// let c = resumed.next().await.unwrap()?;
/// assert_eq!((b.payload().as_ref(), c.payload().as_ref()), (&b"b"[..], &b"c"[..]));
///
/// drop(resumed); // unsubscribes at once
/// assert_eq!(pubsub.subscribers("ticker"), 0);
/// # Ok(())
/// # }
/// ```
pub struct Subscription {
    channel: Arc<str>,
    inner: futures_util::stream::Fuse<Items>,
}

/// The state machine below, boxed once per subscription (its future type cannot be named).
type Items = Pin<Box<dyn Stream<Item = Result<Message, Error>> + Send + 'static>>;

impl Subscription {
    pub(crate) fn new(
        backend: Arc<dyn Backend>,
        channel: &str,
        live: LiveFeed,
        after: Option<MessageId>,
        policy: GapPolicy,
        telemetry: Telemetry,
    ) -> Self {
        Self::start(backend, channel, live, after, false, policy, telemetry)
    }

    /// A subscription that replays everything retained up to the head it joined after, then
    /// goes on live.
    pub(crate) fn from_oldest(
        backend: Arc<dyn Backend>,
        channel: &str,
        live: LiveFeed,
        policy: GapPolicy,
        telemetry: Telemetry,
    ) -> Self {
        Self::start(backend, channel, live, None, true, policy, telemetry)
    }

    fn start(
        backend: Arc<dyn Backend>,
        channel: &str,
        live: LiveFeed,
        after: Option<MessageId>,
        replay: bool,
        policy: GapPolicy,
        telemetry: Telemetry,
    ) -> Self {
        let channel: Arc<str> = channel.into();
        let state = State {
            backend,
            channel: channel.clone(),
            // A last id is checked for gaps even before any message; from the oldest, an empty
            // channel has nothing to replay.
            phase: if after.is_some() || (replay && live.head.is_some()) {
                Phase::Replay
            } else {
                Phase::Live
            },
            live,
            policy,
            last: after,
            pending: VecDeque::new(),
            telemetry,
        };
        let stream = futures_util::stream::unfold(state, |mut state| async move {
            let item = state.next().await?;
            Some((item, state))
        });
        let stream: Items = Box::pin(stream);
        Subscription {
            channel,
            inner: stream.fuse(),
        }
    }

    /// The channel subscribed to.
    pub fn channel(&self) -> &str {
        &self.channel
    }
}

impl Stream for Subscription {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

impl FusedStream for Subscription {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

enum Phase {
    /// Reading retention from `last` up to the head the live receiver joined after.
    Replay,
    /// Receiving from the live feed.
    Live,
    /// An error was yielded; nothing follows.
    Ended,
}

struct State {
    backend: Arc<dyn Backend>,
    channel: Arc<str>,
    live: LiveFeed,
    policy: GapPolicy,
    /// The last id delivered (or the one the subscriber resumed after).
    last: Option<MessageId>,
    phase: Phase,
    /// The rest of the current replay page.
    pending: VecDeque<Message>,
    telemetry: Telemetry,
}

impl State {
    async fn next(&mut self) -> Option<Result<Message, Error>> {
        loop {
            if let Some(message) = self.pending.pop_front() {
                return Some(self.deliver(message));
            }
            let item = match self.phase {
                Phase::Ended => return None,
                Phase::Replay => self.replay_page().await,
                Phase::Live => self.receive().await,
            };
            if item.is_some() {
                return item;
            }
        }
    }

    /// Reads the next page of retention into `pending`; returns an item only for a gap or an
    /// error.
    async fn replay_page(&mut self) -> Option<Result<Message, Error>> {
        let head = self.live.head;
        let after = self.last;
        let page = match self.backend.replay(&self.channel, after, head, PAGE).await {
            Ok(page) => page,
            Err(err) => return Some(self.end(err)),
        };
        // Only ids in (after, head] belong to the replay; later ones come from the live feed.
        let in_range = |m: &Message| {
            after.is_none_or(|after| m.id() > after) && head.is_some_and(|head| m.id() <= head)
        };
        let before = self.pending.len();
        self.pending
            .extend(page.messages.into_iter().filter(in_range));
        let reached_head = match (self.pending.back(), head) {
            (Some(last), Some(head)) => last.id() >= head,
            _ => true,
        };
        // A page that brings nothing ends the replay, so that no backend can make it spin.
        if !page.more || reached_head || self.pending.len() == before {
            self.phase = Phase::Live;
        }
        page.gap.map(|kind| self.gap(kind, true))
    }

    async fn receive(&mut self) -> Option<Result<Message, Error>> {
        match self.live.receiver.recv().await {
            Ok(FeedItem::Message(message)) => {
                if self.last.is_some_and(|last| message.id() <= last) {
                    return None;
                }
                Some(self.deliver(message))
            }
            Ok(FeedItem::Gap(kind)) => Some(self.gap(kind, false)),
            Ok(FeedItem::Closed(err)) => Some(self.end(err)),
            Err(RecvError::Lagged(skipped)) => {
                self.telemetry.lagged();
                Some(self.end(Error::Lagged { skipped }))
            }
            Err(RecvError::Closed) => {
                Some(self.end(Error::unavailable("the channel's feed closed")))
            }
        }
    }

    /// Hands out the next message, or ends on one the backend could not read.
    fn deliver(&mut self, message: Message) -> Result<Message, Error> {
        if let Some(reason) = message.unreadable_reason() {
            let err = Error::InvalidPayload {
                id: Some(message.id()),
                reason: reason.clone(),
            };
            return self.end(err);
        }
        self.last = Some(message.id());
        self.telemetry.delivered(&self.channel, &message);
        Ok(message)
    }

    /// Reports a gap found by the replay (`in_replay`) or announced by the live feed.
    fn gap(&mut self, kind: GapKind, in_replay: bool) -> Result<Message, Error> {
        let gap = Error::Gap(Gap {
            after: self.last,
            kind,
        });
        match self.policy {
            GapPolicy::Error => self.end(gap),
            GapPolicy::Marker => {
                if kind == GapKind::Unknown {
                    // The last id means nothing to this channel, so it cannot filter anything.
                    self.last = None;
                    if in_replay {
                        // Start the replay over from the oldest retained message.
                        self.pending.clear();
                        if self.live.head.is_some() {
                            self.phase = Phase::Replay;
                        }
                    }
                    // From the live feed, the backend already goes on from its oldest message.
                }
                Err(gap)
            }
        }
    }

    fn end(&mut self, err: Error) -> Result<Message, Error> {
        self.phase = Phase::Ended;
        self.pending.clear();
        Err(err)
    }
}
