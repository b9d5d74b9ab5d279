// A `yield_!` in a fn nested in the procedure's body belongs to no stream.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(u32))]
async fn ticks() {
    async fn helper() {
        yield_!(1u32);
    }
    helper().await;
}

fn main() {}
