//! The contract between [`PubSub`](crate::PubSub) and a storage backend.
//!
//! A backend stores, numbers, retains and fans out; the resume semantics (replay then live, no
//! gap and no duplicate at the seam, gap policy, lag) live once, in
//! [`Subscription`](crate::Subscription), on top of three operations:
//!
//! 1. [`Backend::publish`] assigns the next id of the channel and stores the message. Ids of a
//!    channel increase in the order the messages reach the live feed.
//! 2. [`Backend::join`] registers a live receiver, atomically with reading the channel's *head*:
//!    the id of the last message sent to the live feed before the receiver joined. The receiver
//!    gets every message after the head, and none at or before it.
//! 3. [`Backend::replay`] reads retained messages in `(after, head]` and says whether anything
//!    after `after` is missing.
//!
//! Together these make the seam exact: replay covers up to the head, live covers after it.

use std::any::Any;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use tokio::sync::broadcast;

use crate::{Error, GapKind, Message, MessageId, TraceContext};

/// A storage backend: [`InMemory`](crate::InMemory), [`Redis`](crate::Redis), or your own.
pub trait Backend: Send + Sync + 'static {
    /// Reads an id this backend issued from its text, `None` if it could not have issued it.
    fn parse_id(&self, text: &str) -> Option<MessageId>;

    /// Stores `payload` as the channel's next message and returns its id. A message whose
    /// publish returned `Ok` is retained and sent to the live feed; one that returned `Err`
    /// may or may not have been (the connection to the store failed mid-way), never twice.
    ///
    /// `trace` is the trace context of the publish, when it is traced: a backend whose format has
    /// a place for it stores it with the message ([`Message::with_trace_context`]).
    fn publish<'a>(
        &'a self,
        channel: &'a str,
        payload: Bytes,
        trace: Option<TraceContext>,
    ) -> BoxFuture<'a, Result<MessageId, Error>>;

    /// Registers a live receiver on the channel (see the [module docs](self)).
    fn join<'a>(&'a self, channel: &'a str) -> BoxFuture<'a, Result<LiveFeed, Error>>;

    /// Up to `limit` retained messages with ids in `(after, upto]`, oldest first (`after: None`:
    /// from the oldest retained; `upto: None`: none, only the gap check), and whether messages
    /// after `after` are missing.
    fn replay<'a>(
        &'a self,
        channel: &'a str,
        after: Option<MessageId>,
        upto: Option<MessageId>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page, Error>>;

    /// How many live receivers the channel has in this process.
    fn subscribers(&self, channel: &str) -> usize;

    /// Records the backend's own metrics, such as its errors, with `meter` (feature `otel`),
    /// from the first meter a [`PubSub`](crate::PubSub) handle gives it on. The default records
    /// none.
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    fn meter(&self, meter: &opentelemetry::metrics::Meter) {
        let _ = meter;
    }
}

/// What the live feed of a channel carries.
#[derive(Clone, Debug)]
pub enum FeedItem {
    /// The next message.
    Message(Message),
    /// The feed itself missed messages before the next one (a Redis reader that was disconnected
    /// longer than retention kept them).
    Gap(GapKind),
    /// The feed has ended; nothing follows.
    Closed(Error),
}

/// A live receiver, the channel's head when it joined, and whatever keeps the feed running.
pub struct LiveFeed {
    pub(crate) receiver: broadcast::Receiver<FeedItem>,
    pub(crate) head: Option<MessageId>,
    // Dropped with the subscription: the Redis backend stops a channel's reader when the last
    // guard goes.
    _guard: Option<Box<dyn Any + Send + Sync>>,
}

impl LiveFeed {
    /// A receiver that joined after the message `head` (`None`: before any message).
    pub fn new(
        receiver: broadcast::Receiver<FeedItem>,
        head: Option<MessageId>,
        guard: Option<Box<dyn Any + Send + Sync>>,
    ) -> Self {
        LiveFeed {
            receiver,
            head,
            _guard: guard,
        }
    }
}

/// One page of a replay.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// Retained messages, oldest first, with increasing ids.
    pub messages: Vec<Message>,
    /// Whether more messages may follow in the requested range.
    pub more: bool,
    /// Whether messages after `after` are missing, and why.
    pub gap: Option<GapKind>,
}
