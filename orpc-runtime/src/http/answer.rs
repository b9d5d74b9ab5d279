//! A call answered over HTTP, whichever protocol asked: a plain procedure's JSON (or files), an event
//! iterator's SSE response, or the error that kept either from starting, in the protocol's
//! envelope.

use actix_web::{HttpRequest, HttpResponse};

use super::files_out::file_response;
use super::reply::{error_response, json_response};
use super::response::sse_response;
use super::served::Served;
use crate::input::PathParams;
use crate::procedure::Route;
use crate::serving::{Call, Transport};
use crate::sse::Envelope;
use crate::RawInput;

/// Runs `route` on `input` through the core and answers in `envelope`.
pub(crate) async fn answer(
    served: &Served,
    route: &Route,
    input: RawInput,
    params: PathParams,
    req: &HttpRequest,
    envelope: Envelope,
) -> HttpResponse {
    let call = match served.core.call(route, input, params, req, Transport::Sse) {
        Ok(call) => call,
        Err(error) => return error_response(&error, envelope),
    };
    match call {
        Call::Plain(running) => match running.await {
            Ok(output) if output.files.is_empty() => {
                json_response(output.json, output.meta, envelope)
            }
            Ok(output) => file_response(output, envelope)
                .unwrap_or_else(|error| error_response(&error, envelope)),
            Err(error) => error_response(&error, envelope),
        },
        Call::Stream(starting) => match starting.open().await {
            Ok(stream) => sse_response(stream, req, served.sse.clone(), route.name, envelope)
                .map_into_boxed_body(),
            Err(error) => error_response(&error, envelope),
        },
    }
}
