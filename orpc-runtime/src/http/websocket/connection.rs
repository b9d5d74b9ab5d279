//! One socket: its messages read in order, its calls run side by side, its keep-alive, its end.
//!
//! Everything on a socket runs in one task on the worker that accepted it: the loop reads a
//! message, acts on it, and polls the calls in flight (a `FuturesUnordered`, which polls only the
//! calls that were woken). Messages are handled strictly in the order they came, so an abort
//! always finds the call it names.
//!
//! What each message does:
//! - a request starts a call ([`call::start`]); one whose id is still in flight is ignored, as
//!   oRPC's server ignores it;
//! - `t:4` aborts the call it names: the call is dropped, which drops its handler and runs its
//!   cleanup, and nothing more is sent for it; an unknown id is ignored;
//! - `t:3` (an event of an input stream) is ignored: inputs here are never event iterators, and
//!   the request that would have opened one was answered with `BAD_REQUEST`;
//! - a request whose id can be read but whose payload cannot is answered with `BAD_REQUEST` for
//!   that call alone; the socket and its other calls go on;
//! - a frame that names no call (not JSON, not an object, no string or numeric `i`) or has an
//!   unknown `t` closes the socket with 1008 and the reason. oRPC's own server logs and ignores
//!   such frames, but then a client waiting on them waits forever; oRPC's client never sends
//!   them, so closing only ever stops a broken or hostile peer, and it tells that peer why;
//! - a message larger than the limit closes the socket with 1009, a text frame that is not UTF-8
//!   with 1007, a frame the WebSocket codec rejects with 1002;
//! - a close frame is answered with a close frame, and ends the socket.
//!
//! When the socket ends, however it ends (the client closes it or goes away, keep-alive gives up
//! on it, the server shuts down, a limit is broken), every call on it is dropped with the loop,
//! and so every stream on it runs its cleanup. On shutdown the socket is closed with 1001 and no
//! `done` is sent, as an SSE stream ends without one, so that clients reconnect elsewhere.

use std::time::Duration;

use actix_web::HttpRequest;
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, ProtocolError};
use futures_util::future::{AbortHandle, Abortable};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use orpc_protocol::peer::{self, CallId, ClientMessage, DecodeError};
use orpc_protocol::ORPCError;
use std::collections::HashMap;
use tokio::time::Instant;

use std::sync::Arc;

use super::super::served::Served;
use super::call;
use super::outbox::Outbox;

/// How long a close frame may wait for room in the socket's outbox before the socket is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one socket until it ends; see the module docs.
pub(super) async fn serve(
    served: Arc<Served>,
    req: HttpRequest,
    outbox: Outbox,
    messages: AggregatedMessageStream,
) {
    let mut socket = Socket {
        served,
        req,
        outbox,
        in_flight: HashMap::new(),
        calls: FuturesUnordered::new(),
    };
    let close = socket.run(messages).await;
    // The calls go first, each dropping its handler; the close frame, if any, after.
    drop(socket.calls);
    socket.in_flight.clear();
    if let Some(reason) = close {
        tracing::debug!(code = ?reason.code, reason = reason.description.as_deref(), "closing a socket");
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, socket.outbox.close(Some(reason))).await;
    }
}

struct Socket {
    served: Arc<Served>,
    req: HttpRequest,
    outbox: Outbox,
    /// The calls in flight, by id, to abort them.
    in_flight: HashMap<CallId, AbortHandle>,
    /// The same calls, polled; each ends with its id, or `None` when it was aborted.
    calls: FuturesUnordered<Abortable<Tracked>>,
}

/// A call that says which one it was when it ends.
type Tracked = std::pin::Pin<Box<dyn std::future::Future<Output = CallId>>>;

impl Socket {
    /// Runs until the socket ends; the close frame to send then, if one is due.
    async fn run(&mut self, mut messages: AggregatedMessageStream) -> Option<CloseReason> {
        let every = self.served.websocket.ping_interval;
        let mut ping = every.map(|every| tokio::time::interval_at(Instant::now() + every, every));
        let mut heard = Instant::now();
        let mut shutting_down = std::pin::pin!(self.served.core.streams.lifecycle.waiter());
        loop {
            tokio::select! {
                biased;
                () = &mut shutting_down => {
                    return Some(close(CloseCode::Away, "server shutting down"));
                }
                message = messages.next() => {
                    heard = Instant::now();
                    let message = match message {
                        None => return None,
                        Some(Ok(message)) => message,
                        Some(Err(error)) => return self.broken(&error),
                    };
                    match message {
                        AggregatedMessage::Text(text) => {
                            if let Some(reason) = self.receive(text.as_bytes(), false) {
                                return Some(reason);
                            }
                        }
                        AggregatedMessage::Binary(bytes) => {
                            if let Some(reason) = self.receive(&bytes, true) {
                                return Some(reason);
                            }
                        }
                        AggregatedMessage::Ping(bytes) => {
                            let _ = self.outbox.pong(&bytes).await;
                        }
                        AggregatedMessage::Pong(_) => {}
                        AggregatedMessage::Close(reason) => return reason.or(Some(CloseCode::Normal.into())),
                    }
                }
                Some(ended) = self.calls.next(), if !self.calls.is_empty() => {
                    if let Ok(id) = ended {
                        self.in_flight.remove(&id);
                    }
                }
                _ = tick(&mut ping) => {
                    let every = every.unwrap_or_default();
                    if heard.elapsed() > 2 * every {
                        tracing::debug!("no answer to keep-alive pings; closing the socket");
                        return Some(close(CloseCode::Away, "keep-alive timed out"));
                    }
                    // A peer that does not read leaves no room for the ping either.
                    if tokio::time::timeout(every, self.outbox.ping(b"")).await.is_err() {
                        return None;
                    }
                }
            }
        }
    }

    /// Acts on one frame; the close frame to end the socket with, if it must end.
    fn receive(&mut self, frame: &[u8], binary: bool) -> Option<CloseReason> {
        match peer::decode_client(frame, binary) {
            Ok(ClientMessage::Request(request)) => {
                if self.in_flight.contains_key(&request.id) {
                    tracing::debug!(id = %request.id, "a request reuses the id of a call in flight; ignored");
                    return None;
                }
                let id = request.id.clone();
                let call = call::start(&self.served, &self.req, request, self.outbox.clone());
                self.track(id, call);
            }
            Ok(ClientMessage::Abort(id)) => {
                if let Some(call) = self.in_flight.remove(&id) {
                    call.abort();
                }
            }
            Ok(ClientMessage::Event(_)) => {}
            Err(DecodeError::BadRequest { id, reason }) => {
                if !self.in_flight.contains_key(&id) {
                    let error = ORPCError::bad_request(format!("Malformed request: {reason}"));
                    let answer = call::answer(self.outbox.clone(), id.clone(), error);
                    self.track(id, answer);
                }
            }
            Err(error) => {
                tracing::debug!(%error, "a frame that is not an oRPC peer message; closing the socket");
                return Some(close(CloseCode::Policy, &error.to_string()));
            }
        }
        None
    }

    fn track(&mut self, id: CallId, call: call::Call) {
        let (handle, registration) = AbortHandle::new_pair();
        self.in_flight.insert(id.clone(), handle);
        let tracked: Tracked = Box::pin(async move {
            call.await;
            id
        });
        self.calls.push(Abortable::new(tracked, registration));
    }

    /// The close frame for a frame the codec refused.
    fn broken(&self, error: &ProtocolError) -> Option<CloseReason> {
        let limit = self.served.websocket.max_message_size;
        match error {
            ProtocolError::Overflow => Some(too_big(limit)),
            ProtocolError::Io(io) if io.kind() == std::io::ErrorKind::InvalidData => {
                Some(close(CloseCode::Invalid, "a text frame that is not UTF-8"))
            }
            // `AggregatedMessageStream`'s words for continuation frames over the limit.
            ProtocolError::Io(io) if io.to_string() == "Exceeded maximum continuation size" => {
                Some(too_big(limit))
            }
            // The connection itself failed: no frame can reach the peer.
            ProtocolError::Io(_) => None,
            other => Some(close(CloseCode::Protocol, &other.to_string())),
        }
    }
}

fn too_big(limit: usize) -> CloseReason {
    close(CloseCode::Size, &format!("a message exceeds {limit} bytes"))
}

fn close(code: CloseCode, reason: &str) -> CloseReason {
    CloseReason {
        code,
        description: Some(reason.to_owned()),
    }
}

/// The next keep-alive tick; never, without keep-alive.
async fn tick(ping: &mut Option<tokio::time::Interval>) {
    match ping {
        Some(ping) => {
            ping.tick().await;
        }
        None => std::future::pending().await,
    }
}
