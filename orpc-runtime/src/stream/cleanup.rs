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
//! runtime when there is one, on a thread of its own otherwise. [`wait_for_cleanups`] lets a
//! server shutting down wait for those futures before it exits.
//!
//! A cleanup that panics is caught and logged; it never turns a clean end into a crash. That holds
//! while the handler itself is unwinding from a panic too: the second panic is caught inside the
//! guard's `drop`, so it never unwinds out of a destructor, which is what would abort.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;
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
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::time::Duration;
/// use orpc_runtime::{finally_async, wait_for_cleanups};
///
/// let guard = finally_async(|| async { println!("released") });
/// drop(guard);
/// assert!(wait_for_cleanups(Duration::from_secs(1)).await);
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
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(tracker().spawn_on(future, &handle)),
            Err(_) => {
                let token = tracker().token();
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

/// Every asynchronous cleanup that has started and not yet finished.
fn tracker() -> &'static TaskTracker {
    static TRACKER: OnceLock<TaskTracker> = OnceLock::new();
    TRACKER.get_or_init(TaskTracker::new)
}

/// Waits until every asynchronous cleanup started so far has finished, or `timeout` has passed.
/// Returns whether they all finished.
pub async fn wait_for_cleanups(timeout: Duration) -> bool {
    let tracker = tracker();
    tracker.close();
    let finished = tokio::time::timeout(timeout, tracker.wait()).await.is_ok();
    tracker.reopen();
    finished
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
    fn async_cleanup_runs_without_a_runtime() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counter = runs.clone();
        drop(finally_async(move || async move {
            tokio::task::yield_now().await;
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert!(rt.block_on(wait_for_cleanups(Duration::from_secs(5))));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }
}
