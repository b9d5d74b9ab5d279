//! Noticing that a client has gone while its stream is idle.
//!
//! actix-web only learns that a client left when a write fails, so an idle stream, or one with
//! keep-alive comments disabled, would hold its handler (and everything the handler holds) until
//! the next write, possibly forever (actix-web issue #1313). This module watches the connections
//! themselves instead.
//!
//! How: [`watch_disconnects`], installed with `HttpServer::on_connect`, registers each plain-TCP
//! connection's socket with one process-wide readiness queue, asking only to hear when the peer
//! closes (FIN) or resets (RST) the connection. Nothing is ever read, so actix-web sees every byte
//! as before. One thread waits on that queue and marks the connection closed, waking the SSE
//! response that watches it; the response drops its event iterator (running the handler's
//! cleanup at once) and ends. No file descriptor is duplicated, so a stream costs no descriptor
//! beyond its socket, and the kernel drops the registration by itself when the socket closes.
//!
//! The queue depends on the operating system:
//! - Linux and Android: epoll, for `EPOLLRDHUP` only, one-shot (`epoll.rs`); the kernel never
//!   reports ordinary data.
//! - macOS, iOS and the BSDs: kqueue, `EVFILT_READ` with `EV_CLEAR` (`kqueue.rs`). kqueue has no
//!   filter for the end of a stream alone, so arriving data is reported too; such an event is
//!   ignored, and `EV_CLEAR` re-arms the filter for the next change, which is the `EV_EOF` of a
//!   close or reset ([`Readiness::peer_gone`] decides).
//! - Elsewhere (Windows): no watcher. A client that left is noticed at the next write, which the
//!   keep-alive comments (every 5 s by default) bound; keep them enabled there.
//!
//! The same wake-up serves shutdown: [`Router::shutdown`](super::Router::shutdown) sets its flag,
//! then [`wake_all`] wakes the stream on every watched connection, which reads the flag. A stream
//! on a watched connection therefore needs no shutdown waiter of its own; the others have one.
//!
//! TLS connections (with the `tls` feature) are watched through their TCP socket. On HTTP/2, where
//! one connection carries many streams, a dropped connection wakes every stream on it; a client
//! that resets one stream (`RST_STREAM`) leaves the connection open, and actix-web's HTTP/2
//! dispatcher does not look for resets while a body is quiet, so the stream's next write finds
//! it: HTTP/2 streams write at least every [`RESET_PROBE`](super::RESET_PROBE).
//!
//! Where it does not apply:
//! - Behind a proxy, the watched connection is the proxy's. A proxy that keeps its upstream
//!   connection open after its client left hides the disconnect; most close it.
//! - A client that half-closes its sending side after the request (`shutdown(SHUT_WR)`) looks
//!   exactly like one that left, and its stream is ended. SSE clients don't do that; plain
//!   request/response calls are unaffected.

#[cfg(any(target_os = "linux", target_os = "android"))]
#[path = "epoll.rs"]
mod sys;
#[cfg(any(
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
#[path = "kqueue.rs"]
mod sys;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
#[path = "unsupported.rs"]
mod sys;

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

use actix_web::dev::Extensions;
use actix_web::http::Version;
use actix_web::HttpRequest;
use futures_util::task::AtomicWaker;

use sys::Poller;

/// Whether one connection's client is gone, and who to tell: its HTTP/1 stream, or each of the
/// streams of an HTTP/2 connection.
#[derive(Default)]
struct Connection {
    closed: AtomicBool,
    waker: AtomicWaker,
    /// HTTP/2's streams, by watch; empty, without an allocation, on an HTTP/1 connection.
    streams: Mutex<Vec<(u64, Waker)>>,
}

impl Connection {
    /// Wakes every stream watching the connection.
    fn wake(&self) {
        self.waker.wake();
        let streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        for (_, waker) in streams.iter() {
            waker.wake_by_ref();
        }
    }
}

/// The readiness queue and the connections registered with it, by token.
struct Watcher {
    poller: Poller,
    connections: Mutex<HashMap<u64, Arc<Connection>>>,
    next_token: AtomicU64,
}

static WATCHER: OnceLock<Option<Watcher>> = OnceLock::new();

/// The process-wide watcher, with its thread started on first use.
fn watcher() -> Option<&'static Watcher> {
    WATCHER
        .get_or_init(|| {
            let poller = Poller::new()
                .map_err(|error| tracing::info!(%error, "no disconnect watcher; disconnects are noticed on writes only"))
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
            Some(Watcher { poller, connections: Mutex::default(), next_token: AtomicU64::new(0) })
        })
        .as_ref()
}

impl Watcher {
    fn run(&self) {
        let mut gone = Vec::new();
        loop {
            gone.clear();
            if let Err(error) = self.poller.wait(&mut gone) {
                tracing::error!(%error, "the disconnect watcher stopped");
                return;
            }
            let connections = self
                .connections
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for token in &gone {
                if let Some(connection) = connections.get(token) {
                    connection.closed.store(true, Ordering::Release);
                    connection.wake();
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
        connection.wake();
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
///
/// It applies to TCP connections on Linux, Android, macOS, iOS and the BSDs, plain or (with the
/// `tls` feature) under rustls, whose TCP socket is watched; elsewhere it does nothing, and a
/// client that left is noticed at the next write.
pub fn watch_disconnects(connection: &dyn Any, data: &mut Extensions) {
    let Some(tcp) = tcp_stream(connection) else {
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
    // Registered after the map entry, so an immediate event finds it.
    let registration = Registration {
        token,
        connection: watched,
    };
    match watcher.poller.watch(tcp, token) {
        Ok(()) => {
            data.insert(registration);
        }
        Err(error) => tracing::warn!(%error, "cannot watch this connection for disconnects"),
    }
}

/// The TCP socket of a connection as `on_connect` sees it: plain, or under TLS.
fn tcp_stream(connection: &dyn Any) -> Option<&actix_web::rt::net::TcpStream> {
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
        return Some(tcp);
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = connection
        .downcast_ref::<actix_tls::accept::rustls_0_23::TlsStream<actix_web::rt::net::TcpStream>>()
    {
        return Some(tls.get_ref().0);
    }
    None
}

/// Makes a waiting system call again when a signal interrupted it.
#[cfg(unix)]
fn retry_interrupted<T>(mut call: impl FnMut() -> nix::Result<T>) -> std::io::Result<T> {
    loop {
        match call() {
            Err(nix::errno::Errno::EINTR) => continue,
            result => return result.map_err(Into::into),
        }
    }
}

/// What a readiness queue reported for one connection. An event with neither flag is arriving
/// data, which kqueue reports too (its read filter cannot ask for the end alone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(not(unix), allow(dead_code))]
struct Readiness {
    /// The peer will send nothing more: it closed its side (FIN), or the connection is gone.
    end: bool,
    /// The connection failed (a reset).
    error: bool,
}

#[cfg_attr(not(unix), allow(dead_code))]
impl Readiness {
    /// Whether the client has left. Arriving data alone says nothing: actix-web reads it, and the
    /// queue reports the end when it comes.
    fn peer_gone(self) -> bool {
        self.end || self.error
    }
}

/// Watches one request's connection for the client going away.
pub(crate) struct DisconnectWatch {
    connection: Arc<Connection>,
    /// The watch's key among an HTTP/2 connection's streams; 0 on HTTP/1.
    stream: u64,
}

impl DisconnectWatch {
    /// A watch on `request`'s connection, if `watch_disconnects` is installed and applies. On
    /// HTTP/2 it sees the whole connection drop; one stream's reset shows at its next write
    /// ([`RESET_PROBE`](super::RESET_PROBE)).
    pub(crate) fn new(request: &HttpRequest) -> Option<Self> {
        static STREAMS: AtomicU64 = AtomicU64::new(1);
        let registration = request.conn_data::<Registration>()?;
        let stream = if request.version() >= Version::HTTP_2 {
            STREAMS.fetch_add(1, Ordering::Relaxed)
        } else {
            0
        };
        Some(DisconnectWatch {
            connection: registration.connection.clone(),
            stream,
        })
    }

    /// Ready once the client has closed or reset the connection.
    pub(crate) fn poll_gone(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.connection.closed.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        if self.stream == 0 {
            self.connection.waker.register(cx.waker());
        } else {
            let mut streams = self
                .connection
                .streams
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match streams.iter_mut().find(|(key, _)| *key == self.stream) {
                Some((_, waker)) => waker.clone_from(cx.waker()),
                None => streams.push((self.stream, cx.waker().clone())),
            }
        }
        // Checked again: a close between the first check and the registration woke no one.
        if self.connection.closed.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for DisconnectWatch {
    fn drop(&mut self) {
        if self.stream != 0 {
            let mut streams = self
                .connection
                .streams
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            streams.retain(|(key, _)| *key != self.stream);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn only_an_end_or_an_error_means_the_client_left() {
        let data = Readiness::default();
        assert!(
            !data.peer_gone(),
            "arriving data (a pipelined request) is not a disconnect"
        );
        let (end, error) = (true, true);
        for gone in [
            Readiness { end, error: false },
            Readiness { end: false, error },
            Readiness { end, error },
        ] {
            assert!(gone.peer_gone(), "{gone:?}");
        }
    }
}
