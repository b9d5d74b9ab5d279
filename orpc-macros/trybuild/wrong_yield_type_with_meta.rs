// Yielding a value that is not the declared event type, with event fields.
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u32,
}

#[procedure(output = event_iterator(Tick))]
async fn ticks() {
    yield_!(7u32, id = 1);
}

fn main() {}
