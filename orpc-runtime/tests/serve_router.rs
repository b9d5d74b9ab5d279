//! `ServeRouter::serve_router` and the trap it reports: a router built inside
//! `HttpServer::new` is another router in each worker, beyond the reach of the one given to
//! `serve_router`. In a binary of its own, since it reads the process's log.

use actix_web::{web, App, HttpServer};
use orpc_runtime::http::{Router, ServeRouter};
use orpc_runtime::procedure;
use orpc_test_support::client;

#[procedure]
async fn ping() -> String {
    "pong".to_owned()
}

fn router() -> Router {
    Router::new().procedure(ping)
}

/// Serves, with `serve_router(&given)`, the app whose factory mounts `mounted()` (called once
/// per worker); answers one call through it, then stops.
fn serve_once(given: Router, mounted: impl Fn() -> Router + Send + Clone + 'static) {
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new().service(web::scope("/rpc").configure(mounted().rpc()))
            })
            .serve_router(&given)
            .workers(2)
            .disable_signals()
            .bind("127.0.0.1:0")
            .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            let handle = server.handle();
            let running = actix_web::rt::spawn(server);
            let answer = client()
                .post(format!("http://{addr}/rpc/ping"))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status(), 200);
            handle.stop(true).await;
            let _ = running.await;
        })
    })
    .join()
    .unwrap();
}

#[test]
fn a_router_built_inside_the_app_factory_is_reported_at_startup() {
    let captured = orpc_test_support::logs::capture();
    let trap = "built inside `HttpServer::new`";

    // The right way: the router given to `serve_router`, cloned into the factory.
    let router = router();
    let mounted = router.clone();
    serve_once(router, move || mounted.clone());
    assert!(!captured.text().contains(trap), "{}", captured.text());

    // The trap: each worker builds its own.
    serve_once(self::router(), self::router);
    let log = captured.text();
    assert!(log.contains(trap), "{log}");
    assert!(log.contains("ERROR"), "{log}");
}
