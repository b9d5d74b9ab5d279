//! What refusing integers beyond 2^53 − 1 costs an event whose type can hold one: the same
//! event encoded with the check off (as every type without 64-bit integers is) and on, once
//! with small ids and once with an id of 16 digits, which takes the scan's slower path.
//!
//!     cargo bench -p orpc-protocol --bench safe_integers

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use orpc_protocol::sse::Encoder;
use orpc_protocol::{Envelope, EventMeta};
use serde::Serialize;

#[derive(Serialize)]
struct Trade {
    id: u64,
    account: i64,
    symbol: &'static str,
    price: f64,
    sizes: [u64; 4],
}

fn encode(c: &mut Criterion) {
    let small = Trade {
        id: 1_234_567,
        account: -123_456_789,
        symbol: "ACME",
        price: 101.25,
        sizes: [100, 200, 300, 400],
    };
    let near_limit = Trade {
        id: 9_007_199_254_740_000,
        ..small
    };
    let meta = EventMeta::new().id(7u32);
    let mut group = c.benchmark_group("encode_u64_event");
    for (ids, trade) in [("small_ids", &small), ("16_digit_id", &near_limit)] {
        for (check, on) in [("unchecked", false), ("checked", true)] {
            group.bench_function(format!("{ids}/{check}"), |b| {
                let mut encoder = Encoder::new(Envelope::Rpc);
                encoder.set_safe_integers(on);
                b.iter(|| {
                    encoder.message(&meta, black_box(trade)).unwrap();
                    black_box(encoder.take())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, encode);
criterion_main!(benches);
