//! Reading a request's body within its size limits, as JSON or as a form with files. Every
//! failure is an [`ORPCError`] with a 4xx status; nothing here panics on hostile input.

use actix_web::{web, HttpRequest};
use bytes::BytesMut;
use futures_util::StreamExt;

use super::form::{self, Limits};
use super::served::Served;
use crate::input::decode_body;
use crate::sse::Envelope;
use crate::{ORPCError, RawInput};

/// Reads a call's input out of its body: JSON in `envelope`, a multipart form with files, or
/// (oRPC 2) a file alone.
pub(crate) async fn read_input(
    req: &HttpRequest,
    payload: web::Payload,
    served: &Served,
    envelope: Envelope,
) -> Result<RawInput, ORPCError> {
    let limits = Limits {
        body: served.body_limit,
        files: served.file_limit,
    };
    if form::is_multipart(req) {
        return form::read_form(req, payload, envelope, limits).await;
    }
    if envelope == Envelope::RpcV2 && form::is_raw_file(req) {
        return form::read_raw_file(req, payload, limits).await;
    }
    let body = read_body(req, payload, served.body_limit).await?;
    decode_body(&body, envelope)
}

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
    if form::declared_length(req).is_some_and(|len| len > limit) {
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
