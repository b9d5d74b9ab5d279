//! Yielding an event allocates nothing: counted with a global allocator that counts the calls
//! made on the test's own thread (the test harness allocates on its own threads meanwhile).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use futures_util::FutureExt;
use futures_util::Stream;
use orpc_runtime::{finally, procedure, yield_, Frame};
use schemars::JsonSchema;
use serde::Serialize;

struct Counting;

thread_local! {
    // `const` and without `Drop`, so reaching it allocates nothing itself.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting has no effect on it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: the caller upholds `alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for `dealloc`, and `new_size` comes from the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u64,
}

#[procedure(output = event_iterator(Tick, u64))]
async fn ticks(input: u64) -> u64 {
    let _cleanup = finally(|| ());
    for i in 0..input {
        yield_!(Tick { i }, id = i);
        if i % 7 == 0 {
            // A real await in between, as handlers have.
            tokio::task::yield_now().await;
        }
    }
    input
}

#[test]
fn yielding_an_event_does_not_allocate() {
    const WARM_UP: u64 = 10;
    const MEASURED: u64 = 10_000;
    let request = actix_web::test::TestRequest::default().to_http_request();
    // With no parameter to extract, the stream starts at the first poll.
    let starting = ticks.call(WARM_UP + MEASURED, &request).now_or_never();
    let mut stream = pin!(starting.expect("nothing to wait for").unwrap());
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut next = || loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(frame) => return frame,
            Poll::Pending => continue,
        }
    };
    for _ in 0..WARM_UP {
        assert!(matches!(next(), Some(Frame::Event(_))));
    }
    let before = allocations();
    for i in WARM_UP..WARM_UP + MEASURED {
        match next() {
            Some(Frame::Event(event)) => assert_eq!(event.data.i, i),
            other => panic!("expected event {i}, got {:?}", other.map(|_| ())),
        }
    }
    let allocations = allocations() - before;
    assert_eq!(
        allocations, 0,
        "{allocations} allocations for {MEASURED} events"
    );
    assert!(matches!(next(), Some(Frame::Done(n)) if n == WARM_UP + MEASURED));
}
