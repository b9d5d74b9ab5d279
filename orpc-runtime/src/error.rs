//! The error object of the oRPC protocol.
//!
//! An [`ORPCError`] serializes to exactly the JSON that oRPC's own server sends, in the same field
//! order: `defined`, `code`, `status`, `message`, then `data` when there is any. The TypeScript
//! client turns that object back into its `ORPCError` class, so codes and statuses chosen here are
//! the ones a web client matches on.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An error a procedure reports to its caller.
///
/// Before a stream starts it becomes an HTTP error response; mid-stream it becomes an
/// `event: error` frame, after which the stream closes.
///
/// ```
/// use orpc_runtime::ORPCError;
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ORPCError {
    /// Whether the procedure declared this error in its contract. oRPC clients use it to tell
    /// typed errors from unexpected ones.
    #[serde(default)]
    pub defined: bool,
    /// A machine-readable code such as `BAD_REQUEST`.
    pub code: Cow<'static, str>,
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

impl ORPCError {
    /// An error with `code`. A common code gets oRPC's status and message for it; any other code
    /// gets status 500 and the code itself as message, as oRPC does.
    pub fn new(code: impl Into<Cow<'static, str>>) -> Self {
        let code = code.into();
        let (status, message) = match COMMON_CODES.iter().find(|(c, ..)| *c == code) {
            Some(&(_, status, message)) => (status, message.to_owned()),
            None => (500, code.to_string()),
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

impl fmt::Display for ORPCError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for ORPCError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_codes_fall_back_like_orpc() {
        let err = ORPCError::new("MY_CODE");
        assert_eq!((err.status, err.message.as_str()), (500, "MY_CODE"));
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
