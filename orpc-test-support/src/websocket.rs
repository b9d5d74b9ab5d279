//! A WebSocket client for tests and benches: the upgrade written by hand over a `TcpStream`,
//! then actix-http's own frame codec in client mode. It needs no crate beyond what the server
//! already uses, and can send what a browser would not: any `Origin`, binary frames, frames
//! over the size limit, text frames that are not UTF-8.

use std::net::SocketAddr;

use actix_codec::Framed;
use actix_http::ws::Codec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub use actix_http::ws::{CloseCode, CloseReason, Frame, Item, Message};

/// An open socket: a `Stream` of frames and a `Sink` of messages.
pub type Socket = Framed<TcpStream, Codec>;

/// The largest frame the client reads.
const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Opens a socket to `path` on `addr`, with `headers` on the upgrade request; the response's
/// status when it is not 101.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Socket, u16> {
    let mut stream = TcpStream::connect(addr)
        .await
        .expect("the server accepts connections");
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head += "\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    // Byte by byte up to the blank line, so that no frame after the head is read here.
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let byte = stream.read_u8().await.expect("an answer to the upgrade");
        response.push(byte);
    }
    let response = String::from_utf8_lossy(&response);
    let status: u16 = response
        .split(' ')
        .nth(1)
        .and_then(|status| status.parse().ok())
        .expect("a status line");
    if status != 101 {
        return Err(status);
    }
    Ok(Framed::new(
        stream,
        Codec::new().client_mode().max_size(MAX_FRAME),
    ))
}
