//! oRPC 1.x's WebSocket transport: the peer protocol that `RPCLink` from
//! `@orpc/client/websocket` speaks, served by the same router, with the same procedures, as the
//! RPC and OpenAPI protocols. Mount it with [`Router::websocket`](crate::http::Router::websocket).
//!
//! The whole story of a socket:
//! - **Upgrade** (`Router::websocket`): the `Origin` is checked (`origin.rs`, same origin by
//!   default, 403 otherwise); after [`Router::shutdown`](crate::http::Router::shutdown), 503. No
//!   subprotocol is negotiated, as oRPC asks for none.
//! - **Context**: a call's extractors (`web::Data`, cookies, sessions, `BearerAuth`...) read the
//!   upgrade request, as the socket's calls all come from the page that opened it; its
//!   `Option<LastEventId>` reads the call's own `last-event-id` header (`call.rs`).
//! - **Messages** (`connection.rs`): read strictly in order; many calls run at once on one
//!   socket; an abort (`t:4`) drops its call, which drops the handler and runs its cleanup; bad
//!   frames are answered or close the socket, as that file says, and never disturb other sockets.
//! - **Events** (`call.rs`): each frame of an event iterator goes through the same
//!   `FrameSource` as over SSE (schema validation, `EventMeta::check`, the RPC serializer's meta)
//!   and is written as a peer message by `orpc-protocol`'s `peer::Encoder`.
//! - **Stats, limits, shutdown**: a stream over a socket takes its place under the router's
//!   [`max_streams`](crate::http::Router::max_streams) (a call past it is answered 503), counts in
//!   its [`stats`](crate::http::Router::stats) (an abort or a closed socket counts as a disconnect),
//!   and ends with [`Router::shutdown`](crate::http::Router::shutdown), which closes the socket with
//!   1001.
//! - **Limits and keep-alive** ([`WebSocketConfig`]): a message over the size limit closes the
//!   socket with 1009; the server pings on an interval and closes a peer that stops answering.

mod call;
mod config;
mod connection;
mod origin;
mod outbox;

pub use config::{WebSocketConfig, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PING_INTERVAL};

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::served::Served;
use crate::ORPCError;

/// The transport's route, to mount at a path of the app's choice.
pub(crate) fn route(served: Arc<Served>) -> actix_web::Route {
    web::get().to(move |req: HttpRequest, payload: web::Payload| {
        let response = upgrade(&served, &req, payload);
        async move { response }
    })
}

/// Upgrades `req` to a socket served by `served`, or answers why not.
fn upgrade(served: &Arc<Served>, req: &HttpRequest, payload: web::Payload) -> HttpResponse {
    let settings = &served.websocket;
    if let Err(origin) = origin::check(req, &settings.origins) {
        tracing::debug!(origin, "a WebSocket upgrade from another origin; refused");
        return ORPCError::new("FORBIDDEN")
            .with_message(format!("Origin {origin:?} may not open a WebSocket here"))
            .error_response();
    }
    if served.core.streams.lifecycle.is_shut_down() {
        return ORPCError::new("SERVICE_UNAVAILABLE")
            .with_message("The server is shutting down")
            .error_response();
    }
    // actix-ws reads the client's frames; the frames for the client go through our `Outbox`
    // instead of its `Session` (see `outbox.rs`), so its body is only kept, never polled.
    let (response, session, messages) = match actix_ws::handle(req, payload) {
        Ok(upgraded) => upgraded,
        Err(error) => return error.error_response(),
    };
    drop(session);
    let (response, reader) = response.into_parts();
    let (outbox, body) = outbox::Outbox::new(reader);
    let limit = settings.max_message_size;
    let messages = messages
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    actix_web::rt::spawn(connection::serve(
        served.clone(),
        req.clone(),
        outbox,
        messages,
    ));
    response.set_body(body).map_into_boxed_body()
}
