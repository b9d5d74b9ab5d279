//! The SSE encoding: frames to bytes, following the WHATWG `text/event-stream` format and oRPC's
//! field order.
//!
//! [`Encoder`] writes frames; [`KeepAlive`] decides when comments keep an idle stream open.

mod encoder;
mod keep_alive;

pub use encoder::{Encoder, Envelope};
pub use keep_alive::KeepAlive;
