// The same mistake in a streaming procedure, whose context is extracted differently.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(String))]
async fn greet(name: String) {
    yield_!(format!("hello {name}"));
}

fn main() {}
