//! A worker's readiness queue, and each watched connection's place in it.
//!
//! One queue per worker thread, started by the first connection the thread accepts inside a
//! tokio runtime, with a task on that runtime that waits for the queue's reports. A connection
//! is registered under a token that is never reused, so a report that comes after its
//! connection's data is gone finds no entry and is ignored. A runtime that ends (a test's) takes
//! its queue's task with it; the next connection on that thread starts a new queue.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use actix_web::rt::net::TcpStream;
use futures_util::task::AtomicWaker;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use super::sys::Poller;
use super::{ConnectionWatch, Watched, BATCH};

struct Queue {
    poller: AsyncFd<Poller>,
    /// The watched connections, by token. Only this worker's thread touches it, so the lock is
    /// never contended; it is a lock because the entries are dropped wherever their last response
    /// is.
    connections: Mutex<HashMap<u64, Weak<Watched>>>,
    next_token: AtomicU64,
    /// Whether its task still runs.
    serving: AtomicBool,
}

thread_local! {
    static QUEUE: RefCell<Option<Arc<Queue>>> = const { RefCell::new(None) };
}

/// A connection's place in its queue: taken out when the connection's watch is dropped.
pub(super) struct Entry {
    token: u64,
    queue: Arc<Queue>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        lock(&self.queue.connections).remove(&self.token);
    }
}

/// Registers `socket` with this thread's queue; its watch, or `None` when it cannot be watched.
pub(super) fn watch(socket: &TcpStream) -> Option<ConnectionWatch> {
    let queue = this_threads_queue()?;
    let token = queue.next_token.fetch_add(1, Ordering::Relaxed);
    let watched = Arc::new(Watched {
        gone: AtomicBool::new(false),
        stream: AtomicWaker::new(),
        _entry: Entry {
            token,
            queue: queue.clone(),
        },
    });
    lock(&queue.connections).insert(token, Arc::downgrade(&watched));
    if let Err(error) = queue.poller.get_ref().watch(socket, token) {
        tracing::warn!(%error, "cannot watch this connection for disconnects");
        return None;
    }
    Some(ConnectionWatch(watched))
}

/// This thread's queue, started if it has none that still serves.
fn this_threads_queue() -> Option<Arc<Queue>> {
    QUEUE
        .try_with(|slot| {
            let mut slot = slot.borrow_mut();
            if let Some(queue) = slot.as_ref().filter(|q| q.serving.load(Ordering::Acquire)) {
                return Some(queue.clone());
            }
            *slot = start();
            slot.clone()
        })
        .ok()
        .flatten()
}

fn start() -> Option<Arc<Queue>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    // tokio deprecated its safe `AsyncFd` constructors for types whose `as_raw_fd` might return
    // a descriptor they do not own, and offers `unsafe` ones, which this crate forbids. `Poller`
    // owns its descriptor for its whole life and always returns that one.
    #[allow(deprecated)]
    let registered = Poller::new().and_then(|p| AsyncFd::with_interest(p, Interest::READABLE));
    let poller = match registered {
        Ok(poller) => poller,
        Err(error) => {
            tracing::info!(%error, "connections not watched for disconnects");
            return None;
        }
    };
    let queue = Arc::new(Queue {
        poller,
        connections: Mutex::default(),
        next_token: AtomicU64::new(0),
        serving: AtomicBool::new(true),
    });
    runtime.spawn(serve(Serving(queue.clone())));
    Some(queue)
}

/// Clears the queue's `serving` flag when its task ends, or is dropped before it first ran.
struct Serving(Arc<Queue>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.serving.store(false, Ordering::Release);
    }
}

/// Waits for the queue's reports and marks the connections whose client left, until the queue
/// fails or the runtime drops the task.
async fn serve(serving: Serving) {
    let queue = &serving.0;
    let mut gone = Vec::new();
    let mut watches = Vec::new();
    loop {
        let mut ready = match queue.poller.readable().await {
            Ok(ready) => ready,
            Err(error) => return tracing::error!(%error, "a disconnect queue stopped"),
        };
        // Taken until a batch comes back short: the queue is then empty, and an event that
        // arrives later makes the runtime report it readable again.
        loop {
            gone.clear();
            match ready.try_io(|poller| poller.get_ref().take(&mut gone)) {
                Ok(Ok(taken)) => {
                    {
                        let connections = lock(&queue.connections);
                        let found = gone.iter().filter_map(|token| connections.get(token));
                        watches.extend(found.filter_map(Weak::upgrade));
                    }
                    for watched in watches.drain(..) {
                        ConnectionWatch(watched).set_gone();
                    }
                    if taken < BATCH {
                        ready.clear_ready();
                        break;
                    }
                }
                Ok(Err(error)) => return tracing::error!(%error, "a disconnect queue stopped"),
                Err(_would_block) => break,
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(all(
    test,
    any(target_os = "linux", target_os = "android", target_vendor = "apple")
))]
mod tests {
    use std::future::poll_fn;
    use std::task::Poll;
    use std::time::Duration;

    use super::watch;

    /// Each runtime that runs on a thread gets a queue of its own: a test's runtime ends, and the
    /// next one on the same thread must not inherit a queue whose task is gone with the first.
    #[test]
    fn each_runtime_on_a_thread_sees_its_clients_leave() {
        for round in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
                let (server, _) = listener.accept().await.unwrap();
                let watch = watch(&server).expect("a TCP connection is watched");
                tokio::time::sleep(Duration::from_millis(20)).await;
                let open = poll_fn(|cx| Poll::Ready(watch.poll_gone(cx).is_pending())).await;
                assert!(open, "round {round}: still open");
                drop(client);
                tokio::time::timeout(Duration::from_secs(1), poll_fn(|cx| watch.poll_gone(cx)))
                    .await
                    .unwrap_or_else(|_| {
                        panic!("round {round}: the client's close seen within 1 s")
                    });
                drop(server);
            });
        }
    }

    /// A watch dropped with its connection's data leaves nothing in its queue, and a report that
    /// comes for it afterwards is ignored.
    #[test]
    fn a_dropped_watch_leaves_its_queue() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().await.unwrap();
            let watch = watch(&server).expect("a TCP connection is watched");
            let queue = watch.0._entry.queue.clone();
            assert_eq!(super::lock(&queue.connections).len(), 1);
            drop(watch);
            assert!(super::lock(&queue.connections).is_empty());
            drop(client);
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert!(queue.serving.load(std::sync::atomic::Ordering::Acquire));
            drop(server);
        });
    }
}
