// The fn returns a value, but `event_iterator(Event)` declares no return type.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(u32))]
async fn ticks() -> String {
    yield_!(1u32);
    String::from("done")
}

fn main() {}
