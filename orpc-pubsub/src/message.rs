//! One published message: its id and its payload bytes.
//!
//! Fan-out hands the same message to every subscriber of a channel, so cloning one is cheap: the
//! id is two integers and the payload is a reference-counted [`Bytes`].

use bytes::Bytes;

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
}

impl Message {
    /// A message as a backend stores it.
    pub fn new(id: MessageId, payload: Bytes) -> Self {
        Message { id, payload }
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
}
