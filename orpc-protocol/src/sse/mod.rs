//! The `text/event-stream` format both ways: [`Encoder`] writes frames in oRPC's field order,
//! [`Decoder`] reads them back by the WHATWG parsing rules.
//!
//! They sit side by side so that one test can hold them to each other: whatever the encoder
//! writes, the decoder reads back unchanged, however the bytes are cut into chunks
//! (`tests/roundtrip.rs`, and the `encoder` and `decoder` fuzz targets).

mod decoder;
mod encoder;

pub use decoder::{Decoder, IncompleteEvent, RawEvent};
pub use encoder::{EncodeError, Encoder};
