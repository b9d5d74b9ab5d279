// `yield_!` takes `id`, `retry`, `comment` and `comments`; `foo` is none of them.
use orpc_runtime::{procedure, yield_};

#[procedure(output = event_iterator(u32))]
async fn ticks() {
    yield_!(1u32, foo = 1);
}

fn main() {}
