//! The client: calls procedures over oRPC's RPC protocol.
//!
//! A call is `POST {base}/{procedure}` with the input as `{"json": input}` and
//! `content-type: application/json`, the request oRPC's `RPCLink` sends. Nested procedure names
//! (`"planets/list"`) become one path segment per part, each percent-encoded.
//!
//! Cancellation: dropping the future of [`Client::call`] or of a [`StreamRequest`] abandons the
//! request and closes its connection. A [`Client`] is cheap to clone; clones share one connection
//! pool.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::envelope;
use crate::stream::{EventStream, Session};
use crate::{Error, ReconnectPolicy};

/// A client for one oRPC server.
///
/// ```no_run
/// use orpc_client::Client;
/// use serde::Deserialize;
/// use serde_json::json;
///
/// #[derive(Deserialize)]
/// struct Greeting { greeting: String }
///
/// # async fn run() -> Result<(), orpc_client::Error> {
/// let client = Client::new("http://127.0.0.1:8787/rpc")?;
/// let out: Greeting = client.call("echo", &json!({ "name": "ada" })).await?;
/// assert_eq!(out.greeting, "hello ada");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: Url,
    headers: HeaderMap,
    reconnect: ReconnectPolicy,
}

impl Client {
    /// A client for the RPC endpoint at `base` (e.g. `http://127.0.0.1:8787/rpc`), with the
    /// default settings of [`ClientBuilder`].
    pub fn new(base: &str) -> Result<Client, Error> {
        Client::builder(base).build()
    }

    /// A builder for a client of the RPC endpoint at `base`.
    ///
    /// ```
    /// use orpc_client::{Client, ReconnectPolicy};
    /// use reqwest::header::{HeaderValue, AUTHORIZATION};
    ///
    /// let client = Client::builder("http://127.0.0.1:8787/rpc")
    ///     .header(AUTHORIZATION, HeaderValue::from_static("Bearer token"))
    ///     .reconnect(ReconnectPolicy::builder().max_attempts(10).build())
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn builder(base: &str) -> ClientBuilder {
        ClientBuilder {
            base: base.to_owned(),
            http: None,
            headers: HeaderMap::new(),
            reconnect: ReconnectPolicy::default(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
        }
    }

    /// Calls a plain (request/response) procedure and decodes its output.
    ///
    /// A `()` or `None` input is sent as no input at all, as oRPC's client sends `undefined`.
    /// An error response becomes [`Error::Orpc`]. Plain calls are not retried: a procedure may
    /// not be safe to run twice.
    ///
    /// ```no_run
    /// # async fn run(client: orpc_client::Client) -> Result<(), orpc_client::Error> {
    /// let stats: serde_json::Value = client.call("stats", &()).await?;
    /// println!("{} streams started", stats["started"]);
    /// # Ok(()) }
    /// ```
    pub async fn call<O, I>(&self, procedure: &str, input: &I) -> Result<O, Error>
    where
        O: DeserializeOwned,
        I: Serialize + ?Sized,
    {
        let url = self.url(procedure)?;
        let body = envelope::encode_input(input)?;
        let response = self.send(url, body, None).await?;
        if is_event_stream(&response) {
            return Err(Error::Protocol(format!(
                "`{procedure}` answered with an event stream; call it with `Client::stream`"
            )));
        }
        let bytes = response.bytes().await?;
        envelope::decode(&bytes, "output")
    }

    /// Calls a plain procedure that returns a file (an `orpc_runtime::File`, or a `File` or
    /// `Blob` from oRPC on Node), and reads it whole.
    ///
    /// ```no_run
    /// # async fn run(client: orpc_client::Client) -> Result<(), orpc_client::Error> {
    /// let file = client.download("download", &serde_json::json!({ "size": 1000 })).await?;
    /// println!("{} ({}), {} bytes", file.name, file.content_type, file.bytes.len());
    /// # Ok(()) }
    /// ```
    pub async fn download<I>(&self, procedure: &str, input: &I) -> Result<crate::File, Error>
    where
        I: Serialize + ?Sized,
    {
        let url = self.url(procedure)?;
        let body = envelope::encode_input(input)?;
        let response = self.send(url, body, None).await?;
        crate::file::read(response, procedure).await
    }

    /// Calls a streaming procedure (an oRPC event iterator) whose events are `T` and whose
    /// return value is `R`.
    ///
    /// Awaiting the request sends it and waits for the stream to start; an error response
    /// becomes [`Error::Orpc`] then. The [`EventStream`] it resolves to yields the events, then
    /// the return value, reconnecting on the way as the [`ReconnectPolicy`] allows.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// use orpc_client::{Client, Frame};
    /// use serde::Deserialize;
    /// use serde_json::json;
    ///
    /// #[derive(Debug, Deserialize)]
    /// struct Tick { i: u32 }
    ///
    /// # async fn run() -> Result<(), orpc_client::Error> {
    /// let client = Client::new("http://127.0.0.1:8787/rpc")?;
    /// let mut stream = client.stream::<Tick, String>("count", &json!({ "n": 3 })).await?;
    /// while let Some(frame) = stream.next().await {
    ///     match frame? {
    ///         Frame::Event(event) => println!("{} (id {:?})", event.data.i, event.id()),
    ///         Frame::Done(value) => println!("returned {value}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream<T, R>(
        &self,
        procedure: &str,
        input: &(impl Serialize + ?Sized),
    ) -> StreamRequest<T, R> {
        let prepared = self
            .url(procedure)
            .and_then(|url| Ok((url, envelope::encode_input(input)?)));
        StreamRequest {
            client: self.clone(),
            prepared,
            last_event_id: None,
            reconnect: self.inner.reconnect.clone(),
            _types: PhantomData,
        }
    }

    /// `{base}/{procedure}`, one path segment per `/`-separated part.
    fn url(&self, procedure: &str) -> Result<Url, Error> {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .map_err(|()| Error::InvalidUrl(format!("{} cannot be a base URL", self.inner.base)))?
            .pop_if_empty()
            .extend(procedure.split('/'));
        Ok(url)
    }

    /// Sends one request; an error status comes back as [`Error::Orpc`].
    pub(crate) async fn send(
        &self,
        url: Url,
        body: Bytes,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, Error> {
        let mut request = self
            .inner
            .http
            .post(url)
            .headers(self.inner.headers.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body);
        if let Some(id) = last_event_id {
            // From bytes, not text: an id is UTF-8, and header text must be ASCII.
            let value = HeaderValue::from_bytes(id.as_bytes()).map_err(|_| {
                Error::Protocol(format!(
                    "the event id {id:?} holds control characters and cannot be sent back as Last-Event-ID"
                ))
            })?;
            request = request.header(LAST_EVENT_ID, value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        if !orpc_protocol::is_error_status(status) {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Err(Error::Orpc(envelope::decode_error_response(
            status, &headers, &body,
        )))
    }
}

/// The header a reconnecting client resumes with.
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Whether a response is an event stream, by its content type.
pub(crate) fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"))
}

/// How long a connection may stay silent before it counts as dead. oRPC servers (ours too) send a
/// keep-alive comment every 5 s, so a minute of silence is twelve missed keep-alives.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Builds a [`Client`].
///
/// The default HTTP client connects within 10 s, follows no redirects (as oRPC's client, which
/// fetches with `redirect: 'manual'`), and counts a connection silent for 60 s as dead, so that a
/// stream whose server vanished without closing the connection reconnects.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    base: String,
    http: Option<reqwest::Client>,
    headers: HeaderMap,
    reconnect: ReconnectPolicy,
    idle_timeout: Option<Duration>,
}

impl ClientBuilder {
    /// Sends requests with this HTTP client instead of the default one (the idle timeout of
    /// this builder then does not apply: set `read_timeout` on that client instead).
    ///
    /// ```
    /// let http = reqwest::Client::builder().build().unwrap();
    /// let client = orpc_client::Client::builder("http://127.0.0.1:8787/rpc")
    ///     .http_client(http)
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Adds a header to every request.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// How streams reconnect, unless a call sets its own with [`StreamRequest::reconnect`].
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// How long the default HTTP client waits for the next bytes of a response before it gives
    /// the connection up (a stream then reconnects); `None` waits for ever.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The client; fails when the base URL is not a valid `http` or `https` URL.
    pub fn build(self) -> Result<Client, Error> {
        let base = Url::parse(&self.base)
            .map_err(|e| Error::InvalidUrl(format!("{:?}: {e}", self.base)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(Error::InvalidUrl(format!(
                "{:?}: expected an http:// or https:// URL",
                self.base
            )));
        }
        let http = match self.http {
            Some(http) => http,
            None => {
                let mut builder = reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .redirect(reqwest::redirect::Policy::none());
                if let Some(timeout) = self.idle_timeout {
                    builder = builder.read_timeout(timeout);
                }
                builder.build()?
            }
        };
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                headers: self.headers,
                reconnect: self.reconnect,
            }),
        })
    }
}

/// A call of a streaming procedure, not sent yet. Await it (or call [`send`](Self::send)) to get
/// the [`EventStream`].
///
/// ```no_run
/// # async fn run(client: orpc_client::Client) -> Result<(), orpc_client::Error> {
/// use orpc_client::ReconnectPolicy;
///
/// // Resume after event 41, giving up at the first failure.
/// let stream = client
///     .stream::<serde_json::Value, String>("count", &serde_json::json!({ "n": 50 }))
///     .last_event_id("41")
///     .reconnect(ReconnectPolicy::never())
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a stream request does nothing until it is awaited"]
pub struct StreamRequest<T, R> {
    client: Client,
    prepared: Result<(Url, Bytes), Error>,
    last_event_id: Option<String>,
    reconnect: ReconnectPolicy,
    _types: PhantomData<fn() -> (T, R)>,
}

impl<T, R> std::fmt::Debug for StreamRequest<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRequest")
            .field("url", &self.prepared.as_ref().map(|(url, _)| url.as_str()))
            .field("last_event_id", &self.last_event_id)
            .field("reconnect", &self.reconnect)
            .finish_non_exhaustive()
    }
}

impl<T, R> StreamRequest<T, R>
where
    T: DeserializeOwned + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    /// Starts as if the client had already seen the event with this id: the first request sends
    /// it as `Last-Event-ID`, and the server resumes after it.
    pub fn last_event_id(mut self, id: impl Into<String>) -> Self {
        self.last_event_id = Some(id.into());
        self
    }

    /// How this stream reconnects, instead of the client's policy.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// Sends the request and waits for the stream to start.
    ///
    /// Connection failures on the way are retried as the reconnect policy allows; an error
    /// response is returned as [`Error::Orpc`] (and retried only if the policy retries errors).
    pub async fn send(self) -> Result<EventStream<T, R>, Error> {
        let (url, body) = self.prepared?;
        let mut session = Session::new(self.client, url, body, self.last_event_id, self.reconnect);
        session.start().await?;
        Ok(EventStream::new(session))
    }
}

impl<T, R> IntoFuture for StreamRequest<T, R>
where
    T: DeserializeOwned + Send + 'static,
    R: DeserializeOwned + Send + 'static,
{
    type Output = Result<EventStream<T, R>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
