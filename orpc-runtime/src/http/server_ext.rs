//! One step that gives an existing `HttpServer` what a [`Router`] needs.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use actix_http::{Request, Response};
use actix_service::{IntoServiceFactory, Service, ServiceFactory};
use actix_web::body::MessageBody;
use actix_web::dev::AppConfig;
use actix_web::{Error, HttpServer};

use super::{watch_disconnects, Router};

/// Gives an `HttpServer` everything a [`Router`] needs, in one call, whatever else the server
/// has (its own `App`, middleware, routes, TLS):
///
/// - disconnect watching, so that a stream whose client left ends within a second even while
///   idle ([`watch_disconnects`]);
/// - the router's request-head timeout ([`Router::request_timeout`]);
/// - graceful shutdown that ends streams first: on SIGINT or SIGTERM the router ends every open
///   stream (clients reconnect elsewhere with `Last-Event-ID`), so that actix-web's own graceful
///   stop, which waits for responses in flight, finishes at once instead of after its shutdown
///   timeout.
///
/// The stream limit and keep-alive are the router's own settings and apply wherever it is
/// mounted. Mount the router given here, cloned into the app factory: a router built inside
/// `HttpServer::new` would be a different one in each worker, which this router's shutdown and
/// limits do not reach. That mistake (a router with procedures given here but never mounted) is
/// reported at the first connection, as an error in the log naming the fix.
///
/// `run().await` returns once actix-web has stopped; await
/// [`Router::wait_for_cleanups`] after it to give `finally_async` cleanups time to finish.
///
/// ```no_run
/// use std::time::Duration;
/// use actix_web::{middleware::Logger, web, App, HttpResponse, HttpServer};
/// use orpc_runtime::http::{Router, ServeRouter};
///
/// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
/// #[actix_web::main]
/// async fn main() -> std::io::Result<()> {
///     let router = Router::new().procedure(echo);
///     let mounted = router.clone();
///     HttpServer::new(move || {
///         App::new()
///             .wrap(Logger::default())
///             .route("/health", web::get().to(HttpResponse::Ok))
///             .service(web::scope("/rpc").configure(mounted.rpc()))
///             .service(mounted.openapi_scope("/api"))
///     })
///     .serve_router(&router)
///     .bind("127.0.0.1:8080")?
///     .run()
///     .await?;
///     router.wait_for_cleanups(Duration::from_secs(2)).await;
///     Ok(())
/// }
/// ```
pub trait ServeRouter: Sized {
    /// Sets the server up for `router`, as the trait's docs say.
    fn serve_router(self, router: &Router) -> Self;
}

impl<F, I, S, B> ServeRouter for HttpServer<F, I, S, B>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: IntoServiceFactory<S, Request>,
    S: ServiceFactory<Request, Config = AppConfig> + 'static,
    S::Error: Into<Error> + 'static,
    S::InitError: fmt::Debug,
    S::Response: Into<Response<B>> + 'static,
    <S::Service as Service<Request>>::Future: 'static,
    S::Service: 'static,
    B: MessageBody + 'static,
{
    fn serve_router(self, router: &Router) -> Self {
        end_streams_on_signal(router);
        let timeout = router.request_timeout_value();
        let given = router.clone();
        let checked = Arc::new(AtomicBool::new(false));
        self.on_connect(move |connection, data| {
            watch_disconnects(connection, data);
            if !checked.swap(true, Ordering::Relaxed) {
                check_mounted(&given);
            }
        })
        .client_request_timeout(timeout)
    }
}

/// Reports, once per server, a router given to `serve_router` that was never mounted: the app
/// factory built routers of its own, which this one's shutdown and limits do not reach. By the
/// first connection every worker has built its app.
fn check_mounted(router: &Router) {
    let served = router.served();
    if !served.mounted.load(Ordering::Relaxed) && !served.core.procedures.is_empty() {
        tracing::error!(
            "the Router given to `serve_router` was never mounted, so the app serves routers \
             built inside `HttpServer::new`: each worker has its own, which shutdown and stream \
             limits do not reach. Build the router once, before `HttpServer::new`, and mount \
             clones of it: \
             `let mounted = router.clone(); HttpServer::new(move || App::new().service(..mounted..))`"
        );
    }
}

/// Ends the router's streams on SIGINT or SIGTERM, from a task on the current runtime.
/// actix-web hears the same signals and stops gracefully.
fn end_streams_on_signal(router: &Router) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            "`serve_router` was called outside a Tokio runtime, so streams are not ended on \
             SIGINT/SIGTERM; call it inside `#[actix_web::main]`, or call `Router::shutdown` \
             yourself"
        );
        return;
    };
    let router = router.clone();
    runtime.spawn(async move {
        super::shutdown::signal().await;
        tracing::info!("shutting down: ending open streams");
        router.shutdown();
    });
}
