//! oRPC 1.x's peer protocol, which `RPCLink` from `@orpc/client/websocket` speaks over a
//! WebSocket: many calls on one socket, each message one JSON object in one text frame.
//!
//! ```text
//! client → server   {"i":"1","p":{"u":"/count","b":{"json":{"n":2}},"h":{"last-event-id":"4"}}}
//! server → client   {"i":"1","p":{"h":{"content-type":"text/event-stream"}}}
//! server → client   {"i":"1","t":3,"p":{"e":"message","d":{"json":{"i":5}},"m":{"id":"5"}}}
//! server → client   {"i":"1","t":3,"p":{"e":"done","d":{"json":"done!"}}}
//! client → server   {"i":"2","t":4}                      (abort call "2")
//! ```
//!
//! `i` is the call's id, chosen by the client and echoed back as it came ([`CallId`]). `t` is the
//! message type: absent (or `1`) for a request, absent for a response, `3` for an event of an
//! event iterator, `4` to abort a call. `p` is the payload: a request's path `u`, body `b` (oRPC's
//! RPC envelope, `{"json": .., "meta": [..]}`), headers `h` and method `m`; a response's status
//! `s` (absent for 200), headers `h` and body `b`; an event's kind `e`, data `d` and metadata `m`
//! (`id`, `retry`, `comments`). Keys that would be `undefined` in JavaScript are left out.
//!
//! [`Encoder`] writes the server's messages in the key order oRPC's own server writes them,
//! byte for byte, beside [`decode_client`], which reads the client's. A binary frame carries a
//! File or Blob body after the JSON and one `0xFF` byte; a binary frame without that byte is
//! JSON too.

mod decoder;
mod encoder;

pub use decoder::{decode_client, CallId, ClientMessage, DecodeError, Headers, Request};
pub use encoder::Encoder;
