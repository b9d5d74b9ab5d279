//! What the router refuses: two procedures that one request could not tell apart are an error
//! when the router is built; an unknown method too.

use std::panic::{catch_unwind, AssertUnwindSafe};

use orpc_runtime::http::{RouteError, Router};
use orpc_runtime::{procedure, Procedure};

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
