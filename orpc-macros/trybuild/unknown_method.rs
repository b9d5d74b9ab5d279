// An HTTP method the router doesn't serve.
use orpc_runtime::procedure;

#[procedure(method = FETCH)]
async fn answer() -> u32 {
    42
}

fn main() {}
