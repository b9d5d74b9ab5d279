//! A procedure that yields as fast as it is polled, counting what it produced, for tests of a
//! client that reads nothing: the handler must pause once the buffers between it and the client
//! are full.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::server::eventually;

/// Events `firehose` has produced in this process.
pub static PRODUCED: AtomicU64 = AtomicU64::new(0);

#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct Padding {
    i: u64,
    text: &'static str,
}

/// Yields ~100-byte events for ever, as fast as it is polled.
#[orpc_runtime::procedure(output = event_iterator(Padding))]
pub async fn firehose() {
    for i in 0.. {
        PRODUCED.fetch_add(1, Ordering::SeqCst);
        orpc_runtime::yield_!(Padding {
            i,
            text: "a hundred bytes of padding, to fill buffers sooner than tiny events would, ok"
        });
    }
}

/// Waits up to `within` for `firehose` to stop producing (no new event for 300 ms); whether it
/// did, and how many events it had produced. A paused handler produces at most what fills the
/// buffers; each event is ~150 bytes on the wire.
pub async fn paused_within(within: Duration) -> (bool, u64) {
    let mut previous = u64::MAX;
    let settled = eventually(within, async || {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = PRODUCED.load(Ordering::SeqCst);
        std::mem::replace(&mut previous, now) == now
    })
    .await;
    (settled, PRODUCED.load(Ordering::SeqCst))
}
