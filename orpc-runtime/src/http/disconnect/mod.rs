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
//! The worker keeps its connections in a table of its own (`table.rs`), where a request finds its
//! connection by the peer's address and the port it came in on; nothing goes into actix-web's
//! per-connection data, which would cost each connection a map of its own. The table needs no
//! lock: a connection, its requests and their responses all live on the worker that accepted it.
//!
//! The same table keeps time for quiet HTTP/1 streams: a stream on a watched connection writes
//! down when its keep-alive comment is due, and the worker's task, with one timer for all its
//! streams, wakes it then. A stream therefore has no timer of its own, only on HTTP/2 and on
//! connections that are not watched.
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
//! then [`wake_all`] asks each worker's task to wake the stream on every watched connection,
//! which reads the flag. A stream on a watched connection therefore needs no shutdown waiter of
//! its own; the others have one.
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
//! - A connection accepted outside a single-threaded tokio runtime (actix-web's workers always
//!   run one) is not watched: the table belongs to the thread.

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
mod table;

use std::any::Any;
#[cfg(unix)]
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};

use actix_web::dev::Extensions;
#[cfg(unix)]
use actix_web::http::Version;
use actix_web::HttpRequest;

#[cfg(unix)]
use table::{Peer, State, Token};

/// This thread's readiness queue and the connections registered with it.
#[cfg(unix)]
mod worker {
    use std::cell::RefCell;
    use std::future::poll_fn;
    use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
    use std::sync::{Arc, Mutex, Weak};
    use std::task::{Poll, Waker};
    use std::time::Duration;

    use futures_util::task::AtomicWaker;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;
    use tokio::runtime::RuntimeFlavor;
    use tokio::time::Instant;

    use super::sys::Poller;
    use super::table::{Table, Token};
    use std::future::Future as _;

    pub(super) struct Queue {
        pub(super) poller: AsyncFd<Poller>,
        /// Whether its task still runs; it stops with its runtime (a test's, say), and the next
        /// connection on the thread starts a new queue and table.
        serving: AtomicBool,
        /// Set by [`wake_all`]: the task wakes every stream of its table.
        wake_all: AtomicBool,
        task: AtomicWaker,
        /// The start of the worker's clock, which keep-alive times count from in milliseconds.
        origin: Instant,
    }

    /// A queue and its table, on the thread that serves their connections. Streams are polled on
    /// the thread that accepted their connection (actix-web's workers are single-threaded), so
    /// the table needs no lock.
    pub(super) struct Worker {
        /// Tells this worker's watches from those of an earlier worker on the same thread:
        /// 1 to 255.
        pub(super) tag: u8,
        pub(super) queue: Arc<Queue>,
        pub(super) table: Table,
        /// When the task's timer fires next, for the earliest quiet stream; `u64::MAX` for never.
        armed: u64,
    }

    impl Worker {
        /// The worker clock's time, in milliseconds.
        pub(super) fn now(&self) -> u64 {
            Instant::now()
                .saturating_duration_since(self.queue.origin)
                .as_millis() as u64
        }

        /// Counts an HTTP/1 stream's silence again: its keep-alive comment is due after `every`.
        /// The task's timer is brought forward if this is now the earliest. False if the
        /// connection is not in the table.
        pub(super) fn set_due(&mut self, token: Token, every: Duration) -> bool {
            // Rounded up, so that no comment comes early.
            let every = every.as_nanos().div_ceil(1_000_000);
            let due = self
                .now()
                .saturating_add(u64::try_from(every).unwrap_or(u64::MAX / 2));
            if !self.table.set_due(token, due) {
                return false;
            }
            if due < self.armed {
                self.armed = due;
                self.queue.task.wake();
            }
            true
        }
    }

    thread_local! {
        static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
    }

    /// Every queue, for [`wake_all`].
    static QUEUES: Mutex<Vec<Weak<Queue>>> = Mutex::new(Vec::new());
    static TAGS: AtomicU32 = AtomicU32::new(0);

    /// Runs `f` on this thread's worker, if it has one that still serves.
    pub(super) fn with<T>(f: impl FnOnce(&mut Worker) -> T) -> Option<T> {
        WORKER
            .try_with(|slot| {
                let mut slot = slot.try_borrow_mut().ok()?;
                let worker = slot
                    .as_mut()
                    .filter(|w| w.queue.serving.load(Ordering::Acquire))?;
                Some(f(worker))
            })
            .ok()
            .flatten()
    }

    /// Runs `f` on this thread's worker, starting one (with its task on the current runtime) on
    /// first use and again after its runtime ended. `None` outside a single-threaded tokio
    /// runtime (whose tasks might run on another thread than this table's), or when the system
    /// refuses a queue: such connections are not watched.
    pub(super) fn with_started<T>(f: impl FnOnce(&mut Worker) -> T) -> Option<T> {
        WORKER.with(|slot| {
            let mut slot = slot.borrow_mut();
            let serving = slot
                .as_ref()
                .is_some_and(|w| w.queue.serving.load(Ordering::Acquire));
            if !serving {
                *slot = Some(start()?);
            }
            slot.as_mut().map(f)
        })
    }

    fn start() -> Option<Worker> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| super::unwatched("no tokio runtime on this thread"))
            .ok()?;
        if runtime.runtime_flavor() != RuntimeFlavor::CurrentThread {
            super::unwatched("not a single-threaded tokio runtime");
            return None;
        }
        // tokio 1.54 deprecated its safe constructors for their lack of I/O safety in general
        // (`T::as_raw_fd` may return a descriptor that `T` does not own) and offers `unsafe`
        // ones instead, which this crate forbids. Here the condition they ask for holds by
        // construction: `Poller` owns its descriptor (an `OwnedFd`) for its whole life, never
        // replaces it, and always returns that one.
        #[allow(deprecated)]
        let register = |poller| AsyncFd::with_interest(poller, Interest::READABLE);
        let poller = Poller::new()
            .and_then(register)
            .map_err(|error| super::unwatched(&error.to_string()))
            .ok()?;
        let queue = Arc::new(Queue {
            poller,
            serving: AtomicBool::new(true),
            wake_all: AtomicBool::new(false),
            task: AtomicWaker::new(),
            origin: Instant::now(),
        });
        {
            let mut queues = QUEUES.lock().unwrap_or_else(|p| p.into_inner());
            queues.retain(|q| q.strong_count() > 0);
            queues.push(Arc::downgrade(&queue));
        }
        let serving = Serving(queue.clone());
        runtime.spawn(async move { serve(serving).await });
        Some(Worker {
            tag: (TAGS.fetch_add(1, Ordering::Relaxed) % 255 + 1) as u8,
            queue,
            table: Table::default(),
            armed: u64::MAX,
        })
    }

    /// Asks every queue's task to wake all its streams.
    pub(super) fn wake_all() {
        let queues = QUEUES.lock().unwrap_or_else(|p| p.into_inner());
        for queue in queues.iter().filter_map(Weak::upgrade) {
            queue.wake_all.store(true, Ordering::SeqCst);
            queue.task.wake();
        }
    }

    /// Clears the queue's `serving` flag when its task ends, or is dropped before it first ran.
    struct Serving(Arc<Queue>);

    impl Drop for Serving {
        fn drop(&mut self) {
            self.0.serving.store(false, Ordering::Release);
        }
    }

    /// Wakes `wake` outside the table's borrow: a waker may run code of its own.
    fn wake_each(wake: &mut Vec<Waker>) {
        wake.drain(..).for_each(Waker::wake);
    }

    /// What the task was woken for.
    enum News<R> {
        /// [`wake_all`]: the router is shutting down.
        WakeAll,
        /// The earliest quiet streams are due their keep-alive comment.
        Due,
        /// The queue is readable: clients left.
        Queue(R),
    }

    /// Waits for the queue to turn readable, for the earliest quiet stream's keep-alive time, or
    /// for [`wake_all`]; closes the connections whose client left and wakes the streams concerned,
    /// until the queue fails or the runtime drops the task.
    async fn serve(serving: Serving) {
        let queue = &serving.0;
        let mut gone = Vec::new();
        let mut wake = Vec::new();
        let own = |worker: &Worker| Arc::ptr_eq(&worker.queue, queue);
        // The time the timer is set for, and the timer, made at the first quiet stream.
        let mut timer: Option<(u64, std::pin::Pin<Box<tokio::time::Sleep>>)> = None;
        loop {
            let news = poll_fn(|cx| {
                queue.task.register(cx.waker());
                if queue.wake_all.swap(false, Ordering::SeqCst) {
                    return Poll::Ready(News::WakeAll);
                }
                let armed = with(|worker| own(worker).then_some(worker.armed)).flatten();
                if let Some(at) = armed.filter(|&at| at != u64::MAX) {
                    let deadline = queue.origin + Duration::from_millis(at);
                    let (set, sleep) = timer
                        .get_or_insert_with(|| (at, Box::pin(tokio::time::sleep_until(deadline))));
                    if *set != at {
                        *set = at;
                        sleep.as_mut().reset(deadline);
                    }
                    if sleep.as_mut().poll(cx).is_ready() {
                        // Fired: set again (and polled) for whatever is due next.
                        *set = u64::MAX;
                        return Poll::Ready(News::Due);
                    }
                }
                queue.poller.poll_read_ready(cx).map(News::Queue)
            })
            .await;
            let mut ready = match news {
                News::WakeAll => {
                    with(|worker| {
                        if own(worker) {
                            worker.table.wakers(&mut wake)
                        }
                    });
                    wake_each(&mut wake);
                    continue;
                }
                News::Due => {
                    with(|worker| {
                        if own(worker) {
                            let now = worker.now();
                            worker.table.expire(now, &mut wake);
                            worker.armed = worker.table.next_due().unwrap_or(u64::MAX);
                        }
                    });
                    wake_each(&mut wake);
                    continue;
                }
                News::Queue(Ok(ready)) => ready,
                News::Queue(Err(error)) => {
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
                        with(|worker| {
                            if own(worker) {
                                for &token in &gone {
                                    worker.table.close(Token::from_u64(token), &mut wake);
                                }
                            }
                        });
                        wake_each(&mut wake);
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

/// Wakes the stream of every watched connection, so that each looks at its router's shutdown
/// flag: a stream on a watched connection needs no shutdown waiter of its own. Spurious for the
/// streams of other routers, which find their flag unset and carry on. Each worker's task does
/// the waking, on its own thread.
pub(crate) fn wake_all() {
    #[cfg(unix)]
    worker::wake_all();
}

/// Installs disconnect detection; pass it to `HttpServer::on_connect`.
///
/// It applies to TCP connections on Linux, Android, macOS, iOS and the BSDs, plain or (with the
/// `tls` feature) under rustls, whose TCP socket is watched; elsewhere it does nothing, and a
/// client that left is noticed at the next write. The watching runs on the worker that serves
/// the connection, as part of its runtime: no thread of its own. It puts nothing in the
/// connection's data (`data`), which is left for your own values when you call it from an
/// `on_connect` of your own.
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
    let _ = data;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd as _;

        let Some(tcp) = tcp_stream(connection) else {
            return;
        };
        let (Ok(addr), Ok(local)) = (tcp.peer_addr(), tcp.local_addr()) else {
            return;
        };
        let peer = Peer::new(addr, local.port());
        // The streams of entries the table drops meanwhile: woken once it is no longer borrowed.
        let mut gone = Vec::new();
        worker::with_started(|worker| {
            let Some(token) = worker.table.insert(peer, tcp.as_raw_fd(), &mut gone) else {
                return;
            };
            if let Err(error) = worker.queue.poller.get_ref().watch(tcp, token.to_u64()) {
                worker.table.remove(&peer, token);
                tracing::warn!(%error, "cannot watch this connection for disconnects");
            }
        });
        gone.into_iter().for_each(std::task::Waker::wake);
    }
    #[cfg(not(unix))]
    let _ = connection;
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

/// Watches one request's connection for the client going away. It belongs to the worker thread
/// that accepted the connection, as the response it serves does.
pub(crate) struct DisconnectWatch {
    /// The worker's tag (high 8 bits, never 0) and the connection's slot (low 24 bits): no
    /// slot of an earlier worker's table on the same thread is taken for this one's.
    #[cfg(unix)]
    place: std::num::NonZeroU32,
    #[cfg(unix)]
    generation: u32,
    /// The watch's key among an HTTP/2 connection's streams; 0 on HTTP/1.
    #[cfg(unix)]
    stream: u32,
    _thread_bound: std::marker::PhantomData<*const ()>,
}

impl DisconnectWatch {
    /// A watch on `request`'s connection, if `watch_disconnects` is installed and applies. On
    /// HTTP/2 it sees the whole connection drop; one stream's reset shows at its next write
    /// ([`RESET_PROBE`](super::RESET_PROBE)).
    pub(crate) fn new(request: &HttpRequest) -> Option<Self> {
        #[cfg(unix)]
        {
            let peer = Peer::new(
                request.peer_addr()?,
                request.app_config().local_addr().port(),
            );
            Self::of(&peer, request.version() >= Version::HTTP_2)
        }
        #[cfg(not(unix))]
        {
            let _ = request;
            None
        }
    }

    #[cfg(unix)]
    fn of(peer: &Peer, http2: bool) -> Option<Self> {
        static STREAMS: AtomicU32 = AtomicU32::new(1);
        let (token, tag) = worker::with(|worker| Some((worker.table.find(peer)?, worker.tag)))??;
        let place = std::num::NonZeroU32::new(u32::from(tag) << 24 | token.slot)?;
        let stream = if http2 {
            // Never 0, which means HTTP/1; two streams of one connection share a key only if
            // four billion others opened between them.
            STREAMS.fetch_add(1, Ordering::Relaxed).max(1)
        } else {
            0
        };
        Some(DisconnectWatch {
            place,
            generation: token.generation,
            stream,
            _thread_bound: std::marker::PhantomData,
        })
    }

    /// Runs `f` with this thread's worker and the watch's token, if the worker is the one
    /// that made the watch.
    #[cfg(unix)]
    fn on_worker<T>(&self, f: impl FnOnce(&mut worker::Worker, Token) -> T) -> Option<T> {
        let place = self.place.get();
        let token = Token {
            slot: place & 0x00ff_ffff,
            generation: self.generation,
        };
        worker::with(|worker| (u32::from(worker.tag) == place >> 24).then(|| f(worker, token)))
            .flatten()
    }

    /// Counts the stream's silence on the worker's clock from now: it is due a keep-alive comment
    /// after `every`, and the worker's task wakes it then through the waker of
    /// [`poll_gone`](Self::poll_gone). HTTP/1 only (false on HTTP/2, whose streams share the
    /// connection's slot): a stream that gets false keeps a timer of its own.
    pub(crate) fn count_silence(&self, every: std::time::Duration) -> bool {
        #[cfg(unix)]
        {
            self.stream == 0
                && self
                    .on_worker(|worker, token| worker.set_due(token, every))
                    .unwrap_or(false)
        }
        #[cfg(not(unix))]
        {
            let _ = every;
            false
        }
    }

    /// Whether the silence counted by [`count_silence`](Self::count_silence) has lasted its
    /// interval.
    pub(crate) fn silence_is_due(&self) -> bool {
        #[cfg(unix)]
        {
            self.on_worker(|worker, token| worker.table.is_due(token, worker.now()))
                .unwrap_or(false)
        }
        #[cfg(not(unix))]
        false
    }

    /// Ready once the client has closed or reset the connection, or once the table has dropped
    /// the connection's entry (which it does only for a connection that is gone). The check and
    /// the waker's registration are one step on the worker's table, so no close falls between
    /// them.
    pub(crate) fn poll_gone(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        #[cfg(unix)]
        {
            let stream = self.stream;
            let state =
                self.on_worker(|worker, token| worker.table.poll(token, stream, cx.waker()));
            if let Some(State::Closed | State::Gone) = state {
                return Poll::Ready(());
            }
        }
        #[cfg(not(unix))]
        let _ = cx;
        Poll::Pending
    }
}

impl Drop for DisconnectWatch {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            // Dropped after the table's borrow ends: the waker may be its task's last reference.
            let stream = self.stream;
            let _waker = self
                .on_worker(|worker, token| worker.table.forget(token, stream))
                .flatten();
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
        use std::task::Poll;
        use std::time::Duration;

        use actix_web::dev::Extensions;

        use super::{watch_disconnects, DisconnectWatch, Peer};

        for round in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (server, _) = listener.accept().await.unwrap();
                watch_disconnects(&server, &mut Extensions::new());
                let peer = Peer::new(
                    server.peer_addr().unwrap(),
                    server.local_addr().unwrap().port(),
                );
                let mut watch =
                    DisconnectWatch::of(&peer, false).expect("a TCP connection is watched");
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert!(
                    std::future::poll_fn(|cx| Poll::Ready(watch.poll_gone(cx).is_pending())).await,
                    "round {round}: still open"
                );
                drop(client);
                tokio::time::timeout(
                    Duration::from_secs(1),
                    std::future::poll_fn(|cx| watch.poll_gone(cx)),
                )
                .await
                .unwrap_or_else(|_| panic!("round {round}: the client's close seen within 1 s"));
                drop(server);
            });
        }
    }

    /// The worker's one timer wakes a quiet stream when its keep-alive comment is due, counted
    /// from its last write, on tokio's clock (paused here, so the times are exact).
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    #[test]
    fn the_workers_timer_wakes_a_quiet_stream_when_its_silence_has_lasted_the_interval() {
        use std::task::Poll;
        use std::time::Duration;

        use actix_web::dev::Extensions;
        use tokio::time::Instant;

        use super::{watch_disconnects, DisconnectWatch, Peer};

        // Woken by the worker's task (through the waker `poll_gone` registers) when due.
        async fn due(watch: &mut DisconnectWatch) {
            let woken = std::future::poll_fn(|cx| {
                assert!(
                    watch.poll_gone(cx).is_pending(),
                    "the client is still there"
                );
                if watch.silence_is_due() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            });
            tokio::time::timeout(Duration::from_secs(60), woken)
                .await
                .expect("the worker's timer wakes the stream");
        }

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().await.unwrap();
            watch_disconnects(&server, &mut Extensions::new());
            let peer = Peer::new(
                server.peer_addr().unwrap(),
                server.local_addr().unwrap().port(),
            );
            let mut watch = DisconnectWatch::of(&peer, false).expect("a TCP connection is watched");
            let every = Duration::from_secs(5);
            let start = Instant::now();
            assert!(watch.count_silence(every));
            due(&mut watch).await;
            assert_eq!(start.elapsed(), every, "due once the interval has passed");
            // A write 3 s into the next silence puts the comment off to 3 s + 5 s.
            assert!(watch.count_silence(every));
            tokio::time::sleep(Duration::from_secs(3)).await;
            assert!(!watch.silence_is_due());
            assert!(watch.count_silence(every));
            let written = Instant::now();
            due(&mut watch).await;
            assert_eq!(written.elapsed(), every, "counted from the last write");
            drop(server);
        });
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
