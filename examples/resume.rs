//! Event metadata and resuming: ids, `retry` and comments, and a handler that picks up after
//! the `Last-Event-ID` a reconnecting client sends.
//!
//!     cargo run --example resume
//!     curl -N http://127.0.0.1:8082/api/feed
//!     curl -N -H 'Last-Event-ID: 41' http://127.0.0.1:8082/api/feed    # continues at 42
//!
//! Browsers' `EventSource` and oRPC's `ClientRetryPlugin` send `Last-Event-ID` by themselves
//! when a connection drops, after waiting the `retry` the server asked for.

use std::time::Duration;

use orpc_runtime::http::{serve, Router};
use orpc_runtime::{procedure, yield_, LastEventId};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Item {
    seq: u64,
    text: String,
}

#[procedure(output = event_iterator(Item), method = GET)]
async fn feed(last_event_id: Option<LastEventId>) {
    // Ids are sequence numbers, so resuming is "start after the last one seen".
    let start = match last_event_id.and_then(|id| id.parse::<u64>()) {
        Some(last) => last + 1,
        None => {
            yield_!(
                Item {
                    seq: 0,
                    text: "first connection".into()
                },
                id = 0u64,
                comment = "welcome"
            );
            1
        }
    };
    for seq in start.. {
        let text = format!("item {seq}");
        // Ask clients to wait 2 s before reconnecting.
        yield_!(Item { seq, text }, id = seq, retry = Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    serve(Router::new().procedure(feed), "127.0.0.1:8082").await
}
