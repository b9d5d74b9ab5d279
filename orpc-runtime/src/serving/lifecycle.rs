//! A router's life: it serves, it is shut down, and its asynchronous cleanups are waited for.
//!
//! The shutdown signal is a [`CancellationToken`] of the router's own, handed to each of its
//! streams when they open: nothing process-wide is involved, so two routers in one process shut
//! down apart. Cancelling is final: a router that was shut down refuses new streams and sockets.
//! A stream notices the signal through its own waiter on the token, on whatever transport it is,
//! and ends without a `done` frame, so that its client reconnects elsewhere.

use std::time::Duration;

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::stream::cleanup::Cleanups;

/// A router's shutdown signal and its handlers' asynchronous cleanups.
#[derive(Clone, Default)]
pub(crate) struct Lifecycle {
    shutdown: CancellationToken,
    cleanups: Cleanups,
}

impl Lifecycle {
    /// Ends every open stream, and every one opened later.
    pub(crate) fn shut_down(&self) {
        self.shutdown.cancel();
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shutdown.is_cancelled()
    }

    /// Ready once the router is shut down.
    pub(crate) fn waiter(&self) -> WaitForCancellationFutureOwned {
        self.shutdown.clone().cancelled_owned()
    }

    pub(crate) fn cleanups(&self) -> &Cleanups {
        &self.cleanups
    }

    /// Waits for the asynchronous cleanups started so far, up to `timeout`; whether they all
    /// finished.
    pub(crate) async fn wait_for_cleanups(&self, timeout: Duration) -> bool {
        self.cleanups.wait(timeout).await
    }
}
