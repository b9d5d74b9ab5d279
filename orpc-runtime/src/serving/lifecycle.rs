//! A router's life: it serves, it is shut down, and its asynchronous cleanups are waited for.
//!
//! The shutdown signal is a [`CancellationToken`] of the router's own, handed to each of its
//! streams when they open: nothing process-wide is involved, so two routers in one process shut
//! down apart. Cancelling is final: a router that was shut down refuses new streams and sockets.
//! A stream notices the signal through its own waiter on the token, on whatever transport it is,
//! and ends without a `done` frame, so that its client reconnects elsewhere.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::stream::cleanup::Cleanups;

/// A router's shutdown signal and its handlers' asynchronous cleanups. Cheap to clone: every
/// stream holds one.
#[derive(Clone, Default)]
pub(crate) struct Lifecycle(Arc<State>);

#[derive(Default)]
struct State {
    /// Set before the token is cancelled, so that a stream woken by the token reads it set. A
    /// stream reads this on every poll: an atomic load, where the token's own
    /// `is_cancelled` takes a lock that every stream of the router shares.
    shut_down: AtomicBool,
    token: CancellationToken,
    cleanups: Cleanups,
}

impl Lifecycle {
    /// Ends every open stream, and every one opened later.
    pub(crate) fn shut_down(&self) {
        self.0.shut_down.store(true, Ordering::SeqCst);
        self.0.token.cancel();
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.0.shut_down.load(Ordering::SeqCst)
    }

    /// Ready once the router is shut down.
    pub(crate) fn waiter(&self) -> WaitForCancellationFutureOwned {
        self.0.token.clone().cancelled_owned()
    }

    pub(crate) fn cleanups(&self) -> &Cleanups {
        &self.0.cleanups
    }

    /// Waits for the asynchronous cleanups started so far, up to `timeout`; whether they all
    /// finished.
    pub(crate) async fn wait_for_cleanups(&self, timeout: Duration) -> bool {
        self.0.cleanups.wait(timeout).await
    }
}
