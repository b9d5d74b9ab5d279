// `{room}` in the path fills the input's field `room`, which `TicksInput` does not have.
use orpc_runtime::procedure;
use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
struct TicksInput {
    n: u32,
}

#[procedure(method = GET, path = "/rooms/{room}/ticks")]
async fn ticks(input: TicksInput) -> u32 {
    input.n
}

fn main() {}
