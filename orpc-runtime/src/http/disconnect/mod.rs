//! Noticing that a client has gone while its stream is idle.
//!
//! actix-web learns that a client left only when a write fails, so an idle stream, or one with
//! keep-alive comments turned off, would hold its handler (and all it holds) until its next
//! write, or forever (actix-web issue #1313). So each connection is watched for its peer's
//! close. [`watch_disconnects`], installed with `HttpServer::on_connect`, registers the
//! connection's socket with a readiness queue of the worker thread that accepted it (epoll or
//! kqueue, asked only for the peer's close or reset; nothing is ever read, so actix-web sees
//! every byte as before) and puts the connection's own [`ConnectionWatch`] into actix-web's
//! per-connection data, where the connection's requests find it. The queue's descriptor is
//! watched by the worker's runtime like any socket; when the queue reports a connection, a task
//! on the worker marks that connection's watch gone and wakes the stream waiting on it, which
//! drops its handler (running its cleanup) and ends. The queue knows a connection only by a
//! token that is never reused, and its entry lives exactly as long as the connection's data:
//! no descriptor is kept, and the kernel drops the registration when the socket closes.
//!
//! Guarantees and limits:
//! - An HTTP/1 stream whose client closes or resets its connection ends within one wake-up of
//!   its worker, with or without keep-alive comments.
//! - HTTP/2 streams are not watched here: one stream's reset leaves the connection open, and
//!   actix-web's HTTP/2 dispatcher looks for resets only at a write, so HTTP/2 streams write
//!   at least every `RESET_PROBE` (`http/response.rs`), which also finds a dropped connection.
//! - TLS connections (feature `tls`) are watched through their TCP socket.
//! - Linux and Android use epoll (`EPOLLRDHUP`, one-shot); macOS, iOS and the BSDs kqueue
//!   (`EVFILT_READ` with `EV_CLEAR`, whose reports of arriving data are ignored). Elsewhere
//!   (Windows) nothing is watched, and a client that left is noticed at the next write, which
//!   keep-alive comments bound: keep them on there.
//! - Behind a proxy, the watched connection is the proxy's: a proxy that keeps its upstream
//!   connection open after its client left hides the departure. A client that half-closes its
//!   sending side after its request looks exactly like one that left; SSE clients don't.
//! - A connection accepted where no tokio runtime runs is not watched.

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

#[cfg(all(
    unix,
    not(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))
))]
#[path = "unsupported.rs"]
mod sys;

#[cfg(unix)]
mod queue;

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::dev::Extensions;
use actix_web::http::Version;
use actix_web::HttpRequest;
use futures_util::task::AtomicWaker;

/// Installs disconnect detection; pass it to `HttpServer::on_connect`.
///
/// It watches TCP connections, plain or (with the `tls` feature) under rustls, on Linux,
/// Android, macOS, iOS and the BSDs; elsewhere it does nothing, and a client that left is
/// noticed at the next write. It adds one value of its own to the connection's data (`data`),
/// beside any of yours when you call it from an `on_connect` of your own.
///
/// [`serve`](super::serve) and `HttpServer::serve_router` ([`ServeRouter`](super::ServeRouter))
/// install it for you; with a plain `HttpServer`:
///
/// ```no_run
/// use actix_web::{web, App, HttpServer};
/// use orpc_runtime::http::{watch_disconnects, Router};
///
/// # async fn run(router: Router) -> std::io::Result<()> {
/// HttpServer::new(move || App::new().service(web::scope("/rpc").configure(router.rpc())))
///     .on_connect(watch_disconnects)
///     .bind("127.0.0.1:8080")?
///     .run()
///     .await
/// # }
/// ```
pub fn watch_disconnects(connection: &dyn Any, data: &mut Extensions) {
    #[cfg(unix)]
    if let Some(watch) = tcp_stream(connection).and_then(queue::watch) {
        data.insert(watch);
    }
    let _ = (connection, data);
}

/// The TCP socket of a connection as `on_connect` sees it: plain, or under TLS.
#[cfg(unix)]
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

/// One connection's watch: whether its client has left, and the stream to tell. It lives in the
/// connection's data; its requests' responses hold clones.
#[derive(Clone)]
pub(crate) struct ConnectionWatch(Arc<Watched>);

struct Watched {
    gone: AtomicBool,
    /// The stream now served on the connection: HTTP/1 serves one response at a time.
    stream: AtomicWaker,
    /// The connection's place in its queue, given up with the connection's data.
    #[cfg(unix)]
    _entry: queue::Entry,
}

impl ConnectionWatch {
    /// The watch of `req`'s connection, if it is watched and serves HTTP/1.
    pub(crate) fn of(req: &HttpRequest) -> Option<Self> {
        if req.version() >= Version::HTTP_2 {
            return None;
        }
        req.conn_data::<ConnectionWatch>().cloned()
    }

    /// Ready once the client has closed or reset the connection; otherwise registers `cx`'s
    /// waker to be woken then. The waker is registered before the flag is read, so a close that
    /// comes between them still wakes it.
    pub(crate) fn poll_gone(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.0.stream.register(cx.waker());
        if self.0.gone.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Marks the client gone and wakes its stream.
    #[cfg_attr(not(unix), allow(dead_code))]
    fn set_gone(&self) {
        self.0.gone.store(true, Ordering::Release);
        self.0.stream.wake();
    }
}

/// Events taken from a queue per system call.
#[cfg(unix)]
const BATCH: usize = 64;

/// Makes a waiting system call again when a signal interrupted it.
#[cfg(unix)]
#[cfg_attr(
    not(any(
        target_os = "linux",
        target_os = "android",
        target_vendor = "apple",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )),
    allow(dead_code)
)]
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
