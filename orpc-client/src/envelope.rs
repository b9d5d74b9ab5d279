//! The client's side of oRPC's RPC envelope: `orpc-protocol`'s [`Envelope`] with this crate's
//! errors, and the error object of an error response or an `event: error` read as oRPC's
//! TypeScript client reads it.

use bytes::Bytes;
use orpc_protocol::{Envelope, EnvelopeError, ORPCError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::Error;

/// The request body for `input`: `{"json": input}`, or `{}` for no input.
pub(crate) fn encode_input<I: Serialize + ?Sized>(input: &I) -> Result<Bytes, Error> {
    Envelope::Rpc.write_input(input).map_err(Error::Input)
}

/// Reads a value of type `T` out of an envelope; `what` names it in errors.
pub(crate) fn decode<T: DeserializeOwned>(text: &[u8], what: &'static str) -> Result<T, Error> {
    Envelope::Rpc.read(text).map_err(|error| match error {
        EnvelopeError::Json(source) => Error::Decode { what, source },
        EnvelopeError::NotAnObject => Error::Protocol(format!(
            "the {what} is not in oRPC's {{\"json\": ..}} envelope"
        )),
        EnvelopeError::Meta(message) => Error::Protocol(format!(
            "the {what}'s meta does not fit its json: {message}"
        )),
    })
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

    #[test]
    fn envelope_errors_name_what_was_decoded() {
        assert!(matches!(
            decode::<String>(b"{}", "return value"),
            Err(Error::Decode {
                what: "return value",
                ..
            })
        ));
        assert!(matches!(
            decode::<Value>(b"[1]", "event"),
            Err(Error::Protocol(ref message)) if message.contains("event")
        ));
        assert!(matches!(
            encode_input(&std::collections::HashMap::from([((1, 2), 3)])),
            Err(Error::Input(_))
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
