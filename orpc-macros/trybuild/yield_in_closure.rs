// `yield_!` inside a closure in a streaming procedure.
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u32,
}

#[procedure(output = event_iterator(Tick))]
async fn ticks() {
    (0..3).for_each(|i| {
        yield_!(Tick { i });
    });
}

fn main() {}
