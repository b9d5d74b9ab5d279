//! oRPC's RPC envelope: `{"json": value, "meta": [...]}` around every input, output, event and
//! error.
//!
//! Inputs are written as `{"json": input}`, and as `{}` when the input is `null` or `()`, which is
//! what oRPC's own client sends for `undefined`. Values are read from the `json` key; a missing key
//! (oRPC's `undefined`) and an empty body both read as `null`, so they decode into `()`,
//! `Option<T>` or `serde_json::Value`.
//!
//! The `meta` list, where oRPC's serializer marks values JSON cannot hold (`BigInt`, `Date`,
//! `Set`, `Map`, `undefined` in arrays...), is not applied: those values arrive in their JSON
//! form (a decimal string, an ISO date string, an array, `null`), which is what a Rust type
//! deserializes them from anyway.

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, ORPCError};

/// The envelope as read; only `json` matters.
#[derive(Deserialize)]
struct Envelope<T> {
    #[serde(default = "Option::default")]
    json: Option<T>,
}

/// The request body for `input`.
pub(crate) fn encode_input<I: Serialize + ?Sized>(input: &I) -> Result<Bytes, Error> {
    const OPEN: &[u8] = b"{\"json\":";
    let mut body = BytesMut::with_capacity(128);
    body.put_slice(OPEN);
    serde_json::to_writer((&mut body).writer(), input).map_err(Error::Input)?;
    if &body[OPEN.len()..] == b"null" {
        return Ok(Bytes::from_static(b"{}"));
    }
    body.put_u8(b'}');
    Ok(body.freeze())
}

/// Reads a value of type `T` out of an envelope; `what` names it in errors.
pub(crate) fn decode<T: DeserializeOwned>(text: &[u8], what: &'static str) -> Result<T, Error> {
    let decode_error = |source| Error::Decode { what, source };
    let json = match text.iter().find(|b| !b.is_ascii_whitespace()) {
        None => None,
        // serde would also read a struct from an array; an envelope is an object only.
        Some(b'{') => {
            serde_json::from_slice::<Envelope<T>>(text)
                .map_err(decode_error)?
                .json
        }
        Some(_) => {
            return Err(Error::Protocol(format!(
                "the {what} is not in oRPC's {{\"json\": ..}} envelope"
            )))
        }
    };
    match json {
        Some(value) => Ok(value),
        // `undefined` on the other side, or `null`: whatever `T` makes of a JSON null.
        None => T::deserialize(Value::Null).map_err(decode_error),
    }
}

/// The error an `event: error` carries: an oRPC error when its data is an error object, the data
/// itself otherwise.
pub(crate) fn decode_error_event(data: &str) -> Error {
    let value = match decode::<Value>(data.as_bytes(), "error event") {
        Ok(value) => value,
        Err(error) => return error,
    };
    match ORPCError::from_json(&value) {
        Some(error) => Error::Orpc(error),
        None => Error::ErrorEvent(value),
    }
}

/// The error an error response carries, read as oRPC's client reads it.
pub(crate) fn decode_error_response(
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &[u8],
) -> ORPCError {
    let value = decode::<Value>(body, "error response").ok();
    if let Some(error) = value.as_ref().and_then(ORPCError::from_json) {
        return error;
    }
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), Value::String(value))
        })
        .collect();
    // The body as oRPC's client saw it: its `json`, or the raw text when it was not an envelope.
    let body = value.unwrap_or_else(|| Value::String(String::from_utf8_lossy(body).into_owned()));
    ORPCError::malformed_response(status, Value::Object(headers), body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body<I: Serialize + ?Sized>(input: &I) -> String {
        String::from_utf8(encode_input(input).unwrap().to_vec()).unwrap()
    }

    #[test]
    fn inputs_are_wrapped_and_unit_is_empty() {
        assert_eq!(body(&json!({"n": 3})), r#"{"json":{"n":3}}"#);
        assert_eq!(body("x"), r#"{"json":"x"}"#);
        assert_eq!(body(&()), "{}");
        assert_eq!(body(&None::<u8>), "{}");
        assert_eq!(body(&Value::Null), "{}");
        assert_eq!(body(&Some(1)), r#"{"json":1}"#);
    }

    #[test]
    fn values_are_read_from_json_and_undefined_is_null() {
        assert_eq!(decode::<u32>(br#"{"json":5}"#, "output").unwrap(), 5);
        assert_eq!(
            decode::<u32>(br#"{"json":5,"meta":[]}"#, "output").unwrap(),
            5
        );
        assert_eq!(decode::<Value>(b"{}", "output").unwrap(), Value::Null);
        assert_eq!(decode::<Value>(b"", "output").unwrap(), Value::Null);
        decode::<()>(b"{}", "output").unwrap();
        assert_eq!(
            decode::<Option<u8>>(br#"{"json":null}"#, "output").unwrap(),
            None
        );
        assert!(matches!(
            decode::<String>(b"{}", "return value"),
            Err(Error::Decode {
                what: "return value",
                ..
            })
        ));
        assert!(matches!(
            decode::<Value>(b"[1]", "event"),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(
            decode::<Value>(b" 5", "event"),
            Err(Error::Protocol(_))
        ));
        assert!(matches!(
            decode::<Value>(b"{", "event"),
            Err(Error::Decode { .. })
        ));
    }

    #[test]
    fn error_events_are_orpc_errors_only_when_they_hold_an_error_object() {
        let orpc = decode_error_event(
            r#"{"json":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"nope","data":{"x":1}}}"#,
        );
        assert!(
            matches!(orpc, Error::Orpc(ref e) if e.code == "BAD_REQUEST" && e.data == Some(json!({"x": 1})))
        );
        assert!(
            matches!(decode_error_event(r#"{"json":{"why":"x"}}"#), Error::ErrorEvent(v) if v == json!({"why": "x"}))
        );
        assert!(matches!(
            decode_error_event(""),
            Error::ErrorEvent(Value::Null)
        ));
    }

    #[test]
    fn error_responses_that_are_not_error_objects_are_described() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("content-type", "text/plain".parse().unwrap());
        let err = decode_error_response(502, &headers, b"upstream down");
        assert_eq!(err.code, "BAD_GATEWAY");
        assert_eq!(
            err.data,
            Some(
                json!({"status": 502, "headers": {"content-type": "text/plain"}, "body": "upstream down"})
            )
        );
        let err = decode_error_response(
            404,
            &headers,
            br#"{"json":{"defined":false,"code":"NOT_FOUND","status":404,"message":"gone"}}"#,
        );
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("NOT_FOUND", "gone")
        );
    }
}
