//! oRPC's RPC protocol over HTTP, as `RPCLink` speaks it: `POST {scope}/{name}` with
//! `{"json": input, "meta": [..]}`; the answer is `{"json": output}`, `{"json": error}` with the
//! error's status, or an SSE stream whose data lines carry `{"json": value}`. Any other method
//! answers 405 `METHOD_NOT_SUPPORTED`, an unknown name 404 `NOT_FOUND`. A request carrying
//! `x-orpc-batch` is a batch of calls, whatever its path (`batch.rs`).
//!
//! The same route serves oRPC 2's RPC protocol with [`Envelope::RpcV2`]: the envelope writes what
//! differs (`meta` names, the error object, `event: close`). As oRPC 2's `RPCHandler` does, it
//! refuses a request whose `sec-fetch-mode` says a browser sent it outside `fetch` (a form or a
//! navigation from another site: CSRF) with 403. oRPC 2's batches are another protocol
//! (`orpc-batch`), not served: such a request is refused with a 400 that says so.

use std::sync::Arc;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::answer::answer;
use super::batch;
use super::input::read_input;
use super::reply::error_response;
use super::served::Served;
use crate::input::PathParams;
use crate::serving::rpc_method_not_supported;
use crate::sse::Envelope;
use crate::ORPCError;

/// oRPC 2's batch header, which this route does not serve.
const V2_BATCH_HEADER: &str = "orpc-batch";

/// What oRPC 2's route refuses before looking for the procedure: a request a browser sent
/// outside `fetch` (oRPC 2's CSRF guard: a `sec-fetch-mode` other than `cors` or
/// `same-origin`; given twice, both must be), and a batch.
fn v2_refusal(req: &HttpRequest) -> Option<ORPCError> {
    let fetched = |mode: &actix_web::http::header::HeaderValue| {
        let mode = mode.to_str().unwrap_or_default();
        mode.eq_ignore_ascii_case("cors") || mode.eq_ignore_ascii_case("same-origin")
    };
    if !req.headers().get_all("sec-fetch-mode").all(fetched) {
        return Some(
            ORPCError::new("FORBIDDEN").with_message("Request blocked by CSRF protection."),
        );
    }
    if req.headers().contains_key(V2_BATCH_HEADER) {
        return Some(ORPCError::bad_request(
            "oRPC 2's BatchLinkPlugin is not supported here; batches are served to oRPC 1.x",
        ));
    }
    None
}

/// The protocol's one route, on a scope such as `web::scope("/rpc")`; `envelope` is
/// [`Envelope::Rpc`] (oRPC 1.x) or [`Envelope::RpcV2`].
pub(crate) fn mount(
    served: Arc<Served>,
    envelope: Envelope,
) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.route(
            "/{name:.*}",
            web::to(move |req: HttpRequest, payload: web::Payload| {
                let served = served.clone();
                async move { serve(&served, req, payload, envelope).await }
            }),
        );
    }
}

async fn serve(
    served: &Served,
    req: HttpRequest,
    payload: web::Payload,
    envelope: Envelope,
) -> HttpResponse {
    let name = req.match_info().get("name").unwrap_or("");
    if envelope == Envelope::Rpc && req.headers().contains_key(batch::BATCH_HEADER) {
        let name = name.to_owned();
        return batch::serve(served, req, &name, payload).await;
    }
    if envelope == Envelope::RpcV2 {
        if let Some(error) = v2_refusal(&req) {
            return error_response(&error, envelope);
        }
    }
    let route = match served.core.find(name) {
        Ok(route) => route.clone(),
        Err(error) => return error_response(&error, envelope),
    };
    if req.method() != Method::POST {
        return error_response(&rpc_method_not_supported(), envelope);
    }
    match read_input(&req, payload, served, envelope).await {
        Ok(input) => answer(served, &route, input, PathParams::new(), &req, envelope).await,
        Err(error) => error_response(&error, envelope),
    }
}
