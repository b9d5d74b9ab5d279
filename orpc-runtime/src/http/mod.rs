//! The actix-web transport: routes, request decoding, the SSE response ([`EventStream`], which
//! plain handlers can return too), disconnects and shutdown.
//!
//! ```no_run
//! use actix_web::{web, App, HttpServer};
//! use orpc_runtime::http::{self, Router};
//!
//! # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let router = Router::new().procedure(echo);
//!     let app_router = router.clone();
//!     let server = HttpServer::new(move || {
//!         App::new()
//!             .service(web::scope("/rpc").configure(app_router.rpc()))
//!             .service(app_router.openapi_scope("/api"))
//!     })
//!     .on_connect(http::watch_disconnects) // cleanup within 1 s of a client leaving
//!     .disable_signals() // `run_until_signal` handles them, ending streams first
//!     .shutdown_timeout(1)
//!     .bind("127.0.0.1:8787")?
//!     .run();
//!     http::run_until_signal(server, &router).await
//! }
//! ```

mod disconnect;
mod event_stream;
mod input;
mod response;
mod route_error;
mod router;
mod serve;
mod shutdown;
mod stats;

pub use disconnect::watch_disconnects;
pub use event_stream::EventStream;
pub(crate) use input::decode_body as decode_body_for_fuzzing;
pub use response::{EncodedFrames, SseBody, SLOW_POLL};
pub use route_error::RouteError;
pub(crate) use router::openapi_path;
pub use router::Router;
pub use serve::{serve, serve_with};
pub use shutdown::run_until_signal;
pub use stats::StreamStats;
