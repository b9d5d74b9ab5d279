//! An event every second: the smallest event iterator.
//!
//!     cargo run --example every_second
//!     curl -N -X POST http://127.0.0.1:8080/rpc/messages     # oRPC's RPC protocol
//!     curl -N http://127.0.0.1:8080/api/messages             # plain JSON, EventSource-friendly

use std::time::Duration;

use orpc_runtime::http::{serve, Router};
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Message {
    message: String,
}

/// Sends "Hello, world!" every second, until the client leaves.
#[procedure(output = event_iterator(Message), method = GET)]
async fn messages() {
    loop {
        yield_!(Message {
            message: "Hello, world!".into()
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    serve(Router::new().procedure(messages), "127.0.0.1:8080").await
}
