// The same argument given twice.
use orpc_runtime::procedure;

#[procedure(name = "a", name = "b")]
async fn answer() -> u32 {
    42
}

fn main() {}
