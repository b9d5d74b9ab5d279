//! Anchor, the ceiling: actix-web streaming the conformance server's `count` as pre-formatted
//! SSE bytes, byte for byte what ours sends (`event: message`, `retry: 1000`, `id: i`,
//! `data: {"i":i}`, then `event: done` with `data: "done!"`), many events per body chunk. No
//! handler, no serialization, no per-event chunk: what is left is actix-web and the socket.
//!
//!     raw_bytes --addr 127.0.0.1:8787   # GET /api/count?n=N[&delay_ms=D], GET /api/forever?interval_ms=T
//!
//! With `RAW_ON_CONNECT=1` in its environment, each connection also gets one 8-byte value
//! through `HttpServer::on_connect`, as any per-connection watch handed to requests must: what
//! actix-web alone charges for that (BENCHMARKS.md, "Memory per idle stream"). `bench/run` does
//! not set it.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::http::header::{CacheControl, CacheDirective, ContentType};
use actix_web::{get, web, App, HttpResponse, HttpServer};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream, StreamExt as _};
use orpc_bench_anchors::{addr_from_args, CountQuery, ForeverQuery, DONE};

/// Bytes gathered into one body chunk before it is handed to actix-web.
const BATCH: usize = 32 * 1024;

fn write_event(out: &mut BytesMut, i: u32) {
    let mut id = itoa::Buffer::new();
    let id = id.format(i).as_bytes();
    out.extend_from_slice(b"event: message\nretry: 1000\nid: ");
    out.extend_from_slice(id);
    out.extend_from_slice(b"\ndata: {\"i\":");
    out.extend_from_slice(id);
    out.extend_from_slice(b"}\n\n");
}

/// `count` with no delay: the initial comment, then up to `BATCH` bytes of events per chunk.
struct Batches {
    next: u32,
    n: u32,
    started: bool,
    finished: bool,
}

impl Stream for Batches {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let mut out = BytesMut::with_capacity(BATCH + 64);
        if !self.started {
            self.started = true;
            out.extend_from_slice(b": \n\n");
        }
        while out.len() < BATCH && self.next < self.n {
            write_event(&mut out, self.next);
            self.next += 1;
        }
        if self.next == self.n && out.len() < BATCH {
            out.extend_from_slice(DONE);
            self.finished = true;
        }
        Poll::Ready(Some(Ok(out.freeze())))
    }
}

fn sse(body: impl Stream<Item = Result<Bytes, Infallible>> + 'static) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(ContentType(
            "text/event-stream".parse().expect("a valid media type"),
        ))
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .streaming(body)
}

#[get("/api/count")]
async fn count(query: web::Query<CountQuery>) -> HttpResponse {
    let n = query.n;
    let delay = Duration::from_millis(query.delay_ms.unwrap_or(0));
    if delay.is_zero() {
        return sse(Batches {
            next: 0,
            n,
            started: false,
            finished: false,
        });
    }
    // With a delay every event is its own chunk, sent before the pause that follows it.
    let events = stream::iter(0..n)
        .then(move |i| async move {
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            let mut out = BytesMut::with_capacity(64);
            write_event(&mut out, i);
            Ok(out.freeze())
        })
        .chain(stream::once(async move {
            if n > 0 {
                tokio::time::sleep(delay).await;
            }
            Ok(Bytes::from_static(DONE))
        }));
    sse(stream::once(async { Ok(Bytes::from_static(b": \n\n")) }).chain(events))
}

#[get("/api/forever")]
async fn forever(query: web::Query<ForeverQuery>) -> HttpResponse {
    let ticks = tokio::time::interval(Duration::from_millis(query.interval_ms.max(1)));
    let events = stream::unfold((ticks, 0u64), |(mut ticks, tick)| async move {
        ticks.tick().await;
        let mut out = BytesMut::with_capacity(48);
        out.extend_from_slice(b"event: message\ndata: {\"tick\":");
        out.extend_from_slice(itoa::Buffer::new().format(tick).as_bytes());
        out.extend_from_slice(b"}\n\n");
        Some((Ok(out.freeze()), (ticks, tick + 1)))
    });
    sse(stream::once(async { Ok(Bytes::from_static(b": \n\n")) }).chain(events))
}

/// What `RAW_ON_CONNECT` hands each connection's requests.
#[allow(dead_code)]
struct ConnectionMark(u64);

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = addr_from_args("raw_bytes");
    let server = HttpServer::new(|| App::new().service(count).service(forever)).shutdown_timeout(1);
    let server = if std::env::var_os("RAW_ON_CONNECT").is_some() {
        server.on_connect(|_, data| {
            data.insert(ConnectionMark(0));
        })
    } else {
        server
    };
    let server = server.bind(&addr)?;
    for bound in server.addrs() {
        println!("listening on http://{bound}");
    }
    server.run().await
}
