//! Test support shared by every crate of the workspace. Not published.
//!
//! - [`server`]: an actix-web server in the test's own process ([`server::TestServer`]), an HTTP
//!   client, a reader of SSE frames, and [`server::eventually`].
//! - [`conformance`]: the conformance server as a library, which `examples/conformance.rs` runs
//!   and tests serve in-process.
//! - [`firehose`]: a procedure that yields as fast as it is polled, for tests of backpressure.
//! - [`process`]: the conformance example as a process of its own, for memory and descriptor
//!   counts.
//! - [`node`]: the npm workspace installed once, Node suites with a timeout, Node servers.
//! - [`logs`]: what the process logs, captured for assertions.
//! - [`tls`]: self-signed certificates made per run, and an HTTP/2 client that accepts them.
//! - [`tools`]: one policy for the external tools some test groups need (Node.js, Chromium,
//!   Redis).
//! - [`websocket`]: a WebSocket client that can send anything, for the WebSocket transport.

pub mod conformance;
pub mod firehose;
pub mod logs;
pub mod node;
pub mod process;
pub mod redis_cluster;
pub mod server;
pub mod tls;
pub mod tools;
pub mod websocket;

pub use server::{client, eventually, Frames, Options, TestServer};
