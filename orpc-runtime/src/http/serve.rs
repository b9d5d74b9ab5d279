//! The shortest way to serve a router: both protocols, disconnect detection and graceful
//! shutdown, set up the way this crate recommends.

use std::net::ToSocketAddrs;

use actix_web::{web, App, HttpServer};

use super::{run_until_signal, watch_disconnects, Router};

/// Serves `router` on `addr` until SIGINT or SIGTERM: the RPC protocol under `/rpc`, the OpenAPI
/// protocol under `/api`. Prints `listening on http://ADDR` once listening.
///
/// For more control (other prefixes, middleware, TLS), mount [`Router::rpc`] and
/// [`Router::openapi`] on your own `App` as the [module docs](super) show.
///
/// ```no_run
/// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let router = orpc_runtime::http::Router::new().procedure(echo);
///     orpc_runtime::http::serve(router, "127.0.0.1:8787").await
/// }
/// ```
pub async fn serve(router: Router, addr: impl ToSocketAddrs) -> std::io::Result<()> {
    serve_with(router, addr, |_| {}).await
}

/// Like [`serve`], with `configure` adding app data or routes of your own to the `App`.
pub async fn serve_with<F>(
    router: Router,
    addr: impl ToSocketAddrs,
    configure: F,
) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let served = router.clone();
    let request_timeout = router.request_timeout_value();
    let server = HttpServer::new(move || {
        App::new()
            .configure(configure.clone())
            .service(web::scope("/rpc").configure(served.rpc()))
            .service(served.openapi_scope("/api"))
    })
    .on_connect(watch_disconnects)
    .client_request_timeout(request_timeout)
    .disable_signals()
    .shutdown_timeout(1)
    .bind(addr)?;
    for bound in server.addrs() {
        println!("listening on http://{bound}");
    }
    run_until_signal(server.run(), &router).await
}
