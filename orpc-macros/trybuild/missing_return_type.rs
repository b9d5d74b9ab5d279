// `event_iterator(Event, Return)` declares a return value, but the fn declares none.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(u32, String))]
async fn ticks() {
    yield_!(1u32);
}

fn main() {}
