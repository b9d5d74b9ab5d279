// An HTTP method given as a string that the router doesn't serve.
use orpc_runtime::procedure;

#[procedure(method = "FETCH", path = "/answer")]
async fn answer() -> u32 {
    42
}

fn main() {}
