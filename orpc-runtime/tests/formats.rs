//! String formats (`email`, `uri`, `date-time`, `uuid`, ...) are asserted, on inputs and on
//! events, as a client sees it over the RPC protocol.

use actix_web::{test, web, App};
use orpc_runtime::http::Router;
use orpc_runtime::sse::KeepAlive;
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, JsonSchema)]
struct Signup {
    #[schemars(email)]
    email: String,
    /// An unknown format: ignored.
    #[schemars(extend("format" = "not-a-format"))]
    nickname: String,
}

#[procedure]
async fn signup(input: Signup) -> String {
    format!("{} as {}", input.email, input.nickname)
}

#[derive(Serialize, JsonSchema)]
struct Contact {
    #[schemars(email)]
    to: String,
    count: u32,
}

/// Sends each of its input's strings as an event's `to`.
#[procedure(output = event_iterator(Contact))]
async fn contacts(input: Vec<String>) {
    for (count, to) in input.into_iter().enumerate() {
        yield_!(Contact {
            to,
            count: count as u32,
        });
    }
}

/// Posts `input` to the procedure `name` and returns the status and the body.
async fn rpc(name: &str, input: Value) -> (u16, String) {
    let router = Router::new()
        .procedure(signup)
        .procedure(contacts)
        .keep_alive(KeepAlive::default().interval(None));
    let app =
        test::init_service(App::new().service(web::scope("/rpc").configure(router.rpc()))).await;
    let request = test::TestRequest::post()
        .uri(&format!("/rpc/{name}"))
        .set_json(json!({ "json": input }))
        .to_request();
    let response = test::call_service(&app, request).await;
    let status = response.status().as_u16();
    let body = test::read_body(response).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[actix_web::test]
async fn an_input_that_breaks_its_format_is_a_400_at_the_field() {
    let (status, body) = rpc(
        "signup",
        json!({ "email": "not-an-email", "nickname": "x" }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["json"]["code"], "BAD_REQUEST");
    let issues = body["json"]["data"]["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0]["path"], json!(["email"]));
    assert!(issues[0]["message"].as_str().unwrap().contains("email"));
}

#[actix_web::test]
async fn an_input_that_keeps_its_format_passes_and_unknown_formats_are_ignored() {
    let (status, body) = rpc(
        "signup",
        json!({ "email": "ada@example.com", "nickname": "@@" }),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"json":"ada@example.com as @@"}"#)
    );
}

#[actix_web::test]
async fn an_event_that_breaks_its_format_ends_the_stream_unsent() {
    let (status, body) = rpc(
        "contacts",
        json!(["ada@example.com", "not-an-email", "x@y.z"]),
    )
    .await;
    assert_eq!(status, 200);
    let frames: Vec<&str> = body
        .split("\n\n")
        .filter(|frame| frame.starts_with("event:"))
        .collect();
    assert_eq!(
        frames,
        [
            r#"event: message
data: {"json":{"to":"ada@example.com","count":0}}"#,
            r#"event: error
data: {"json":{"defined":false,"code":"EVENT_ITERATOR_VALIDATION_FAILED","status":500,"message":"Event iterator validation failed"}}"#,
        ]
    );
}
