//! Stopping with `return`: the stream ends with a `done` event carrying the return value, and
//! clients don't reconnect after it.
//!
//!     cargo run --example stop_early
//!     curl -N -X POST http://127.0.0.1:8083/rpc/search -H 'content-type: application/json' \
//!          -d '{"json": {"words": ["apple", "banana", "cherry"], "find": "banana"}}'

use orpc_runtime::http::{serve, Router};
use orpc_runtime::{procedure, yield_, ORPCError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct SearchInput {
    words: Vec<String>,
    find: String,
}

#[derive(Serialize, JsonSchema)]
struct Checked {
    word: String,
}

#[derive(Serialize, JsonSchema)]
enum Outcome {
    Found { position: usize },
    NotFound,
}

/// Streams each word it checks, and stops as soon as it finds the one it looks for.
#[procedure(output = event_iterator(Checked, Outcome))]
async fn search(input: SearchInput) -> Result<Outcome, ORPCError> {
    if input.find.is_empty() {
        // An error ends the stream with an `error` event (or, before any event, a 400 answer).
        return Err(ORPCError::bad_request("nothing to find"));
    }
    for (position, word) in input.words.into_iter().enumerate() {
        let found = word == input.find;
        yield_!(Checked { word });
        if found {
            return Ok(Outcome::Found { position });
        }
    }
    Ok(Outcome::NotFound)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    serve(Router::new().procedure(search), "127.0.0.1:8083").await
}
