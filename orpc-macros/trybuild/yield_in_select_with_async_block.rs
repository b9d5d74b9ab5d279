// `yield_!` inside a macro call that also contains an `async` block.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(u32))]
async fn ticks() {
    tokio::select! {
        _ = async {} => yield_!(1u32),
    }
}

fn main() {}
