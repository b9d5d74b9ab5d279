// A procedure name is `/`-separated segments of letters, digits, `_` or `-`.
use orpc_runtime::procedure;

#[procedure(name = "a//b c")]
async fn answer() -> u32 {
    42
}

fn main() {}
