//! The error object of the oRPC protocol, and oRPC's table of common codes.
//!
//! An [`ORPCError`] serializes to exactly the JSON that oRPC's own server sends, in the same field
//! order: `defined`, `code`, `status`, `message`, then `data` when there is any. The TypeScript
//! client turns that object back into its `ORPCError` class, so codes and statuses chosen here are
//! the ones a web client matches on. Reading goes the other way with oRPC's client rules
//! ([`ORPCError::from_json`]): only an object with exactly the known keys and an error status is
//! an error object.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An error a procedure reports to its caller.
///
/// Before a stream starts it becomes an HTTP error response; mid-stream it becomes an
/// `event: error` frame, after which the stream closes.
///
/// ```
/// use orpc_protocol::ORPCError;
///
/// let err = ORPCError::new("BAD_REQUEST")
///     .with_message("nope")
///     .with_data(serde_json::json!({ "x": 1 }));
/// assert_eq!(err.status, 400);
/// assert_eq!(
///     serde_json::to_string(&err).unwrap(),
///     r#"{"defined":false,"code":"BAD_REQUEST","status":400,"message":"nope","data":{"x":1}}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ORPCError {
    /// Whether the procedure declared this error in its contract. oRPC clients use it to tell
    /// typed errors from unexpected ones.
    #[serde(default)]
    pub defined: bool,
    /// A machine-readable code such as `BAD_REQUEST`.
    pub code: String,
    /// The HTTP status the error maps to.
    pub status: u16,
    /// A human-readable message.
    pub message: String,
    /// Structured details, omitted from the JSON when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
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

/// The common code for an HTTP status, as oRPC's client picks one for an error response that
/// carries no error object: `401` is `UNAUTHORIZED`, `503` is `SERVICE_UNAVAILABLE`.
///
/// ```
/// assert_eq!(orpc_protocol::code_for_status(401), Some("UNAUTHORIZED"));
/// assert_eq!(orpc_protocol::code_for_status(418), None);
/// ```
pub fn code_for_status(status: u16) -> Option<&'static str> {
    COMMON_CODES
        .iter()
        .find(|(_, s, _)| *s == status)
        .map(|(code, ..)| *code)
}

/// The status oRPC gives a common code; `None` for any other code, which oRPC sends as 500.
///
/// ```
/// assert_eq!(orpc_protocol::status_for_code("NOT_FOUND"), Some(404));
/// assert_eq!(orpc_protocol::status_for_code("MY_CODE"), None);
/// ```
pub fn status_for_code(code: &str) -> Option<u16> {
    common(code).map(|&(_, status, _)| status)
}

/// oRPC's default message for a common code.
///
/// ```
/// assert_eq!(orpc_protocol::default_message("TIMEOUT"), Some("Request Timeout"));
/// ```
pub fn default_message(code: &str) -> Option<&'static str> {
    common(code).map(|&(.., message)| message)
}

fn common(code: &str) -> Option<&'static (&'static str, u16, &'static str)> {
    COMMON_CODES.iter().find(|(c, ..)| *c == code)
}

/// Whether `status` is an error status by oRPC's rule: below 200 or from 400 up.
///
/// ```
/// assert!(orpc_protocol::is_error_status(404) && !orpc_protocol::is_error_status(302));
/// ```
pub fn is_error_status(status: u16) -> bool {
    !(200..400).contains(&status)
}

impl ORPCError {
    /// An error with `code`. A common code gets oRPC's status and message for it; any other code
    /// gets status 500 and the code itself as message, as oRPC does.
    pub fn new(code: impl Into<String>) -> Self {
        let code = code.into();
        let (status, message) = match common(&code) {
            Some(&(_, status, message)) => (status, message.to_owned()),
            None => (500, code.clone()),
        };
        ORPCError {
            defined: false,
            code,
            status,
            message,
            data: None,
        }
    }

    /// `BAD_REQUEST`, status 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new("BAD_REQUEST").with_message(message)
    }

    /// The error for an HTTP status: the common code for it (`401` is `UNAUTHORIZED`) with its
    /// message, or `INTERNAL_SERVER_ERROR` with the status kept when no common code has it.
    ///
    /// ```
    /// use orpc_protocol::ORPCError;
    ///
    /// assert_eq!(ORPCError::from_status(403).code, "FORBIDDEN");
    /// let teapot = ORPCError::from_status(418);
    /// assert_eq!((teapot.code.as_str(), teapot.status), ("INTERNAL_SERVER_ERROR", 418));
    /// ```
    pub fn from_status(status: u16) -> Self {
        match code_for_status(status) {
            Some(code) => Self::new(code),
            None => Self::new("INTERNAL_SERVER_ERROR").with_status(status),
        }
    }

    /// `NOT_FOUND`, status 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("NOT_FOUND").with_message(message)
    }

    /// `INTERNAL_SERVER_ERROR`, status 500, with the message oRPC gives errors it did not
    /// expect: "Internal server error". Details belong in the server's log, not in what the client
    /// sees.
    pub fn internal() -> Self {
        Self::new("INTERNAL_SERVER_ERROR").with_message("Internal server error")
    }

    /// Replaces the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Replaces the status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Attaches structured data.
    pub fn with_data(mut self, data: impl Into<serde_json::Value>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// Marks the error as declared by the procedure's contract.
    pub fn with_defined(mut self, defined: bool) -> Self {
        self.defined = defined;
        self
    }
}

impl ORPCError {
    /// Reads an error object the way oRPC's `isORPCErrorJson` and `createORPCErrorFromJson` do:
    /// only the five known keys, `code` and `message` strings, `defined` a boolean, `status` an
    /// error status; an empty message becomes the code's default message, or the code.
    /// Anything else is not an error object.
    ///
    /// ```
    /// use orpc_protocol::ORPCError;
    /// use serde_json::json;
    ///
    /// let err = ORPCError::from_json(&json!({
    ///     "defined": true, "code": "NOT_FOUND", "status": 404, "message": ""
    /// }))
    /// .unwrap();
    /// assert_eq!(err.message, "Not Found");
    /// assert!(ORPCError::from_json(&json!({ "code": "X", "status": 200, "message": "" })).is_none());
    /// ```
    pub fn from_json(value: &serde_json::Value) -> Option<ORPCError> {
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
    ///
    /// ```
    /// use orpc_protocol::ORPCError;
    /// use serde_json::json;
    ///
    /// let err = ORPCError::malformed_response(502, json!({}), json!("upstream down"));
    /// assert_eq!((err.code.as_str(), err.message.as_str()), ("BAD_GATEWAY", "Bad Gateway"));
    /// ```
    pub fn malformed_response(
        status: u16,
        headers: serde_json::Value,
        body: serde_json::Value,
    ) -> ORPCError {
        let code = code_for_status(status).unwrap_or("MALFORMED_ORPC_ERROR_RESPONSE");
        ORPCError {
            defined: false,
            code: code.to_owned(),
            status,
            message: default_message(code).unwrap_or(code).to_owned(),
            data: Some(serde_json::json!({ "status": status, "headers": headers, "body": body })),
        }
    }
}

/// Names the error object's schema `ORPCError`, with the fields oRPC sends; for documents that
/// describe error responses and `error` events, such as an OpenAPI document.
#[cfg(feature = "schemars")]
#[cfg_attr(docsrs, doc(cfg(feature = "schemars")))]
impl schemars::JsonSchema for ORPCError {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ORPCError".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "properties": {
                "defined": { "type": "boolean" },
                "code": { "type": "string" },
                "status": { "type": "integer" },
                "message": { "type": "string" },
                "data": {},
            },
            "required": ["defined", "code", "status", "message"],
        })
    }
}

impl fmt::Display for ORPCError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ORPCError {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_codes_fall_back_like_orpc() {
        let err = ORPCError::new("MY_CODE");
        assert_eq!((err.status, err.message.as_str()), (500, "MY_CODE"));
    }

    #[test]
    fn every_common_code_maps_to_its_status_and_back() {
        for &(code, status, message) in COMMON_CODES {
            let err = ORPCError::new(code);
            assert_eq!((err.status, err.message.as_str()), (status, message));
            assert_eq!(code_for_status(status), Some(code));
            assert_eq!(ORPCError::from_status(status).code, code);
            assert!(is_error_status(status), "{code}");
        }
    }

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
            json!({"defined": false, "code": "X", "status": 70000, "message": "m"}),
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
        let err = ORPCError::malformed_response(418, json!({}), serde_json::Value::Null);
        assert_eq!(err.code, "MALFORMED_ORPC_ERROR_RESPONSE");
        assert_eq!(err.message, "MALFORMED_ORPC_ERROR_RESPONSE");
        assert_eq!(err.data.unwrap()["status"], 418);
    }

    #[test]
    fn field_order_matches_orpc_and_data_is_omitted() {
        let json = serde_json::to_string(&ORPCError::not_found("gone")).unwrap();
        assert_eq!(
            json,
            r#"{"defined":false,"code":"NOT_FOUND","status":404,"message":"gone"}"#
        );
    }
}
