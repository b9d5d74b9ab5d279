// `yield_!` in a request/response procedure, which has no stream to send to.
use orpc_runtime::{procedure, yield_};

#[procedure]
async fn answer() -> u32 {
    yield_!(1u32);
    42
}

fn main() {}
