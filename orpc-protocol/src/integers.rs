//! Integers a JavaScript client would round. JSON numbers become JavaScript `number`s, doubles
//! that hold every integer up to 2^53 − 1 (`Number.MAX_SAFE_INTEGER`) and only some beyond it:
//! `9007199254740993` arrives as `9007199254740992`, with nothing to say it changed. A server
//! that sends a plain `i64` or `u64` that large should fail loudly instead, and the field should
//! be a [`BigInt`](crate::BigInt).
//!
//! [`find_unsafe_integer`] scans serialized JSON for such an integer. It reads the bytes once
//! and builds nothing unless it finds one, but even so it is only worth running on payloads whose
//! type can hold one: the runtime decides that once per procedure, from the schema.

use std::fmt;

use crate::meta::{string_end, JsonPath, Segment};

/// The largest integer a JavaScript `number` holds exactly, and all below it: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// An integer in a payload beyond ±[`MAX_SAFE_INTEGER`], and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsafeInteger {
    /// The integer, as written.
    pub value: String,
    /// Where it stands in the payload, as `items[3].id`; empty for the payload itself.
    pub path: String,
}

impl fmt::Display for UnsafeInteger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            String::new()
        } else {
            format!(" at `{}`", self.path)
        };
        write!(
            f,
            "the integer {}{at} is beyond 2^53 - 1, so a JavaScript client would round it; \
             send it as a BigInt (a bigint over RPC, a string over OpenAPI)",
            self.value
        )
    }
}

impl std::error::Error for UnsafeInteger {}

/// The first integer in `json` beyond ±(2^53 − 1), with its path. Numbers with a fraction or an
/// exponent are not integers here: a float is a float on both ends.
///
/// ```
/// use orpc_protocol::find_unsafe_integer;
///
/// assert_eq!(find_unsafe_integer(br#"{"id":9007199254740991,"s":"9007199254740993"}"#), None);
/// let found = find_unsafe_integer(br#"{"rows":[{"id":1},{"id":-9007199254740992}]}"#).unwrap();
/// assert_eq!(found.value, "-9007199254740992");
/// assert_eq!(found.path, "rows[1].id");
/// ```
pub fn find_unsafe_integer(json: &[u8]) -> Option<UnsafeInteger> {
    let (start, end) = unsafe_integer_at(json)?;
    Some(UnsafeInteger {
        value: String::from_utf8_lossy(&json[start..end]).into_owned(),
        path: path_at(json, start),
    })
}

/// Where the first unsafe integer's token lies. Strings are skipped whole; a number token is
/// unsafe when it is an integer with more than 16 digits, or 16 digits above 9007199254740991
/// (JSON has no leading zeros, so the digits compare as text).
fn unsafe_integer_at(json: &[u8]) -> Option<(usize, usize)> {
    const MAX: &[u8] = b"9007199254740991";
    // Most payloads have no run of 16 digits anywhere, strings included: one tight pass says so.
    let mut run = 0;
    if !json.iter().any(|b| {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        run >= MAX.len()
    }) {
        return None;
    }
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => i = string_end(json, i),
            b'-' | b'0'..=b'9' => {
                let start = i;
                if json[i] == b'-' {
                    i += 1;
                }
                let digits = i;
                while i < json.len() && json[i].is_ascii_digit() {
                    i += 1;
                }
                let integer = !matches!(json.get(i), Some(b'.' | b'e' | b'E'));
                let text = &json[digits..i];
                if integer && (text.len() > MAX.len() || text.len() == MAX.len() && text > MAX) {
                    return Some((start, i));
                }
                while i < json.len()
                    && matches!(json[i], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The path of the value whose token starts at `offset`, as `items[3].id`.
fn path_at(json: &[u8], offset: usize) -> String {
    let mut path = JsonPath::default();
    let mut i = 0;
    while i < offset {
        if json[i] == b'"' {
            let end = string_end(json, i);
            path.key(&json[i..end]);
            i = end;
        } else {
            path.follow(json[i]);
            i += 1;
        }
    }
    let mut text = String::new();
    for segment in path.segments() {
        match segment {
            Segment::Key(key) if !text.is_empty() => {
                text.push('.');
                text.push_str(key);
            }
            Segment::Key(key) => text.push_str(key),
            Segment::Index(index) => text.push_str(&format!("[{index}]")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    #[test]
    fn the_limit_is_exact_on_both_sides() {
        for safe in [
            json!(9007199254740991u64),
            json!(-9007199254740991i64),
            json!(0),
            json!(1e300),
            json!(-1.5e20),
            json!(12345678901234567890.5f64),
            json!("99999999999999999999"),
            json!({ "99999999999999999999": "x\"99999999999999999999" }),
        ] {
            let text = serde_json::to_vec(&safe).unwrap();
            assert_eq!(find_unsafe_integer(&text), None, "{safe}");
        }
        for (unsafe_, path) in [
            (json!(9007199254740992u64), ""),
            (json!(-9007199254740992i64), ""),
            (json!(u64::MAX), ""),
            (json!({ "a": [1, { "b\"c": i64::MIN }] }), "a[1].b\"c"),
            (json!([[], [0, 18446744073709551615u64]]), "[1][1]"),
        ] {
            let text = serde_json::to_vec(&unsafe_).unwrap();
            let found = find_unsafe_integer(&text).unwrap_or_else(|| panic!("{unsafe_}"));
            assert_eq!(found.path, path);
        }
        // Whitespace, as a `RawValue` may hold, changes nothing.
        let found = find_unsafe_integer(b"{ \"n\" : [ 1 , 90071992547409920 ] }").unwrap();
        assert_eq!(
            (found.value.as_str(), found.path.as_str()),
            ("90071992547409920", "n[1]")
        );
    }

    /// The first integer of a value beyond the limit, found by walking the value itself.
    fn expected(value: &Value) -> Option<String> {
        match value {
            Value::Number(n) if n.is_f64() => None,
            Value::Number(n) => {
                let safe = n
                    .as_i64()
                    .is_some_and(|v| v.unsigned_abs() <= MAX_SAFE_INTEGER)
                    || n.as_u64().is_some_and(|v| v <= MAX_SAFE_INTEGER);
                (!safe).then(|| n.to_string())
            }
            Value::Array(items) => items.iter().find_map(expected),
            Value::Object(fields) => fields.values().find_map(expected),
            _ => None,
        }
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-(1i64 << 54)..(1i64 << 54)).prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[0-9\"\\\\a-]{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z0-9\"]{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// The scan over the bytes agrees with a walk over the value.
        #[test]
        fn the_scan_agrees_with_the_value(value in values()) {
            let text = serde_json::to_vec(&value).unwrap();
            let found = find_unsafe_integer(&text).map(|found| found.value);
            prop_assert_eq!(found, expected(&value));
        }
    }
}
