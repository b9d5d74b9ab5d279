//! Answers that are not streams: a plain procedure's JSON, and an error before any stream
//! started, in the envelope of the protocol that asked.

use actix_web::{HttpResponse, ResponseError};
use bytes::Bytes;

use crate::sse::Envelope;
use crate::ORPCError;

/// A plain procedure's answer: its JSON, with the `meta` list of what JSON alone cannot carry.
pub(crate) fn json_response(
    json: Vec<u8>,
    meta: Option<Vec<u8>>,
    envelope: Envelope,
) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(envelope.wrap_with_meta(json, meta))
}

/// An error before any stream started: the error's status, and the error object as the body.
pub(crate) fn error_response(error: &ORPCError, envelope: Envelope) -> HttpResponse {
    match envelope {
        // `ORPCError` is an actix-web error whose response is exactly this.
        Envelope::Plain => error.error_response(),
        Envelope::Rpc | Envelope::RpcV2 => HttpResponse::build(error.status_code())
            .content_type("application/json")
            .body(error_body(error, envelope)),
    }
}

/// The error object in `envelope`, as the body of an error answer.
pub(crate) fn error_body(error: &ORPCError, envelope: Envelope) -> Bytes {
    envelope.write_error(error)
}
