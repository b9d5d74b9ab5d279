//! # orpc-runtime
//!
//! oRPC's event iterators for Rust: streaming procedures over server-sent events, served from
//! actix-web and wire-compatible with oRPC's own TypeScript client.
//!
//! ```
//! use std::time::Duration;
//! use orpc_runtime::{procedure, yield_, finally, Context, Frame, LastEventId, ORPCError};
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
//! use futures_util::StreamExt;
//!
//! let frames: Vec<_> = count.call(CountInput { n: 2 }, &Context::new()).unwrap().collect().await;
//! assert!(matches!(&frames[..], [Frame::Event(_), Frame::Event(_), Frame::Done(s)] if s == "done!"));
//! # }
//! ```
//!
//! The crate follows one event from the handler to the socket:
//! 1. [`procedure`] and [`yield_!`] (in `orpc-macros`) rewrite the handler;
//! 2. [`stream`]: the event iterator, its events and cleanup guards;
//! 3. [`sse`]: the `text/event-stream` encoding;
//! 4. [`http`]: the actix-web transport.

#![warn(missing_docs)]

mod context;
mod error;
pub mod http;
mod procedure;
pub mod schema;
pub mod sse;
pub mod stream;

pub use context::{Context, FromContext};
pub use error::ORPCError;
pub use procedure::{EncodedFrames, Procedure, RawInput, Route};
pub use stream::{
    finally, finally_async, wait_for_cleanups, AsyncCleanupGuard, CleanupGuard, Event, EventId,
    EventIterator, EventMeta, Frame, InvalidMeta, LastEventId,
};

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
/// send events without checking them against their schema.
///
/// The fn becomes a unit struct of the same name, with a `call` method and a
/// [`Procedure`] impl for registering it with a router. Like actix-web's route macros, that puts
/// the name in the value namespace: a local variable or parameter with the same name in the same
/// module is read as the struct and fails to compile, so give it another name.
///
/// - The parameter named `input` is the procedure's input, deserialized with serde. Every other
///   parameter is taken from the request through [`FromContext`]: `Option<LastEventId>`,
///   `actix_web::web::Data<T>`, `HeaderMap`, `HttpRequest`, [`Context`].
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
/// let out = echo.call(Name { name: "ada".into() }, &orpc_runtime::Context::new()).await.unwrap();
/// assert_eq!(out.greeting, "hello ada");
/// # }
/// ```
pub use orpc_macros::procedure;

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

#[doc(hidden)]
pub mod __private {
    pub use crate::stream::yielder::{SlotCell, SlotKey, Yielder};
    use crate::ORPCError;
    use std::future::Future;

    /// Fixes the type of a body's value, so that `return` and `?` infer against it.
    #[inline(always)]
    pub fn body<O, F: Future<Output = O>>(body: F) -> F {
        body
    }

    /// Whether a procedure's body returns the type its attribute declares.
    #[diagnostic::on_unimplemented(
        message = "this procedure returns `{Self}`, but its attribute declares `event_iterator(_, {R})`",
        label = "expected `{R}` here",
        note = "return the type named in `event_iterator(Event, Return)`, or change that declaration"
    )]
    pub trait Returns<R> {}

    impl<R> Returns<R> for R {}

    #[inline(always)]
    pub fn returns<T: Returns<R>, R>() {}

    #[inline(always)]
    pub fn infallible<R>(value: R) -> Result<R, ORPCError> {
        Ok(value)
    }

    #[inline(always)]
    pub fn fallible<R, E: Into<ORPCError>>(value: Result<R, E>) -> Result<R, ORPCError> {
        value.map_err(Into::into)
    }
}

/// The README's code, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

/// Entry points for the fuzz targets in `fuzz/` and their regression tests. Not a public API.
#[doc(hidden)]
pub mod __fuzz {
    use crate::sse::{Encoder, Envelope};
    use crate::EventMeta;

    /// Decodes a request body and a query string as the transport does; must never panic.
    pub fn request_input(bytes: &[u8]) {
        for envelope in [Envelope::Rpc, Envelope::Plain] {
            let _ = crate::http::decode_body_for_fuzzing(bytes, envelope);
        }
        if let Ok(query) = std::str::from_utf8(bytes) {
            let schema = serde_json::json!({
                "type": "object",
                "properties": {
                    "n": { "type": "integer" },
                    "list": { "type": "array", "items": { "type": "number" } },
                    "nested": { "type": "object", "properties": { "flag": { "type": "boolean" } } },
                },
            });
            let _ = crate::schema::query_to_json(query, &schema);
        }
    }

    /// Encodes one event with arbitrary metadata and data. Returns the bytes written, which
    /// are empty when the encoder refused the event.
    pub fn encode_message(
        id: Option<&str>,
        comments: &[&str],
        retry_ms: Option<u64>,
        data: &str,
    ) -> Vec<u8> {
        let mut meta = EventMeta::new();
        if let Some(id) = id {
            meta = meta.id(id);
        }
        for comment in comments {
            meta = meta.comment(comment.to_string());
        }
        if let Some(ms) = retry_ms {
            meta = meta.retry(std::time::Duration::from_millis(ms));
        }
        let mut encoder = Encoder::new(Envelope::Rpc);
        match encoder.message(&meta, data) {
            Ok(()) => encoder.take().to_vec(),
            Err(_) => {
                assert!(encoder.is_empty(), "a refused event left bytes behind");
                Vec::new()
            }
        }
    }
}
