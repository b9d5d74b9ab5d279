//! What a yielded event costs: `#[procedure]` streams against a hand-written `Stream` and the
//! other generator crates, producing the same small events.
//!
//!     cargo bench --bench generator
//!
//! Every variant produces the same items, a `Frame` per event and a final `Done`, and is polled
//! to its end with a no-op waker, so only the generator machinery differs. `genawaiter` runs
//! without its proc-macro feature (which pulls in an unmaintained crate); its `sync` flavour is
//! the one that is `Send`, as ours is.
//!
//! The `generator_served` group puts the hand-written stream and the `#[procedure]` through
//! [`Route::encode`], the way the server runs them: the same events, each written as an
//! RPC-envelope SSE frame, so it shows what the generator's cost is next to the rest of an event's
//! way out.

use std::hint::black_box;
use std::pin::{pin, Pin};
use std::task::{Context as TaskContext, Poll, Waker};

use actix_web::test::TestRequest;
use actix_web::HttpRequest;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use futures_util::{FutureExt, Stream};
use orpc_runtime::sse::Envelope;
use orpc_runtime::{procedure, yield_, Event, Frame, ORPCError, Procedure, RawInput, Route};
use schemars::JsonSchema;
use serde::Serialize;

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u64,
}

#[procedure(output = event_iterator(Tick))]
async fn ticks(input: u64) {
    for i in 0..input {
        yield_!(Tick { i });
    }
}

/// The same events, written by hand.
struct HandWritten {
    i: u64,
    n: u64,
}

impl Stream for HandWritten {
    type Item = Frame<Tick, ()>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.i < self.n {
            let i = self.i;
            self.i += 1;
            Poll::Ready(Some(Frame::Event(Event::new(Tick { i }))))
        } else if self.i == self.n {
            self.i += 1;
            Poll::Ready(Some(Frame::Done(())))
        } else {
            Poll::Ready(None)
        }
    }
}

/// The hand-written stream as a procedure, routed like a `#[procedure]`.
#[derive(Clone, Copy)]
struct HandWrittenProcedure;

impl HandWrittenProcedure {
    fn call(
        &self,
        input: u64,
        _: &HttpRequest,
    ) -> std::future::Ready<Result<HandWritten, ORPCError>> {
        std::future::ready(Ok(HandWritten { i: 0, n: input }))
    }
}

impl Procedure for HandWrittenProcedure {
    const NAME: &'static str = "hand_written";
    type Input = u64;

    fn into_route(self) -> Route {
        // What `#[procedure]` generates calls; hidden plumbing, used here to bypass the macro.
        orpc_runtime::__private::event_iterator_route(self, Self::call)
    }
}

/// Polls a stream of byte chunks to its end, gathering them.
fn gather<S: Stream<Item = bytes::Bytes>>(stream: S) -> Vec<u8> {
    let mut stream = pin!(stream);
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut all = Vec::new();
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(chunk)) => all.extend_from_slice(&chunk),
            Poll::Ready(None) => return all,
            Poll::Pending => {}
        }
    }
}

/// Polls a stream to its end, counting its items.
fn drain<S: Stream>(stream: S) -> u64 {
    let mut stream = pin!(stream);
    let mut cx = TaskContext::from_waker(Waker::noop());
    let mut items = 0;
    loop {
        match stream.as_mut().poll_next(&mut cx) {
            Poll::Ready(Some(item)) => {
                black_box(item);
                items += 1;
            }
            Poll::Ready(None) => return items,
            Poll::Pending => {}
        }
    }
}

fn generators(c: &mut Criterion) {
    const N: u64 = 1000;
    let mut group = c.benchmark_group("generator");
    group.throughput(Throughput::Elements(N));
    group.bench_function(BenchmarkId::new("hand_written", N), |b| {
        b.iter(|| {
            drain(HandWritten {
                i: 0,
                n: black_box(N),
            })
        })
    });
    group.bench_function(BenchmarkId::new("procedure", N), |b| {
        let request = TestRequest::default().to_http_request();
        b.iter(|| drain(started(ticks.call(black_box(N), &request))))
    });
    group.bench_function(BenchmarkId::new("async_stream", N), |b| {
        b.iter(|| {
            let n = black_box(N);
            drain(async_stream::stream! {
                for i in 0..n {
                    yield Frame::<Tick, ()>::Event(Event::new(Tick { i }));
                }
                yield Frame::Done(());
            })
        })
    });
    group.bench_function(BenchmarkId::new("genawaiter_sync", N), |b| {
        b.iter(|| {
            let n = black_box(N);
            drain(genawaiter::sync::Gen::new(|co| async move {
                for i in 0..n {
                    co.yield_(Frame::<Tick, ()>::Event(Event::new(Tick { i })))
                        .await;
                }
                co.yield_(Frame::Done(())).await;
            }))
        })
    });
    group.finish();
}

/// The stream a call starts, which needs no waiting when it extracts nothing.
fn started<S, E: std::fmt::Debug>(starting: impl std::future::Future<Output = Result<S, E>>) -> S {
    starting
        .now_or_never()
        .expect("nothing to extract")
        .unwrap()
}

fn served(c: &mut Criterion) {
    const N: u64 = 1000;
    let mut group = c.benchmark_group("generator_served");
    group.throughput(Throughput::Elements(N));
    let routes = [
        ("hand_written", HandWrittenProcedure.into_route()),
        ("procedure", ticks.into_route()),
    ];
    for (name, route) in &routes {
        let request = TestRequest::default().to_http_request();
        let encode = || started(route.encode(RawInput::Json(N.into()), &request, Envelope::Rpc));
        // Once, outside the measurement: every event is there. (Items are chunks: each holds
        // the frames that were ready at once.)
        let bytes = gather(encode());
        let events = bytes
            .windows(15)
            .filter(|w| w == b"event: message\n")
            .count();
        assert_eq!(events as u64, N, "{name}");
        group.bench_function(BenchmarkId::new(*name, N), |b| b.iter(|| drain(encode())));
    }
    group.finish();
}

criterion_group!(benches, generators, served);
criterion_main!(benches);
