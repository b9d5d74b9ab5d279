//! # orpc-client
//!
//! A Rust client for oRPC's event iterators: it calls procedures over oRPC's RPC protocol,
//! decodes the server-sent events of streaming procedures into typed values, and resumes cut
//! streams with `Last-Event-ID`. It speaks to any oRPC 1.x server: this project's actix-web
//! runtime, or oRPC's own TypeScript server.
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use orpc_client::{Client, Frame};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Debug, Deserialize)]
//! struct Tick { i: u32 }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), orpc_client::Error> {
//! let client = Client::new("http://127.0.0.1:8787/rpc")?;
//!
//! // A plain procedure: one typed output.
//! let stats: serde_json::Value = client.call("stats", &()).await?;
//!
//! // A streaming procedure: typed events with their metadata, then the typed return value.
//! let mut stream = client.stream::<Tick, String>("count", &json!({ "n": 3 })).await?;
//! while let Some(frame) = stream.next().await {
//!     match frame? {
//!         Frame::Event(event) => println!("tick {} with id {:?}", event.data.i, event.id()),
//!         Frame::Done(value) => println!("the stream returned {value:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! ## Errors
//!
//! Every call returns [`Error`]. What the server answers, an error response or an `event: error`
//! with oRPC's error object, is [`Error::Orpc`] with its `code`, `status`, `message` and `data`;
//! failures on the way (transport, decoding, a stream cut short) have variants of their own.
//!
//! ## Reconnecting
//!
//! A stream whose connection fails, or ends before its `done` or `error` event, reconnects and
//! resumes after the last event id it saw. The server's `retry:` field sets the first wait;
//! otherwise waits back off exponentially with jitter. [`ReconnectPolicy`] sets the limits, and
//! whether error events are retried too (by default they are not). A stream never reconnects
//! after `done`.
//!
//! ## Dropping
//!
//! Dropping an [`EventStream`] closes its connection at once, so the server notices and runs the
//! stream's cleanup; no background task is left behind.
//!
//! ## Layout
//!
//! Following an event from the socket to the caller:
//! 1. [`sse`]: `text/event-stream` bytes to raw events, by the WHATWG rules (the decoder of
//!    `orpc-protocol`, beside the encoder the server uses);
//! 2. the RPC envelope (`{"json": ..}`) around values and errors, also from `orpc-protocol`;
//! 3. [`EventStream`]: typed [`Frame`]s, across reconnects;
//! 4. [`Client`]: the requests.
//!
//! ## Features
//!
//! - `rustls-tls`: `https://` URLs, through reqwest's rustls support. Plain `http://` needs
//!   nothing.
//! - `http2`: HTTP/2, chosen by ALPN over `https://` when the server offers it (an orpc-runtime
//!   server with its `tls` feature does): every stream and call of a [`Client`] then shares one
//!   connection.
//! - `chrono`, `time`, `jiff`: [`Date`] for `chrono::DateTime<Utc>`, `time::OffsetDateTime` and
//!   `jiff::Timestamp`, read and written as oRPC's `Date`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod envelope;
mod error;
mod event;
mod file;
mod reconnect;
mod stream;

pub use client::{Client, ClientBuilder, StreamRequest};
pub use error::Error;
pub use event::{Event, EventId, EventMeta, Frame};
pub use file::File;
pub use orpc_protocol::sse;
pub use orpc_protocol::{BigInt, Date, IsoTimestamp, ORPCError};
pub use reconnect::{ReconnectPolicy, ReconnectPolicyBuilder};
pub use stream::EventStream;

// The README's examples run as doctests, so that what crates.io shows stays true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
