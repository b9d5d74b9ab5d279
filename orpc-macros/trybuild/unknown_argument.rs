// A misspelled attribute argument.
use orpc_runtime::procedure;

#[procedure(outptu = "x")]
async fn answer() -> u32 {
    42
}

fn main() {}
