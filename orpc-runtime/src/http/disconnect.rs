//! Noticing that a client has gone while its stream is idle.
//!
//! actix-web only learns that a client left when a write fails, so an idle stream, or one with
//! keep-alive comments disabled, would hold its handler (and everything the handler holds) until
//! the next write, possibly forever (actix-web issue #1313). This module watches the connections
//! themselves instead.
//!
//! How: [`watch_disconnects`], installed with `HttpServer::on_connect`, registers each plain-TCP
//! connection's socket with one process-wide epoll instance, for `EPOLLRDHUP` only: the kernel
//! reports when the peer closes (FIN) or resets (RST) the connection, and never for ordinary data,
//! so nothing is ever read and actix-web sees every byte as before. One thread waits on that epoll
//! instance and marks the connection closed, waking the SSE response that watches it; the response
//! drops its event iterator (running the handler's cleanup at once) and ends. No file descriptor is
//! duplicated, so a stream costs no descriptor beyond its socket, and the kernel drops the
//! registration by itself when the socket is closed.
//!
//! Where it does not apply:
//! - TLS connections (the stream `on_connect` sees is not a `TcpStream`) and HTTP/2, where one
//!   connection carries many streams: they fall back to noticing on the next write, so keep
//!   keep-alive comments enabled there.
//!
//! The same wake-up serves shutdown: [`Router::shutdown`](super::Router::shutdown) sets its flag,
//! then [`wake_all`] wakes the stream on every watched connection, which reads the flag. A stream
//! on a watched connection therefore needs no shutdown waiter of its own; the others have one.
//! - Behind a proxy, the watched connection is the proxy's. A proxy that keeps its upstream
//!   connection open after its client left hides the disconnect; most close it.
//! - A client that half-closes its sending side after the request (`shutdown(SHUT_WR)`) looks
//!   exactly like one that left, and its stream is ended. SSE clients don't do that; plain
//!   request/response calls are unaffected.

use std::any::Any;
use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use actix_web::dev::Extensions;
use actix_web::http::Version;
use actix_web::HttpRequest;
use futures_util::task::AtomicWaker;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

/// Whether one connection's client is gone, and who to tell.
#[derive(Default)]
struct Connection {
    closed: AtomicBool,
    waker: AtomicWaker,
}

/// The epoll instance and the connections registered with it, by token.
struct Watcher {
    epoll: Epoll,
    connections: Mutex<HashMap<u64, Arc<Connection>>>,
    next_token: AtomicU64,
}

static WATCHER: OnceLock<Option<Watcher>> = OnceLock::new();

/// The process-wide watcher, with its thread started on first use.
fn watcher() -> Option<&'static Watcher> {
    WATCHER
        .get_or_init(|| {
            let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
                .map_err(|error| tracing::warn!(%error, "no epoll instance; disconnects are noticed on writes only"))
                .ok()?;
            let spawned = std::thread::Builder::new().name("orpc-disconnects".into()).spawn(|| {
                if let Some(watcher) = watcher() {
                    watcher.run();
                }
            });
            if let Err(error) = spawned {
                tracing::warn!(%error, "no disconnect watcher thread; disconnects are noticed on writes only");
                return None;
            }
            Some(Watcher { epoll, connections: Mutex::default(), next_token: AtomicU64::new(0) })
        })
        .as_ref()
}

impl Watcher {
    fn run(&self) {
        let mut events = vec![EpollEvent::empty(); 256];
        loop {
            let ready = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(ready) => ready,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(error) => {
                    tracing::error!(%error, "the disconnect watcher stopped");
                    return;
                }
            };
            let connections = self
                .connections
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for event in &events[..ready] {
                if let Some(connection) = connections.get(&event.data()) {
                    connection.closed.store(true, Ordering::Release);
                    connection.waker.wake();
                }
            }
        }
    }
}

/// Wakes the stream of every watched connection, so that each looks at its router's shutdown
/// flag: a stream on a watched connection needs no shutdown waiter of its own. Spurious for the
/// streams of other routers, which find their flag unset and carry on.
pub(crate) fn wake_all() {
    // Without a watcher, no connection is watched: nothing to wake, and nothing to start.
    let Some(Some(watcher)) = WATCHER.get() else {
        return;
    };
    let connections = watcher
        .connections
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for connection in connections.values() {
        connection.waker.wake();
    }
}

/// A connection's registration, kept in the connection's data: dropping it, with the
/// connection, forgets the connection.
struct Registration {
    token: u64,
    connection: Arc<Connection>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(watcher) = watcher() {
            let mut connections = watcher
                .connections
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            connections.remove(&self.token);
        }
    }
}

/// Installs disconnect detection; pass it to `HttpServer::on_connect`.
pub fn watch_disconnects(connection: &dyn Any, data: &mut Extensions) {
    let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    let Some(watcher) = watcher() else { return };
    let token = watcher.next_token.fetch_add(1, Ordering::Relaxed);
    let watched = Arc::new(Connection::default());
    watcher
        .connections
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(token, watched.clone());
    // Registered after the map entry, so an immediate event finds it. One-shot: the first close
    // or reset is all there is to know.
    let flags = EpollFlags::EPOLLRDHUP | EpollFlags::EPOLLONESHOT;
    match watcher
        .epoll
        .add(tcp.as_fd(), EpollEvent::new(flags, token))
    {
        Ok(()) => {
            data.insert(Registration {
                token,
                connection: watched,
            });
        }
        Err(error) => {
            tracing::warn!(%error, "cannot watch this connection for disconnects");
            drop(Registration {
                token,
                connection: watched,
            });
        }
    }
}

/// Watches one request's connection for the client going away.
pub(crate) struct DisconnectWatch {
    connection: Arc<Connection>,
}

impl DisconnectWatch {
    /// A watch on `request`'s connection, if `watch_disconnects` is installed and applies. Only
    /// for HTTP/1: an HTTP/2 connection carries several streams at once, and the connection has
    /// room for one stream's waker.
    pub(crate) fn new(request: &HttpRequest) -> Option<Self> {
        if request.version() >= Version::HTTP_2 {
            return None;
        }
        let registration = request.conn_data::<Registration>()?;
        Some(DisconnectWatch {
            connection: registration.connection.clone(),
        })
    }

    /// Ready once the client has closed or reset the connection.
    pub(crate) fn poll_gone(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.connection.closed.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        self.connection.waker.register(cx.waker());
        // Checked again: a close between the first check and the registration woke no one.
        if self.connection.closed.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
