// The event type must be serializable.
use orpc_runtime::{procedure, yield_};

struct Tick;

#[procedure(output = event_iterator(Tick))]
async fn ticks() {
    yield_!(Tick);
}

fn main() {}
