//! The shortest way to serve a router: both protocols and the WebSocket transport, disconnect
//! detection and graceful shutdown, set up the way this crate recommends.

use std::net::ToSocketAddrs;

use actix_web::{web, App, HttpServer};

use super::{run_until_signal, Router};

/// Serves `router` on `addr` until SIGINT or SIGTERM: the RPC protocol under `/rpc`, the OpenAPI
/// protocol under `/api`, and oRPC's WebSocket transport at `/ws` ([`Router::websocket`], which
/// only pages of the same origin may open unless [`Router::websocket_config`] allows others);
/// with feature `otel`, a router built with `Router::prometheus` has its metrics at `/metrics`.
/// Prints `listening on http://ADDR` once listening.
///
/// For HTTPS and HTTP/2, see `serve_tls` (feature `tls`). For more control (other prefixes,
/// middleware), mount [`Router::rpc`] and
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
    serve_on(router, addr, configure, Tls::None).await
}

/// Serves `router` over HTTPS on `addr` until SIGINT or SIGTERM, speaking HTTP/1.1 and HTTP/2
/// (chosen by ALPN) on the same port; otherwise as [`serve`]. Prints
/// `listening on https://ADDR` once listening. [`tls_config`](super::tls_config) reads a PEM
/// certificate and key into `tls`.
///
/// A browser opens at most six HTTP/1.1 connections to one origin, so a page with more live
/// streams than that stalls; over HTTP/2 they share one connection. Disconnects are watched
/// under TLS too, and over HTTP/2 a stream the client resets ends within half a second.
///
/// ```no_run
/// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let router = orpc_runtime::http::Router::new().procedure(echo);
///     let tls = orpc_runtime::http::tls_config("cert.pem", "key.pem")?;
///     orpc_runtime::http::serve_tls(router, "127.0.0.1:8443", tls).await
/// }
/// ```
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub async fn serve_tls(
    router: Router,
    addr: impl ToSocketAddrs,
    tls: rustls::ServerConfig,
) -> std::io::Result<()> {
    serve_on(router, addr, |_| {}, Tls::Rustls(Box::new(tls))).await
}

/// Like [`serve_tls`], with `configure` adding app data or routes of your own to the `App`.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub async fn serve_tls_with<F>(
    router: Router,
    addr: impl ToSocketAddrs,
    tls: rustls::ServerConfig,
    configure: F,
) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    serve_on(router, addr, configure, Tls::Rustls(Box::new(tls))).await
}

/// Plain HTTP, or HTTPS with this configuration.
enum Tls {
    None,
    #[cfg(feature = "tls")]
    Rustls(Box<rustls::ServerConfig>),
}

async fn serve_on<F>(
    router: Router,
    addr: impl ToSocketAddrs,
    configure: F,
    tls: Tls,
) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let served = router.clone();
    let request_timeout = router.request_timeout_value();
    let server = HttpServer::new(move || {
        let app = App::new()
            .configure(configure.clone())
            .service(web::scope("/rpc").configure(served.rpc()))
            .service(served.openapi_scope("/api"))
            .route("/ws", served.websocket());
        #[cfg(feature = "otel")]
        let app = match served.served().prometheus {
            Some(_) => app.route("/metrics", served.metrics()),
            None => app,
        };
        app
    })
    .on_connect(super::watch_disconnects)
    .client_request_timeout(request_timeout)
    .disable_signals()
    .shutdown_timeout(1);
    let (server, scheme) = match tls {
        Tls::None => (server.bind(addr)?, "http"),
        #[cfg(feature = "tls")]
        Tls::Rustls(config) => (server.bind_rustls_0_23(addr, *config)?, "https"),
    };
    for bound in server.addrs() {
        println!("listening on {scheme}://{bound}");
    }
    run_until_signal(server.run(), &router).await
}
