//! Graceful shutdown on SIGINT or SIGTERM: streams end first, then the server stops.
//!
//! actix-web's own signal handling waits up to its shutdown timeout (30 s by default) for
//! responses to finish, and an event iterator never finishes by itself. [`run_until_signal`]
//! reverses the order: on the first signal it ends every open stream through
//! [`Router::shutdown`] (each stream's cleanup runs as it is dropped), then stops the server
//! gracefully, then waits up to 2 s for the router's asynchronous cleanups. Clients see their stream end
//! without a `done` event and reconnect with their `Last-Event-ID`.

use std::time::Duration;

use actix_web::dev::Server;

use super::Router;

/// Runs `server` until it stops or the process receives SIGINT or SIGTERM, then shuts down as
/// described in the module docs. Build the server with `.disable_signals()` so that these signals
/// reach this function, and with a short `.shutdown_timeout(..)` for idle keep-alive connections.
pub async fn run_until_signal(server: Server, router: &Router) -> std::io::Result<()> {
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = signal() => {}
    }
    tracing::info!("shutting down: ending open streams");
    router.shutdown();
    let stopped = handle.stop(true);
    let (result, ()) = tokio::join!(server, stopped);
    if !router.wait_for_cleanups(Duration::from_secs(2)).await {
        tracing::warn!("some asynchronous cleanups did not finish within 2 s");
    }
    result
}

pub(crate) async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
