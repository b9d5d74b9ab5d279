// `yield_!` inside a nested `async` block in a streaming procedure.
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u32,
}

#[procedure(output = event_iterator(Tick))]
async fn ticks() {
    let task = async {
        yield_!(Tick { i: 0 });
    };
    task.await;
}

fn main() {}
