//! Drop guards: cleanup code that runs exactly once, however a stream ends.
//!
//! A handler declares its cleanup as a local guard:
//!
//! ```
//! use orpc_runtime::finally;
//!
//! let guard = finally(|| println!("cleanup"));
//! drop(guard); // prints once
//! ```
//!
//! A guard lives in the handler's body, and the body is dropped on every way a stream can end:
//! completion, an early `return`, an error through `?`, a panic (caught by the event iterator),
//! a refused event, and the consumer dropping the stream while the body is suspended, which is what
//! a client disconnect or a server shutdown does. Dropping runs the guard, and a guard holds its
//! closure in an `Option` it takes, so it cannot run twice.
//!
//! [`finally_async`] is the asynchronous form. `Drop` cannot await, so the guard hands its future
//! to the runtime, which drives it to completion after the stream has ended: on the current Tokio
//! runtime when there is one, on a thread of its own otherwise.
//!
//! Whose cleanups they are: a router runs every poll and every drop of its handlers inside its
//! own [`Cleanups`] ([`Cleanups::enter`]), and a guard made there (or, failing that, dropped
//! there) counts its future among that router's, so that
//! [`Router::wait_for_cleanups`](crate::http::Router::wait_for_cleanups) waits for that router's
//! cleanups and no other's. A guard made and dropped outside any router (a procedure called
//! directly, in a test) belongs to none: its future runs all the same, and nothing waits for it.
//!
//! A cleanup that panics is caught and logged; it never turns a clean end into a crash. That holds
//! while the handler itself is unwinding from a panic too: the second panic is caught inside the
//! guard's `drop`, so it never unwinds out of a destructor, which is what would abort.

use std::cell::RefCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio_util::task::TaskTracker;

use super::event_iterator::panic_message;

/// Runs `cleanup` when the returned guard is dropped.
///
/// Bind it to a named local (`let _cleanup = finally(..)`); `let _ = finally(..)` drops it at once.
#[must_use = "the cleanup runs when this guard is dropped; bind it with `let _guard = ...`"]
pub fn finally<F: FnOnce()>(cleanup: F) -> CleanupGuard<F> {
    CleanupGuard {
        cleanup: Some(cleanup),
    }
}

/// Runs the future made by `cleanup` to completion after the returned guard is dropped.
///
/// Inside a procedure served by a router, the router's
/// [`wait_for_cleanups`](crate::http::Router::wait_for_cleanups) waits for it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use orpc_runtime::finally_async;
///
/// let (tx, rx) = tokio::sync::oneshot::channel();
/// let guard = finally_async(|| async move { tx.send("released").unwrap() });
/// drop(guard);
/// assert_eq!(rx.await, Ok("released"));
/// # }
/// ```
#[must_use = "the cleanup runs when this guard is dropped; bind it with `let _guard = ...`"]
pub fn finally_async<F, Fut>(cleanup: F) -> AsyncCleanupGuard<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    AsyncCleanupGuard {
        cleanup: Some(cleanup),
        owner: Cleanups::current(),
    }
}

/// A guard that runs its closure once, when dropped. See [`finally`].
pub struct CleanupGuard<F: FnOnce()> {
    cleanup: Option<F>,
}

impl<F: FnOnce()> CleanupGuard<F> {
    /// Disarms the guard: the cleanup will not run.
    pub fn cancel(mut self) {
        self.cleanup = None;
    }
}

impl<F: FnOnce()> Drop for CleanupGuard<F> {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            if let Err(panic) = catch_unwind(AssertUnwindSafe(cleanup)) {
                tracing::error!(panic = panic_message(&*panic), "cleanup panicked");
            }
        }
    }
}

/// A guard that starts its asynchronous cleanup once, when dropped. See [`finally_async`].
pub struct AsyncCleanupGuard<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    cleanup: Option<F>,
    /// The router whose handler made the guard.
    owner: Option<Cleanups>,
}

impl<F, Fut> AsyncCleanupGuard<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Disarms the guard: the cleanup will not run.
    pub fn cancel(mut self) {
        self.cleanup = None;
    }
}

impl<F, Fut> Drop for AsyncCleanupGuard<F, Fut>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn drop(&mut self) {
        let Some(cleanup) = self.cleanup.take() else {
            return;
        };
        let future = match catch_unwind(AssertUnwindSafe(cleanup)) {
            Ok(future) => future,
            Err(panic) => {
                tracing::error!(panic = panic_message(&*panic), "cleanup panicked");
                return;
            }
        };
        let tracker = self
            .owner
            .take()
            .or_else(Cleanups::current)
            .map(|owner| owner.0);
        let token = tracker.as_ref().map(TaskTracker::token);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn(async move {
                future.await;
                drop(token);
            })),
            Err(_) => {
                std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match runtime {
                        Ok(runtime) => runtime.block_on(future),
                        Err(error) => tracing::error!(%error, "no runtime for an async cleanup"),
                    }
                    drop(token);
                });
            }
        }
    }
}

/// The asynchronous cleanups of one router's handlers; see the module docs.
#[derive(Clone, Default)]
pub(crate) struct Cleanups(TaskTracker);

thread_local! {
    /// The cleanups of the router whose handler this thread is polling or dropping.
    static CURRENT: RefCell<Option<Cleanups>> = const { RefCell::new(None) };
}

impl Cleanups {
    /// Runs `f` (a poll or a drop of one of the router's handlers) with these as the thread's
    /// current cleanups, then puts back whatever was current before.
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        struct Restore(Option<Cleanups>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                let _ = CURRENT.try_with(|current| *current.borrow_mut() = previous);
            }
        }
        let previous = CURRENT
            .try_with(|current| current.borrow_mut().replace(self.clone()))
            .ok()
            .flatten();
        let _restore = Restore(previous);
        f()
    }

    /// `future`, polled (and dropped) with these as the thread's current cleanups.
    pub(crate) fn scope<F: Future>(&self, future: F) -> Scoped<F> {
        Scoped {
            cleanups: self.clone(),
            future: Some(future),
        }
    }

    fn current() -> Option<Cleanups> {
        CURRENT
            .try_with(|current| current.borrow().clone())
            .ok()
            .flatten()
    }

    /// Waits until every cleanup started so far has finished, or `timeout` has passed; whether
    /// they all finished.
    pub(crate) async fn wait(&self, timeout: Duration) -> bool {
        self.0.close();
        let finished = tokio::time::timeout(timeout, self.0.wait()).await.is_ok();
        self.0.reopen();
        finished
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside a router's [`Cleanups`]; see [`Cleanups::scope`].
    pub(crate) struct Scoped<F> {
        cleanups: Cleanups,
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for Scoped<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut future = this.future;
            this.cleanups.enter(|| future.set(None));
        }
    }
}

impl<F: Future> Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let cleanups = this.cleanups;
        let future = this.future;
        cleanups.enter(|| match future.as_pin_mut() {
            Some(future) => future.poll(cx),
            None => Poll::Pending,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn runs_once_and_survives_a_panicking_cleanup() {
        let runs = AtomicUsize::new(0);
        drop(finally(|| {
            runs.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        drop(finally(|| panic!("cleanup bug")));
    }

    #[test]
    fn cancelled_guards_do_nothing() {
        let runs = AtomicUsize::new(0);
        finally(|| {
            runs.fetch_add(1, Ordering::SeqCst);
        })
        .cancel();
        assert_eq!(runs.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn async_cleanup_runs_without_a_runtime_and_counts_for_its_owner() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        let (owner, other) = (Cleanups::default(), Cleanups::default());
        let guard = owner.enter(|| {
            finally_async(move || async move {
                std::thread::sleep(Duration::from_millis(50));
                counter.fetch_add(1, Ordering::SeqCst);
            })
        });
        drop(guard);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert!(rt.block_on(other.wait(Duration::ZERO)), "not the other's");
        assert!(rt.block_on(owner.wait(Duration::from_secs(5))));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_guard_made_outside_a_router_counts_for_the_one_it_is_dropped_in() {
        let owner = Cleanups::default();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let guard = finally_async(|| async move {
                let _ = rx.await;
            });
            owner.enter(|| drop(guard));
            assert!(
                !owner.wait(Duration::from_millis(20)).await,
                "still running"
            );
            tx.send(()).unwrap();
            assert!(owner.wait(Duration::from_secs(5)).await);
        });
    }
}
