// `yield_!` in an ordinary `async fn`, with no `#[procedure]` to rewrite it.
use orpc_runtime::yield_;

async fn not_a_procedure() {
    yield_!(1u32);
}

fn main() {}
