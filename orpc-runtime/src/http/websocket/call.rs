//! One call on a socket, from its request message to its last message.
//!
//! [`start`] does what must happen while the request is at hand, in the order the socket's
//! messages came: it finds the procedure, decodes the input, and has the core start it (a
//! stream takes its place under the router's limit), whose extractors read the upgrade request
//! with the call's own headers beside it (`peer::Headers` in the request's extensions, for
//! `Option<LastEventId>`). The future it returns does the rest: it awaits the answer and sends
//! it, and for an event iterator sends each frame as a `t:3` message, encoded and checked by the
//! same `FrameSource` the SSE response uses (`sse/frames.rs`).
//!
//! The future owns the stream. Dropping it (an abort from the client, the socket closing, the
//! server shutting down) drops the handler, which runs its cleanup, and then gives the stream's
//! place back, so the router's counters see it finished (`serving/streams.rs`). An event
//! iterator's handler is polled only when the socket's [`Outbox`] has room, and each frame it
//! gives is written there at once, as many per poll of the socket's task as there is room for;
//! so a client that stops reading stops the handlers on its socket, as it does over SSE.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::{HttpMessage, HttpRequest};
use orpc_protocol::peer::{self, CallId};
use tracing::Instrument;

use super::super::served::Served;
use super::outbox::Outbox;
use crate::input::{decode_body, PathParams};
use crate::serving::{rpc_method_not_supported, Call as Started, OpenStream, Starting, Transport};
use crate::sse::frames::{Sink, Written};
use crate::sse::Envelope;
use crate::{ORPCError, RawInput};

/// A call in flight: done when its last message is queued, or when it gave up on a closed socket.
pub(super) type Call = Pin<Box<dyn Future<Output = ()>>>;

/// Starts `request`; the returned future answers it. See the module docs.
pub(super) fn start(
    served: &Served,
    req: &HttpRequest,
    request: peer::Request,
    outbox: Outbox,
) -> Call {
    let id = request.id.clone();
    let answer = |error: ORPCError| answer(outbox.clone(), id.clone(), error);
    let route = match served.core.find(&request.name) {
        Ok(route) => route,
        Err(error) => return answer(error),
    };
    if request.method.is_some() {
        return answer(rpc_method_not_supported());
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
    let started = served
        .core
        .call(route, input, PathParams::new(), req, Transport::WebSocket);
    req.extensions_mut().remove::<peer::Headers>();
    match started {
        Err(error) => answer(error),
        Ok(Started::Plain(running)) => Box::pin(async move {
            let mut out = peer::Encoder::new();
            match running.await {
                Ok(output) if output.files.is_empty() => {
                    out.response(&id, &Envelope::Rpc.wrap_with_meta(output.json, output.meta))
                }
                Ok(_) => out.error_response(
                    &id,
                    &ORPCError::new("INTERNAL_SERVER_ERROR").with_message(
                        "Files are not sent over the WebSocket transport; call over HTTP",
                    ),
                ),
                Err(error) => out.error_response(&id, &error),
            }
            let _ = outbox.send(&out.take()).await;
        }),
        Ok(Started::Stream(starting)) => {
            let span = tracing::info_span!("stream", procedure = route.name, call = %id);
            Box::pin(stream(starting, outbox, id).instrument(span))
        }
    }
}

/// Answers an event iterator's call: its stream once open, each frame as a message.
async fn stream(starting: Starting, outbox: Outbox, id: CallId) {
    let mut stream = match starting.open().await {
        Ok(stream) => stream,
        Err(error) => return send_error(outbox, id, error).await,
    };
    let mut out = peer::Encoder::new();
    out.stream_opened(&id);
    if outbox.send(&out.take()).await.is_err() {
        return;
    }
    poll_fn(|cx| poll_frames(&mut stream, cx, &mut out, &id, &outbox)).await;
}

/// Writes every frame the handler has ready into `outbox`, each as one message, while the
/// outbox has room: room first, so the handler is not polled for a frame the socket cannot
/// take. `Ready` once the last frame is written (the handler is dropped at once, before it is
/// sent, as the SSE body does) or the socket is closed; `Pending` while the handler or the
/// socket has to wait. The stream is accounted once per poll, as the SSE body's batch is.
fn poll_frames(
    stream: &mut OpenStream,
    cx: &mut Context<'_>,
    out: &mut peer::Encoder,
    id: &CallId,
    outbox: &Outbox,
) -> Poll<()> {
    let started = std::time::Instant::now();
    let mut bytes = 0;
    let polled = stream.poll_with(|mut source| {
        let mut events = 0;
        loop {
            match outbox.poll_room(cx) {
                Poll::Ready(Ok(())) => {}
                // Closed: the stream is dropped unfinished, which counts a disconnect.
                Poll::Ready(Err(_)) => return (Poll::Ready(()), events, None),
                Poll::Pending => return (Poll::Pending, events, None),
            }
            let written = match source.as_mut().poll_encode(cx, Sink::Peer(out, id)) {
                Poll::Pending => return (Poll::Pending, events, None),
                Poll::Ready(Some(written)) => written,
                Poll::Ready(None) => {
                    // A stream of frames that ended without its `done`: the client would wait
                    // forever.
                    out.error(id, &ORPCError::internal())
                        .expect("the error object always serializes");
                    Written::Error
                }
            };
            if written != Written::Message {
                return (Poll::Ready(()), events, Some(written));
            }
            events += 1;
            bytes += out.as_bytes().len() as u64;
            if outbox.text(out.as_bytes()).is_err() {
                return (Poll::Ready(()), events, None);
            }
            out.clear();
        }
    });
    let Some((polled, events, last)) = polled else {
        return Poll::Ready(());
    };
    if last.is_some() {
        bytes += out.as_bytes().len() as u64;
    }
    stream.account(started, events, bytes, last);
    if last.is_some() {
        let _ = outbox.text(out.as_bytes());
        out.clear();
    }
    polled
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
