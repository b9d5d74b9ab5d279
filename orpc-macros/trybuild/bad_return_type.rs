// The fn returns `u32`, but the attribute declares a `String` return value.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(u32, String))]
async fn ticks() -> u32 {
    yield_!(1u32);
    7
}

fn main() {}
