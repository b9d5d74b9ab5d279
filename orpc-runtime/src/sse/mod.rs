//! The SSE side of a running procedure: its frames erased, validated and encoded
//! ([`frames`](self) in `sse/frames.rs`), and when comments keep a quiet stream open
//! ([`KeepAlive`]).
//!
//! The `text/event-stream` encoding itself is `orpc-protocol`'s [`Encoder`], re-exported here with
//! the [`Envelope`] it wraps payloads in, beside the decoder the Rust client uses.

pub(crate) mod frames;
mod keep_alive;

pub use keep_alive::KeepAlive;
pub use orpc_protocol::sse::{EncodeError, Encoder};
pub use orpc_protocol::Envelope;
