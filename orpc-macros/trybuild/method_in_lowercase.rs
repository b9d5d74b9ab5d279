// An HTTP method written in lowercase: the router's methods are in capitals.
use orpc_runtime::procedure;

#[procedure(method = get)]
async fn answer() -> u32 {
    42
}

fn main() {}
