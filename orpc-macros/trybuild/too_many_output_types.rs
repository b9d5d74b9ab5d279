// `event_iterator(Event, Return, Extra)`: at most an event and a return type.
use orpc_runtime::procedure;

#[procedure(output = event_iterator(u32, String, bool))]
async fn ticks() -> String {
    String::new()
}

fn main() {}
