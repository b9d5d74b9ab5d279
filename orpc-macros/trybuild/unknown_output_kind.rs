// `output = stream(T)`: only `event_iterator(..)` is an output kind.
use orpc_runtime::procedure;

#[procedure(output = stream(u32))]
async fn ticks() {}

fn main() {}
