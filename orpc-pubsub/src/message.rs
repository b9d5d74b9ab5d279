//! One published message: its id, its payload bytes and, in formats that carry them, its event
//! meta and the trace context of its publish.
//!
//! Fan-out hands the same message to every subscriber of a channel, so cloning one is cheap: the
//! id is two integers, the payload is a reference-counted [`Bytes`], and what some messages carry
//! besides (oRPC's `retry` and comments, a trace context, or why an entry could not be read) is
//! behind one reference-counted pointer.

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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Extra {
    /// The publisher's `retry` and comments; the id is always the message's own.
    meta: EventMeta,
    /// The trace context of the publish.
    trace: Option<TraceContext>,
    /// The backend found this entry but could not read it.
    unreadable: Option<Arc<str>>,
}

impl Extra {
    fn is_empty(&self) -> bool {
        self.meta.is_empty() && self.trace.is_none() && self.unreadable.is_none()
    }
}

/// The W3C trace context (`traceparent`, and `tracestate` when there is one) of the span that
/// published a message, which the message carries to its subscribers: with the `otel` feature
/// and a tracer ([`PubSub::tracer_provider`](crate::PubSub::tracer_provider)), each delivery is a
/// span linked to it, on whichever instance the subscriber is.
///
/// The in-memory backend and the Redis backend's native format carry it; the
/// [oRPC-compatible](crate::RedisFormat::OrpcCompatible) format has no place for it.
///
/// ```
/// use orpc_pubsub::TraceContext;
///
/// let trace = TraceContext::new("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "");
/// assert_eq!(trace.tracestate(), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    traceparent: Arc<str>,
    tracestate: Option<Arc<str>>,
}

impl TraceContext {
    /// A `traceparent` header's value, and a `tracestate` one (empty: none).
    pub fn new(traceparent: impl Into<Arc<str>>, tracestate: impl Into<Arc<str>>) -> Self {
        let tracestate: Arc<str> = tracestate.into();
        TraceContext {
            traceparent: traceparent.into(),
            tracestate: (!tracestate.is_empty()).then_some(tracestate),
        }
    }

    /// The `traceparent` value: `00-{trace id}-{span id}-{flags}`.
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate` value, if there is one.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }
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
    pub fn with_meta(self, meta: EventMeta) -> Self {
        let meta = EventMeta { id: None, ..meta };
        self.with_extra(|extra| extra.meta = meta)
    }

    /// With the trace context of its publish (see [`TraceContext`]).
    pub fn with_trace_context(self, trace: TraceContext) -> Self {
        self.with_extra(|extra| extra.trace = Some(trace))
    }

    fn with_extra(mut self, change: impl FnOnce(&mut Extra)) -> Self {
        let mut extra = self.extra.as_deref().cloned().unwrap_or_default();
        change(&mut extra);
        self.extra = (!extra.is_empty()).then(|| Arc::new(extra));
        self
    }

    /// An entry a backend found in the channel but could not read: a subscription that reaches
    /// it yields [`Error::InvalidPayload`](crate::Error::InvalidPayload) with its id, and ends.
    pub fn unreadable(id: MessageId, reason: impl fmt::Display) -> Self {
        Message::new(id, Bytes::new()).with_extra(|extra| {
            extra.unreadable = Some(reason.to_string().into());
        })
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
            Some(extra) => extra.meta.clone(),
            None => EventMeta::new(),
        };
        EventMeta {
            id: Some(self.id.to_string().into()),
            ..meta
        }
    }

    /// The trace context of its publish, when its publisher traced it and its format carries it.
    pub fn trace_context(&self) -> Option<&TraceContext> {
        self.extra.as_deref()?.trace.as_ref()
    }

    /// Why the backend could not read this entry, if it could not.
    pub(crate) fn unreadable_reason(&self) -> Option<&Arc<str>> {
        self.extra.as_deref()?.unreadable.as_ref()
    }
}
