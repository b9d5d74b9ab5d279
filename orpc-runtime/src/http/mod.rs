//! The actix-web transport: routes, request decoding, the SSE response ([`EventStream`], which
//! plain handlers can return too), disconnects and shutdown.
//!
//! [`serve`] is the shortest way to run a router. To add one to a server you already have, mount
//! it beside your routes and call [`ServeRouter::serve_router`] on the `HttpServer`: it installs
//! disconnect watching and makes SIGINT/SIGTERM end the router's streams first.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use orpc_runtime::http::{Router, ServeRouter};
//!
//! # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let router = Router::new().procedure(echo);
//!     let mounted = router.clone(); // built once, outside the factory
//!     HttpServer::new(move || {
//!         App::new()
//!             .service(web::scope("/rpc").configure(mounted.rpc()))
//!             .service(mounted.openapi_scope("/api"))
//!     })
//!     .serve_router(&router)
//!     .bind("127.0.0.1:8787")?
//!     .run()
//!     .await
//! }
//! ```
//!
//! The pieces it puts together stay public for servers that need them apart:
//! [`watch_disconnects`] (for `HttpServer::on_connect`), [`Router::shutdown`] and
//! [`Router::wait_for_cleanups`], and [`run_until_signal`], which [`serve`] uses.
//!
//! Where things are: `router.rs` builds and mounts; the transports are `rpc.rs` (with
//! `batch.rs`, the RPC protocol's batches), `openapi.rs`, `websocket/` and the [`EventStream`]
//! responder (`event_stream.rs`), each adapting bytes to the serving core (`crate::serving`):
//! they read bodies and forms with `input.rs` and `form.rs`, and answer through `answer.rs`,
//! `reply.rs`, `files_out.rs` (files) and the SSE body (`response.rs`); `disconnect/` watches
//! connections; `serve.rs`, `server_ext.rs` and `shutdown.rs` run servers.

mod answer;
mod batch;
mod disconnect;
mod event_stream;
mod files_out;
mod form;
mod input;
mod openapi;
mod reply;
mod response;
mod router;
mod rpc;
mod serve;
mod served;
mod server_ext;
mod shutdown;
#[cfg(feature = "tls")]
mod tls;
mod websocket;

pub use crate::serving::{RouteError, StreamStats};
pub use disconnect::watch_disconnects;
pub use event_stream::EventStream;
pub use response::{EncodedFrames, SseBody};
pub use router::Router;
pub use serve::{serve, serve_with};
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use serve::{serve_tls, serve_tls_with};
pub use server_ext::ServeRouter;
pub use shutdown::run_until_signal;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub use tls::tls_config;
pub use websocket::{WebSocketConfig, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PING_INTERVAL};
