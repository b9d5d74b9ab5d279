//! A subscriber that never reads does not grow memory: heap in use is counted by a global
//! allocator, so this file holds a single test (others would allocate concurrently).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use futures_util::StreamExt;
use orpc_pubsub::{Error, PubSub, Retention, Settings};

struct Counting;

static IN_USE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[tokio::test(flavor = "current_thread")]
async fn a_subscriber_that_never_reads_does_not_grow_memory() {
    const PAYLOAD: usize = 1024;
    let settings = Settings::default()
        .retention(Retention::new(100))
        .buffer(64);
    let pubsub = PubSub::in_memory(settings);
    let mut stuck = pubsub.subscribe("stuck", None).await.unwrap();
    let mut readers = Vec::new();
    for _ in 0..10 {
        readers.push(pubsub.subscribe("stuck", None).await.unwrap());
    }
    drop(readers);

    let publish = |n: usize| {
        let pubsub = pubsub.clone();
        async move {
            for _ in 0..n {
                pubsub.publish("stuck", vec![7u8; PAYLOAD]).await.unwrap();
            }
        }
    };
    // Fill retention (100 KB) and the live ring (64 KB): the steady state.
    publish(1_000).await;
    let steady = IN_USE.load(Ordering::Relaxed);
    // Twenty times as many messages, all behind the subscriber that never reads.
    publish(20_000).await;
    let after = IN_USE.load(Ordering::Relaxed);
    let grown = after - steady;
    assert!(
        grown < 64 * 1024,
        "heap grew by {grown} bytes over 20,000 messages of {PAYLOAD} bytes"
    );

    let item = stuck.next().await;
    assert!(
        matches!(item, Some(Err(Error::Lagged { skipped })) if skipped > 20_000),
        "{item:?}"
    );
}
