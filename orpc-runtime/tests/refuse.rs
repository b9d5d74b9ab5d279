//! What the router refuses, and what it leaves alone: two procedures that one request could not
//! tell apart are an error when the router is built; an unknown method too; and the OpenAPI
//! routes, mounted beside an app's own, leave the app its own 404.

use std::panic::{catch_unwind, AssertUnwindSafe};

use actix_web::{web, HttpResponse};
use orpc_runtime::http::{RouteError, Router};
use orpc_runtime::{procedure, Procedure};
use orpc_test_support::{client, TestServer};
use serde_json::{json, Value};

#[procedure]
async fn status() -> u32 {
    1
}

mod v2 {
    #[orpc_runtime::procedure]
    pub async fn status() -> u32 {
        2
    }
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Room {
    #[allow(dead_code)]
    room: String,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct RoomId {
    #[allow(dead_code)]
    id: String,
}

#[procedure(method = GET, path = "/rooms/{room}")]
async fn room(input: Room) -> u32 {
    let _ = input;
    1
}

#[procedure(method = GET, path = "/rooms/{id}")]
async fn room_by_id(input: RoomId) -> u32 {
    let _ = input;
    2
}

#[procedure(method = PUT, path = "/rooms/{room}")]
async fn rename_room(input: Room) -> u32 {
    let _ = input;
    3
}

#[procedure(method = GET, path = "/lobby")]
async fn lobby() -> u32 {
    1
}

/// The method given as a string, as `#[procedure]` also accepts it.
#[procedure(method = "DELETE", path = "/lobby")]
async fn close_lobby() -> u32 {
    3
}

/// A procedure whose default OpenAPI route, `POST /status`, another one takes explicitly.
#[procedure(path = "/status")]
async fn status_too() -> u32 {
    4
}

fn panic_message(run: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(run)).expect_err("it panics");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn two_procedures_under_one_name_are_refused() {
    let refused = Router::new().procedure(status).try_procedure(v2::status);
    assert_eq!(
        refused.err(),
        Some(RouteError::DuplicateName { name: "status" })
    );
    let message = panic_message(|| {
        let _ = Router::new().procedure(status).procedure(v2::status);
    });
    assert!(
        message.contains("two procedures are named \"status\""),
        "{message}"
    );
}

#[test]
fn two_procedures_on_one_openapi_route_are_refused() {
    // Parameters match whatever their name: actix would serve only the first.
    let refused = Router::new().procedure(room).try_procedure(room_by_id);
    assert_eq!(
        refused.err(),
        Some(RouteError::DuplicateOpenApiRoute {
            method: "GET",
            path: "/rooms/{id}".into(),
            first: "room",
            second: "room_by_id",
        })
    );
    // An explicit path equal to another procedure's default one.
    let message = panic_message(|| {
        let _ = Router::new().procedure(status).procedure(status_too);
    });
    assert!(
        message.contains(
            "procedures \"status\" and \"status_too\" are both served at OpenAPI route `POST /status`"
        ),
        "{message}"
    );
    // The same path with another method is another route.
    let router = Router::new().procedure(room).procedure(rename_room);
    assert_eq!(router.routes().count(), 2);
}

#[test]
fn a_method_the_router_does_not_serve_is_refused() {
    let route = status.into_route().with_method("FETCH");
    let refused = Router::new().try_route(route);
    assert_eq!(
        refused.err(),
        Some(RouteError::UnknownMethod {
            name: "status",
            method: "FETCH"
        })
    );
    let message = panic_message(|| {
        let _ = Router::new().route(v2::status.into_route().with_method("get"));
    });
    assert!(message.contains("unknown method \"get\""), "{message}");
}

/// The app's own default service: a body no one could mistake for oRPC's.
async fn app_not_found() -> HttpResponse {
    HttpResponse::NotFound().body("the app's own 404")
}

async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let response = client().get(server.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn openapi_routes_at_the_root_leave_the_app_its_own_404() {
    let router = Router::new().procedure(lobby).procedure(close_lobby);
    let server = TestServer::start(
        move |cfg| {
            // The app's default first, then the procedures' routes: those must not replace it.
            cfg.default_service(web::to(app_not_found))
                .route("/health", web::get().to(|| async { "ok" }));
            router.openapi()(cfg);
        },
        false,
    );
    assert_eq!(get(&server, "/health").await, (200, "ok".into()));
    assert_eq!(get(&server, "/lobby").await, (200, "1".into()));
    let delete = client().delete(server.url("/lobby")).send().await.unwrap();
    assert_eq!(delete.text().await.unwrap(), "3");
    assert_eq!(
        get(&server, "/nowhere").await,
        (404, "the app's own 404".into())
    );
    assert_eq!(
        get(&server, "/lobby/deeper").await,
        (404, "the app's own 404".into())
    );
    // A known path with another method is still the procedure's business.
    let patch = client().patch(server.url("/lobby")).send().await.unwrap();
    assert_eq!(patch.status(), 405);
    assert_eq!(
        patch.json::<Value>().await.unwrap()["code"],
        json!("METHOD_NOT_SUPPORTED")
    );
}

#[tokio::test]
async fn openapi_routes_at_the_root_leave_actix_its_default_404() {
    let router = Router::new().procedure(lobby);
    let server = TestServer::start(
        move |cfg| {
            cfg.route("/health", web::get().to(|| async { "ok" }));
            router.openapi()(cfg);
        },
        false,
    );
    assert_eq!(get(&server, "/health").await, (200, "ok".into()));
    // actix-web's own 404: empty, not oRPC's JSON.
    assert_eq!(get(&server, "/nowhere").await, (404, String::new()));
}

#[tokio::test]
async fn the_openapi_scope_answers_its_own_paths_only() {
    let router = Router::new().procedure(lobby);
    let server = TestServer::start(
        move |cfg| {
            cfg.service(router.openapi_scope("/api"))
                .route("/health", web::get().to(|| async { "ok" }))
                .default_service(web::to(app_not_found));
        },
        false,
    );
    assert_eq!(get(&server, "/api/lobby").await, (200, "1".into()));
    assert_eq!(get(&server, "/health").await, (200, "ok".into()));
    assert_eq!(
        get(&server, "/nowhere").await,
        (404, "the app's own 404".into())
    );
    let (answer, body) = get(&server, "/api/nowhere").await;
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (answer, &body["code"], &body["message"]),
        (
            404,
            &json!("NOT_FOUND"),
            &json!("No procedure at /api/nowhere")
        )
    );
    let document: Value = client()
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["paths"]["/lobby"]["get"].is_object());
}
