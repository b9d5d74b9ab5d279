// `name: String` is an actix-web extractor, of the request body; but the body is the input.
use orpc_runtime::procedure;

#[procedure]
async fn greet(name: String) -> String {
    format!("hello {name}")
}

fn main() {}
