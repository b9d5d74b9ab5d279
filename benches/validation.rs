//! What validating events costs, per event, against the same stream unvalidated.
//!
//!     cargo bench --bench validation
//!
//! Each variant runs a procedure that yields 1,000 small events through [`Route::encode`], so
//! the figures include everything the transport does per event except the socket: polling the
//! handler, validating, and writing the RPC-envelope SSE frame.

use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Poll, Waker};

use actix_web::test::TestRequest;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::{FutureExt, Stream};
use orpc_runtime::sse::Envelope;
use orpc_runtime::{procedure, yield_, Procedure, RawInput, Route};
use schemars::JsonSchema;
use serde::Serialize;

const N: u64 = 1000;

/// A schema that adds a range to the Rust type: validated as sent.
#[derive(Serialize, JsonSchema)]
struct Bounded {
    #[schemars(range(min = 0, max = 100))]
    value: i64,
}

/// A schema that adds nothing to the Rust type: never validated at run time.
#[derive(Serialize, JsonSchema)]
struct Unbounded {
    value: i64,
}

#[procedure(output = event_iterator(Bounded))]
async fn bounded(input: u64) {
    for i in 0..input {
        yield_!(Bounded {
            value: (i % 100) as i64
        });
    }
}

#[procedure(output = event_iterator(Unbounded))]
async fn unbounded(input: u64) {
    for i in 0..input {
        yield_!(Unbounded {
            value: (i % 100) as i64
        });
    }
}

fn drain(route: &Route) -> usize {
    let request = TestRequest::default().to_http_request();
    let frames = route
        .encode(RawInput::Json(N.into()), &request, Envelope::Rpc)
        .now_or_never()
        .expect("nothing to extract")
        .unwrap();
    let mut frames = pin!(frames);
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut bytes = 0;
    loop {
        match frames.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(frame)) => bytes += black_box(frame).len(),
            Poll::Ready(None) => return bytes,
            Poll::Pending => {}
        }
    }
}

fn validation(c: &mut Criterion) {
    let mut group = c.benchmark_group("validation");
    group.throughput(Throughput::Elements(N));
    let routes = [
        (
            "constrained_unvalidated",
            bounded.into_route().without_event_validation(),
        ),
        ("constrained_validated", bounded.into_route()),
        (
            "unconstrained_unvalidated",
            unbounded.into_route().without_event_validation(),
        ),
        ("unconstrained_validated", unbounded.into_route()),
    ];
    for (name, route) in &routes {
        group.bench_function(BenchmarkId::new(*name, N), |b| b.iter(|| drain(route)));
    }
    group.finish();
}

criterion_group!(benches, validation);
criterion_main!(benches);
