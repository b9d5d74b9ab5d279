//! One published message: its id, its payload bytes and, in formats that carry it, its event
//! meta.
//!
//! Fan-out hands the same message to every subscriber of a channel, so cloning one is cheap: the
//! id is two integers, the payload is a reference-counted [`Bytes`], and what few messages carry
//! besides (oRPC's `retry` and comments, or why an entry could not be read) is behind one
//! reference-counted pointer.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use orpc_protocol::EventMeta;

use crate::MessageId;

/// A message received from a channel.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), orpc_pubsub::Error> {
/// use futures_util::StreamExt;
/// use orpc_pubsub::{PubSub, Settings};
///
/// let pubsub = PubSub::in_memory(Settings::default());
/// let mut scores = pubsub.subscribe("scores", None).await?;
/// pubsub.publish("scores", r#"{"home":1}"#).await?;
///
/// let message = scores.next().await.unwrap()?;
/// assert_eq!(message.id().to_string(), "1");
/// assert_eq!(message.payload().as_ref(), br#"{"home":1}"#);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    id: MessageId,
    payload: Bytes,
    /// `None` for a plain message, which is most of them.
    extra: Option<Arc<Extra>>,
}

#[derive(Debug, PartialEq, Eq)]
enum Extra {
    /// The publisher's `retry` and comments; the id is always the message's own.
    Meta(EventMeta),
    /// The backend found this entry but could not read it.
    Unreadable(Arc<str>),
}

impl Message {
    /// A message as a backend stores it.
    pub fn new(id: MessageId, payload: Bytes) -> Self {
        Message {
            id,
            payload,
            extra: None,
        }
    }

    /// With the event meta its publisher set: its `retry` and comments are kept, its id is not,
    /// since a message's id is the one its backend assigned.
    pub fn with_meta(mut self, meta: EventMeta) -> Self {
        let meta = EventMeta { id: None, ..meta };
        self.extra = (!meta.is_empty()).then(|| Arc::new(Extra::Meta(meta)));
        self
    }

    /// An entry a backend found in the channel but could not read: a subscription that reaches
    /// it yields [`Error::InvalidPayload`](crate::Error::InvalidPayload) with its id, and ends.
    pub fn unreadable(id: MessageId, reason: impl fmt::Display) -> Self {
        Message {
            id,
            payload: Bytes::new(),
            extra: Some(Arc::new(Extra::Unreadable(reason.to_string().into()))),
        }
    }

    /// The id the publisher's backend assigned; send it as the SSE `id:` so that a reconnecting
    /// client can resume after it.
    pub fn id(&self) -> MessageId {
        self.id
    }

    /// The bytes that were published.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Takes the payload.
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// The SSE metadata to send this message with: its id, and the `retry` and comments its
    /// publisher set, which only the [oRPC-compatible](crate::RedisFormat::OrpcCompatible) format
    /// carries.
    ///
    /// ```
    /// use std::time::Duration;
    /// use orpc_protocol::EventMeta;
    /// use orpc_pubsub::{Message, MessageId};
    ///
    /// let id = MessageId::stream(1718000000000, 0);
    /// let meta = EventMeta::new().id("ignored").retry(Duration::from_secs(1)).comment("hi");
    /// let message = Message::new(id, "{}".into()).with_meta(meta);
    /// let sent = message.event_meta();
    /// assert_eq!(sent.id.unwrap().as_str(), "1718000000000-0");
    /// assert_eq!(sent.retry, Some(Duration::from_secs(1)));
    /// assert_eq!(sent.comments[0], "hi");
    /// ```
    pub fn event_meta(&self) -> EventMeta {
        let meta = match self.extra.as_deref() {
            Some(Extra::Meta(meta)) => meta.clone(),
            _ => EventMeta::new(),
        };
        EventMeta {
            id: Some(self.id.to_string().into()),
            ..meta
        }
    }

    /// Why the backend could not read this entry, if it could not.
    pub(crate) fn unreadable_reason(&self) -> Option<&Arc<str>> {
        match self.extra.as_deref() {
            Some(Extra::Unreadable(reason)) => Some(reason),
            _ => None,
        }
    }
}
