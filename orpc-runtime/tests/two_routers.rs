//! Two routers in one process, each with its own server: shutting one down ends its streams
//! only, its counters count its streams only, and waiting for its asynchronous cleanups waits
//! for its own only. Nothing process-wide ties them together.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::{finally_async, procedure, yield_};
use orpc_test_support::{client, eventually, Frames, TestServer};

/// What one router's cleanups have done: started, and finished.
#[derive(Default)]
struct Cleanups {
    started: AtomicU64,
    finished: AtomicU64,
}

/// One event, then silence until the stream is ended; its asynchronous cleanup takes 300 ms.
#[procedure(output = event_iterator(u32))]
async fn idle(cleanups: web::Data<Cleanups>) {
    let cleanups = cleanups.into_inner();
    let _release = finally_async(move || async move {
        cleanups.started.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        cleanups.finished.fetch_add(1, Ordering::SeqCst);
    });
    yield_!(1);
    std::future::pending::<()>().await;
}

struct Served {
    router: Router,
    cleanups: Arc<Cleanups>,
    server: TestServer,
}

fn serve() -> Served {
    let router = Router::new().procedure(idle);
    let cleanups = Arc::new(Cleanups::default());
    let (mounted, data) = (router.clone(), web::Data::from(cleanups.clone()));
    let server = TestServer::start(
        move |cfg| {
            cfg.app_data(data.clone())
                .service(web::scope("/rpc").configure(mounted.rpc()));
        },
        false,
    );
    Served {
        router,
        cleanups,
        server,
    }
}

/// Opens `idle` on `served` and reads its first event.
async fn open(served: &Served) -> Frames {
    let response = client()
        .post(format!("http://{}/rpc/idle", served.server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut frames = Frames::new(response);
    loop {
        let frame = frames.next_within(Duration::from_secs(5)).await.unwrap();
        if frame.starts_with("event: message") {
            return frames;
        }
    }
}

#[tokio::test]
async fn two_routers_shut_down_count_and_wait_for_cleanups_apart() {
    let (a, b) = (serve(), serve());
    let mut on_a = vec![open(&a).await, open(&a).await];
    let mut on_b = open(&b).await;
    assert_eq!(
        (a.router.stats().started(), a.router.stats().active()),
        (2, 2)
    );
    assert_eq!(
        (b.router.stats().started(), b.router.stats().active()),
        (1, 1)
    );

    // A's shutdown ends A's streams, without `done`, and none of B's.
    a.router.shutdown();
    for frames in &mut on_a {
        assert_eq!(frames.next_within(Duration::from_secs(2)).await, None);
    }
    assert!(
        eventually(Duration::from_secs(2), async || a.router.stats().finished()
            == 2)
        .await
    );
    assert_eq!(
        a.router.stats().disconnects(),
        0,
        "a shutdown is no disconnect"
    );
    let stats = b.router.stats();
    assert_eq!((stats.finished(), stats.active()), (0, 1), "{stats:?}");

    // A's cleanups are under way; B has none, and waiting for B's does not wait for A's.
    assert!(
        eventually(Duration::from_secs(2), async || a
            .cleanups
            .started
            .load(Ordering::SeqCst)
            == 2)
        .await
    );
    assert!(!a.router.wait_for_cleanups(Duration::ZERO).await);
    assert!(b.router.wait_for_cleanups(Duration::ZERO).await);
    assert!(a.router.wait_for_cleanups(Duration::from_secs(5)).await);
    assert_eq!(a.cleanups.finished.load(Ordering::SeqCst), 2);

    // B still serves, and its stream is still open.
    assert_eq!(b.cleanups.started.load(Ordering::SeqCst), 0);
    let second = open(&b).await;
    assert_eq!(b.router.stats().active(), 2);

    // B's own shutdown, later, ends B's streams and leaves A's counters as they were.
    b.router.shutdown();
    assert_eq!(on_b.next_within(Duration::from_secs(2)).await, None);
    drop(second);
    assert!(b.router.wait_for_cleanups(Duration::from_secs(5)).await);
    assert_eq!(b.cleanups.finished.load(Ordering::SeqCst), 2);
    assert_eq!(b.router.stats().finished(), 2);
    let stats = a.router.stats();
    assert_eq!((stats.started(), stats.finished()), (2, 2), "{stats:?}");
}
