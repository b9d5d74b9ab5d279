//! One call on a socket, from its request message to its last message.
//!
//! [`start`] does what must happen while the request is at hand, in the order the socket's
//! messages came: it finds the procedure, decodes the input, takes the stream's place under the
//! router's limit, and starts the handler, whose extractors read the upgrade request with the
//! call's own headers beside it (`peer::Headers` in the request's extensions, for
//! `Option<LastEventId>`). The future it returns does the rest: it awaits the handler and sends
//! the answer, and for an event iterator sends each frame as a `t:3` message, encoded and checked
//! by the same `FrameSource` the SSE response uses (`sse/frames.rs`).
//!
//! The future owns the handler. Dropping it (an abort from the client, the socket closing, the
//! server shutting down) drops the handler, which runs its cleanup, and then gives the stream's
//! place back, so the router's counters see it finished. An event iterator's handler is polled
//! only when the socket's [`Outbox`] has room, and each frame it gives is written there at once,
//! as many per poll of the socket's task as there is room for; so a client that stops reading
//! stops the handlers on its socket, as it does over SSE.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::{HttpMessage, HttpRequest};
use orpc_protocol::peer::{self, CallId};
use tracing::Instrument;

use super::super::event_stream::reserve;
use super::super::input::decode_body;
use super::super::response::account_poll;
use super::super::shutdown::ShutdownSignal;
use super::super::stats::{StartedStream, StreamTicket};
use super::super::Router;
use super::outbox::Outbox;
use crate::input::PathParams;
use crate::procedure::Handler;
use crate::sse::frames::{FrameSource, Sink, Written};
use crate::sse::Envelope;
use crate::{ORPCError, RawInput};

/// A call in flight: done when its last message is queued, or when it gave up on a closed socket.
pub(super) type Call = Pin<Box<dyn Future<Output = ()>>>;

/// Starts `request`; the returned future answers it. See the module docs.
pub(super) fn start(
    router: &Router,
    req: &HttpRequest,
    request: peer::Request,
    outbox: Outbox,
) -> Call {
    let id = request.id.clone();
    let answer = |error: ORPCError| answer(outbox.clone(), id.clone(), error);
    let Some(route) = router.route_named(&request.name) else {
        return answer(ORPCError::not_found(format!(
            "No procedure named {:?}",
            request.name
        )));
    };
    if request.method.is_some() {
        return answer(
            ORPCError::new("METHOD_NOT_SUPPORTED")
                .with_message("RPC procedures are called with POST"),
        );
    }
    if request.attachment.is_some() || request.has_event_iterator_input() {
        return answer(ORPCError::bad_request(
            "File, Blob and event iterator inputs are not supported by this server",
        ));
    }
    let input = match &request.body {
        Some(body) => match decode_body(body.get().as_bytes(), Envelope::Rpc) {
            Ok(input) => input,
            Err(error) => return answer(error),
        },
        None => RawInput::Json(serde_json::Value::Null),
    };
    // The handler's extractors run now, synchronously, and see the call's headers.
    req.extensions_mut().insert(request.headers);
    let call: Call = match &route.handler {
        Handler::Plain(handler) => {
            let running = handler(input, PathParams::new(), req);
            Box::pin(async move {
                let mut out = peer::Encoder::new();
                match running.await {
                    Ok((json, meta)) => {
                        out.response(&id, &Envelope::Rpc.wrap_with_meta(json, meta))
                    }
                    Err(error) => out.error_response(&id, &error),
                }
                let _ = outbox.send(&out.take()).await;
            })
        }
        Handler::Stream(handler) => match reserve(&router.policy()) {
            Err(error) => answer(error),
            Ok(ticket) => {
                let starting = handler(input, PathParams::new(), req, route.validate_events);
                let span = tracing::info_span!("stream", procedure = route.name, call = %id);
                let stream = Stream {
                    outbox,
                    id,
                    shutdown: router.shutdown_signal(),
                };
                Box::pin(stream.run(ticket, starting).instrument(span))
            }
        },
    };
    req.extensions_mut().remove::<peer::Headers>();
    call
}

/// What an event iterator's call sends with.
struct Stream {
    outbox: Outbox,
    id: CallId,
    shutdown: Option<Arc<ShutdownSignal>>,
}

impl Stream {
    async fn run(
        mut self,
        ticket: Option<StreamTicket>,
        starting: impl Future<Output = Result<Pin<Box<dyn FrameSource>>, ORPCError>>,
    ) {
        let mut out = peer::Encoder::new();
        let source = match starting.await {
            Ok(source) => source,
            // The ticket is dropped unstarted: the place is given back, nothing is counted.
            Err(error) => return send_error(self.outbox, self.id, error).await,
        };
        let mut running = Running {
            source: Some(source),
            ticket: ticket.map(StreamTicket::start),
            shutdown: self.shutdown.take(),
        };
        out.stream_opened(&self.id);
        if self.outbox.send(&out.take()).await.is_err() {
            return;
        }
        poll_fn(|cx| running.poll_frames(cx, &mut out, &self.id, &self.outbox)).await;
    }
}

/// A running event iterator and its place among the router's streams.
struct Running {
    // Dropped first: the handler's cleanup runs before the ticket counts the stream finished.
    source: Option<Pin<Box<dyn FrameSource>>>,
    ticket: Option<StartedStream>,
    shutdown: Option<Arc<ShutdownSignal>>,
}

impl Running {
    /// Writes every frame the handler has ready into `outbox`, each as one message, while the
    /// outbox has room: room first, so the handler is not polled for a frame the socket cannot
    /// take. `Ready` once the last frame is written (the handler is dropped at once, before it
    /// is sent, as the SSE body does) or the socket is closed; `Pending` while the handler or
    /// the socket has to wait. Like the SSE body's batch, the clock is read and the events are
    /// counted once per poll, not once per event.
    fn poll_frames(
        &mut self,
        cx: &mut Context<'_>,
        out: &mut peer::Encoder,
        id: &CallId,
        outbox: &Outbox,
    ) -> Poll<()> {
        let started = std::time::Instant::now();
        let mut events = 0;
        let mut last = None;
        let polled = loop {
            let Some(source) = self.source.as_mut() else {
                break Poll::Ready(());
            };
            match outbox.poll_room(cx) {
                Poll::Ready(Ok(())) => {}
                // Closed: the stream is dropped unfinished, which counts a disconnect.
                Poll::Ready(Err(_)) => break Poll::Ready(()),
                Poll::Pending => break Poll::Pending,
            }
            let written = match source.as_mut().poll_encode(cx, Sink::Peer(out, id)) {
                Poll::Pending => break Poll::Pending,
                Poll::Ready(Some(written)) => written,
                Poll::Ready(None) => {
                    // A stream of frames that ended without its `done`: the client would wait
                    // forever.
                    out.error(id, &ORPCError::internal())
                        .expect("the error object always serializes");
                    Written::Error
                }
            };
            if written == Written::Message {
                events += 1;
                if outbox.text(out.as_bytes()).is_err() {
                    break Poll::Ready(());
                }
                out.clear();
                continue;
            }
            last = Some(written);
            break Poll::Ready(());
        };
        account_poll(started, self.ticket.as_ref(), events, last);
        if last.is_some() {
            self.end();
            let _ = outbox.text(out.as_bytes());
            out.clear();
        }
        polled
    }

    fn end(&mut self) {
        self.source = None;
        self.ticket = None;
    }
}

impl Drop for Running {
    /// A stream dropped before its last frame was ended by the client (an abort, the socket
    /// closing or going quiet), unless the server is shutting down.
    fn drop(&mut self) {
        let shutting_down = self.shutdown.as_ref().is_some_and(|s| s.is_triggered());
        if let (Some(_), Some(ticket), false) = (&self.source, &self.ticket, shutting_down) {
            ticket
                .counters()
                .disconnects
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Answers the call `id` with `error`.
pub(super) fn answer(outbox: Outbox, id: CallId, error: ORPCError) -> Call {
    Box::pin(send_error(outbox, id, error))
}

async fn send_error(outbox: Outbox, id: CallId, error: ORPCError) {
    let mut out = peer::Encoder::new();
    out.error_response(&id, &error);
    let _ = outbox.send(&out.take()).await;
}
