//! What can go wrong in a call: errors the server reports, and errors on the way.
//!
//! [`ORPCError`] is the protocol's error object (from `orpc-protocol`), read back exactly as
//! oRPC's TypeScript client reads it; [`Error`] is what every call of this crate returns, telling
//! server errors apart from transport and decoding failures so that callers (and the reconnect
//! policy) can treat them differently.

use std::fmt;

use orpc_protocol::ORPCError;
use serde_json::Value;

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
