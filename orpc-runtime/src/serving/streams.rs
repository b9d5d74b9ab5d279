//! Streams as every transport runs them: a place under the router's limit, the handler's frames
//! with their accounting, and how a stream ends.
//!
//! A stream's life, on SSE, a WebSocket or an `EventStream` alike:
//! 1. [`StreamPolicy::reserve`] takes its place under the router's `max_streams` before its
//!    handler starts; past the limit the call is refused with 503 `SERVICE_UNAVAILABLE` and
//!    counted as rejected.
//! 2. [`OpenStream`] runs the started handler: the transport polls it for frames
//!    ([`OpenStream::poll_with`]) into its own sink, and reports each poll's outcome
//!    ([`OpenStream::account`]), which warns about a poll that blocked its worker thread and
//!    counts events and failures.
//! 3. It ends once, whichever comes first: its last frame, the client leaving
//!    ([`OpenStream::client_left`]), the router shutting down, or the transport dropping it.
//!    Ending drops the handler, which runs its cleanup guards inside the router's
//!    [`Cleanups`](crate::stream::cleanup::Cleanups), and only then counts the stream finished.
//!    A stream dropped unfinished while the router is not shutting down counts as a disconnect:
//!    its transport could no longer reach the client.
//!
//! Each step is also reported to the router's telemetry (`telemetry/`): a refused or failed
//! start as a call with its error's code, the start, each poll's events and bytes, and the end with how
//! it ended and how long its cleanup took.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::lifecycle::Lifecycle;
use super::stats::{Counters, StartedStream, StreamTicket};
use super::telemetry::{CallTrace, Ending, StreamRecord, Telemetry, Transport};
use crate::sse::frames::{FrameSource, Written};
use crate::ORPCError;

/// A poll of a handler that takes longer than this blocked its worker thread.
const SLOW_POLL: Duration = Duration::from_millis(100);

/// What a router gives each of its streams: a place under its limit, its counters, its
/// lifecycle, its telemetry.
#[derive(Clone, Default)]
pub(crate) struct StreamPolicy {
    pub(crate) counters: Arc<Counters>,
    pub(crate) max_streams: Option<u64>,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) telemetry: Telemetry,
}

impl StreamPolicy {
    /// A place for one more stream of `procedure` on `transport`, traced by `trace`, before its
    /// handler starts; or the 503 error when the router is at its limit.
    pub(crate) fn reserve(
        &self,
        procedure: &'static str,
        transport: Transport,
        trace: CallTrace,
    ) -> Result<Reserved, ORPCError> {
        match self.counters.reserve(self.max_streams) {
            Some(ticket) => Ok(Reserved {
                ticket,
                lifecycle: self.lifecycle.clone(),
                telemetry: self.telemetry.clone(),
                procedure,
                transport,
                trace,
            }),
            None => {
                let error = ORPCError::new("SERVICE_UNAVAILABLE")
                    .with_message("Too many open streams; retry later");
                self.telemetry.call_failed(procedure, trace, &error);
                Err(error)
            }
        }
    }
}

/// A stream's place, taken before its handler started. Dropped unused, it gives the place back
/// and counts nothing.
pub(crate) struct Reserved {
    ticket: StreamTicket,
    lifecycle: Lifecycle,
    telemetry: Telemetry,
    procedure: &'static str,
    transport: Transport,
    trace: CallTrace,
}

impl Reserved {
    /// Runs `f` (the start of the handler) inside the router's cleanups and the call's span.
    pub(crate) fn enter<T>(&self, f: impl FnOnce() -> T) -> T {
        self.trace.enter(|| self.lifecycle.cleanups().enter(f))
    }

    /// The stream did not start: `error` kept it from it. Gives the place back.
    pub(crate) fn failed(self, error: &ORPCError) {
        self.telemetry
            .call_failed(self.procedure, self.trace, error);
    }
}

/// A running event iterator: its handler, and its place among its router's streams.
pub(crate) struct OpenStream {
    // Dropped first: the handler's cleanup runs before the place counts the stream finished.
    source: Option<Pin<Box<dyn FrameSource>>>,
    place: Option<Place>,
}

/// An open stream's place among its router's streams.
struct Place {
    started: StartedStream,
    lifecycle: Lifecycle,
    record: StreamRecord,
}

impl OpenStream {
    /// The started handler `source`, counted in `reserved` (or in nothing, without a router).
    pub(crate) fn new(source: Pin<Box<dyn FrameSource>>, reserved: Option<Reserved>) -> Self {
        OpenStream {
            source: Some(source),
            place: reserved.map(|reserved| Place {
                started: reserved.ticket.start(),
                record: reserved.telemetry.stream_started(
                    reserved.procedure,
                    reserved.transport,
                    reserved.trace,
                ),
                lifecycle: reserved.lifecycle,
            }),
        }
    }

    /// Whether the handler still runs.
    pub(crate) fn is_open(&self) -> bool {
        self.source.is_some()
    }

    /// The router's lifecycle, if the stream has a router.
    pub(crate) fn lifecycle(&self) -> Option<&Lifecycle> {
        self.place.as_ref().map(|place| &place.lifecycle)
    }

    /// Runs `poll` on the handler, inside its router's cleanups: one poll of the transport, in
    /// which `poll` asks the handler for as many frames ([`FrameSource::poll_encode`]) as the
    /// transport takes at once. `None` once the handler is over.
    pub(crate) fn poll_with<T>(
        &mut self,
        poll: impl FnOnce(Pin<&mut dyn FrameSource>) -> T,
    ) -> Option<T> {
        let source = self.source.as_mut()?.as_mut();
        Some(match &self.place {
            Some(place) => place
                .record
                .enter(|| place.lifecycle.cleanups().enter(|| poll(source))),
            None => poll(source),
        })
    }

    /// After one poll's batch of frames: warns when it blocked its worker thread (started at
    /// `started`), counts its `events` and the `bytes` of its frames, and, when `last` is its
    /// last frame, counts how the stream ended and ends it.
    pub(crate) fn account(
        &mut self,
        started: Instant,
        events: u64,
        bytes: u64,
        last: Option<Written>,
    ) {
        let took = started.elapsed();
        if took > SLOW_POLL {
            tracing::warn!(
                took_ms = took.as_millis() as u64,
                "a handler poll blocked its worker thread; use async I/O or spawn_blocking"
            );
        }
        if let Some(place) = &mut self.place {
            let counters = place.started.counters();
            if events > 0 {
                counters.events.fetch_add(events, Ordering::Relaxed);
            }
            place.record.sent(events, bytes);
            if last == Some(Written::Invalid) {
                place.record.invalid_event();
            }
            let ended_badly = match last {
                Some(Written::Error) => Some(&counters.errors),
                Some(Written::Invalid) => Some(&counters.validation_failures),
                _ => None,
            };
            if let Some(counter) = ended_badly {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        match last {
            Some(Written::Error | Written::Invalid) => self.end(Ending::Error),
            Some(Written::Done | Written::Message) => self.end(Ending::Done),
            None => {}
        }
    }

    /// Ends the stream because its client left.
    pub(crate) fn client_left(&mut self) {
        if self.is_open() {
            tracing::debug!("client went away; ending its stream");
        }
        self.drop_unfinished();
    }

    /// Ends the stream because its router shut down, without a last frame.
    pub(crate) fn shut_down(&mut self) {
        tracing::debug!("server shutting down; ending the stream");
        self.end(Ending::Shutdown);
    }

    /// Ends an unfinished stream: a disconnect, unless the router is shutting down.
    fn drop_unfinished(&mut self) {
        let how = match &self.place {
            Some(place) if place.lifecycle.is_shut_down() => Ending::Shutdown,
            _ => Ending::Disconnect,
        };
        if let (Some(_), Some(place), Ending::Disconnect) = (&self.source, &self.place, how) {
            place
                .started
                .counters()
                .disconnects
                .fetch_add(1, Ordering::Relaxed);
        }
        self.end(how);
    }

    /// Drops the handler inside its router's cleanups, then counts the stream finished, ended
    /// `how`. Once: a stream already ended has no place left to count.
    fn end(&mut self, how: Ending) {
        let source = self.source.take();
        let Some(place) = self.place.take() else {
            drop(source);
            return;
        };
        let dropping = Instant::now();
        place
            .record
            .enter(|| place.lifecycle.cleanups().enter(|| drop(source)));
        place.record.ended(how, dropping.elapsed());
        drop(place.started);
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.drop_unfinished();
    }
}
