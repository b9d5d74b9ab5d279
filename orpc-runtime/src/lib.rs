//! # orpc-runtime
//!
//! oRPC's event iterators for Rust: streaming procedures over server-sent events, served from
//! actix-web and wire-compatible with oRPC's own TypeScript client.
//!
//! ```
//! use std::time::Duration;
//! use orpc_runtime::{procedure, yield_, finally, Frame, LastEventId, ORPCError};
//! use serde::{Deserialize, Serialize};
//! use schemars::JsonSchema;
//!
//! #[derive(Serialize, Deserialize, JsonSchema)]
//! struct CountInput { n: u32 }
//!
//! #[derive(Debug, Serialize, Deserialize, JsonSchema)]
//! struct Tick { i: u32 }
//!
//! #[procedure(output = event_iterator(Tick, String))]
//! async fn count(input: CountInput, last_event_id: Option<LastEventId>) -> Result<String, ORPCError> {
//!     let _cleanup = finally(|| println!("cleanup runs once, however the stream ends"));
//!     let start = last_event_id.and_then(|id| id.parse::<u32>()).map_or(0, |i| i + 1);
//!     for i in start..input.n {
//!         yield_!(Tick { i }, id = i, retry = Duration::from_secs(1));
//!     }
//!     Ok("done!".into())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use actix_web::test::TestRequest;
//! use futures_util::StreamExt;
//!
//! // Called directly, as in a test: the request is where the other parameters come from.
//! let request = TestRequest::default().insert_header(("last-event-id", "0")).to_http_request();
//! let stream = count.call(CountInput { n: 3 }, &request).await.unwrap();
//! let frames: Vec<_> = stream.collect().await;
//! assert!(matches!(&frames[..], [Frame::Event(_), Frame::Event(_), Frame::Done(s)] if s == "done!"));
//! # }
//! ```
//!
//! The crate follows one event from the handler to the socket:
//! 1. [`procedure`] and [`yield_!`] (in `orpc-macros`) rewrite the handler;
//! 2. `stream/`: the [`EventIterator`] and its cleanup guards ([`finally`]); the yielder hands
//!    each event over;
//! 3. [`sse`]: the frames of a running procedure, erased, validated and encoded
//!    (`sse/frames.rs`), by `orpc-protocol`'s encoder;
//! 4. `serving/`: the transport-neutral core, which finds a procedure, starts it, and runs its
//!    stream under the router's limit, counters and shutdown;
//! 5. [`http`]: the actix-web transports (RPC, OpenAPI, WebSocket, the [`http::EventStream`]
//!    responder), whose SSE body (`http/response.rs`) writes the bytes.
//!
//! The wire types ([`ORPCError`], [`Event`], [`EventMeta`], [`Frame`], ...) are
//! `orpc-protocol`'s, re-exported here; the Rust client uses the same ones.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod docs;
mod errors;
mod file;
pub mod http;
mod input;
mod path;
mod procedure;
pub mod schema;
mod serving;
pub mod sse;
mod stream;

pub use errors::{DeclaredError, DefinedError};
pub use file::File;
pub use input::{Form, RawInput};
pub use orpc_protocol::{
    BigInt, Date, Event, EventId, EventMeta, Frame, InvalidMeta, IsoTimestamp, LastEventId,
    ORPCError,
};
pub use procedure::{Procedure, Route};
pub use stream::cleanup::{finally, finally_async, AsyncCleanupGuard, CleanupGuard};
pub use stream::event_iterator::EventIterator;

#[doc(hidden)]
#[path = "fuzzing.rs"]
pub mod __fuzz;
#[doc(hidden)]
#[path = "macro_support.rs"]
pub mod __private;

/// Turns an `async fn` into an oRPC procedure.
///
/// ```text
/// #[procedure]                                              // request/response
/// #[procedure(output = event_iterator(Event))]              // a stream of Events
/// #[procedure(output = event_iterator(Event, Return))]      // ... that ends with a Return value
/// ```
///
/// Further arguments: `name = "nested/name"` (default: the fn's name), `method = GET` and
/// `path = "/count"` for the OpenAPI route (default `POST /{name}`), and `validate = false` to
/// send events without checking them against their schema. A path may have parameters,
/// `path = "/rooms/{room}/ticks"`: as in oRPC, each fills the input's field of that name (its
/// snake_case form for a camelCase name) before the whole input is validated, over the query
/// (`GET`) or body; a parameter whose field the input lacks is a compile error. The check reads
/// Rust fields, so a field renamed by hand (`#[serde(rename = "..")]`) or flattened cannot carry
/// a path parameter; `rename_all = "camelCase"` can. Over RPC the whole input is in the body. The method is one of `GET`, `POST`,
/// `PUT`, `PATCH` and `DELETE`, bare or quoted (`method = "GET"`); any other is a compile error.
/// Two procedures with one name, or one OpenAPI method and path, are refused when the router is
/// built ([`http::Router::procedure`]).
///
/// The fn becomes a unit struct of the same name, with a `call` method and a
/// [`Procedure`] impl for registering it with a router. Like actix-web's route macros, that puts
/// the name in the value namespace: a local variable or parameter with the same name in the same
/// module is read as the struct and fails to compile, so give it another name.
///
/// - The parameter named `input` is the procedure's input, deserialized with serde and checked
///   against its schema. Every other parameter is an actix-web extractor (`FromRequest`, which
///   may be async): `Option<LastEventId>`, `web::Data<T>`, `web::ReqData<T>`, `web::Query<T>`,
///   `HttpRequest`, third-party ones such as `BearerAuth`, or your own. They are extracted in
///   order before the body runs; one that fails is the call's error response, with the
///   extractor's HTTP status and the common code for it (401 is `UNAUTHORIZED`), and the handler
///   never starts. The request body is the input, so extractors that read the body see it empty.
/// - The fn may return `T` or `Result<T, E>` where `E: Into<ORPCError>`; `?` works anywhere.
/// - In a streaming procedure, [`yield_!`] sends an event; `return` (or the tail value) ends the
///   stream with a `done` event carrying the value; an error ends it with an `error` event; a
///   panic ends it with an `INTERNAL_SERVER_ERROR` error event, and the server keeps serving.
/// - `async fn`s only; generics and `self` receivers are refused with an explanation.
///
/// ```
/// use orpc_runtime::{procedure, ORPCError};
/// use serde::{Deserialize, Serialize};
/// use schemars::JsonSchema;
///
/// #[derive(Deserialize, JsonSchema)]
/// struct Name { name: String }
///
/// #[derive(Serialize, JsonSchema)]
/// struct Greeting { greeting: String }
///
/// #[procedure]
/// async fn echo(input: Name) -> Result<Greeting, ORPCError> {
///     Ok(Greeting { greeting: format!("hello {}", input.name) })
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let request = actix_web::test::TestRequest::default().to_http_request();
/// let out = echo.call(Name { name: "ada".into() }, &request).await.unwrap();
/// assert_eq!(out.greeting, "hello ada");
/// # }
/// ```
pub use orpc_macros::procedure;

/// Derives [`DefinedError`] for an enum of declared errors; see the trait.
pub use orpc_macros::DefinedError;

/// Sends one event from a streaming procedure's body.
///
/// ```text
/// yield_!(value);
/// yield_!(value, id = i, retry = Duration::from_secs(1), comment = "note", comments = ["a", "b"]);
/// ```
///
/// It is a macro, not the `yield` keyword, because stable Rust rejects `yield` expressions before
/// any attribute macro can rewrite them (error E0658, "yield syntax is experimental").
/// `#[procedure]` rewrites each `yield_!` into an await that hands the event to the stream; it can
/// be a statement or an expression (of type `()`).
///
/// `id` takes a string or an integer, `retry` a [`std::time::Duration`], `comment` and `comments`
/// text. An id or comment containing CR, LF or NUL is not sent: the stream ends with an
/// `INTERNAL_SERVER_ERROR` error event instead.
///
/// It is refused inside closures and nested `async` blocks, whose code could run away from the
/// stream, and anywhere outside a `#[procedure(output = event_iterator(..))]` body.
pub use orpc_macros::yield_;

/// The README's code, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

/// The crate's own README (its page on crates.io), compiled as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod crate_readme {}
