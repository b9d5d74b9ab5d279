//! `examples/existing_app.rs` as a process: the app's own routes, 404 and CORS untouched beside
//! the procedures; the app's middleware and extractors reaching them; a plain handler's
//! `EventStream`; and `serve_router`'s graceful shutdown, which ends open streams so that the
//! process exits promptly on SIGTERM.

use std::process::Command;
use std::time::{Duration, Instant};

use orpc_test_support::process::ServerProcess;
use orpc_test_support::{client, Frames};
use serde_json::{json, Value};

#[tokio::test]
async fn the_apps_own_routes_and_the_procedures_live_side_by_side() {
    let server = ServerProcess::example("existing_app");
    let url = |path: &str| format!("http://{}{path}", server.addr);

    let rooms: Value = client()
        .get(url("/rooms"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        rooms,
        json!({ "lobby": "general chat", "rust": "borrowing, mostly" })
    );

    // actix-web's own 404, not oRPC's, outside the procedures' scopes; oRPC's inside.
    let missing = client().get(url("/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.text().await.unwrap(), "");
    let no_procedure = client().get(url("/api/nope")).send().await.unwrap();
    assert_eq!(no_procedure.status(), 404);
    let error: Value = no_procedure.json().await.unwrap();
    assert_eq!(error["code"], "NOT_FOUND");

    // The app's middleware signs Ada in; the room comes from the path, the topic from `Data`.
    let ticks = client()
        .get(url("/api/rooms/rust/ticks?n=2"))
        .bearer_auth("ada-token")
        .send()
        .await
        .unwrap();
    assert_eq!(ticks.status(), 200);
    assert_eq!(
        Frames::new(ticks).rest().await[1..],
        [
            r#"event: message
data: {"room":"rust","topic":"borrowing, mostly","for_user":"Ada","i":0}"#,
            r#"event: message
data: {"room":"rust","topic":"borrowing, mostly","for_user":"Ada","i":1}"#,
            "event: done\ndata: null",
        ]
    );
    let unknown_room = client()
        .get(url("/api/rooms/attic/ticks?n=1"))
        .send()
        .await
        .unwrap();
    let frames = Frames::new(unknown_room).rest().await;
    assert!(
        frames[1].starts_with("event: error\ndata: {\"defined\":false,\"code\":\"NOT_FOUND\""),
        "{frames:?}"
    );

    // `BearerAuth`: 401 in each protocol's envelope without a token, the token with one.
    let anonymous = client().post(url("/api/whoami")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let error: Value = anonymous.json().await.unwrap();
    assert_eq!(
        (error["code"].as_str(), error["status"].as_u64()),
        (Some("UNAUTHORIZED"), Some(401))
    );
    let anonymous = client().post(url("/rpc/whoami")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let error: Value = anonymous.json().await.unwrap();
    assert_eq!(error["json"]["code"], "UNAUTHORIZED");
    let me: Value = client()
        .post(url("/rpc/whoami"))
        .bearer_auth("grace-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({ "json": { "token": "grace-token" } }));

    // CORS: the app's policy answers preflights for the procedures too.
    let preflight = client()
        .request(reqwest::Method::OPTIONS, url("/rpc/whoami"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let refused = client()
        .request(reqwest::Method::OPTIONS, url("/rpc/whoami"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(refused
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test]
async fn sigterm_ends_open_streams_of_procedures_and_plain_handlers_and_exits_promptly() {
    let mut server = ServerProcess::example("existing_app");
    let url = |path: &str| format!("http://{}{path}", server.addr);
    let mut open = Vec::new();
    for path in ["/clock", "/api/rooms/lobby/ticks?n=1000"] {
        let response = client().get(url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let mut frames = Frames::new(response);
        assert_eq!(
            frames.next_within(Duration::from_secs(5)).await.as_deref(),
            Some(": ")
        );
        assert!(frames.next_within(Duration::from_secs(5)).await.is_some());
        open.push(frames);
    }

    let signalled = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    for frames in &mut open {
        // Whatever was on its way, then the end: no `done`, so that clients reconnect elsewhere.
        let rest = tokio::time::timeout(Duration::from_secs(2), frames.rest())
            .await
            .expect("the stream ends within 2 s of SIGTERM");
        assert!(
            rest.iter().all(|f| !f.starts_with("event: done")),
            "{rest:?}"
        );
    }
    let exit = loop {
        if let Some(exit) = server.try_wait() {
            break exit;
        }
        // actix-web's own shutdown timeout is 5 s in the example: ending the streams first is
        // what lets it exit sooner.
        assert!(
            signalled.elapsed() < Duration::from_secs(3),
            "still running 3 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
}
