//! oRPC's RPC protocol over HTTP, as `RPCLink` speaks it: `POST {scope}/{name}` with
//! `{"json": input, "meta": [..]}`; the answer is `{"json": output}`, `{"json": error}` with the
//! error's status, or an SSE stream whose data lines carry `{"json": value}`. Any other method
//! answers 405 `METHOD_NOT_SUPPORTED`, an unknown name 404 `NOT_FOUND`. A request carrying
//! `x-orpc-batch` is a batch of calls, whatever its path (`batch.rs`).

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

/// The protocol's one route, on a scope such as `web::scope("/rpc")`.
pub(crate) fn mount(served: Arc<Served>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.route(
            "/{name:.*}",
            web::to(move |req: HttpRequest, payload: web::Payload| {
                let served = served.clone();
                async move { serve(&served, req, payload).await }
            }),
        );
    }
}

async fn serve(served: &Served, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    let name = req.match_info().get("name").unwrap_or("");
    if req.headers().contains_key(batch::BATCH_HEADER) {
        let name = name.to_owned();
        return batch::serve(served, req, &name, payload).await;
    }
    let route = match served.core.find(name) {
        Ok(route) => route.clone(),
        Err(error) => return error_response(&error, Envelope::Rpc),
    };
    if req.method() != Method::POST {
        return error_response(&rpc_method_not_supported(), Envelope::Rpc);
    }
    let input = read_input(&req, payload, served, Envelope::Rpc).await;
    match input {
        Ok(input) => {
            answer(
                served,
                &route,
                input,
                PathParams::new(),
                &req,
                Envelope::Rpc,
            )
            .await
        }
        Err(error) => error_response(&error, Envelope::Rpc),
    }
}
