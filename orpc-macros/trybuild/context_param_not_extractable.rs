// `count: u32` is not named `input`, so it is taken from the request as an extractor, which it
// can't be.
use orpc_runtime::procedure;

#[procedure]
async fn greet(count: u32) -> String {
    format!("hello {count}")
}

fn main() {}
