//! The types JSON cannot carry, as oRPC 1.x's RPC serializer carries them: in `json` as a string
//! (or another JSON value), with a `meta` list beside it of `[type, ...path]` entries. Type 0 is
//! a `bigint`, 1 a `Date`; 2 to 7 are `NaN`, `undefined`, `URL`, `RegExp`, `Set` and `Map`.
//! oRPC 2 writes the same list with names for the types (`["bigint", ...path]`, see `v2.rs`);
//! [`Tags`] says which.
//!
//! [`BigInt`] and [`Date`] opt a field in: over RPC they travel as oRPC's `bigint` and `Date`, so
//! that a TypeScript client reads a 64-bit id without rounding it and a timestamp as a `Date`;
//! over the OpenAPI protocol they are the same strings, with no meta. Everything else stays
//! plain JSON, at no cost: only a payload that holds one of these types takes the slower path.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Marks a value's string while a payload is serialized for the RPC envelope, so that its place
/// can be found and listed in `meta`: control characters, then a secret drawn once per process.
/// A string from outside (a chat message, say) cannot forge it, so it cannot make the client
/// read its text as a `bigint` or a `Date`.
struct Mark {
    /// As the value's string begins.
    text: String,
    /// As that reads in serialized JSON.
    json: Vec<u8>,
}

fn mark() -> &'static Mark {
    static MARK: std::sync::OnceLock<Mark> = std::sync::OnceLock::new();
    MARK.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        // The standard library's hasher keys are random per process; no other source is needed.
        let mut secret = std::collections::hash_map::RandomState::new().build_hasher();
        secret.write_u64(0x6f72_7063);
        let secret = secret.finish();
        Mark {
            text: format!("\u{0}\u{1}orpc-meta-{secret:016x}:"),
            json: format!("\\u0000\\u0001orpc-meta-{secret:016x}:").into_bytes(),
        }
    })
}

thread_local! {
    static MARKING: Cell<bool> = const { Cell::new(false) };
}

/// Sets [`MARKING`] for as long as it lives, even through a panic in `Serialize`.
struct Marking(bool);

impl Marking {
    fn on() -> Self {
        Marking(MARKING.with(|m| m.replace(true)))
    }
}

impl Drop for Marking {
    fn drop(&mut self) {
        MARKING.with(|m| m.set(self.0));
    }
}

/// How a `meta` list names its types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tags {
    /// oRPC 1.x: `[0, "big"]`.
    Numbers,
    /// oRPC 2: `["bigint", "big"]`.
    Names,
}

impl Tags {
    /// The entry's first element for the type numbered `code`.
    fn write(self, code: u8) -> Value {
        match (self, crate::v2::TAG_NAMES.get(usize::from(code))) {
            (Tags::Names, Some(name)) => Value::from(*name),
            _ => Value::from(code),
        }
    }

    /// The type number an entry's first element names, if it is one of these tags.
    fn read(self, tag: &Value) -> Option<u8> {
        match self {
            Tags::Numbers => tag.as_u64().and_then(|code| u8::try_from(code).ok()),
            Tags::Names => tag.as_str().and_then(crate::v2::tag_code),
        }
    }
}

/// A `meta` list written with numbers ([`to_json_with_meta`]) as `tags` name its types. Text that
/// is not such a list is returned as it is.
pub(crate) fn retag(meta: Vec<u8>, tags: Tags) -> Vec<u8> {
    if tags == Tags::Numbers {
        return meta;
    }
    let Ok(mut entries) = serde_json::from_slice::<Vec<Vec<Value>>>(&meta) else {
        return meta;
    };
    for entry in &mut entries {
        if let Some(tag) = entry.first_mut() {
            if let Some(code) = Tags::Numbers.read(tag) {
                *tag = tags.write(code);
            }
        }
    }
    serde_json::to_vec(&entries).unwrap_or(meta)
}

fn serialize_marked<S: Serializer>(
    serializer: S,
    code: u8,
    text: &dyn fmt::Display,
) -> Result<S::Ok, S::Error> {
    if MARKING.with(Cell::get) {
        serializer.collect_str(&format_args!("{}{code}:{text}", mark().text))
    } else {
        serializer.collect_str(text)
    }
}

/// Serializes `value` as JSON with the `meta` list of what JSON alone cannot carry: the JSON,
/// and the list when there is anything in it.
///
/// ```
/// use orpc_protocol::{to_json_with_meta, BigInt};
///
/// #[derive(serde::Serialize)]
/// struct Row { id: BigInt<i64>, ids: Vec<BigInt<u64>>, n: u32 }
///
/// let row = Row { id: BigInt(9007199254740993), ids: vec![BigInt(1)], n: 2 };
/// let (json, meta) = to_json_with_meta(&row).unwrap();
/// assert_eq!(json, br#"{"id":"9007199254740993","ids":["1"],"n":2}"#);
/// assert_eq!(meta.as_deref(), Some(&br#"[[0,"id"],[0,"ids",0]]"#[..]));
///
/// assert_eq!(to_json_with_meta(&5u32).unwrap(), (b"5".to_vec(), None));
/// ```
pub fn to_json_with_meta<T: Serialize + ?Sized>(
    value: &T,
) -> serde_json::Result<(Vec<u8>, Option<Vec<u8>>)> {
    let json = {
        let _marking = Marking::on();
        serde_json::to_vec(value)?
    };
    if !marked(&json) {
        return Ok((json, None));
    }
    let (json, meta) = unmark(&json, Tags::Numbers);
    Ok((json, Some(serde_json::to_vec(&meta)?)))
}

/// Whether `json` holds a mark: one pass over its bytes for a backslash, which a payload
/// without escapes does not have.
fn marked(json: &[u8]) -> bool {
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'\\', &json[from..]) {
        if json[from + at..].starts_with(&mark().json) {
            return true;
        }
        from += at + 1;
    }
    false
}

/// Strips the marks from the strings of `json` (compact JSON, as serde_json writes it), listing
/// each one's type and path in `meta`, in the order they stand: the keys keep their order, as
/// oRPC's own serializer lists them.
fn unmark(json: &[u8], tags: Tags) -> (Vec<u8>, Vec<Value>) {
    let mut out = Vec::with_capacity(json.len());
    let mut path = JsonPath::default();
    let mut meta = Vec::new();
    let mut i = 0;
    while i < json.len() {
        let byte = json[i];
        if byte != b'"' {
            path.follow(byte);
            out.push(byte);
            i += 1;
            continue;
        }
        let end = string_end(json, i);
        let token = &json[i..end];
        i = end;
        if path.key(token) {
            out.extend_from_slice(token);
            continue;
        }
        let marked = token[1..].strip_prefix(&mark().json[..]).and_then(|rest| {
            let colon = rest.iter().position(|&b| b == b':')?;
            let code: u8 = std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()?;
            Some((code, &rest[colon + 1..]))
        });
        match marked {
            Some((code, rest)) => {
                let mut entry = vec![tags.write(code)];
                entry.extend(path.segments().map(|segment| match segment {
                    Segment::Key(key) => Value::from(key),
                    Segment::Index(index) => Value::from(index),
                }));
                meta.push(Value::Array(entry));
                out.push(b'"');
                out.extend_from_slice(rest);
            }
            None => out.extend_from_slice(token),
        }
    }
    (out, meta)
}

/// The keys and indices that lead to where a left-to-right scan of JSON stands. Feed it every
/// byte outside strings ([`follow`](Self::follow)) and every string ([`key`](Self::key)).
#[derive(Default)]
pub(crate) struct JsonPath {
    stack: Vec<Level>,
}

enum Level {
    Object { key: Option<String>, in_key: bool },
    Array(usize),
}

/// One step of a [`JsonPath`].
pub(crate) enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

impl JsonPath {
    /// Follows one byte outside strings: brackets, colons and commas move the path.
    pub(crate) fn follow(&mut self, byte: u8) {
        match byte {
            b'{' => self.stack.push(Level::Object {
                key: None,
                in_key: true,
            }),
            b'[' => self.stack.push(Level::Array(0)),
            b'}' | b']' => {
                self.stack.pop();
            }
            b':' => {
                if let Some(Level::Object { in_key, .. }) = self.stack.last_mut() {
                    *in_key = false;
                }
            }
            b',' => match self.stack.last_mut() {
                Some(Level::Object { in_key, .. }) => *in_key = true,
                Some(Level::Array(index)) => *index += 1,
                None => {}
            },
            _ => {}
        }
    }

    /// Takes a string token, quotes included: when it is an object's key, records it and says
    /// so; otherwise it is a value, and the path is where it stands.
    pub(crate) fn key(&mut self, token: &[u8]) -> bool {
        match self.stack.last_mut() {
            Some(Level::Object { key, in_key: true }) => {
                *key = serde_json::from_slice(token).ok();
                true
            }
            _ => false,
        }
    }

    /// The steps from the root to here.
    pub(crate) fn segments(&self) -> impl Iterator<Item = Segment<'_>> {
        self.stack.iter().map(|level| match level {
            Level::Object { key, .. } => Segment::Key(key.as_deref().unwrap_or_default()),
            Level::Array(index) => Segment::Index(*index),
        })
    }
}

/// Where the string that opens at `start` ends, just past its closing quote.
pub(crate) fn string_end(json: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < json.len() {
        match json[j] {
            b'\\' => j += 2,
            b'"' => return j + 1,
            _ => j += 1,
        }
    }
    json.len()
}

/// Applies an RPC body's `meta` to its `json`, as oRPC's deserializer does: checks that every
/// entry names a known type and a place that exists, and turns what has a JSON form of its own
/// into it (`undefined` fields are dropped, `Map`s become objects when their keys are strings).
/// The error says which entry is wrong; an entry whose type is not named as `tags` say is wrong.
pub(crate) fn apply(json: &mut Value, meta: &Value, tags: Tags) -> Result<(), String> {
    let Value::Array(entries) = meta else {
        return Err("`meta` must be an array of [type, ...path] entries".to_owned());
    };
    for entry in entries {
        let Some((code, path)) = entry.as_array().and_then(|e| e.split_first()) else {
            return Err(format!("meta entry {entry} is not a [type, ...path] array"));
        };
        let Some(code) = tags.read(code) else {
            return Err(match tags {
                Tags::Numbers => format!("meta entry {entry} has no type number"),
                Tags::Names => format!("meta entry {entry} has no type name"),
            });
        };
        let at = path_in(json, path)
            .ok_or_else(|| format!("meta entry {entry} names a place that is not in `json`"))?;
        match code {
            0 => match at {
                Value::String(text) if is_integer(text) => {}
                other => return Err(format!("meta entry {entry}: {other} is not a bigint")),
            },
            1 => match at {
                Value::String(_) | Value::Null => {}
                other => return Err(format!("meta entry {entry}: {other} is not a date")),
            },
            2 | 4 | 5 | 6 => {}
            3 => *at = Value::Null,
            7 => {
                if let Value::Array(pairs) = at {
                    let object: Option<serde_json::Map<String, Value>> = pairs
                        .iter()
                        .map(|pair| match pair.as_array().map(Vec::as_slice) {
                            Some([Value::String(k), v]) => Some((k.clone(), v.clone())),
                            _ => None,
                        })
                        .collect();
                    if let Some(object) = object {
                        *at = Value::Object(object);
                    }
                }
            }
            other => return Err(format!("meta entry {entry}: unknown type {other}")),
        }
    }
    Ok(())
}

fn path_in<'a>(mut value: &'a mut Value, path: &[Value]) -> Option<&'a mut Value> {
    for segment in path {
        value = match (value, segment) {
            (Value::Object(fields), Value::String(key)) => fields.get_mut(key)?,
            (Value::Array(items), Value::Number(i)) => {
                items.get_mut(usize::try_from(i.as_u64()?).ok()?)?
            }
            (Value::Array(items), Value::String(i)) => items.get_mut(i.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(value)
}

fn is_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// An integer that a TypeScript client reads as a `bigint`: over RPC a decimal string with a
/// `meta` entry, over OpenAPI the same string. For ids and amounts beyond 2^53, which a
/// JavaScript number would round. It reads back from such a string or from a JSON integer.
///
/// A plain `i64` or `u64` stays a JSON number; the runtime refuses to send one beyond 2^53 − 1
/// ([`find_unsafe_integer`](crate::find_unsafe_integer)), so a field that needs the range says so
/// with this type.
///
/// ```
/// use orpc_protocol::BigInt;
///
/// let id: BigInt<i64> = serde_json::from_str(r#""-9007199254740993""#).unwrap();
/// assert_eq!(id, BigInt(-9007199254740993));
/// assert_eq!(serde_json::to_string(&id).unwrap(), r#""-9007199254740993""#);
/// assert!(serde_json::from_str::<BigInt<u64>>(r#""12a""#).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct BigInt<T>(pub T);

impl<T: fmt::Display> Serialize for BigInt<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_marked(serializer, 0, &self.0)
    }
}

impl<'de, T> Deserialize<'de> for BigInt<T>
where
    T: FromStr + TryFrom<i64> + TryFrom<u64>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(deserializer)? {
            Value::String(text) if is_integer(&text) => text
                .parse()
                .map(BigInt)
                .map_err(|_| D::Error::custom(format!("{text} is out of range"))),
            Value::Number(n) => n
                .as_i64()
                .and_then(|i| T::try_from(i).ok())
                .or_else(|| n.as_u64().and_then(|u| T::try_from(u).ok()))
                .map(BigInt)
                .ok_or_else(|| D::Error::custom(format!("{n} is not an integer in range"))),
            other => Err(D::Error::custom(format!("{other} is not an integer"))),
        }
    }
}

#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl<T> schemars::JsonSchema for BigInt<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BigInt".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^-?[0-9]+$",
            "x-orpc-type": "bigint",
        })
    }
}

/// A timestamp that a TypeScript client reads as a `Date`: over RPC an ISO 8601 string in UTC
/// with milliseconds (`2024-05-01T12:00:00.000Z`) and a `meta` entry, over OpenAPI the same
/// string. It wraps any [`IsoTimestamp`]: `chrono::DateTime<Utc>`, `time::OffsetDateTime` or
/// `jiff::Timestamp` with the feature of the same name.
///
/// ```
/// # #[cfg(feature = "chrono")] {
/// use chrono::{TimeZone, Utc};
/// use orpc_protocol::Date;
///
/// let at = Date(Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap());
/// assert_eq!(serde_json::to_string(&at).unwrap(), r#""2024-05-01T12:00:00.000Z""#);
/// let back: Date<chrono::DateTime<Utc>> = serde_json::from_str(r#""2024-05-01T14:00:00+02:00""#).unwrap();
/// assert_eq!(back, at);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date<T>(pub T);

/// A timestamp type that [`Date`] carries: written as JavaScript's `Date.toISOString()` writes
/// (UTC, milliseconds: `2024-05-01T12:00:00.000Z`) and read from any RFC 3339 timestamp. The
/// features `chrono`, `time` and `jiff` implement it for `chrono::DateTime<Utc>`,
/// `time::OffsetDateTime` and `jiff::Timestamp`; implement it for a type of your own the same way.
pub trait IsoTimestamp: Sized {
    /// Writes the timestamp in UTC with milliseconds, as `2024-05-01T12:00:00.000Z`.
    fn write_iso(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result;
    /// Reads an RFC 3339 timestamp; the error says why it is not one.
    fn parse_iso(text: &str) -> Result<Self, String>;
}

impl<T: IsoTimestamp> Serialize for Date<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Iso<'a, T>(&'a T);
        impl<T: IsoTimestamp> fmt::Display for Iso<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.write_iso(f)
            }
        }
        serialize_marked(serializer, 1, &Iso(&self.0))
    }
}

impl<'de, T: IsoTimestamp> Deserialize<'de> for Date<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let text = String::deserialize(deserializer)?;
        T::parse_iso(&text)
            .map(Date)
            .map_err(|e| D::Error::custom(format!("{text:?} is not an ISO 8601 date: {e}")))
    }
}

/// Writes the fields of a UTC timestamp as JavaScript's `toISOString()` does.
#[cfg(any(feature = "chrono", feature = "time", feature = "jiff"))]
fn write_utc(
    out: &mut fmt::Formatter<'_>,
    date: (i32, u8, u8),
    time: (u8, u8, u8, u16),
) -> fmt::Result {
    let (year, month, day) = date;
    let (hour, minute, second, millis) = time;
    write!(
        out,
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z"
    )
}

#[cfg(feature = "chrono")]
#[cfg_attr(docsrs, doc(cfg(feature = "chrono")))]
impl IsoTimestamp for chrono::DateTime<chrono::Utc> {
    fn write_iso(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::{Datelike, Timelike};
        let millis = (self.nanosecond() % 1_000_000_000) / 1_000_000;
        let date = (self.year(), self.month() as u8, self.day() as u8);
        let time = (
            self.hour() as u8,
            self.minute() as u8,
            self.second() as u8,
            millis as u16,
        );
        write_utc(out, date, time)
    }

    fn parse_iso(text: &str) -> Result<Self, String> {
        chrono::DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&chrono::Utc))
            .map_err(|e| e.to_string())
    }
}

#[cfg(feature = "time")]
#[cfg_attr(docsrs, doc(cfg(feature = "time")))]
impl IsoTimestamp for time::OffsetDateTime {
    fn write_iso(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = self.to_offset(time::UtcOffset::UTC);
        let date = (utc.year(), u8::from(utc.month()), utc.day());
        let time = (utc.hour(), utc.minute(), utc.second(), utc.millisecond());
        write_utc(out, date, time)
    }

    fn parse_iso(text: &str) -> Result<Self, String> {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| e.to_string())
    }
}

#[cfg(feature = "jiff")]
#[cfg_attr(docsrs, doc(cfg(feature = "jiff")))]
impl IsoTimestamp for jiff::Timestamp {
    fn write_iso(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = self.to_zoned(jiff::tz::TimeZone::UTC);
        let millis = utc.subsec_nanosecond() / 1_000_000;
        let date = (i32::from(utc.year()), utc.month() as u8, utc.day() as u8);
        let time = (
            utc.hour() as u8,
            utc.minute() as u8,
            utc.second() as u8,
            millis as u16,
        );
        write_utc(out, date, time)
    }

    fn parse_iso(text: &str) -> Result<Self, String> {
        text.parse().map_err(|e: jiff::Error| e.to_string())
    }
}

#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl<T> schemars::JsonSchema for Date<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Date".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date-time",
            "x-orpc-type": "date",
        })
    }
}

/// Writes `{"json":..}` for `value` into `buf`, with `"meta"` when it holds what JSON alone
/// cannot carry. The common case, nothing to list, is written straight into `buf` and only
/// scanned for a mark.
pub(crate) fn write_rpc<T: Serialize + ?Sized>(
    buf: &mut bytes::BytesMut,
    value: &T,
    tags: Tags,
) -> serde_json::Result<()> {
    use bytes::BufMut;
    buf.put_slice(b"{\"json\":");
    let start = buf.len();
    {
        let _marking = Marking::on();
        serde_json::to_writer(buf.writer(), value)?;
    }
    if marked(&buf[start..]) {
        let (json, meta) = unmark(&buf[start..], tags);
        buf.truncate(start);
        buf.put_slice(&json);
        buf.put_slice(b",\"meta\":");
        serde_json::to_writer(buf.writer(), &meta)?;
    }
    buf.put_u8(b'}');
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// One instant through each timestamp crate: the same text out, the same instant back, from
    /// any offset; what is below a millisecond is dropped, as JavaScript's `Date` drops it.
    #[cfg(all(feature = "chrono", feature = "time", feature = "jiff"))]
    #[test]
    fn every_timestamp_crate_writes_what_javascript_writes() {
        use chrono::TimeZone;
        let nanos = 1_714_565_096_789_654_321i64; // 2024-05-01T12:04:56.789654321Z
        let text = r#""2024-05-01T12:04:56.789Z""#;
        let chrono_at = chrono::Utc.timestamp_nanos(nanos);
        let time_at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos.into())
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(-5, -30, 0).unwrap());
        let jiff_at = jiff::Timestamp::from_nanosecond(nanos.into()).unwrap();
        assert_eq!(serde_json::to_string(&Date(chrono_at)).unwrap(), text);
        assert_eq!(serde_json::to_string(&Date(time_at)).unwrap(), text);
        assert_eq!(serde_json::to_string(&Date(jiff_at)).unwrap(), text);
        let elsewhere = r#""2024-05-01T14:04:56.789+02:00""#;
        let millis = nanos / 1_000_000;
        let back: Date<chrono::DateTime<chrono::Utc>> = serde_json::from_str(elsewhere).unwrap();
        assert_eq!(back.0.timestamp_millis(), millis);
        let back: Date<time::OffsetDateTime> = serde_json::from_str(elsewhere).unwrap();
        assert_eq!(
            back.0.unix_timestamp_nanos() / 1_000_000,
            i128::from(millis)
        );
        let back: Date<jiff::Timestamp> = serde_json::from_str(elsewhere).unwrap();
        assert_eq!(back.0.as_millisecond(), millis);
        for bad in [
            r#""2024-05-01""#,
            r#""yesterday""#,
            r#""2024-13-01T00:00:00Z""#,
            "5",
        ] {
            assert!(serde_json::from_str::<Date<chrono::DateTime<chrono::Utc>>>(bad).is_err());
            assert!(serde_json::from_str::<Date<time::OffsetDateTime>>(bad).is_err());
            assert!(
                serde_json::from_str::<Date<jiff::Timestamp>>(bad).is_err(),
                "{bad}"
            );
        }
        // In the RPC envelope each is a `Date` in `meta`.
        let (_, meta) = to_json_with_meta(&(Date(time_at), Date(jiff_at))).unwrap();
        assert_eq!(meta.as_deref(), Some(&br#"[[1,0],[1,1]]"#[..]));
    }

    #[test]
    fn meta_is_checked_and_applied() {
        let mut value = json!({ "big": "12", "gone": 1, "m": [["a", 1]], "l": ["3"] });
        apply(
            &mut value,
            &json!([[0, "big"], [3, "gone"], [7, "m"], [0, "l", 0]]),
            Tags::Numbers,
        )
        .unwrap();
        assert_eq!(
            value,
            json!({ "big": "12", "gone": null, "m": { "a": 1 }, "l": ["3"] })
        );
        let bad = [
            (json!([[0, "nope"]]), "not in `json`"),
            (json!([[9, "big"]]), "unknown type 9"),
            (json!([[0, "text"]]), "is not a bigint"),
            (json!({}), "must be an array"),
            (json!([["x", "big"]]), "no type number"),
        ];
        for (meta, expected) in bad {
            let mut value = json!({ "big": "12", "text": "1.5" });
            let error = apply(&mut value, &meta, Tags::Numbers).unwrap_err();
            assert!(error.contains(expected), "{meta}: {error}");
        }
    }

    #[test]
    fn orpc_2_names_the_types() {
        let mut value = json!({ "big": "12", "gone": 1, "m": [["a", 1]] });
        let named = json!([["bigint", "big"], ["undefined", "gone"], ["map", "m"]]);
        apply(&mut value, &named, Tags::Names).unwrap();
        assert_eq!(value, json!({ "big": "12", "gone": null, "m": { "a": 1 } }));
        // Each generation refuses the other's tags, as oRPC's own servers do.
        let mut value = json!({ "big": "12" });
        let error = apply(&mut value, &json!([[0, "big"]]), Tags::Names).unwrap_err();
        assert!(error.contains("no type name"), "{error}");
        let error = apply(&mut value, &json!([["bigint", "big"]]), Tags::Numbers).unwrap_err();
        assert!(error.contains("no type number"), "{error}");
        let error = apply(&mut value, &json!([["BigInt", "big"]]), Tags::Names).unwrap_err();
        assert!(error.contains("no type name"), "{error}");

        let mut buf = bytes::BytesMut::new();
        write_rpc(&mut buf, &(BigInt(1u8), "x"), Tags::Names).unwrap();
        assert_eq!(&buf[..], br#"{"json":["1","x"],"meta":[["bigint",0]]}"#);
        let (_, meta) = to_json_with_meta(&(BigInt(1u8), BigInt(2u8))).unwrap();
        assert_eq!(
            retag(meta.unwrap(), Tags::Names),
            br#"[["bigint",0],["bigint",1]]"#
        );
        assert_eq!(retag(b"[[0]]".to_vec(), Tags::Numbers), b"[[0]]");
        assert_eq!(retag(b"not a list".to_vec(), Tags::Names), b"not a list");
    }

    #[test]
    fn a_marked_string_outside_marking_is_plain() {
        assert_eq!(serde_json::to_string(&BigInt(7u8)).unwrap(), r#""7""#);
        let (json, meta) = to_json_with_meta(&[BigInt(1u8)]).unwrap();
        assert_eq!(
            (json, meta),
            (br#"["1"]"#.to_vec(), Some(br#"[[0,0]]"#.to_vec()))
        );
        // Keys keep their order, and so does the list; escapes and nesting are kept whole.
        #[derive(Serialize)]
        struct Row {
            z: BigInt<i64>,
            #[serde(rename = "a\"b")]
            quoted: Vec<(String, BigInt<u8>)>,
            a: BigInt<i64>,
        }
        let row = Row {
            z: BigInt(-1),
            quoted: vec![("x,]\"".into(), BigInt(2))],
            a: BigInt(3),
        };
        let (json, meta) = to_json_with_meta(&row).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"z":"-1","a\"b":[["x,]\"","2"]],"a":"3"}"#
        );
        assert_eq!(
            String::from_utf8(meta.unwrap()).unwrap(),
            r#"[[0,"z"],[0,"a\"b",0,1],[0,"a"]]"#
        );
        // A real string that happens to look like a bigint is not listed, nor one that copies
        // the mark's visible part: the secret is not in it.
        assert_eq!(to_json_with_meta(&"12").unwrap().1, None);
        let forged = "\u{0}\u{1}orpc-meta:0:123";
        assert_eq!(to_json_with_meta(&forged).unwrap().1, None);
        let forged = format!("\u{0}\u{1}orpc-meta-{:016x}:0:1", 0);
        assert_eq!(to_json_with_meta(&forged).unwrap().1, None);
    }
}
