// The fn's error type must convert into `ORPCError`.
use orpc_runtime::procedure;

struct MyError;

#[procedure]
async fn answer() -> Result<u32, MyError> {
    Ok(42)
}

fn main() {}
