// A procedure must be an `async fn`.
use orpc_runtime::procedure;

#[procedure]
fn answer() -> u32 {
    42
}

fn main() {}
