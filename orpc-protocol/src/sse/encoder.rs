//! Writing frames as `text/event-stream` bytes.
//!
//! Each frame is written as: one `: comment` line per comment, `event:`, `retry:`, `id:`, one
//! `data:` line per line of the payload, then a blank line, the order oRPC 1.x uses. Payloads are
//! JSON written straight into the encoder's buffer; with the [`Envelope::Rpc`](crate::Envelope)
//! envelope they are wrapped as `{"json":..}` for oRPC's RPC protocol. With
//! [`Envelope::RpcV2`](crate::Envelope::RpcV2) the return value is `event: close` instead of
//! `event: done` (a unit return has no `data` line), and errors are oRPC 2's error object.
//!
//! Guarantees:
//! - A frame is written whole or not at all: if its payload fails to serialize, the buffer is
//!   cut back to where the frame began.
//! - Nothing written can end a line early: ids and comments are checked here
//!   ([`EventMeta::check`](crate::EventMeta::check)) before anything is written, and payload text
//!   is split on CR, LF and CRLF into separate `data:` lines, which a decoder joins back with LF.
//! - The buffer is reused: taking its bytes keeps its allocation for the next frames.
//! - An encoder that has written nothing holds no buffer: the first frame allocates a small one
//!   (`INITIAL_CAPACITY`), which grows from there as the frames need. A server holding many quiet
//!   streams pays for small buffers only.

use std::any::TypeId;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use crate::{Envelope, EventMeta, ORPCError};

/// The buffer's size when its first frame is written: a small event fits. A stream whose frames
/// need more grows it, by doubling, once; then keeps it for the frames that follow.
const INITIAL_CAPACITY: usize = 64;

/// A frame that could not be encoded. Nothing of it was written.
#[derive(Debug)]
pub enum EncodeError {
    /// The payload failed to serialize.
    Json(serde_json::Error),
    /// An id or comment holds CR, LF or NUL.
    Meta(crate::InvalidMeta),
    /// The payload holds an integer beyond 2^53 − 1, and the encoder was told to refuse those
    /// ([`Encoder::set_safe_integers`]).
    UnsafeInteger(crate::UnsafeInteger),
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EncodeError::Json(e) => write!(f, "payload does not serialize: {e}"),
            EncodeError::Meta(e) => e.fmt(f),
            EncodeError::UnsafeInteger(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Encodes frames into a reusable buffer.
///
/// ```
/// use orpc_protocol::{sse::Encoder, Envelope};
/// use orpc_protocol::EventMeta;
///
/// let mut enc = Encoder::new(Envelope::Rpc);
/// enc.message(&EventMeta::new().id(1u32), &serde_json::json!({ "i": 1 })).unwrap();
/// assert_eq!(&enc.take()[..], b"event: message\nid: 1\ndata: {\"json\":{\"i\":1}}\n\n");
/// ```
#[derive(Debug)]
pub struct Encoder {
    buf: BytesMut,
    envelope: Envelope,
    safe_integers: bool,
}

impl Encoder {
    /// An empty encoder. It allocates nothing until its first frame.
    pub fn new(envelope: Envelope) -> Self {
        Encoder {
            buf: BytesMut::new(),
            envelope,
            safe_integers: false,
        }
    }

    /// Whether `message` and `done` refuse a payload that holds an integer beyond 2^53 − 1,
    /// which a JavaScript client would round ([`find_unsafe_integer`](crate::find_unsafe_integer)):
    /// such a frame fails with [`EncodeError::UnsafeInteger`] and nothing of it is written. Off
    /// by default. Turn it on for payloads whose type can hold such an integer (a plain `i64` or
    /// `u64`); the check reads the payload's bytes once more.
    ///
    /// ```
    /// use orpc_protocol::{sse::{EncodeError, Encoder}, Envelope};
    ///
    /// let mut enc = Encoder::new(Envelope::Rpc);
    /// enc.set_safe_integers(true);
    /// enc.done(&9007199254740991u64).unwrap();
    /// let refused = enc.done(&9007199254740992u64);
    /// assert!(matches!(refused, Err(EncodeError::UnsafeInteger(_))));
    /// assert_eq!(&enc.take()[..], b"event: done\ndata: {\"json\":9007199254740991}\n\n");
    /// ```
    pub fn set_safe_integers(&mut self, on: bool) {
        self.safe_integers = on;
    }

    /// Gives a buffer that has never been written a small first allocation, rather than letting
    /// the first frame grow it a few bytes at a time. Once the buffer exists this is one compare:
    /// a taken buffer keeps its capacity until the next write reclaims it.
    #[inline]
    fn reserve_first(&mut self) {
        if self.buf.capacity() == 0 {
            self.buf.reserve(INITIAL_CAPACITY);
        }
    }

    /// How many bytes are waiting to be taken.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no bytes are waiting.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the bytes written so far. The buffer stays, for the next frames to reuse.
    pub fn take(&mut self) -> Bytes {
        self.buf.split().freeze()
    }

    /// Takes the bytes written so far along with their buffer: the encoder holds nothing until
    /// its next frame. For bytes whose buffer is not worth keeping, such as a stream's opening
    /// burst, which can be much larger than the frames that follow it.
    pub fn take_all(&mut self) -> Bytes {
        std::mem::take(&mut self.buf).freeze()
    }

    /// A `: text` comment line, as sent to open a stream or keep it alive. Line breaks in `text`
    /// start further comment lines.
    pub fn comment(&mut self, text: &str) {
        self.reserve_first();
        for line in lines(text) {
            self.field(b": ", line);
        }
        self.buf.put_u8(b'\n');
    }

    /// An `event: message` frame.
    pub fn message<T: Serialize + ?Sized>(
        &mut self,
        meta: &EventMeta,
        data: &T,
    ) -> Result<(), EncodeError> {
        meta.check().map_err(EncodeError::Meta)?;
        self.reserve_first();
        let start = self.buf.len();
        for comment in &meta.comments {
            self.field(b": ", comment);
        }
        self.buf.put_slice(b"event: message\n");
        if let Some(retry) = meta.retry {
            self.buf.put_slice(b"retry: ");
            let millis = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
            self.buf
                .put_slice(itoa::Buffer::new().format(millis).as_bytes());
            self.buf.put_u8(b'\n');
        }
        if let Some(id) = &meta.id {
            self.buf.put_slice(b"id: ");
            self.buf.put_slice(id.as_str().as_bytes());
            self.buf.put_u8(b'\n');
        }
        self.payload(start, data, false)
    }

    /// An `event: done` frame carrying the return value; oRPC 2's `event: close`.
    ///
    /// ```
    /// use orpc_protocol::{sse::Encoder, Envelope};
    ///
    /// let mut v1 = Encoder::new(Envelope::Rpc);
    /// v1.done(&"ok").unwrap();
    /// v1.done(&()).unwrap();
    /// assert_eq!(&v1.take()[..], &b"event: done\ndata: {\"json\":\"ok\"}\n\nevent: done\ndata: {}\n\n"[..]);
    /// let mut v2 = Encoder::new(Envelope::RpcV2);
    /// v2.done(&"ok").unwrap();
    /// v2.done(&()).unwrap();
    /// assert_eq!(&v2.take()[..], &b"event: close\ndata: {\"json\":\"ok\"}\n\nevent: close\n\n"[..]);
    /// ```
    pub fn done<R: Serialize + 'static>(&mut self, value: &R) -> Result<(), EncodeError> {
        self.reserve_first();
        let start = self.buf.len();
        let unit = TypeId::of::<R>() == TypeId::of::<()>();
        if self.envelope == Envelope::RpcV2 {
            self.buf.put_slice(b"event: close\n");
            if unit {
                self.buf.put_u8(b'\n');
                return Ok(());
            }
        } else {
            self.buf.put_slice(b"event: done\n");
        }
        self.payload(start, value, unit)
    }

    /// An `event: error` frame carrying the error object.
    pub fn error(&mut self, error: &ORPCError) -> Result<(), EncodeError> {
        self.reserve_first();
        let start = self.buf.len();
        self.buf.put_slice(b"event: error\n");
        let safe_integers = std::mem::replace(&mut self.safe_integers, false);
        let written = match self.envelope {
            Envelope::RpcV2 => self.payload(start, &crate::v2::ErrorObject(error), false),
            Envelope::Rpc | Envelope::Plain => self.payload(start, error, false),
        };
        self.safe_integers = safe_integers;
        written
    }

    /// The `data:` lines and the closing blank line. On failure, cuts the buffer back to `start`.
    fn payload<T: Serialize + ?Sized>(
        &mut self,
        start: usize,
        value: &T,
        unit: bool,
    ) -> Result<(), EncodeError> {
        self.buf.put_slice(b"data: ");
        let data_start = self.buf.len();
        let written = match (self.envelope, unit) {
            (Envelope::Plain, true) => {
                self.buf.put_slice(b"null");
                Ok(())
            }
            (_, true) => {
                self.buf.put_slice(b"{}");
                Ok(())
            }
            (Envelope::Plain, false) => serde_json::to_writer((&mut self.buf).writer(), value),
            (envelope, false) => crate::meta::write_rpc(&mut self.buf, value, envelope.tags()),
        };
        if let Err(error) = written {
            self.buf.truncate(start);
            return Err(EncodeError::Json(error));
        }
        if self.safe_integers && !unit {
            // The RPC envelope's `{"json":` is skipped, so that paths start in the payload.
            let json_start = match self.envelope {
                Envelope::Rpc | Envelope::RpcV2 => data_start + b"{\"json\":".len(),
                Envelope::Plain => data_start,
            };
            if let Some(found) = crate::find_unsafe_integer(&self.buf[json_start..]) {
                self.buf.truncate(start);
                return Err(EncodeError::UnsafeInteger(found));
            }
        }
        // Compact JSON has no raw line breaks, but a `RawValue` inside the payload can.
        if self.buf[data_start..]
            .iter()
            .any(|&b| b == b'\n' || b == b'\r')
        {
            let text = self.buf.split_off(data_start);
            self.buf.truncate(data_start - b"data: ".len());
            let text = String::from_utf8_lossy(&text);
            for line in lines(&text) {
                self.field(b"data: ", line);
            }
        } else {
            self.buf.put_u8(b'\n');
        }
        self.buf.put_u8(b'\n');
        Ok(())
    }

    /// One `prefix text` line.
    fn field(&mut self, prefix: &[u8], text: &str) {
        self.buf.put_slice(prefix);
        self.buf.put_slice(text.as_bytes());
        self.buf.put_u8(b'\n');
    }

    /// Writes raw text as `data:` lines of an `event: message` frame; used for plain-text streams
    /// and tests of the line splitting.
    pub fn text_message(&mut self, text: &str) {
        self.reserve_first();
        self.buf.put_slice(b"event: message\n");
        for line in lines(text) {
            self.field(b"data: ", line);
        }
        self.buf.put_u8(b'\n');
    }
}

/// Splits on CRLF, CR and LF, as an SSE decoder does. An empty text is one empty line.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            None => {
                rest = None;
                Some(current)
            }
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(enc: &mut Encoder) -> String {
        String::from_utf8(enc.take().to_vec()).unwrap()
    }

    #[test]
    fn fields_come_in_orpc_order() {
        let mut enc = Encoder::new(Envelope::Rpc);
        let meta = EventMeta::new()
            .comment("hello")
            .comment("world")
            .retry(Duration::from_millis(2500))
            .id("α-1");
        enc.message(&meta, &serde_json::json!({"n": 1})).unwrap();
        assert_eq!(
            text(&mut enc),
            ": hello\n: world\nevent: message\nretry: 2500\nid: α-1\ndata: {\"json\":{\"n\":1}}\n\n"
        );
    }

    #[test]
    fn unit_and_errors_per_envelope() {
        let mut rpc = Encoder::new(Envelope::Rpc);
        rpc.done(&()).unwrap();
        rpc.done(&"done!").unwrap();
        rpc.error(&ORPCError::bad_request("nope")).unwrap();
        assert_eq!(
            text(&mut rpc),
            "event: done\ndata: {}\n\nevent: done\ndata: {\"json\":\"done!\"}\n\n\
             event: error\ndata: {\"json\":{\"defined\":false,\"code\":\"BAD_REQUEST\",\"status\":400,\"message\":\"nope\"}}\n\n"
        );
        let mut plain = Encoder::new(Envelope::Plain);
        plain.done(&()).unwrap();
        plain.message(&EventMeta::new(), &"x").unwrap();
        assert_eq!(
            text(&mut plain),
            "event: done\ndata: null\n\nevent: message\ndata: \"x\"\n\n"
        );
    }

    #[test]
    fn every_line_break_form_splits_data() {
        let mut enc = Encoder::new(Envelope::Plain);
        enc.text_message("a\nb\r\nc\rd\n\nü€😀");
        assert_eq!(
            text(&mut enc),
            "event: message\ndata: a\ndata: b\ndata: c\ndata: d\ndata: \ndata: ü€😀\n\n"
        );
        enc.text_message("");
        assert_eq!(text(&mut enc), "event: message\ndata: \n\n");
    }

    #[test]
    fn strings_with_line_breaks_stay_on_one_json_line() {
        let mut enc = Encoder::new(Envelope::Rpc);
        enc.message(&EventMeta::new(), &"x\r\ny\rz\n").unwrap();
        assert_eq!(
            text(&mut enc),
            "event: message\ndata: {\"json\":\"x\\r\\ny\\rz\\n\"}\n\n"
        );
    }

    #[test]
    fn raw_json_with_line_breaks_becomes_several_data_lines() {
        let raw = serde_json::value::RawValue::from_string("{\n\"a\": 1\r\n}".into()).unwrap();
        let mut enc = Encoder::new(Envelope::Plain);
        enc.message(&EventMeta::new(), &raw).unwrap();
        assert_eq!(
            text(&mut enc),
            "event: message\ndata: {\ndata: \"a\": 1\ndata: }\n\n"
        );
    }

    #[test]
    fn the_buffer_is_allocated_at_the_first_frame_and_reused_after() {
        let mut enc = Encoder::new(Envelope::Plain);
        assert_eq!(enc.buf.capacity(), 0, "nothing allocated before a frame");
        enc.message(&EventMeta::new(), &1).unwrap();
        let first = enc.take();
        assert_eq!(&first[..], b"event: message\ndata: 1\n\n");
        let start = first.as_ptr() as usize;
        drop(first);
        // Once the taken bytes are gone, the next frames are written into the same allocation.
        for i in 0..100 {
            enc.message(&EventMeta::new(), &i).unwrap();
            let taken = enc.take();
            let at = taken.as_ptr() as usize;
            assert!(
                (start..start + INITIAL_CAPACITY).contains(&at),
                "frame {i} in the first buffer"
            );
        }
    }

    #[test]
    fn taking_all_gives_the_buffer_away() {
        let mut enc = Encoder::new(Envelope::Plain);
        enc.message(&EventMeta::new(), &"x".repeat(1000)).unwrap();
        let taken = enc.take_all();
        assert_eq!(taken.len(), "event: message\ndata: \"\"\n\n".len() + 1000);
        assert_eq!(enc.buf.capacity(), 0, "no buffer kept");
        enc.message(&EventMeta::new(), &1).unwrap();
        assert_eq!(
            enc.buf.capacity(),
            INITIAL_CAPACITY,
            "a small one for the next frame"
        );
        assert_eq!(text(&mut enc), "event: message\ndata: 1\n\n");
    }

    #[test]
    fn failed_frames_leave_nothing_behind() {
        let mut enc = Encoder::new(Envelope::Rpc);
        enc.comment("open");
        let before = enc.len();
        let mut bad_keys = std::collections::HashMap::new();
        bad_keys.insert((1, 2), 3);
        assert!(matches!(
            enc.message(&EventMeta::new().id(1u8), &bad_keys),
            Err(EncodeError::Json(_))
        ));
        assert!(matches!(
            enc.message(&EventMeta::new().id("a\nb"), &1),
            Err(EncodeError::Meta(_))
        ));
        assert_eq!(enc.len(), before);
        assert_eq!(text(&mut enc), ": open\n\n");
    }
}
