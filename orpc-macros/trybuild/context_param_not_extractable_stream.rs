// The same mistake in a streaming procedure, whose extraction is generated differently.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(String))]
async fn greet(count: u32) {
    yield_!(format!("hello {count}"));
}

fn main() {}
