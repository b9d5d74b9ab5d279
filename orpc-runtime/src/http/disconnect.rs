//! Noticing that a client has gone while its stream is idle.
//!
//! actix-web only learns that a client left when a write fails, so an idle stream, or one with
//! keep-alive comments disabled, would hold its handler (and everything the handler holds) until
//! the next write, possibly forever (actix-web issue #1313). This module watches the connection
//! itself instead.
//!
//! How: [`watch_disconnects`], installed with `HttpServer::on_connect`, keeps a duplicate of each
//! plain-TCP connection's file descriptor in the connection's data. An SSE response duplicates it
//! once more and registers that copy with the Tokio reactor for read readiness. When the client
//! closes the connection (FIN) or resets it (RST), epoll reports the read side closed, the
//! response body wakes, drops the event iterator (running its cleanup at once) and ends. Data that
//! arrives without a close, such as a pipelined request, only clears the readiness: nothing is
//! ever read from the duplicate, so actix-web sees every byte as before.
//!
//! Where it does not apply:
//! - TLS connections (the stream `on_connect` sees is not a `TcpStream`) and HTTP/2, where one
//!   connection carries many streams: they fall back to noticing on the next write, so keep
//!   keep-alive comments enabled there.
//! - Behind a proxy, the watched connection is the proxy's. A proxy that keeps its upstream
//!   connection open after its client left hides the disconnect; most close it.
//! - A client that half-closes its sending side after the request (`shutdown(SHUT_WR)`) looks
//!   exactly like one that left, and is treated as gone. SSE clients don't do that.

use std::any::Any;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::task::{Context, Poll};

use actix_web::dev::Extensions;
use actix_web::HttpRequest;
use tokio::io::{Interest, ReadBuf};
use tokio::net::TcpStream;

/// A duplicate of a connection's socket, kept in the connection's data. It is closed with the
/// connection's data, when actix-web drops the connection.
struct ConnectionFd(OwnedFd);

/// Installs disconnect detection; pass it to `HttpServer::on_connect`.
pub fn watch_disconnects(connection: &dyn Any, data: &mut Extensions) {
    let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() else {
        return;
    };
    match tcp.as_fd().try_clone_to_owned() {
        Ok(fd) => {
            data.insert(ConnectionFd(fd));
        }
        Err(error) => tracing::warn!(%error, "cannot watch this connection for disconnects"),
    }
}

/// Watches one request's connection for the client going away.
pub(crate) struct DisconnectWatch {
    socket: TcpStream,
}

impl DisconnectWatch {
    /// A watch on `request`'s connection, if `watch_disconnects` is installed and applies.
    pub(crate) fn new(request: &HttpRequest) -> Option<Self> {
        let connection = request.conn_data::<ConnectionFd>()?;
        // The duplicate shares the socket's non-blocking mode, which tokio requires.
        let socket = std::net::TcpStream::from(connection.0.try_clone().ok()?);
        match TcpStream::from_std(socket) {
            Ok(socket) => Some(DisconnectWatch { socket }),
            Err(error) => {
                tracing::warn!(%error, "cannot register a disconnect watch");
                None
            }
        }
    }

    /// Ready once the client has closed or reset the connection.
    pub(crate) fn poll_gone(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match self.socket.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {}
            }
            // Peeking leaves the bytes for actix-web: 0 means end of stream, an error a reset.
            let mut byte = [0u8; 1];
            match self.socket.poll_peek(cx, &mut ReadBuf::new(&mut byte)) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Ready(Ok(_)) => {
                    // Data without a close, such as a pipelined request: wait for the next change.
                    let _ = self.socket.try_io(Interest::READABLE, || {
                        Err::<(), _>(io::ErrorKind::WouldBlock.into())
                    });
                }
            }
        }
    }
}
