//! oRPC's `IORedisPublisher` format (`@orpc/experimental-publisher` 1.x): the stream entry, its
//! event meta, and the check that both sides would read it.
//!
//! An entry is one field, `data`, holding oRPC's serialized payload as JSON:
//! `{"json": .., "meta": [[type, ...path], ..], "eventMeta": {"retry": .., "comments": [..]}}`,
//! where `json` and `meta` are oRPC's RPC serializer output (the same `meta` as an RPC body's,
//! see [`orpc_protocol::to_json_with_meta`]) and `eventMeta` is present only when set. The
//! pub/sub notification is the same JSON with the stream id added as `"id"`.
//!
//! Both directions are checked against what oRPC's reader accepts, because its failures are
//! wide: one entry it cannot read ends a resuming JavaScript subscriber's replay, and one
//! notification it cannot read ends every JavaScript subscription of the channel on that
//! instance. So [`for_publish`] refuses, before anything is written, a payload that oRPC would
//! not read back, and [`read`] turns an entry that is not oRPC's format into an unreadable
//! [`Message`], which ends only the subscriptions that reach it (see [`Subscription`]).
//!
//! What is refused (the same as oRPC unless said otherwise): a body that is not a JSON object; a
//! missing or non-array `meta`; a `meta` entry whose place is not in `json`, or (stricter than
//! oRPC, which passes them through raw) whose type is not one of oRPC's eight, since a custom
//! serializer's values cannot be decoded here; a value that is not an object or an array once
//! decoded (oRPC attaches event meta to it with a `Proxy`); a `retry` that is not a
//! non-negative integer; a comment that is not a string or holds CR, LF or NUL.
//!
//! [`Subscription`]: crate::Subscription

use std::time::Duration;

use bytes::Bytes;
use orpc_protocol::{to_json_with_meta, Envelope, EventMeta};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::{Error, Message, MessageId};

/// The serialized payload as stored, each part left as raw JSON.
#[derive(Deserialize)]
struct Stored<'a> {
    #[serde(borrow)]
    json: Option<&'a RawValue>,
    #[serde(borrow)]
    meta: Option<&'a RawValue>,
    #[serde(borrow, rename = "eventMeta")]
    event_meta: Option<&'a RawValue>,
}

/// Serializes `value` as oRPC's `IORedisPublisher` stores a payload, with `meta`'s `retry` and
/// comments as its event meta (its id is not stored: subscribers see the stream id). The bytes
/// to [`publish`](crate::PubSub::publish) on a channel in the
/// [oRPC-compatible](crate::RedisFormat::OrpcCompatible) format; [`BigInt`] and [`Date`] fields
/// reach a JavaScript subscriber as a `bigint` and a `Date`.
///
/// Read a received message's payload back with [`Envelope::Rpc`]`.read`, and its event meta with
/// [`Message::event_meta`].
///
/// ```
/// use std::time::Duration;
/// use orpc_protocol::{BigInt, Envelope, EventMeta};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct Goal { id: BigInt<u64>, minute: u8 }
///
/// let goal = Goal { id: BigInt(9007199254740993), minute: 17 };
/// let meta = EventMeta::new().retry(Duration::from_secs(1));
/// let payload = orpc_pubsub::orpc_payload(&goal, &meta).unwrap();
/// assert_eq!(
///     &payload[..],
///     br#"{"json":{"id":"9007199254740993","minute":17},"meta":[[0,"id"]],"eventMeta":{"retry":1000}}"#
/// );
/// assert_eq!(Envelope::Rpc.read::<Goal>(&payload).unwrap(), goal);
/// ```
///
/// [`BigInt`]: orpc_protocol::BigInt
/// [`Date`]: orpc_protocol::Date
pub fn orpc_payload<T: Serialize + ?Sized>(value: &T, meta: &EventMeta) -> Result<Bytes, Error> {
    #[derive(Serialize)]
    struct StoredMeta<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        retry: Option<u128>,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        comments: &'a [std::borrow::Cow<'static, str>],
    }
    meta.check()
        .map_err(|err| Error::invalid_payload(None, err))?;
    let (json, list) = to_json_with_meta(value).map_err(|err| Error::invalid_payload(None, err))?;
    let mut out = Vec::with_capacity(json.len() + 32);
    out.extend_from_slice(b"{\"json\":");
    out.extend_from_slice(&json);
    out.extend_from_slice(b",\"meta\":");
    out.extend_from_slice(list.as_deref().unwrap_or(b"[]"));
    if meta.retry.is_some() || !meta.comments.is_empty() {
        let stored = StoredMeta {
            retry: meta.retry.map(|retry| retry.as_millis()),
            comments: &meta.comments,
        };
        out.extend_from_slice(b",\"eventMeta\":");
        serde_json::to_writer(&mut out, &stored)
            .map_err(|err| Error::invalid_payload(None, err))?;
    }
    out.push(b'}');
    Ok(out.into())
}

/// The entry to store for a published payload: `{"json", "meta", "eventMeta"}` in that order,
/// `meta` added as `[]` when missing, anything else dropped, and refused unless oRPC's reader
/// and [`read`] accept it. It always ends with `}`, which the publish script relies on to add
/// the id to the notification.
pub(super) fn for_publish(payload: &[u8]) -> Result<Vec<u8>, Error> {
    let invalid = |reason: String| Error::invalid_payload(None, reason);
    let stored = Stored::parse(payload).map_err(invalid)?;
    let json = stored
        .json
        .ok_or_else(|| invalid(r#"it has no "json""#.to_owned()))?;
    let meta = stored.meta.map_or("[]", RawValue::get);
    let mut entry = Vec::with_capacity(payload.len() + 16);
    entry.extend_from_slice(b"{\"json\":");
    entry.extend_from_slice(json.get().as_bytes());
    entry.extend_from_slice(b",\"meta\":");
    entry.extend_from_slice(meta.as_bytes());
    if let Some(event_meta) = stored.event_meta.filter(|raw| raw.get() != "null") {
        entry.extend_from_slice(b",\"eventMeta\":");
        entry.extend_from_slice(event_meta.get().as_bytes());
    }
    entry.push(b'}');
    check(&entry).map_err(invalid)?;
    Ok(entry)
}

impl<'a> Stored<'a> {
    /// Reads the parts of a JSON object (serde would also read a struct from an array).
    fn parse(data: &'a [u8]) -> Result<Self, String> {
        let not_payload = |why: &dyn std::fmt::Display| {
            format!(
                r#"not oRPC's serialized payload, a JSON object {{"json": .., "meta": [..]}}: {why}"#
            )
        };
        match data.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => serde_json::from_slice(data).map_err(|err| not_payload(&err)),
            _ => Err(not_payload(&"it is not an object")),
        }
    }
}

/// The message for the stream entry `id` whose `data` is `data`: with its event meta, or
/// unreadable with the reason.
pub(super) fn read(id: MessageId, data: Vec<u8>) -> Message {
    match check(&data) {
        Ok(meta) => Message::new(id, data.into()).with_meta(meta),
        Err(reason) => Message::unreadable(id, reason),
    }
}

/// Whether oRPC's reader accepts `data`, and its event meta when it does.
fn check(data: &[u8]) -> Result<EventMeta, String> {
    let stored = Stored::parse(data)?;
    match stored
        .meta
        .map(|meta| meta.get().trim_start().as_bytes().first())
    {
        Some(Some(b'[')) => {}
        _ => return Err(r#"its "meta" is not an array"#.to_owned()),
    }
    let value: Value = Envelope::Rpc.read(data).map_err(|err| err.to_string())?;
    if !(value.is_object() || value.is_array()) {
        return Err(format!(
            "its value is {}, not an object or an array, which oRPC needs to attach event meta to",
            kind(&value)
        ));
    }
    match stored.event_meta {
        None => Ok(EventMeta::new()),
        Some(raw) => event_meta(raw),
    }
}

fn event_meta(raw: &RawValue) -> Result<EventMeta, String> {
    let fields: Option<serde_json::Map<String, Value>> = serde_json::from_str(raw.get())
        .map_err(|_| r#"its "eventMeta" is not an object"#.to_owned())?;
    let mut meta = EventMeta::new();
    let Some(fields) = fields else {
        return Ok(meta);
    };
    if let Some(retry) = fields.get("retry") {
        let millis = retry
            .as_u64()
            .or_else(|| {
                // JavaScript's numbers: `1000.0` is the integer 1000.
                let float = retry.as_f64()?;
                (float >= 0.0 && float.fract() == 0.0 && float < 2f64.powi(53))
                    .then_some(float as u64)
            })
            .ok_or_else(|| format!("its retry {retry} is not an integer >= 0"))?;
        meta = meta.retry(Duration::from_millis(millis));
    }
    if let Some(comments) = fields.get("comments") {
        let comments = comments
            .as_array()
            .ok_or_else(|| "its comments are not an array".to_owned())?;
        for comment in comments {
            let text = comment
                .as_str()
                .ok_or_else(|| format!("its comment {comment} is not a string"))?;
            meta = meta.comment(text.to_owned());
        }
        meta.check().map_err(|err| err.to_string())?;
    }
    Ok(meta)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreadable(data: &str) -> String {
        check(data.as_bytes()).expect_err(data)
    }

    #[test]
    fn entries_written_by_orpc_are_read_with_their_event_meta() {
        // As captured from oRPC 1.14.7 with MONITOR (see the notes in the module docs).
        let meta = check(
            br#"{"json":{"x":1},"meta":[],"eventMeta":{"id":"user-chosen-id","retry":5000,"comments":["c1","c2"]}}"#,
        )
        .unwrap();
        assert_eq!(meta.id, None, "the stream id replaces a stored one");
        assert_eq!(meta.retry, Some(Duration::from_secs(5)));
        assert_eq!(meta.comments.as_slice(), ["c1", "c2"]);
        let big = br#"{"json":{"big":"12345678901234567890","at":"2024-01-02T03:04:05.678Z","arr":[1,null,3]},"meta":[[0,"big"],[1,"at"],[3,"arr",1]]}"#;
        assert!(check(big).unwrap().is_empty());
        assert!(check(br#"{"json":[1,"2"],"meta":[[0,1]],"extra":true}"#).is_ok());
        assert!(check(br#"{"json":{},"meta":[],"eventMeta":{"retry":7.0}}"#).is_ok());
    }

    #[test]
    fn what_orpc_cannot_read_is_refused_with_a_reason() {
        assert!(unreadable("garbage").contains("not oRPC's serialized payload"));
        assert!(unreadable("{}").contains(r#""meta" is not an array"#));
        assert!(unreadable(r#"{"json":{},"meta":{}}"#).contains("not an array"));
        assert!(unreadable(r#"{"json":5,"meta":[]}"#).contains("a number, not an object"));
        assert!(unreadable(r#"{"json":null,"meta":[]}"#).contains("null"));
        assert!(unreadable(r#"{"meta":[]}"#).contains("null"));
        assert!(unreadable(r#"{"json":{"a":1},"meta":[[0,"zzz"]]}"#).contains("not in `json`"));
        assert!(unreadable(r#"{"json":{"a":"1"},"meta":[[99,"a"]]}"#).contains("unknown type"));
        assert!(unreadable(r#"{"json":{},"meta":[],"eventMeta":{"retry":-1}}"#).contains("retry"));
        assert!(
            unreadable(r#"{"json":{},"meta":[],"eventMeta":{"comments":["a\nb"]}}"#)
                .contains("comment")
        );
        assert!(unreadable(r#"{"json":{},"meta":[],"eventMeta":5}"#).contains("eventMeta"));
        assert!(unreadable("[1]").contains("not an object"));
    }

    #[test]
    fn published_payloads_are_normalised_or_refused() {
        let entry =
            |payload: &str| String::from_utf8(for_publish(payload.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            entry(r#"{"json":{"a":1}}"#),
            r#"{"json":{"a":1},"meta":[]}"#
        );
        assert_eq!(
            entry(r#"{"id":"x","eventMeta":{"retry":1},"meta":[[0,"b"]],"json":{"b":"2"}}"#),
            r#"{"json":{"b":"2"},"meta":[[0,"b"]],"eventMeta":{"retry":1}}"#
        );
        assert_eq!(
            entry(r#"{"json":[],"eventMeta":null}"#),
            r#"{"json":[],"meta":[]}"#
        );
        for bad in [
            r#"{"home":1}"#,
            "{}",
            r#"{"json":1}"#,
            "nope",
            r#"{"json":{},"json":{}}"#,
        ] {
            assert!(
                matches!(
                    for_publish(bad.as_bytes()),
                    Err(Error::InvalidPayload { id: None, .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_unreadable_entry_keeps_its_id() {
        let id = MessageId::stream(5, 1);
        assert!(read(id, b"{".to_vec()).unreadable_reason().is_some());
        let message = read(
            id,
            br#"{"json":{},"meta":[],"eventMeta":{"comments":["c"]}}"#.to_vec(),
        );
        assert!(message.unreadable_reason().is_none());
        assert_eq!(message.event_meta().comments.as_slice(), ["c"]);
    }
}
