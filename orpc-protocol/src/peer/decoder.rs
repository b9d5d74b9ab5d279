//! Reading the client's peer messages: requests, aborts, and the events of an input stream.
//!
//! A frame is read whole, as a text frame's JSON or a binary frame's JSON before its first
//! `0xFF` byte (the bytes after it are a File or Blob body). What comes out is either a message
//! or a [`DecodeError`] that says whether the message named its call: a request with a readable
//! id can be answered with an error for that call alone, a frame without one cannot be
//! answered at all. Nothing here panics on hostile input; serde_json's recursion limit turns
//! deeply nested JSON into an ordinary error.

use std::fmt;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A call's id, `i`: chosen by the client, echoed back exactly as it came. oRPC's client sends
/// base-36 counters as strings (`"1"`, `"a"`, `"10"`); a number is accepted too, as oRPC's
/// server accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(String);

impl CallId {
    /// A string id.
    pub fn new(id: &str) -> Self {
        CallId(serde_json::to_string(id).expect("a string always serializes"))
    }

    /// The id as it appeared in a message, if it is a string or a number.
    pub fn from_json(raw: &RawValue) -> Option<Self> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"' | b'-' | b'0'..=b'9') => Some(CallId(text.to_owned())),
            _ => None,
        }
    }

    /// The id as JSON text: a quoted string, or a number.
    pub fn as_json(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The headers a call carries in its own message, `h`: names lowercased, an array of values
/// joined with `", "` as oRPC's server joins them. Over a WebSocket, `last-event-id` comes from
/// here, not from the upgrade request: with the `actix-web` feature, the
/// [`LastEventId`](crate::LastEventId) extractor reads a `Headers` found in the request's
/// extensions before the request's own headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// The value of `name` (compared without regard to case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in the order they came.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// Headers from `(name, value)` pairs, names lowercased; for a call that carries its own headers
/// in another transport (a call of an RPC batch).
///
/// ```
/// use orpc_protocol::peer::Headers;
///
/// let headers: Headers = [("Last-Event-ID".to_owned(), "7".to_owned())].into_iter().collect();
/// assert_eq!(headers.get("last-event-id"), Some("7"));
/// ```
impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Self {
        Headers(
            pairs
                .into_iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value))
                .collect(),
        )
    }
}

/// A request: one call of a procedure.
#[derive(Debug)]
pub struct Request {
    /// The call's id.
    pub id: CallId,
    /// The procedure's name: `u`'s path without its leading `/` or query, each segment
    /// percent-decoded (`/nested/deep%20x` is `nested/deep x`).
    pub name: String,
    /// `m`, when not `POST` (oRPC's client always sends `POST`, and so leaves it out).
    pub method: Option<String>,
    /// `h`.
    pub headers: Headers,
    /// `b`, the input in oRPC's RPC envelope, as JSON text; `None` when absent.
    pub body: Option<Box<RawValue>>,
    /// The bytes after `0xFF` in a binary frame: a File or Blob body, described by the
    /// `content-type` header. `None` for a message without one.
    pub attachment: Option<Bytes>,
}

impl Request {
    /// Whether the input is an event iterator, whose events follow as `t:3` messages.
    pub fn has_event_iterator_input(&self) -> bool {
        self.headers
            .get("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"))
            && self.headers.get("content-disposition").is_none()
    }
}

/// A message from the client.
#[derive(Debug)]
pub enum ClientMessage {
    /// `t` absent or `1`: a call.
    Request(Request),
    /// `t:3`: an event of the call's input stream. Its payload is not read.
    Event(CallId),
    /// `t:4`: the client aborts the call.
    Abort(CallId),
}

/// A frame that is not a message this side understands.
#[derive(Debug)]
pub enum DecodeError {
    /// Not a JSON object with a string or numeric `i`: no call can be told about it.
    Unreadable(String),
    /// A `t` other than 1, 3 or 4 (oRPC's client sends no other).
    UnknownType(String),
    /// A request whose id could be read but whose payload could not: the call can be answered.
    BadRequest {
        /// The call's id.
        id: CallId,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Unreadable(reason) => write!(f, "not an oRPC peer message: {reason}"),
            DecodeError::UnknownType(t) => write!(f, "unknown message type {t}"),
            DecodeError::BadRequest { id, reason } => {
                write!(f, "malformed request {id}: {reason}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// The envelope `{"i":..,"t":..,"p":..}`. As with JavaScript's `JSON.parse`, which oRPC reads
/// messages with, unknown keys are ignored.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    i: Option<&'a RawValue>,
    #[serde(borrow)]
    t: Option<&'a RawValue>,
    #[serde(borrow)]
    p: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RequestPayload {
    u: String,
    b: Option<Box<RawValue>>,
    h: Option<serde_json::Map<String, serde_json::Value>>,
    m: Option<String>,
}

/// Reads one frame from the client: `text` is a text frame's bytes; for a binary frame pass its
/// bytes with `binary` set.
///
/// ```
/// use orpc_protocol::peer::{decode_client, ClientMessage};
///
/// let frame = br#"{"i":"1","p":{"u":"/count","b":{"json":{"n":2}},"h":{"last-event-id":["4","5"]}}}"#;
/// let ClientMessage::Request(request) = decode_client(frame, false).unwrap() else { panic!() };
/// assert_eq!((request.id.as_json(), request.name.as_str()), (r#""1""#, "count"));
/// assert_eq!(request.headers.get("Last-Event-ID"), Some("4, 5"));
/// assert_eq!(request.body.unwrap().get(), r#"{"json":{"n":2}}"#);
///
/// assert!(matches!(decode_client(br#"{"i":"1","t":4}"#, false), Ok(ClientMessage::Abort(_))));
/// ```
pub fn decode_client(frame: &[u8], binary: bool) -> Result<ClientMessage, DecodeError> {
    let (json, attachment) = match binary.then(|| memchr::memchr(0xFF, frame)).flatten() {
        Some(at) => (&frame[..at], Some(Bytes::copy_from_slice(&frame[at + 1..]))),
        None => (frame, None),
    };
    // serde would also read the struct from an array; a message is an object only.
    if json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(DecodeError::Unreadable("not a JSON object".to_owned()));
    }
    let envelope: Envelope<'_> = serde_json::from_slice(json).map_err(|error| {
        DecodeError::Unreadable(if error.is_data() {
            "not a JSON object".to_owned()
        } else {
            format!("not JSON ({error})")
        })
    })?;
    let id = envelope
        .i
        .and_then(CallId::from_json)
        .ok_or_else(|| DecodeError::Unreadable("no string or numeric `i`".to_owned()))?;
    match envelope.t.map(RawValue::get) {
        None | Some("1") => {}
        Some("3") => return Ok(ClientMessage::Event(id)),
        Some("4") => return Ok(ClientMessage::Abort(id)),
        Some(other) => return Err(DecodeError::UnknownType(shorten(other))),
    }
    let bad = |reason: String| DecodeError::BadRequest {
        id: id.clone(),
        reason,
    };
    let payload = envelope.p.ok_or_else(|| bad("no payload `p`".to_owned()))?;
    let payload: RequestPayload = serde_json::from_str(payload.get())
        .map_err(|error| bad(format!("the payload is not {{u, b?, h?, m?}}: {error}")))?;
    let name = procedure_name(&payload.u).map_err(bad)?;
    let headers = headers(payload.h.unwrap_or_default()).map_err(bad)?;
    Ok(ClientMessage::Request(Request {
        id,
        name,
        method: payload.m.filter(|m| m != "POST"),
        headers,
        body: payload.b,
        attachment: attachment.filter(|bytes| !bytes.is_empty()),
    }))
}

/// The procedure's name out of `u`: a path (`/a/b`), or oRPC's base URL `http://orpc` and a path.
fn procedure_name(url: &str) -> Result<String, String> {
    let path = url.strip_prefix("http://orpc").unwrap_or(url);
    let Some(path) = path.strip_prefix('/') else {
        return Err(format!("`u` is not a path: {}", shorten(url)));
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Result<Vec<String>, String> = path
        .split('/')
        .filter(|segment| !segment.is_empty())
        .map(percent_decode)
        .collect();
    Ok(segments?.join("/"))
}

/// `%XX` escapes to their bytes, which must then be UTF-8, as `decodeURIComponent` requires.
fn percent_decode(segment: &str) -> Result<String, String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape in the path segment {}", shorten(segment)))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| format!("the path segment {} is not UTF-8", shorten(segment)))
}

fn headers(h: serde_json::Map<String, serde_json::Value>) -> Result<Headers, String> {
    let mut headers = Vec::with_capacity(h.len());
    for (name, value) in h {
        let value = match value {
            serde_json::Value::String(value) => value,
            serde_json::Value::Array(values) => {
                let values: Option<Vec<&str>> = values.iter().map(|v| v.as_str()).collect();
                values
                    .ok_or_else(|| format!("header {name:?} holds something other than text"))?
                    .join(", ")
            }
            _ => return Err(format!("header {name:?} is not text")),
        };
        headers.push((name.to_ascii_lowercase(), value));
    }
    Ok(Headers(headers))
}

/// At most 64 bytes of `text`, for an error message.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(64) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(frame: &str) -> Request {
        match decode_client(frame.as_bytes(), false) {
            Ok(ClientMessage::Request(request)) => request,
            other => panic!("{frame}: {other:?}"),
        }
    }

    /// Frames copied from a capture of oRPC 1.15's own client.
    #[test]
    fn requests_from_orpcs_client() {
        let r = request(
            r#"{"i":"w","p":{"u":"/weird%20path%20%C3%BC","b":{},"h":{"x-custom-header":"custom-value"}}}"#,
        );
        assert_eq!(
            (r.id.as_json(), r.name.as_str()),
            (r#""w""#, "weird path ü")
        );
        assert_eq!(r.headers.get("X-Custom-Header"), Some("custom-value"));
        assert_eq!(r.body.as_deref().map(RawValue::get), Some("{}"));
        assert_eq!((r.method, r.attachment), (None, None));

        let r = request(r#"{"i":"3","p":{"u":"/nested/deep/plain","b":{}}}"#);
        assert_eq!(r.name, "nested/deep/plain");
        assert_eq!(r.headers, Headers::default());

        let r = request(
            r#"{"i":"1","p":{"u":"/lastEventId","b":{},"h":{"last-event-id":["from-link","from-call"]}}}"#,
        );
        assert_eq!(r.headers.get("last-event-id"), Some("from-link, from-call"));

        let r = request(
            r#"{"i":"p","p":{"u":"/inputStreamFull","h":{"content-type":"text/event-stream"}}}"#,
        );
        assert!(r.has_event_iterator_input() && r.body.is_none());

        let r = request(r#"{"i":5,"t":1,"p":{"u":"http://orpc/plain?data=1","m":"GET"}}"#);
        assert_eq!((r.id.as_json(), r.name.as_str()), ("5", "plain"));
        assert_eq!(r.method.as_deref(), Some("GET"));
    }

    #[test]
    fn aborts_and_events_name_their_call() {
        assert!(matches!(
            decode_client(br#"{"i":"h","t":4}"#, false),
            Ok(ClientMessage::Abort(id)) if id == CallId::new("h")
        ));
        assert!(matches!(
            decode_client(br#"{"i":"p","t":3,"p":{"e":"done","d":{}}}"#, false),
            Ok(ClientMessage::Event(id)) if id == CallId::new("p")
        ));
    }

    #[test]
    fn binary_frames_split_at_the_first_ff() {
        let mut frame = br#"{"i":"q","p":{"u":"/fileEcho","h":{"content-type":"multipart/form-data; boundary=x"}}}"#.to_vec();
        frame.push(0xFF);
        frame.extend_from_slice(b"body \xFF bytes");
        let ClientMessage::Request(r) = decode_client(&frame, true).unwrap() else {
            panic!()
        };
        assert_eq!(r.attachment.as_deref(), Some(&b"body \xFF bytes"[..]));
        // Without the byte, a binary frame is JSON; a text frame is never split.
        let plain = br#"{"i":"1","p":{"u":"/a"}}"#;
        assert!(
            matches!(decode_client(plain, true), Ok(ClientMessage::Request(r)) if r.attachment.is_none())
        );
        assert!(matches!(
            decode_client(&frame, false),
            Err(DecodeError::Unreadable(_))
        ));
    }

    #[test]
    fn what_cannot_be_answered_and_what_can() {
        let unreadable = [
            &b"this is not json"[..],
            b"[1,2,3]",
            b"{}",
            br#"{"i":null,"p":{"u":"/a"}}"#,
            br#"{"i":{"x":1},"t":4}"#,
            b"\xde\xad\xbe\xef",
        ];
        for frame in unreadable {
            assert!(
                matches!(decode_client(frame, false), Err(DecodeError::Unreadable(_))),
                "{frame:?}"
            );
        }
        assert!(matches!(
            decode_client(br#"{"i":"u1","t":99,"p":{"u":"/a"}}"#, false),
            Err(DecodeError::UnknownType(t)) if t == "99"
        ));
        let bad = [
            (r#"{"i":"u3"}"#, "no payload"),
            (r#"{"i":"u4","p":{"b":{}}}"#, "missing field `u`"),
            (r#"{"i":"rel","p":{"u":"plain"}}"#, "`u` is not a path"),
            (r#"{"i":"x","p":{"u":"/a%zz"}}"#, "bad escape"),
            (r#"{"i":"x","p":{"u":"/a%ff"}}"#, "not UTF-8"),
            (r#"{"i":"x","p":{"u":"/a","h":{"n":1}}}"#, "is not text"),
        ];
        for (frame, expected) in bad {
            match decode_client(frame.as_bytes(), false) {
                Err(DecodeError::BadRequest { id, reason }) => {
                    assert!(id.as_json().starts_with('"'), "{frame}");
                    assert!(reason.contains(expected), "{frame}: {reason}");
                }
                other => panic!("{frame}: {other:?}"),
            }
        }
    }
}
