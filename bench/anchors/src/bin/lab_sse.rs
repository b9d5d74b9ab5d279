//! Anchor: `actix-web-lab`'s `Sse` fed by a plain `futures` stream of the same events as the
//! conformance server's `count`: `{"i":i}` with id `i` and event name `message`, then `done`
//! with data `"done!"`. This is what a careful hand-written actix-web SSE endpoint costs.
//!
//! actix-web-lab's `Data` has no per-event `retry` field, so `retry: 1000` is sent once, first
//! (`with_retry_duration`), instead of on every event: 12 bytes fewer per event than ours.
//!
//!     lab_sse --addr 127.0.0.1:8787     # GET /api/count?n=N[&delay_ms=D], GET /api/forever?interval_ms=T

use std::convert::Infallible;
use std::time::Duration;

use actix_web::{get, web, App, HttpServer, Responder};
use actix_web_lab::sse::{self, Sse};
use futures_util::stream::{self, StreamExt as _};
use orpc_bench_anchors::{addr_from_args, CountQuery, ForeverQuery};
use serde::Serialize;

#[derive(Serialize)]
struct Tick {
    i: u32,
}

#[derive(Serialize)]
struct TickK {
    tick: u64,
}

fn message(i: u32) -> Result<sse::Event, Infallible> {
    let data = sse::Data::new_json(Tick { i }).expect("a Tick always serializes");
    Ok(data.id(i.to_string()).event("message").into())
}

fn done() -> Result<sse::Event, Infallible> {
    Ok(sse::Data::new("\"done!\"").event("done").into())
}

#[get("/api/count")]
async fn count(query: web::Query<CountQuery>) -> impl Responder {
    let n = query.n;
    let delay = Duration::from_millis(query.delay_ms.unwrap_or(0));
    let events = if delay.is_zero() {
        stream::iter(0..n)
            .map(message)
            .chain(stream::once(async { done() }))
            .left_stream()
    } else {
        // As the conformance server: a pause after each event, then `done`.
        stream::iter(0..n)
            .then(move |i| async move {
                if i > 0 {
                    tokio::time::sleep(delay).await;
                }
                message(i)
            })
            .chain(stream::once(async move {
                if n > 0 {
                    tokio::time::sleep(delay).await;
                }
                done()
            }))
            .right_stream()
    };
    Sse::from_stream(events)
        .with_retry_duration(Duration::from_millis(1000))
        .with_keep_alive(Duration::from_secs(5))
}

#[get("/api/forever")]
async fn forever(query: web::Query<ForeverQuery>) -> impl Responder {
    let ticks = tokio::time::interval(Duration::from_millis(query.interval_ms.max(1)));
    let events = stream::unfold((ticks, 0u64), |(mut ticks, tick)| async move {
        ticks.tick().await;
        let data = sse::Data::new_json(TickK { tick }).expect("a TickK always serializes");
        let event: Result<sse::Event, Infallible> = Ok(data.event("message").into());
        Some((event, (ticks, tick + 1)))
    });
    Sse::from_stream(events).with_keep_alive(Duration::from_secs(5))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = addr_from_args("lab_sse");
    let server = HttpServer::new(|| App::new().service(count).service(forever))
        .shutdown_timeout(1)
        .bind(&addr)?;
    for bound in server.addrs() {
        println!("listening on http://{bound}");
    }
    server.run().await
}
