// An OpenAPI path must start with `/`.
use orpc_runtime::procedure;

#[procedure(path = "answer")]
async fn answer() -> u32 {
    42
}

fn main() {}
