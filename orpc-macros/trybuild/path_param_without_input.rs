// A path parameter needs an input to fill.
use orpc_runtime::procedure;

#[procedure(method = GET, path = "/rooms/{room}")]
async fn room() -> u32 {
    1
}

fn main() {}
