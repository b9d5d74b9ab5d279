//! Counters of a router's streams, and the ticket that keeps them true.
//!
//! Every stream a router opens holds a [`StreamTicket`] from the moment its response is built,
//! which counts it active; once the handler is running, the ticket becomes a [`StartedStream`],
//! which counts it started. When that is dropped, which happens after the handler itself has been
//! dropped and its cleanup has run, the stream counts as finished. So `started - finished` is
//! always the number of handlers alive, however their streams end.
//!
//! Counters are relaxed atomics shared by all workers: each is exact on its own, but a snapshot
//! taken while streams come and go may mix moments.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A snapshot of a router's stream counters, from [`Router::stats`](crate::http::Router::stats).
///
/// ```
/// let stats = orpc_runtime::http::Router::new().stats();
/// assert_eq!((stats.started(), stats.active()), (0, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StreamStats {
    started: u64,
    finished: u64,
    active: u64,
    events: u64,
    disconnects: u64,
    errors: u64,
    validation_failures: u64,
    rejected: u64,
}

impl StreamStats {
    /// Streams opened.
    pub fn started(&self) -> u64 {
        self.started
    }

    /// Streams whose handler has been dropped, its cleanup run: completed, failed, cut by the
    /// client, or ended by shutdown.
    pub fn finished(&self) -> u64 {
        self.finished
    }

    /// Streams open now: `started - finished`, plus calls between passing the stream limit and
    /// their handler starting.
    pub fn active(&self) -> u64 {
        self.active
    }

    /// `message` events sent.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Streams ended because the client went away.
    pub fn disconnects(&self) -> u64 {
        self.disconnects
    }

    /// Streams that ended with an `error` event from the handler (errors, panics, refused
    /// events).
    pub fn errors(&self) -> u64 {
        self.errors
    }

    /// Streams ended because an event or return value broke its schema.
    pub fn validation_failures(&self) -> u64 {
        self.validation_failures
    }

    /// Calls refused because the stream limit was reached.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    active: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) disconnects: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) validation_failures: AtomicU64,
    pub(crate) rejected: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> StreamStats {
        StreamStats {
            started: self.started.load(Ordering::Relaxed),
            finished: self.finished.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            events: self.events.load(Ordering::Relaxed),
            disconnects: self.disconnects.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            validation_failures: self.validation_failures.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// Reserves a place for a stream, unless `limit` streams are open already. Taking the place
    /// first and giving it back when over the limit keeps the limit exact under concurrent opens.
    /// The stream counts as started only once [`StreamTicket::start`] says its handler is running;
    /// a call refused before that (bad input, say) gives the place back and counts nothing.
    pub(crate) fn reserve(self: &Arc<Self>, limit: Option<u64>) -> Option<StreamTicket> {
        let before = self.active.fetch_add(1, Ordering::AcqRel);
        if limit.is_some_and(|limit| before >= limit) {
            self.active.fetch_sub(1, Ordering::AcqRel);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(StreamTicket {
            counters: Some(self.clone()),
        })
    }
}

/// A place reserved for a stream whose handler has not started yet; see the module docs.
pub(crate) struct StreamTicket {
    /// `None` once the place has passed to a [`StartedStream`].
    counters: Option<Arc<Counters>>,
}

impl StreamTicket {
    /// Counts the stream as started: its handler exists and its response is on its way. The
    /// place passes to the started stream, which gives it back when dropped.
    pub(crate) fn start(mut self) -> StartedStream {
        let counters = self.counters.take().expect("a ticket starts once");
        counters.started.fetch_add(1, Ordering::Relaxed);
        StartedStream { counters }
    }
}

impl Drop for StreamTicket {
    fn drop(&mut self) {
        if let Some(counters) = &self.counters {
            counters.active.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// A started stream's place; see the module docs. A single pointer: every open stream holds one.
pub(crate) struct StartedStream {
    counters: Arc<Counters>,
}

impl StartedStream {
    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }
}

impl Drop for StartedStream {
    fn drop(&mut self) {
        self.counters.finished.fetch_add(1, Ordering::Relaxed);
        self.counters.active.fetch_sub(1, Ordering::AcqRel);
    }
}
