//! The socket's outgoing side: every frame for the client is written, already framed, into one
//! buffer, and the upgrade response's body hands all of it to actix-web at once, as the SSE body
//! hands over its batch.
//!
//! Why not actix-ws's `Session`: it sends each message through a channel, and its body checks
//! each message's UTF-8 and copies it into the frame codec's buffer, one by one. Here a call
//! writes its events as frames straight into the buffer, many per poll of its task, and the body
//! takes everything written since its last poll as one chunk: per event, one encode and one copy
//! of the message behind its frame header.
//!
//! Guarantees:
//! - **Room**: a writer waits ([`Outbox::room`]) while [`HIGH_WATER`] bytes or more are waiting,
//!   and is woken when the body takes them. A client that stops reading stops the calls on its
//!   socket: server memory is bounded by the socket buffers, actix-web's write buffer and one
//!   high-water mark (plus the frame that crossed it) here.
//! - **Order**: frames go out whole, in the order they were written.
//! - **Close**: after a close frame nothing more is written (writers get [`Closed`]), and the body
//!   ends once the close frame is handed over. When the last [`Outbox`] is dropped (the socket's
//!   task is over, with its calls), the body ends once the buffer is drained, as actix-ws's body
//!   ends when its last `Session` is dropped.
//! - **The connection going away**: actix-web drops the body, and then every writer gets
//!   [`Closed`] (waiting ones are woken), and the actix-ws body held in it is dropped, which ends
//!   the reading side (`MessageStream`), so the socket's task ends and drops every call.
//!
//! A socket's task and its response body run on the worker that accepted the connection, so the
//! state they share is an `Rc<RefCell<..>>`, and no borrow is held across an await or a poll of
//! anything else.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use actix_http::ws::{CloseReason, Codec, Message, OpCode, Parser};
use actix_web::body::{BodySize, BoxBody, MessageBody};
use bytes::{Bytes, BytesMut};
use tokio_util::codec::Encoder as _;

/// Writers wait while this many bytes are waiting for the socket. The writers and the body are
/// two tasks that take turns (the socket's task fills, the dispatcher's takes and writes), so a
/// larger batch means fewer turns and larger writes per event; BENCHMARKS.md has the figures
/// that chose this size. It stays a small bound on each socket's memory.
pub(super) const HIGH_WATER: usize = 64 * 1024;

/// The socket is closing or gone: nothing more can be sent on it.
#[derive(Debug)]
pub(super) struct Closed;

/// A handle to write frames for the client. Clones share the buffer.
pub(super) struct Outbox {
    shared: Rc<RefCell<State>>,
}

struct State {
    /// Frames written and not yet taken by the body.
    buf: BytesMut,
    /// Control frames (ping, pong, close), written as actix-ws writes them.
    codec: Codec,
    /// The body, when it found nothing to take.
    body: Option<Waker>,
    /// Writers waiting for room.
    writers: Vec<Waker>,
    /// A close frame was written, or the body is gone.
    closed: bool,
    /// How many `Outbox` handles are alive.
    handles: usize,
}

impl State {
    fn wake_body(&mut self) {
        if let Some(body) = self.body.take() {
            body.wake();
        }
    }

    fn wake_writers(&mut self) {
        for writer in self.writers.drain(..) {
            writer.wake();
        }
    }
}

impl Outbox {
    /// A new outbox and the response body that hands its frames to the socket. `reader` is
    /// actix-ws's own response body, never polled: dropped with ours, it tells actix-ws's
    /// `MessageStream` that the connection is gone.
    pub(super) fn new(reader: BoxBody) -> (Outbox, SocketBody) {
        let shared = Rc::new(RefCell::new(State {
            buf: BytesMut::new(),
            codec: Codec::new(),
            body: None,
            writers: Vec::new(),
            closed: false,
            handles: 1,
        }));
        let body = SocketBody {
            shared: shared.clone(),
            _reader: reader,
        };
        (Outbox { shared }, body)
    }

    /// Ready when a frame may be written: fewer than [`HIGH_WATER`] bytes are waiting.
    pub(super) fn poll_room(&self, cx: &mut Context<'_>) -> Poll<Result<(), Closed>> {
        let mut state = self.shared.borrow_mut();
        if state.closed {
            return Poll::Ready(Err(Closed));
        }
        if state.buf.len() < HIGH_WATER {
            return Poll::Ready(Ok(()));
        }
        if !state.writers.iter().any(|w| w.will_wake(cx.waker())) {
            state.writers.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Waits for room; see [`poll_room`](Self::poll_room).
    pub(super) async fn room(&self) -> Result<(), Closed> {
        poll_fn(|cx| self.poll_room(cx)).await
    }

    /// Writes `message` as one text frame, room or not: call [`room`](Self::room) first. The
    /// message is JSON written by `peer::Encoder` from Rust strings and checked client JSON, so
    /// it is UTF-8 and is not checked again.
    pub(super) fn text(&self, message: &[u8]) -> Result<(), Closed> {
        let mut state = self.shared.borrow_mut();
        if state.closed {
            return Err(Closed);
        }
        Parser::write_message(&mut state.buf, message, OpCode::Text, true, false);
        state.wake_body();
        Ok(())
    }

    /// Waits for room, then writes `message` as one text frame.
    pub(super) async fn send(&self, message: &[u8]) -> Result<(), Closed> {
        self.room().await?;
        self.text(message)
    }

    /// Waits for room, then writes a ping.
    pub(super) async fn ping(&self, payload: &[u8]) -> Result<(), Closed> {
        self.control(Message::Ping(Bytes::copy_from_slice(payload)))
            .await
    }

    /// Waits for room, then writes a pong.
    pub(super) async fn pong(&self, payload: &[u8]) -> Result<(), Closed> {
        self.control(Message::Pong(Bytes::copy_from_slice(payload)))
            .await
    }

    /// Waits for room, then writes the close frame; nothing is written after it.
    pub(super) async fn close(&self, reason: Option<CloseReason>) -> Result<(), Closed> {
        self.control(Message::Close(reason)).await
    }

    /// A control frame, its payload cut to what RFC 6455 allows (125 bytes; a close reason at a
    /// character boundary), as actix-ws's body cuts it.
    async fn control(&self, mut message: Message) -> Result<(), Closed> {
        const MAX_PAYLOAD: usize = 125;
        match &mut message {
            Message::Ping(payload) | Message::Pong(payload) => payload.truncate(MAX_PAYLOAD),
            Message::Close(Some(CloseReason {
                description: Some(reason),
                ..
            })) => {
                let mut end = reason.len().min(MAX_PAYLOAD - 2);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                reason.truncate(end);
            }
            _ => {}
        }
        self.room().await?;
        let mut state = self.shared.borrow_mut();
        let closing = matches!(message, Message::Close(_));
        let State { codec, buf, .. } = &mut *state;
        codec
            .encode(message, buf)
            .expect("a control frame always encodes");
        state.closed |= closing;
        state.wake_body();
        if closing {
            state.wake_writers();
        }
        Ok(())
    }
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.shared.borrow_mut().handles += 1;
        Outbox {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Outbox {
    /// The last handle gone, the body ends once it has handed over what is waiting.
    fn drop(&mut self) {
        let mut state = self.shared.borrow_mut();
        state.handles -= 1;
        if state.handles == 0 {
            state.wake_body();
        }
    }
}

/// The upgrade response's body: the frames written into the [`Outbox`], as they come.
pub(super) struct SocketBody {
    shared: Rc<RefCell<State>>,
    /// Dropped with this body, it ends the reading side; see [`Outbox::new`].
    _reader: BoxBody,
}

impl MessageBody for SocketBody {
    type Error = Infallible;

    fn size(&self) -> BodySize {
        BodySize::Stream
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let mut state = self.shared.borrow_mut();
        if !state.buf.is_empty() {
            let chunk = state.buf.split().freeze();
            state.wake_writers();
            return Poll::Ready(Some(Ok(chunk)));
        }
        if state.closed || state.handles == 0 {
            return Poll::Ready(None);
        }
        if !state.body.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            state.body = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for SocketBody {
    /// The connection is gone (or actix-web gave up on a write): every writer gets `Closed`.
    fn drop(&mut self) {
        let mut state = self.shared.borrow_mut();
        state.closed = true;
        state.wake_writers();
    }
}
