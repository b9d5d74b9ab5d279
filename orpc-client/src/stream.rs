//! The event stream: one streaming call, across as many connections as it takes.
//!
//! [`EventStream`] reads the response body through the SSE [`Decoder`], turns `message` events
//! into typed [`Event`]s and the `done` event into the return value, and skips everything else
//! (keep-alive comments, unknown event types). When the connection fails or ends before `done` or
//! `error`, it reconnects as its [`ReconnectPolicy`] allows, sending the last event id it saw as
//! `Last-Event-ID` so that the server resumes after it.
//!
//! Guarantees:
//! - Items come in the order the server sent them; an `Err` item or [`Frame::Done`] is always the
//!   last one, and the stream is fused: it yields `None` for ever after.
//! - Nothing is requested after `done`, and nothing after the stream gives up.
//! - Dropping the stream, at any point (between items, while reading, while waiting to
//!   reconnect), closes its connection at once, so the server sees the client leave and runs the
//!   stream's cleanup. No background task outlives it.
//! - Cancelling a `next()` future drops no event: bytes already read stay in the stream, and a
//!   later `next()` picks up where it left.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::{FusedStream, Stream};
use futures_util::StreamExt;
use reqwest::Url;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::client::{is_event_stream, Client};
use crate::envelope;
use crate::sse::{Decoder, RawEvent};
use crate::{Error, Event, Frame, ReconnectPolicy};

/// The events of a streaming call, then its return value.
///
/// It is a [`Stream`] of `Result<Frame<T, R>, Error>`: [`Frame::Event`]s, then one
/// [`Frame::Done`] with the return value, or an `Err` that ends the stream. Get one from
/// [`Client::stream`](crate::Client::stream).
///
/// ```no_run
/// use orpc_client::{Client, Error};
/// use serde_json::{json, Value};
///
/// # async fn run() -> Result<(), Error> {
/// let client = Client::new("http://127.0.0.1:8787/rpc")?;
/// let stream = client.stream::<Value, String>("count", &json!({ "n": 3 })).await?;
/// let (events, done) = stream.collect_all().await?;
/// assert_eq!(events.len(), 3);
/// assert_eq!(done, "done!");
/// # Ok(()) }
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct EventStream<T, R> {
    inner: Pin<Box<dyn FusedStream<Item = Item<T, R>> + Send>>,
}

/// What an [`EventStream`] yields.
type Item<T, R> = Result<Frame<T, R>, Error>;

impl<T, R> EventStream<T, R>
where
    T: DeserializeOwned + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    pub(crate) fn new(session: Session) -> Self {
        // The session is moved out while it produces an item and put back after; `None` once
        // the stream is over, which drops the session and with it the connection.
        let frames = futures_util::stream::unfold(Some(session), |session| async move {
            let mut session = session?;
            let (item, go_on) = match session.next().await? {
                Ok(Wire::Message(mut raw)) => {
                    let meta = raw.take_meta();
                    match envelope::decode::<T>(raw.data.as_bytes(), "event") {
                        Ok(data) => (Ok(Frame::Event(Event::with_meta(data, meta))), true),
                        Err(error) => (Err(error), false),
                    }
                }
                Ok(Wire::Done(raw)) => (
                    envelope::decode::<R>(raw.data.as_bytes(), "return value").map(Frame::Done),
                    false,
                ),
                Err(error) => (Err(error), false),
            };
            Some((item, go_on.then_some(session)))
        });
        EventStream {
            inner: Box::pin(frames.fuse()),
        }
    }

    /// Reads the stream to its end: every event, then the return value.
    ///
    /// ```no_run
    /// # async fn run(client: orpc_client::Client) -> Result<(), orpc_client::Error> {
    /// let (events, done) = client
    ///     .stream::<serde_json::Value, String>("count", &serde_json::json!({ "n": 3 }))
    ///     .await?
    ///     .collect_all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn collect_all(mut self) -> Result<(Vec<Event<T>>, R), Error> {
        let mut events = Vec::new();
        while let Some(frame) = self.next().await {
            match frame? {
                Frame::Event(event) => events.push(event),
                Frame::Done(value) => return Ok((events, value)),
            }
        }
        // Unreachable by the stream's guarantees: it ends with `Done` or an error.
        Err(Error::StreamEnded { mid_event: false })
    }
}

impl<T, R> Stream for EventStream<T, R> {
    type Item = Item<T, R>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl<T, R> FusedStream for EventStream<T, R> {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

impl<T, R> fmt::Debug for EventStream<T, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("terminated", &self.inner.is_terminated())
            .finish_non_exhaustive()
    }
}

/// An event the typed layer has to decode.
pub(crate) enum Wire {
    Message(RawEvent),
    Done(RawEvent),
}

/// One open response.
struct Live {
    response: reqwest::Response,
    decoder: Decoder,
    /// Bytes read from the response and not decoded yet.
    chunk: Bytes,
    opened: Instant,
}

/// The untyped state of a streaming call: the request to repeat, where to resume, how often it
/// has failed in a row, and the open response.
pub(crate) struct Session {
    client: Client,
    url: Url,
    body: Bytes,
    policy: ReconnectPolicy,
    /// The id of the last event seen, sent back as `Last-Event-ID`.
    last_event_id: Option<String>,
    /// The last `retry:` the server sent.
    server_retry: Option<std::time::Duration>,
    /// Attempts in a row since the last healthy connection.
    failures: u32,
    /// `None` before the start and once the stream is over.
    live: Option<Live>,
}

impl Session {
    pub(crate) fn new(
        client: Client,
        url: Url,
        body: Bytes,
        last_event_id: Option<String>,
        policy: ReconnectPolicy,
    ) -> Self {
        Session {
            client,
            url,
            body,
            policy,
            last_event_id: last_event_id.filter(|id| !id.is_empty()),
            server_retry: None,
            failures: 0,
            live: None,
        }
    }

    /// Opens the first connection, retrying as the policy allows.
    pub(crate) async fn start(&mut self) -> Result<(), Error> {
        match self.open().await {
            Ok(live) => {
                self.live = Some(live);
                Ok(())
            }
            Err(error) => self.reconnect(error).await,
        }
    }

    /// The next event to hand to the typed layer, or the error that ends the stream; `None` once
    /// the stream is over.
    pub(crate) async fn next(&mut self) -> Option<Result<Wire, Error>> {
        loop {
            let live = self.live.as_mut()?;
            let mut rest: &[u8] = &live.chunk;
            if let Some(raw) = live.decoder.decode(&mut rest) {
                let read = live.chunk.len() - rest.len();
                live.chunk.advance(read);
                self.saw(&raw);
                match raw.event.as_str() {
                    "message" => return Some(Ok(Wire::Message(raw))),
                    "done" => {
                        self.live = None;
                        return Some(Ok(Wire::Done(raw)));
                    }
                    "error" => {
                        if let Err(error) =
                            self.recover(envelope::decode_error_event(&raw.data)).await
                        {
                            return Some(Err(error));
                        }
                    }
                    // Keep-alive comments, and event types oRPC ignores too.
                    _ => {}
                }
                continue;
            }
            live.chunk.clear();
            // Cancel-safe: `chunk()` loses nothing when dropped before it returns.
            let failure = match live.response.chunk().await {
                Ok(Some(bytes)) => {
                    live.chunk = bytes;
                    continue;
                }
                Ok(None) => Error::StreamEnded {
                    mid_event: std::mem::take(&mut live.decoder).finish().is_err(),
                },
                Err(error) => Error::Transport(error),
            };
            if let Err(error) = self.recover(failure).await {
                return Some(Err(error));
            }
        }
    }

    /// Keeps what the server said about resuming: the last event id and the `retry:` time.
    fn saw(&mut self, raw: &RawEvent) {
        if let Some(id) = &raw.id {
            // An empty id tells the client to forget the last one, as in an `EventSource`.
            self.last_event_id = (!id.is_empty()).then(|| id.clone());
        }
        if raw.retry.is_some() {
            self.server_retry = raw.retry;
        }
    }

    /// After the open connection failed with `cause`: closes it, then reconnects if the policy
    /// allows, or returns the error that ends the stream.
    async fn recover(&mut self, cause: Error) -> Result<(), Error> {
        if let Some(live) = self.live.take() {
            if live.opened.elapsed() >= self.policy.reset_after() {
                self.failures = 0;
            }
        }
        self.reconnect(cause).await
    }

    /// Attempts connections, waiting as the policy says before each, until one opens or the
    /// policy gives up; then the error of the last attempt is returned.
    async fn reconnect(&mut self, mut cause: Error) -> Result<(), Error> {
        loop {
            let retryable = cause.is_connection_error()
                || (cause.is_server_error() && self.policy.retries_errors());
            if !retryable || !self.policy.allows(self.failures) {
                return Err(cause);
            }
            let delay = self.policy.delay(self.failures, self.server_retry);
            self.failures = self.failures.saturating_add(1);
            tokio::time::sleep(delay).await;
            match self.open().await {
                Ok(live) => {
                    self.live = Some(live);
                    return Ok(());
                }
                Err(error) => cause = error,
            }
        }
    }

    /// Sends the request once, resuming after the last event id.
    async fn open(&self) -> Result<Live, Error> {
        let response = self
            .client
            .send(
                self.url.clone(),
                self.body.clone(),
                self.last_event_id.as_deref(),
            )
            .await?;
        if !is_event_stream(&response) {
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            return Err(Error::Protocol(format!(
                "expected an event stream, got a response of type {}; call plain procedures with `Client::call`",
                content_type.as_deref().unwrap_or("(none)")
            )));
        }
        Ok(Live {
            response,
            decoder: Decoder::new(),
            chunk: Bytes::new(),
            opened: Instant::now(),
        })
    }
}
