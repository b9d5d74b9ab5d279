//! A call answered over HTTP, whichever protocol asked: a plain procedure's JSON, an event
//! iterator's SSE response, or the error that kept either from starting, in the protocol's
//! envelope.

use actix_web::{HttpRequest, HttpResponse};

use super::reply::{error_response, json_response};
use super::response::sse_response;
use super::served::Served;
use crate::input::PathParams;
use crate::procedure::Route;
use crate::serving::Call;
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
    let call = match served.core.call(route, input, params, req) {
        Ok(call) => call,
        Err(error) => return error_response(&error, envelope),
    };
    match call {
        Call::Plain(running) => match running.await {
            Ok((json, meta)) => json_response(json, meta, envelope),
            Err(error) => error_response(&error, envelope),
        },
        Call::Stream(starting) => match starting.open().await {
            Ok(stream) => sse_response(stream, req, served.sse.clone(), route.name, envelope)
                .map_into_boxed_body(),
            Err(error) => error_response(&error, envelope),
        },
    }
}
