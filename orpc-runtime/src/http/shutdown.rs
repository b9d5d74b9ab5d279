//! Graceful shutdown on SIGINT or SIGTERM: streams end first, then the server stops.
//!
//! actix-web's own signal handling waits up to its shutdown timeout (30 s by default) for
//! responses to finish, and an event iterator never finishes by itself. [`run_until_signal`]
//! reverses the order: on the first signal it ends every open stream through
//! [`Router::shutdown`] (each stream's cleanup runs as it is dropped), then stops the server
//! gracefully, then waits up to 2 s for asynchronous cleanups. Clients see their stream end
//! without a `done` event and reconnect with their `Last-Event-ID`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::{disconnect, Router};
use crate::wait_for_cleanups;

/// A router's shutdown, as its streams see it.
///
/// Each stream reads the flag whenever it is polled, which costs one atomic load and no lock.
/// What wakes a quiet stream to read it: for a stream on a watched connection, the disconnect
/// watcher ([`disconnect::wake_all`]), through the waker the stream already registers on its
/// connection; for any other stream, a waiter of its own on the token.
pub(crate) struct ShutdownSignal {
    triggered: AtomicBool,
    token: CancellationToken,
}

impl ShutdownSignal {
    pub(crate) fn new() -> Self {
        ShutdownSignal {
            triggered: AtomicBool::new(false),
            token: CancellationToken::new(),
        }
    }

    /// Sets the flag, then wakes every stream to read it.
    pub(crate) fn trigger(&self) {
        self.triggered.store(true, Ordering::SeqCst);
        self.token.cancel();
        disconnect::wake_all();
    }

    /// Whether [`trigger`](Self::trigger) has been called. A stream that registered a waker on its
    /// watched connection before reading `false` here is woken by the `trigger` that follows.
    pub(crate) fn is_triggered(&self) -> bool {
        self.triggered.load(Ordering::SeqCst)
    }

    /// A waiter for a stream that has no watched connection to be woken through.
    pub(crate) fn waiter(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }
}

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
    if !wait_for_cleanups(Duration::from_secs(2)).await {
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
