//! What can go wrong in a call: errors the server reports, and errors on the way.
//!
//! [`ORPCError`] is the protocol's error object, read back exactly as oRPC's TypeScript client
//! reads it; [`Error`] is what every call of this crate returns, telling server errors apart from
//! transport and decoding failures so that callers (and the reconnect policy) can treat them
//! differently.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The error object of the oRPC protocol, as a server sent it.
///
/// It serializes back to the same JSON, fields in oRPC's order (`defined`, `code`, `status`,
/// `message`, then `data` when there is any).
///
/// ```
/// use orpc_client::ORPCError;
///
/// let json = r#"{"defined":false,"code":"BAD_REQUEST","status":400,"message":"nope","data":{"x":1}}"#;
/// let err: ORPCError = serde_json::from_str(json).unwrap();
/// assert_eq!((err.code.as_str(), err.status), ("BAD_REQUEST", 400));
/// assert_eq!(serde_json::to_string(&err).unwrap(), json);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ORPCError {
    /// Whether the procedure declared this error in its contract.
    #[serde(default)]
    pub defined: bool,
    /// A machine-readable code such as `BAD_REQUEST`.
    pub code: String,
    /// The HTTP status the error maps to.
    pub status: u16,
    /// A human-readable message.
    pub message: String,
    /// Structured details, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// oRPC's table of common codes, with their status and default message.
const COMMON_CODES: &[(&str, u16, &str)] = &[
    ("BAD_REQUEST", 400, "Bad Request"),
    ("UNAUTHORIZED", 401, "Unauthorized"),
    ("FORBIDDEN", 403, "Forbidden"),
    ("NOT_FOUND", 404, "Not Found"),
    ("METHOD_NOT_SUPPORTED", 405, "Method Not Supported"),
    ("NOT_ACCEPTABLE", 406, "Not Acceptable"),
    ("TIMEOUT", 408, "Request Timeout"),
    ("CONFLICT", 409, "Conflict"),
    ("PRECONDITION_FAILED", 412, "Precondition Failed"),
    ("PAYLOAD_TOO_LARGE", 413, "Payload Too Large"),
    ("UNSUPPORTED_MEDIA_TYPE", 415, "Unsupported Media Type"),
    ("UNPROCESSABLE_CONTENT", 422, "Unprocessable Content"),
    ("TOO_MANY_REQUESTS", 429, "Too Many Requests"),
    ("CLIENT_CLOSED_REQUEST", 499, "Client Closed Request"),
    ("INTERNAL_SERVER_ERROR", 500, "Internal Server Error"),
    ("NOT_IMPLEMENTED", 501, "Not Implemented"),
    ("BAD_GATEWAY", 502, "Bad Gateway"),
    ("SERVICE_UNAVAILABLE", 503, "Service Unavailable"),
    ("GATEWAY_TIMEOUT", 504, "Gateway Timeout"),
];

/// The fields oRPC allows in an error object; an object with any other key is not one.
const ERROR_FIELDS: [&str; 5] = ["defined", "code", "status", "message", "data"];

/// Whether `status` is an error status by oRPC's rule: below 200 or from 400 up.
pub(crate) fn is_error_status(status: u16) -> bool {
    !(200..400).contains(&status)
}

impl ORPCError {
    /// Reads an error object the way oRPC's `isORPCErrorJson` and `createORPCErrorFromJson` do:
    /// only the five known keys, `code` and `message` strings, `defined` a boolean, `status` an
    /// error status; an empty message becomes the code's default message, or the code.
    /// Anything else is not an error object.
    ///
    /// ```
    /// use orpc_client::ORPCError;
    /// use serde_json::json;
    ///
    /// let err = ORPCError::from_json(&json!({
    ///     "defined": true, "code": "NOT_FOUND", "status": 404, "message": ""
    /// }))
    /// .unwrap();
    /// assert_eq!(err.message, "Not Found");
    /// assert!(ORPCError::from_json(&json!({ "code": "X", "status": 200, "message": "" })).is_none());
    /// ```
    pub fn from_json(value: &Value) -> Option<ORPCError> {
        let object = value.as_object()?;
        if object
            .keys()
            .any(|key| !ERROR_FIELDS.contains(&key.as_str()))
        {
            return None;
        }
        let defined = object.get("defined")?.as_bool()?;
        let code = object.get("code")?.as_str()?;
        let status = u16::try_from(object.get("status")?.as_u64()?).ok()?;
        let message = object.get("message")?.as_str()?;
        if !is_error_status(status) {
            return None;
        }
        let message = if message.is_empty() {
            default_message(code).unwrap_or(code)
        } else {
            message
        };
        Some(ORPCError {
            defined,
            code: code.to_owned(),
            status,
            message: message.to_owned(),
            data: object.get("data").cloned(),
        })
    }

    /// The error oRPC's client makes of an error response whose body is not an error object:
    /// the common code with that status (or `MALFORMED_ORPC_ERROR_RESPONSE`), its default
    /// message, and the response in `data` as `{status, headers, body}`.
    pub(crate) fn malformed_response(status: u16, headers: Value, body: Value) -> ORPCError {
        let code = COMMON_CODES
            .iter()
            .find(|(_, s, _)| *s == status)
            .map_or("MALFORMED_ORPC_ERROR_RESPONSE", |(code, ..)| code);
        ORPCError {
            defined: false,
            code: code.to_owned(),
            status,
            message: default_message(code).unwrap_or(code).to_owned(),
            data: Some(serde_json::json!({ "status": status, "headers": headers, "body": body })),
        }
    }
}

/// oRPC's default message for a common code.
fn default_message(code: &str) -> Option<&'static str> {
    COMMON_CODES
        .iter()
        .find(|(c, ..)| *c == code)
        .map(|(.., message)| *message)
}

impl fmt::Display for ORPCError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ORPCError {}

/// Why a call failed.
///
/// Server errors ([`Error::Orpc`], [`Error::ErrorEvent`]) are answers; the rest are failures on
/// the way. A stream reconnects after [`Error::Transport`] and [`Error::StreamEnded`] (as its
/// [`ReconnectPolicy`](crate::ReconnectPolicy) allows), and after server errors only when the
/// policy says so; it returns the error of its last attempt when it gives up.
///
/// ```
/// use orpc_client::{Error, ORPCError};
///
/// fn describe(error: &Error) -> String {
///     match error.as_orpc() {
///         Some(ORPCError { code, message, .. }) => format!("the server said {code}: {message}"),
///         None => format!("the call failed: {error}"),
///     }
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an oRPC error: an error response, or an `event: error` whose
    /// data is an error object.
    Orpc(ORPCError),
    /// An `event: error` whose data is not an oRPC error object (oRPC's `ErrorEvent`); the
    /// data, `null` when there was none.
    ErrorEvent(Value),
    /// Sending the request or reading the response failed: no connection, a reset, a timeout.
    Transport(reqwest::Error),
    /// The connection closed before the stream's `done` or `error` event, and reconnecting was
    /// not allowed or ran out of attempts.
    StreamEnded {
        /// Whether it closed in the middle of an event rather than between two.
        mid_event: bool,
    },
    /// The output, an event or the return value did not decode as the type asked for.
    Decode {
        /// What was being decoded: `"output"`, `"event"` or `"return value"`.
        what: &'static str,
        /// Why it did not decode.
        source: serde_json::Error,
    },
    /// The response is not what an oRPC server sends for this call: a plain response where a
    /// stream was expected or the other way round, or a body that is not oRPC's JSON envelope.
    Protocol(String),
    /// The input did not serialize to JSON.
    Input(serde_json::Error),
    /// The base URL or the procedure name does not make a valid URL.
    InvalidUrl(String),
}

impl Error {
    /// The oRPC error, when the server answered with one.
    pub fn as_orpc(&self) -> Option<&ORPCError> {
        match self {
            Error::Orpc(error) => Some(error),
            _ => None,
        }
    }

    /// Whether the server answered with this error (an error response or an error event), as
    /// opposed to a failure on the way.
    pub fn is_server_error(&self) -> bool {
        matches!(self, Error::Orpc(_) | Error::ErrorEvent(_))
    }

    /// Whether the connection failed or was cut before the answer was complete: what a
    /// reconnect can cure.
    pub fn is_connection_error(&self) -> bool {
        match self {
            // A request that could not even be built fails the same way every time.
            Error::Transport(error) => !error.is_builder(),
            Error::StreamEnded { .. } => true,
            _ => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Orpc(error) => error.fmt(f),
            Error::ErrorEvent(data) => write!(f, "the server sent an error event: {data}"),
            Error::Transport(error) => write!(f, "HTTP transport failed: {error}"),
            Error::StreamEnded { mid_event: true } => {
                f.write_str("the event stream was cut in the middle of an event")
            }
            Error::StreamEnded { mid_event: false } => {
                f.write_str("the event stream closed before its done or error event")
            }
            Error::Decode { what, source } => write!(f, "the {what} did not decode: {source}"),
            Error::Protocol(message) => write!(f, "not an oRPC response: {message}"),
            Error::Input(error) => write!(f, "the input does not serialize: {error}"),
            Error::InvalidUrl(message) => write!(f, "invalid URL: {message}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Orpc(error) => Some(error),
            Error::Transport(error) => Some(error),
            Error::Decode { source, .. } | Error::Input(source) => Some(source),
            _ => None,
        }
    }
}

impl From<ORPCError> for Error {
    fn from(error: ORPCError) -> Self {
        Error::Orpc(error)
    }
}

impl From<reqwest::Error> for Error {
    fn from(error: reqwest::Error) -> Self {
        Error::Transport(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_objects_are_recognised_as_orpc_does() {
        let full = json!({"defined": false, "code": "BAD_REQUEST", "status": 400, "message": "nope", "data": {"x": 1}});
        let err = ORPCError::from_json(&full).unwrap();
        assert_eq!(err.data, Some(json!({"x": 1})));
        assert_eq!(serde_json::to_value(&err).unwrap(), full);

        for not_one in [
            json!({"defined": false, "code": "X", "status": 400, "message": "m", "extra": 1}),
            json!({"code": "X", "status": 400, "message": "m"}),
            json!({"defined": "no", "code": "X", "status": 400, "message": "m"}),
            json!({"defined": false, "code": 1, "status": 400, "message": "m"}),
            json!({"defined": false, "code": "X", "status": 200, "message": "m"}),
            json!({"defined": false, "code": "X", "status": 399, "message": "m"}),
            json!({"defined": false, "code": "X", "status": 400.5, "message": "m"}),
            json!({"defined": false, "code": "X", "status": 400}),
            json!("BAD_REQUEST"),
            json!(null),
        ] {
            assert_eq!(ORPCError::from_json(&not_one), None, "{not_one}");
        }
        let low = json!({"defined": true, "code": "X", "status": 199, "message": "m"});
        assert_eq!(ORPCError::from_json(&low).unwrap().status, 199);
    }

    #[test]
    fn empty_messages_fall_back_like_orpc() {
        let err = |code: &str| {
            ORPCError::from_json(
                &json!({"defined": false, "code": code, "status": 500, "message": ""}),
            )
            .unwrap()
            .message
        };
        assert_eq!(err("INTERNAL_SERVER_ERROR"), "Internal Server Error");
        assert_eq!(err("MY_CODE"), "MY_CODE");
    }

    #[test]
    fn malformed_responses_get_the_code_of_their_status() {
        let err = ORPCError::malformed_response(502, json!({}), json!("Bad Gateway"));
        assert_eq!(
            (err.code.as_str(), err.message.as_str()),
            ("BAD_GATEWAY", "Bad Gateway")
        );
        let err = ORPCError::malformed_response(418, json!({}), Value::Null);
        assert_eq!(err.code, "MALFORMED_ORPC_ERROR_RESPONSE");
        assert_eq!(err.message, "MALFORMED_ORPC_ERROR_RESPONSE");
        assert_eq!(err.data.unwrap()["status"], 418);
    }
}
