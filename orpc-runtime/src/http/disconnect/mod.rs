//! Noticing that a client has gone while its stream is idle.
//!
//! actix-web only learns that a client left when a write fails, so an idle stream, or one with
//! keep-alive comments disabled, would hold its handler (and everything the handler holds) until
//! the next write, possibly forever (actix-web issue #1313). This module watches the connections
//! themselves instead.
//!
//! How: [`watch_disconnects`], installed with `HttpServer::on_connect`, registers each plain-TCP
//! connection's socket with a readiness queue of the worker thread that serves it, asking only to
//! hear when the peer closes (FIN) or resets (RST) the connection. Nothing is ever read, so
//! actix-web sees every byte as before. The queue is itself a descriptor, which the worker's own
//! runtime watches like any socket; when it has news, a task on that worker marks the connection
//! closed and wakes the SSE response that watches it; the response drops its event iterator
//! (running the handler's cleanup at once) and ends. No thread of our own takes turns with the
//! workers, so a client that leaves costs its worker one system call, not a context switch. No
//! file descriptor is duplicated, so a stream costs no descriptor beyond its socket, and the
//! kernel drops the registration by itself when the socket closes.
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
//! - A connection accepted outside a tokio runtime (actix-web always has one) is not watched.

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

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use actix_web::dev::Extensions;
use actix_web::http::Version;
use actix_web::HttpRequest;
use futures_util::task::AtomicWaker;

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

/// The watched connections of every worker's queue, by token. A queue's task looks its
/// connections up here, and [`wake_all`] goes through them all.
static CONNECTIONS: Mutex<Option<HashMap<u64, Arc<Connection>>>> = Mutex::new(None);
#[cfg(unix)]
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(0);

fn connections() -> MutexGuard<'static, Option<HashMap<u64, Arc<Connection>>>> {
    CONNECTIONS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The readiness queue of the worker thread that runs it, served by a task on that worker's
/// runtime: the queue's descriptor turns readable when a watched client has left.
#[cfg(unix)]
mod queue {
    use std::cell::RefCell;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    use super::sys::Poller;

    pub(super) struct Queue {
        pub(super) poller: AsyncFd<Poller>,
        /// Whether its task still runs; it stops with its runtime (a test's, say), and the next
        /// connection on the thread starts a new queue.
        serving: AtomicBool,
    }

    thread_local! {
        static QUEUE: RefCell<Option<Arc<Queue>>> = const { RefCell::new(None) };
    }

    /// Clears the queue's `serving` flag when its task ends, or is dropped before it first ran.
    struct Serving(Arc<Queue>);

    impl Drop for Serving {
        fn drop(&mut self) {
            self.0.serving.store(false, Ordering::Release);
        }
    }

    /// This thread's queue, started (with its task on the current runtime) on first use and
    /// again after its runtime ended. `None` outside a runtime, or when the system refuses a
    /// queue: such connections are not watched.
    pub(super) fn current() -> Option<Arc<Queue>> {
        QUEUE.with(|slot| {
            let mut slot = slot.borrow_mut();
            if let Some(queue) = slot.as_ref().filter(|q| q.serving.load(Ordering::Acquire)) {
                return Some(queue.clone());
            }
            let runtime = tokio::runtime::Handle::try_current()
                .map_err(|_| super::unwatched("no tokio runtime on this thread"))
                .ok()?;
            // tokio 1.54 deprecated its safe constructors for their lack of I/O safety in
            // general (`T::as_raw_fd` may return a descriptor that `T` does not own) and offers
            // `unsafe` ones instead, which this crate forbids. Here the condition they ask for
            // holds by construction: `Poller` owns its descriptor (an `OwnedFd`) for its whole
            // life, never replaces it, and always returns that one.
            #[allow(deprecated)]
            let register = |poller| AsyncFd::with_interest(poller, Interest::READABLE);
            let poller = Poller::new()
                .and_then(register)
                .map_err(|error| super::unwatched(&error.to_string()))
                .ok()?;
            let queue = Arc::new(Queue {
                poller,
                serving: AtomicBool::new(true),
            });
            let serving = Serving(queue.clone());
            runtime.spawn(async move { serve(serving).await });
            *slot = Some(queue.clone());
            Some(queue)
        })
    }

    /// Waits for the queue to turn readable, takes what it holds and closes the connections
    /// whose client left, until the queue fails or the runtime drops the task.
    async fn serve(serving: Serving) {
        let queue = &serving.0;
        let mut gone = Vec::new();
        loop {
            let mut ready = match queue.poller.readable().await {
                Ok(ready) => ready,
                Err(error) => {
                    tracing::error!(%error, "a disconnect queue stopped");
                    return;
                }
            };
            // Taken until empty. Once a batch came back short, the queue is empty without
            // another call to say so: an event that arrives after it makes the runtime see the
            // queue readable again, which `clear_ready` leaves as it is.
            loop {
                gone.clear();
                match ready.try_io(|poller| poller.get_ref().take(&mut gone)) {
                    Ok(Ok(taken)) => {
                        super::close(&gone);
                        if taken < super::BATCH {
                            ready.clear_ready();
                            break;
                        }
                    }
                    Ok(Err(error)) => {
                        tracing::error!(%error, "a disconnect queue stopped");
                        return;
                    }
                    Err(_would_block) => break,
                }
            }
        }
    }
}

/// Events taken from a queue per system call.
#[cfg(unix)]
const BATCH: usize = 64;

/// Says once per process why connections are not watched.
#[cfg(unix)]
fn unwatched(why: &str) {
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        tracing::info!(
            why,
            "connections not watched for disconnects; they are noticed on writes only"
        );
    }
}

/// Closes the connections of `tokens` (those still registered) and wakes their streams.
#[cfg(unix)]
fn close(tokens: &[u64]) {
    let connections = connections();
    let Some(connections) = connections.as_ref() else {
        return;
    };
    for token in tokens {
        if let Some(connection) = connections.get(token) {
            connection.closed.store(true, Ordering::Release);
            connection.wake();
        }
    }
}

/// Wakes the stream of every watched connection, so that each looks at its router's shutdown
/// flag: a stream on a watched connection needs no shutdown waiter of its own. Spurious for the
/// streams of other routers, which find their flag unset and carry on.
pub(crate) fn wake_all() {
    let connections = connections();
    for connection in connections.iter().flat_map(|map| map.values()) {
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
        if let Some(connections) = connections().as_mut() {
            connections.remove(&self.token);
        }
    }
}

/// Installs disconnect detection; pass it to `HttpServer::on_connect`.
///
/// It applies to TCP connections on Linux, Android, macOS, iOS and the BSDs, plain or (with the
/// `tls` feature) under rustls, whose TCP socket is watched; elsewhere it does nothing, and a
/// client that left is noticed at the next write. The watching runs on the worker that serves
/// the connection, as part of its runtime: no thread of its own.
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
    {
        let Some(tcp) = tcp_stream(connection) else {
            return;
        };
        let Some(queue) = queue::current() else {
            return;
        };
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        let watched = Arc::new(Connection::default());
        connections()
            .get_or_insert_with(HashMap::new)
            .insert(token, watched.clone());
        // Registered after the map entry, so an immediate event finds it.
        let registration = Registration {
            token,
            connection: watched,
        };
        match queue.poller.get_ref().watch(tcp, token) {
            Ok(()) => {
                data.insert(registration);
            }
            Err(error) => tracing::warn!(%error, "cannot watch this connection for disconnects"),
        }
    }
    #[cfg(not(unix))]
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

    /// Each runtime that runs on a thread gets a queue of its own: a test's runtime ends, the
    /// next one on the same thread (another test, say) must not inherit a queue whose task is
    /// gone with the first.
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    #[test]
    fn each_runtime_on_a_thread_sees_its_clients_leave() {
        use std::sync::atomic::Ordering;
        use std::task::Poll;
        use std::time::Duration;

        use actix_web::dev::Extensions;

        use super::{watch_disconnects, Registration};

        for round in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (server, _) = listener.accept().await.unwrap();
                let mut data = Extensions::new();
                watch_disconnects(&server, &mut data);
                let connection = data
                    .get::<Registration>()
                    .expect("a TCP connection is watched")
                    .connection
                    .clone();
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert!(
                    !connection.closed.load(Ordering::Acquire),
                    "round {round}: still open"
                );
                drop(client);
                let closed = std::future::poll_fn(|cx| {
                    connection.waker.register(cx.waker());
                    if connection.closed.load(Ordering::Acquire) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                });
                tokio::time::timeout(Duration::from_secs(1), closed)
                    .await
                    .unwrap_or_else(|_| {
                        panic!("round {round}: the client's close seen within 1 s")
                    });
                drop(server);
            });
        }
    }

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
