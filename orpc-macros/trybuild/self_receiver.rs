// A procedure is a free fn, not a method.
use orpc_runtime::procedure;

struct Service;

impl Service {
    #[procedure]
    async fn answer(&self) -> u32 {
        42
    }
}

fn main() {}
