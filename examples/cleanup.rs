//! Cleanup in `finally`: code that runs exactly once however the stream ends, including when
//! the client goes away or the server shuts down.
//!
//!     cargo run --example cleanup
//!     curl -N http://127.0.0.1:8084/api/watch     # then press Ctrl-C in curl: the server logs
//!                                                 # both cleanups within a second
//!
//! `finally` runs a closure when its guard is dropped. `finally_async` runs a future to
//! completion after the stream has ended, for cleanup that must await (releasing a lock held
//! elsewhere, telling another service).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use orpc_runtime::http::{serve, Router};
use orpc_runtime::{finally, finally_async, procedure, yield_};
use schemars::JsonSchema;
use serde::Serialize;

static WATCHERS: AtomicUsize = AtomicUsize::new(0);

#[derive(Serialize, JsonSchema)]
struct Watchers {
    watching: usize,
}

#[procedure(output = event_iterator(Watchers), method = GET)]
async fn watch() {
    WATCHERS.fetch_add(1, Ordering::SeqCst);
    let _count = finally(|| {
        let left = WATCHERS.fetch_sub(1, Ordering::SeqCst) - 1;
        println!("cleanup: a watcher left, {left} remain");
    });
    let _farewell = finally_async(|| async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        println!("async cleanup: finished after the stream ended");
    });
    loop {
        yield_!(Watchers {
            watching: WATCHERS.load(Ordering::SeqCst)
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    serve(Router::new().procedure(watch), "127.0.0.1:8084").await
}
