// `yield_!()` with nothing to send.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(u32))]
async fn ticks() {
    yield_!();
}

fn main() {}
