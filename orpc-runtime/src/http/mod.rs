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
//! [`watch_disconnects`] (for `HttpServer::on_connect`), [`Router::shutdown`], and
//! [`run_until_signal`], which [`serve`] uses to also wait for asynchronous cleanups.

mod disconnect;
mod event_stream;
mod input;
mod response;
mod route_error;
mod router;
mod serve;
mod server_ext;
mod shutdown;
mod stats;
#[cfg(feature = "tls")]
mod tls;
mod websocket;

pub use disconnect::watch_disconnects;
pub use event_stream::EventStream;
pub(crate) use input::decode_body as decode_body_for_fuzzing;
pub use response::{EncodedFrames, SseBody, RESET_PROBE, SLOW_POLL};
pub use route_error::RouteError;
pub(crate) use router::openapi_path;
pub use router::Router;
pub use serve::{serve, serve_with};
#[cfg(feature = "tls")]
pub use serve::{serve_tls, serve_tls_with};
pub use server_ext::ServeRouter;
pub use shutdown::run_until_signal;
pub use stats::StreamStats;
#[cfg(feature = "tls")]
pub use tls::tls_config;
pub use websocket::{WebSocketConfig, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PING_INTERVAL};
