//! Writing the server's peer messages: responses, the events of an event iterator, aborts.
//!
//! Guarantees, as the SSE [`Encoder`](crate::sse::Encoder) gives them:
//! - A message is written whole or not at all: if its payload fails to serialize, or its
//!   metadata is refused ([`EventMeta::check`](crate::EventMeta::check), the same check the SSE
//!   encoder runs: oRPC's client refuses ids and comments with line breaks too), the buffer is
//!   cut back to where the message began.
//! - Each message is one JSON object; [`Encoder::take`] hands over exactly the messages written
//!   since the last take, so take after each one to send it as its own frame.
//! - Keys come in the order oRPC's own server writes them, and keys JavaScript would leave
//!   `undefined` are left out: a 200 status, an empty `meta`, a unit `done` value's `json`.

use std::any::TypeId;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use super::CallId;
use crate::sse::EncodeError;
use crate::{EventMeta, ORPCError};

/// Writes peer messages into a reusable buffer.
///
/// ```
/// use orpc_protocol::peer::{CallId, Encoder};
/// use orpc_protocol::EventMeta;
///
/// let id = CallId::new("7");
/// let mut enc = Encoder::new();
/// enc.stream_opened(&id);
/// assert_eq!(&enc.take()[..], br#"{"i":"7","p":{"h":{"content-type":"text/event-stream"}}}"#);
/// enc.message(&id, &EventMeta::new().id(1u32), &serde_json::json!({ "n": 1 })).unwrap();
/// assert_eq!(
///     &enc.take()[..],
///     br#"{"i":"7","t":3,"p":{"e":"message","d":{"json":{"n":1}},"m":{"id":"1"}}}"#
/// );
/// ```
#[derive(Debug, Default)]
pub struct Encoder {
    buf: BytesMut,
    safe_integers: bool,
}

impl Encoder {
    /// An empty encoder. It allocates nothing until its first message.
    pub fn new() -> Self {
        Encoder::default()
    }

    /// How many bytes are waiting to be taken.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no bytes are waiting.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the bytes written so far. The buffer stays, for the next messages to reuse.
    pub fn take(&mut self) -> Bytes {
        self.buf.split().freeze()
    }

    /// The bytes written since the last take or clear, to copy out without taking them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Forgets the bytes written so far, keeping the buffer for the next messages.
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// Whether `message`, `done` and `value` refuse a payload that holds an integer beyond
    /// 2^53 − 1, as [`sse::Encoder::set_safe_integers`](crate::sse::Encoder::set_safe_integers)
    /// does: such a message fails with [`EncodeError::UnsafeInteger`] and nothing of it is
    /// written. Off by default.
    pub fn set_safe_integers(&mut self, on: bool) {
        self.safe_integers = on;
    }

    /// A successful plain response, whose body is an RPC envelope already written, such as
    /// [`Envelope::wrap_with_meta`](crate::Envelope::wrap_with_meta) gives:
    /// `{"i":..,"p":{"b":<body>}}`.
    pub fn response(&mut self, id: &CallId, body: &[u8]) {
        self.open(id, None);
        self.buf.put_slice(b"\"p\":{\"b\":");
        self.buf.put_slice(body);
        self.buf.put_slice(b"}}");
    }

    /// A response with a value: `{"i":..,"p":{"b":{"json":..,"meta":..}}}`.
    pub fn value<T: Serialize + ?Sized>(
        &mut self,
        id: &CallId,
        value: &T,
    ) -> Result<(), EncodeError> {
        let start = self.open(id, None);
        self.buf.put_slice(b"\"p\":{\"b\":");
        self.rpc(start, value, false, self.safe_integers)?;
        self.buf.put_slice(b"}}");
        Ok(())
    }

    /// An error response, with the error's status: `{"i":..,"p":{"s":400,"b":{"json":{..}}}}`.
    pub fn error_response(&mut self, id: &CallId, error: &ORPCError) {
        self.open(id, None);
        self.buf.put_slice(b"\"p\":{\"s\":");
        let status = if crate::is_error_status(error.status) {
            error.status
        } else {
            500
        };
        self.buf
            .put_slice(itoa::Buffer::new().format(status).as_bytes());
        self.buf.put_slice(b",\"b\":{\"json\":");
        serde_json::to_writer((&mut self.buf).writer(), error)
            .expect("the error object always serializes");
        self.buf.put_slice(b"}}}");
    }

    /// The response that opens an event iterator; its events follow as `t:3` messages.
    pub fn stream_opened(&mut self, id: &CallId) {
        self.open(id, None);
        self.buf
            .put_slice(b"\"p\":{\"h\":{\"content-type\":\"text/event-stream\"}}}");
    }

    /// A `message` event with its metadata.
    pub fn message<T: Serialize + ?Sized>(
        &mut self,
        id: &CallId,
        meta: &EventMeta,
        data: &T,
    ) -> Result<(), EncodeError> {
        meta.check().map_err(EncodeError::Meta)?;
        let start = self.open(id, Some(b"message"));
        self.rpc(start, data, false, self.safe_integers)?;
        if !meta.is_empty() {
            self.meta(meta);
        }
        self.buf.put_slice(b"}}");
        Ok(())
    }

    /// The `done` event carrying the return value; a unit value is `"d":{}`, oRPC's `undefined`.
    pub fn done<R: Serialize + 'static>(
        &mut self,
        id: &CallId,
        value: &R,
    ) -> Result<(), EncodeError> {
        let start = self.open(id, Some(b"done"));
        let unit = TypeId::of::<R>() == TypeId::of::<()>();
        self.rpc(start, value, unit, self.safe_integers)?;
        self.buf.put_slice(b"}}");
        Ok(())
    }

    /// The `error` event carrying the error object that ends the stream.
    pub fn error(&mut self, id: &CallId, error: &ORPCError) -> Result<(), EncodeError> {
        let start = self.open(id, Some(b"error"));
        self.rpc(start, error, false, false)?;
        self.buf.put_slice(b"}}");
        Ok(())
    }

    /// Aborts a call: `{"i":..,"t":4}`. oRPC's server sends it to stop a client's input stream.
    pub fn abort(&mut self, id: &CallId) {
        self.buf.put_slice(b"{\"i\":");
        self.buf.put_slice(id.as_json().as_bytes());
        self.buf.put_slice(b",\"t\":4}");
    }

    /// `{"i":..,` and, for an event, `"t":3,"p":{"e":"..","d":`; where the message began.
    fn open(&mut self, id: &CallId, event: Option<&[u8]>) -> usize {
        if self.buf.capacity() == 0 {
            self.buf.reserve(64);
        }
        let start = self.buf.len();
        self.buf.put_slice(b"{\"i\":");
        self.buf.put_slice(id.as_json().as_bytes());
        self.buf.put_u8(b',');
        if let Some(event) = event {
            self.buf.put_slice(b"\"t\":3,\"p\":{\"e\":\"");
            self.buf.put_slice(event);
            self.buf.put_slice(b"\",\"d\":");
        }
        start
    }

    /// `{"json":..,"meta":..}`, or `{}` for a unit value; with `safe_integers`, refuses an
    /// integer beyond 2^53 − 1. On failure, cuts back to `start`.
    fn rpc<T: Serialize + ?Sized>(
        &mut self,
        start: usize,
        value: &T,
        unit: bool,
        safe_integers: bool,
    ) -> Result<(), EncodeError> {
        if unit {
            self.buf.put_slice(b"{}");
            return Ok(());
        }
        let json = self.buf.len() + b"{\"json\":".len();
        if let Err(error) = crate::meta::write_rpc(&mut self.buf, value, crate::meta::Tags::Numbers)
        {
            self.buf.truncate(start);
            return Err(EncodeError::Json(error));
        }
        if safe_integers {
            if let Some(found) = crate::find_unsafe_integer(&self.buf[json..]) {
                self.buf.truncate(start);
                return Err(EncodeError::UnsafeInteger(found));
            }
        }
        Ok(())
    }

    /// `,"m":{"id":..,"retry":..,"comments":[..]}`, the fields that are set.
    fn meta(&mut self, meta: &EventMeta) {
        self.buf.put_slice(b",\"m\":{");
        let mut first = true;
        let mut key = |buf: &mut BytesMut, name: &[u8]| {
            if !std::mem::take(&mut first) {
                buf.put_u8(b',');
            }
            buf.put_slice(name);
        };
        if let Some(event_id) = &meta.id {
            key(&mut self.buf, b"\"id\":");
            string(&mut self.buf, event_id.as_str());
        }
        if let Some(retry) = meta.retry {
            key(&mut self.buf, b"\"retry\":");
            let millis = u64::try_from(retry.as_millis()).unwrap_or(u64::MAX);
            self.buf
                .put_slice(itoa::Buffer::new().format(millis).as_bytes());
        }
        if !meta.comments.is_empty() {
            key(&mut self.buf, b"\"comments\":[");
            for (i, comment) in meta.comments.iter().enumerate() {
                if i > 0 {
                    self.buf.put_u8(b',');
                }
                string(&mut self.buf, comment);
            }
            self.buf.put_u8(b']');
        }
        self.buf.put_u8(b'}');
    }
}

/// A JSON string; writing a `str` cannot fail.
fn string(buf: &mut BytesMut, text: &str) {
    serde_json::to_writer(buf.writer(), text).expect("a string always serializes");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(enc: &mut Encoder) -> String {
        String::from_utf8(enc.take().to_vec()).unwrap()
    }

    /// Each expected string is copied from a capture of oRPC 1.15's own server.
    #[test]
    fn messages_match_orpcs_server_byte_for_byte() {
        let id = CallId::new("b");
        let mut enc = Encoder::new();
        enc.stream_opened(&id);
        assert_eq!(
            text(&mut enc),
            r#"{"i":"b","p":{"h":{"content-type":"text/event-stream"}}}"#
        );
        let meta = EventMeta::new()
            .id("id-1")
            .retry(Duration::from_millis(1000));
        enc.message(&id, &meta, &serde_json::json!({"n": 1}))
            .unwrap();
        assert_eq!(
            text(&mut enc),
            r#"{"i":"b","t":3,"p":{"e":"message","d":{"json":{"n":1}},"m":{"id":"id-1","retry":1000}}}"#
        );
        let meta = EventMeta::new()
            .id("id-2")
            .comments(["hello comment", "second"]);
        enc.message(&id, &meta, &serde_json::json!({"n": 2}))
            .unwrap();
        assert_eq!(
            text(&mut enc),
            r#"{"i":"b","t":3,"p":{"e":"message","d":{"json":{"n":2}},"m":{"id":"id-2","comments":["hello comment","second"]}}}"#
        );
        enc.message(&id, &EventMeta::new(), "a string value")
            .unwrap();
        assert_eq!(
            text(&mut enc),
            r#"{"i":"b","t":3,"p":{"e":"message","d":{"json":"a string value"}}}"#
        );
        let big = crate::BigInt(42u64);
        enc.message(&id, &EventMeta::new(), &[big]).unwrap();
        assert_eq!(
            text(&mut enc),
            r#"{"i":"b","t":3,"p":{"e":"message","d":{"json":["42"],"meta":[[0,0]]}}}"#
        );
        enc.done(&CallId::new("c"), &()).unwrap();
        assert_eq!(text(&mut enc), r#"{"i":"c","t":3,"p":{"e":"done","d":{}}}"#);
        enc.error(
            &CallId::new("f"),
            &ORPCError::new("FORBIDDEN")
                .with_message("stream forbidden")
                .with_data(serde_json::json!({"a": 1})),
        )
        .unwrap();
        assert_eq!(
            text(&mut enc),
            r#"{"i":"f","t":3,"p":{"e":"error","d":{"json":{"defined":false,"code":"FORBIDDEN","status":403,"message":"stream forbidden","data":{"a":1}}}}}"#
        );
        enc.error_response(
            &CallId::new("b2"),
            &ORPCError::bad_request(
                "Malformed request. Ensure the request body is properly formatted and the \
                 'Content-Type' header is set correctly.",
            ),
        );
        assert_eq!(
            text(&mut enc),
            r#"{"i":"b2","p":{"s":400,"b":{"json":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"Malformed request. Ensure the request body is properly formatted and the 'Content-Type' header is set correctly."}}}}"#
        );
        enc.value(&CallId::new("u"), &None::<u8>).unwrap();
        assert_eq!(text(&mut enc), r#"{"i":"u","p":{"b":{"json":null}}}"#);
        enc.response(&CallId::new("1"), br#"{"json":{"hello":"world"}}"#);
        assert_eq!(
            text(&mut enc),
            r#"{"i":"1","p":{"b":{"json":{"hello":"world"}}}}"#
        );
        enc.abort(&CallId::new("n"));
        assert_eq!(text(&mut enc), r#"{"i":"n","t":4}"#);
    }

    #[test]
    fn unsafe_integers_are_refused_when_asked() {
        let id = CallId::new("1");
        let mut enc = Encoder::new();
        let big = serde_json::json!({ "n": 9007199254740992u64 });
        enc.message(&id, &EventMeta::new(), &big).unwrap();
        enc.take();
        enc.set_safe_integers(true);
        let refused = enc.message(&id, &EventMeta::new(), &big);
        assert!(
            matches!(&refused, Err(EncodeError::UnsafeInteger(found)) if found.path == "n"),
            "{refused:?}"
        );
        assert!(enc.is_empty(), "nothing of a refused message is written");
        enc.done(&id, &9007199254740991u64).unwrap();
        assert_eq!(
            text(&mut enc),
            r#"{"i":"1","t":3,"p":{"e":"done","d":{"json":9007199254740991}}}"#
        );
    }

    #[test]
    fn ids_are_echoed_as_they_came() {
        let mut enc = Encoder::new();
        let numeric = CallId::from_json(&serde_json::value::to_raw_value(&5).unwrap()).unwrap();
        enc.abort(&numeric);
        let quoted = CallId::new("a\"b");
        enc.abort(&quoted);
        assert_eq!(text(&mut enc), r#"{"i":5,"t":4}{"i":"a\"b","t":4}"#);
    }

    #[test]
    fn refused_messages_leave_nothing_behind() {
        let id = CallId::new("1");
        let mut enc = Encoder::new();
        enc.abort(&id);
        let before = enc.len();
        assert!(matches!(
            enc.message(&id, &EventMeta::new().id("bad\nid"), &1),
            Err(EncodeError::Meta(_))
        ));
        assert!(matches!(
            enc.message(&id, &EventMeta::new().comment("a\rb"), &1),
            Err(EncodeError::Meta(_))
        ));
        let mut bad_keys = std::collections::HashMap::new();
        bad_keys.insert((1, 2), 3);
        assert!(matches!(
            enc.message(&id, &EventMeta::new(), &bad_keys),
            Err(EncodeError::Json(_))
        ));
        assert!(matches!(
            enc.done(&id, &bad_keys),
            Err(EncodeError::Json(_))
        ));
        assert_eq!(enc.len(), before);
        assert_eq!(text(&mut enc), r#"{"i":"1","t":4}"#);
    }

    #[test]
    fn every_message_is_json_that_names_its_call() {
        let id = CallId::new("α\u{1}");
        let mut enc = Encoder::new();
        let meta = EventMeta::new()
            .id("é")
            .comment("ü\"")
            .retry(Duration::ZERO);
        enc.message(&id, &meta, &"x\ny").unwrap();
        let value: serde_json::Value = serde_json::from_slice(&enc.take()).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"i": "α\u{1}", "t": 3, "p": {"e": "message", "d": {"json": "x\ny"},
                "m": {"id": "é", "retry": 0, "comments": ["ü\""]}}})
        );
    }
}
