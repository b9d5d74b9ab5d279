//! Reading the RPC envelope `{"json":..,"meta":[..]}`: what bigint and Date support costs the
//! payloads that have neither.
//!
//!     cargo bench -p orpc-protocol --bench envelope
//!
//! The file uses only what every version since `orpc-protocol` began has (`Envelope::read`), so
//! that it can be copied into an older checkout and run there for a before/after pair
//! (BENCHMARKS.md has the commands).
//!
//! - `typed`: an event read as its Rust type, as the Rust client reads events;
//! - `value`: the same body read as a `serde_json::Value`, as the server reads inputs;
//! - `value_with_meta`: a body whose `meta` lists a bigint and a date, read as a `Value`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use orpc_protocol::Envelope;
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct Quote {
    i: u64,
    symbol: String,
    price: f64,
    venues: Vec<String>,
    halted: bool,
}

const PLAIN: &[u8] = br#"{"json":{"i":42,"symbol":"ACME","price":101.25,"venues":["XNYS","XNAS","BATS"],"halted":false}}"#;
const WITH_META: &[u8] = br#"{"json":{"i":"42","symbol":"ACME","price":101.25,"venues":["XNYS","XNAS","BATS"],"at":"2024-05-01T12:00:00.000Z"},"meta":[[0,"i"],[1,"at"]]}"#;

fn read(c: &mut Criterion) {
    let mut group = c.benchmark_group("read");
    group.bench_function("typed", |b| {
        b.iter(|| Envelope::Rpc.read::<Quote>(black_box(PLAIN)).unwrap())
    });
    group.bench_function("value", |b| {
        b.iter(|| {
            Envelope::Rpc
                .read::<serde_json::Value>(black_box(PLAIN))
                .unwrap()
        })
    });
    group.bench_function("value_with_meta", |b| {
        b.iter(|| {
            Envelope::Rpc
                .read::<serde_json::Value>(black_box(WITH_META))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
