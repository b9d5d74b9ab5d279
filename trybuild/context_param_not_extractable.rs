// `name: String` is not named `input`, so it is taken from the request context, which it can't be.
use orpc_runtime::procedure;

#[procedure]
async fn greet(name: String) -> String {
    format!("hello {name}")
}

fn main() {}
