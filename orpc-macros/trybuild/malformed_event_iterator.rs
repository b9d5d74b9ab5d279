// `event_iterator()` without its event type.
use orpc_runtime::procedure;

#[procedure(output = event_iterator())]
async fn ticks() {}

fn main() {}
