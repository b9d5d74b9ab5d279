// Only one parameter can be the input.
use orpc_runtime::procedure;

#[procedure]
async fn add(input: u32, _input: u32) -> u32 {
    input
}

fn main() {}
