//! Reading a request's input: the body within its size limit, then JSON or a query string.
//!
//! Every failure is an [`ORPCError`] with a 4xx status; nothing here panics on hostile input.
//! serde_json's recursion limit turns deeply nested JSON into an ordinary parse error.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use bytes::BytesMut;
use futures_util::StreamExt;
use serde_json::Value;

use crate::sse::Envelope;
use crate::{ORPCError, RawInput};
use orpc_protocol::EnvelopeError;

/// Reads the body, refusing more than `limit` bytes with 413 as soon as that is known.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, ORPCError> {
    let too_large = || {
        ORPCError::new("PAYLOAD_TOO_LARGE")
            .with_message(format!("The request body exceeds {limit} bytes"))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|e| ORPCError::bad_request(format!("Could not read the request body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Turns a body into the procedure's input. An empty body means "no input" (`null`).
///
/// The content type is not enforced: clients such as `curl -d` label JSON as form data, and what
/// decides is whether the body parses. A body that does not gets 400 either way.
pub(crate) fn decode_body(body: &[u8], envelope: Envelope) -> Result<RawInput, ORPCError> {
    envelope
        .read::<Value>(body)
        .map(RawInput::Json)
        .map_err(|error| match error {
            EnvelopeError::Json(e) => {
                ORPCError::bad_request(format!("The request body is not valid JSON: {e}"))
            }
            EnvelopeError::NotAnObject => ORPCError::bad_request(
                r#"The RPC request body must be an object like {"json": input}"#,
            ),
            EnvelopeError::Meta(message) => ORPCError::bad_request(format!(
                "The request's meta does not fit its json: {message}"
            )),
        })
}
