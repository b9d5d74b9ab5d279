//! The SSE decoder on oRPC's slow case: 6 MB of events relayed in 64-byte chunks.
//!
//!     cargo bench -p orpc-protocol --bench decoder
//!
//! oRPC's decoder once re-scanned everything it held for every chunk, so this input took minutes.
//! A linear decoder takes milliseconds. Two shapes of the same 6 MB:
//! - `small_events`: oRPC RPC events of about 1 KB each (`event`, `id`, `retry`, one `data` line);
//! - `one_event`: a single event whose one `data` line is 6 MB, so that every chunk lands inside
//!   the same line, the worst case for a decoder that re-scans its buffer.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use orpc_protocol::sse::Decoder;

const TOTAL: usize = 6_000_000;
const CHUNK: usize = 64;

/// oRPC RPC events of about 1 KB each, up to `TOTAL` bytes.
fn small_events() -> Vec<u8> {
    let mut stream = Vec::with_capacity(TOTAL + 2048);
    let text = "x".repeat(960);
    let mut i = 0u64;
    while stream.len() < TOTAL {
        stream.extend_from_slice(
            format!(
                "event: message\nretry: 1000\nid: {i}\ndata: {{\"json\":{{\"i\":{i},\"text\":\"{text}\"}}}}\n\n"
            )
            .as_bytes(),
        );
        i += 1;
    }
    stream
}

/// One event whose data line holds `TOTAL` bytes.
fn one_event() -> Vec<u8> {
    let mut stream = b"event: message\ndata: ".to_vec();
    stream.resize(stream.len() + TOTAL, b'x');
    stream.extend_from_slice(b"\n\n");
    stream
}

/// Feeds `stream` in `CHUNK`-byte chunks; returns how many events and data bytes came out.
fn decode_in_chunks(stream: &[u8]) -> (usize, usize) {
    let mut decoder = Decoder::new();
    let (mut events, mut bytes) = (0, 0);
    for mut chunk in stream.chunks(CHUNK) {
        while let Some(event) = decoder.decode(&mut chunk) {
            events += 1;
            bytes += event.data.len();
        }
    }
    decoder
        .finish()
        .expect("the stream ends after a whole event");
    (events, bytes)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_6MB_in_64B_chunks");
    group.sample_size(20);
    for (name, stream) in [("small_events", small_events()), ("one_event", one_event())] {
        group.throughput(Throughput::Bytes(stream.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), &stream, |b, stream| {
            b.iter(|| black_box(decode_in_chunks(black_box(stream))))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
