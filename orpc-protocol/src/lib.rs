//! # orpc-protocol
//!
//! oRPC's wire format for Rust, shared by the server ([`orpc-runtime`]) and the client
//! ([`orpc-client`]) so that each type is defined once and both ends can be tested against each
//! other. It needs neither actix-web nor reqwest.
//!
//! - [`ORPCError`]: the protocol's error object, with oRPC's table of common codes;
//! - [`Event`], [`EventMeta`], [`EventId`], [`LastEventId`]: an event and its SSE metadata;
//! - [`Frame`]: one item of an event iterator, `message`, `done` or `error`;
//! - [`Envelope`]: the RPC (`{"json": ..}`, oRPC 1.x's and oRPC 2's) and plain (OpenAPI) bodies;
//! - [`BigInt`], [`Date`] and oRPC's `meta`, for what plain JSON cannot carry, and
//!   [`find_unsafe_integer`] for the integers a JavaScript client would round;
//! - [`sse`]: the `text/event-stream` encoder and decoder, side by side;
//! - [`peer`]: oRPC 1.x's peer protocol, the messages `RPCLink` exchanges over a WebSocket.
//!
//! ```
//! use orpc_protocol::sse::{Decoder, Encoder};
//! use orpc_protocol::{Envelope, EventMeta};
//!
//! let mut encoder = Encoder::new(Envelope::Rpc);
//! encoder.message(&EventMeta::new().id(7u32), &serde_json::json!({ "i": 7 })).unwrap();
//!
//! let mut raw = Decoder::new().feed(&encoder.take()).remove(0);
//! assert_eq!(raw.event, "message");
//! assert_eq!(raw.take_meta(), EventMeta::new().id(7u32));
//! let value: serde_json::Value = Envelope::Rpc.read(raw.data.as_bytes()).unwrap();
//! assert_eq!(value, serde_json::json!({ "i": 7 }));
//! ```
//!
//! ## Features
//!
//! - `schemars`: `JsonSchema` for [`ORPCError`], so that documents such as an OpenAPI
//!   description can name the error object.
//! - `actix-web`: `ResponseError` for [`ORPCError`], so that `?` works in plain actix-web
//!   handlers and the response body is oRPC's error object; `ORPCError::from_actix`, as an
//!   extractor's failure is answered; and [`LastEventId`] as an extractor.
//! - `chrono`, `time`, `jiff`: [`Date`] for `chrono::DateTime<Utc>`, `time::OffsetDateTime` and
//!   `jiff::Timestamp`, timestamps a TypeScript client reads as a `Date`.
//!
//! [`orpc-runtime`]: https://docs.rs/orpc-runtime
//! [`orpc-client`]: https://docs.rs/orpc-client

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "actix-web")]
mod actix;
mod envelope;
mod error;
mod event;
mod frame;
mod integers;
mod meta;
pub mod peer;
pub mod sse;
mod v2;

pub use envelope::{Envelope, EnvelopeError};
pub use error::{code_for_status, default_message, is_error_status, status_for_code, ORPCError};
pub use event::{Event, EventId, EventMeta, InvalidMeta, LastEventId};
pub use frame::Frame;
pub use integers::{find_unsafe_integer, UnsafeInteger, MAX_SAFE_INTEGER};
pub use meta::{to_json_with_meta, BigInt, Date, IsoTimestamp};

// The README's examples run as doctests, so that what crates.io shows stays true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
