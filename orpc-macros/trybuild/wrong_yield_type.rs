// Yielding a value that is not the declared event type.
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u32,
}

#[procedure(output = event_iterator(Tick))]
async fn ticks() {
    yield_!("not a tick");
}

fn main() {}
