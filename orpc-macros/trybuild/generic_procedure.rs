// A procedure is served with one concrete type, so it can't be generic.
use orpc_runtime::procedure;

#[procedure]
async fn echo<T: serde::Serialize>(input: T) -> T {
    input
}

fn main() {}
