//! Procedures whose parameters are actix-web extractors, and OpenAPI path parameters, over real
//! HTTP on loopback: `Data`, `ReqData` set by a middleware, `Query`, `HttpRequest`, `BearerAuth`,
//! actix-session's `Session`, actix-identity's `Identity` and an async extractor of our own that
//! waits; failures answered with their status and oRPC's common code under both protocols, with
//! the handler never started.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_identity::{Identity, IdentityMiddleware};
use actix_session::storage::CookieSessionStore;
use actix_session::{Session, SessionMiddleware};
use actix_web::body::MessageBody;
use actix_web::cookie::Key;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use actix_web_httpauth::extractors::bearer::BearerAuth;
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_, ORPCError};
use orpc_test_support::{client, Frames, TestServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The signed-in user, which the `sign_in` middleware puts in the request's extensions.
#[derive(Clone)]
struct User(String);

async fn sign_in(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let user = req.headers().get("x-user").and_then(|v| v.to_str().ok());
    if let Some(name) = user {
        let user = User(name.to_owned());
        req.extensions_mut().insert(user);
    }
    next.call(req).await
}

/// Shared state, as a pool would be.
struct Pool {
    name: &'static str,
}

/// A member check that has to ask a store first (it waits), then admits `x-member: yes` only.
struct Member;

impl FromRequest for Member {
    type Error = ORPCError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ORPCError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let member = req.headers().get("x-member").is_some_and(|v| v == "yes");
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if member {
                Ok(Member)
            } else {
                Err(ORPCError::new("FORBIDDEN").with_message("members only"))
            }
        })
    }
}

/// How many handler bodies have started on one test's server, to show that a failed extraction
/// starts none.
#[derive(Default)]
struct Started(AtomicUsize);

impl Started {
    fn count(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[derive(Deserialize, JsonSchema)]
struct TicksInput {
    room: String,
    n: u32,
}

#[derive(Deserialize)]
struct Filter {
    prefix: Option<String>,
}

#[derive(Serialize, JsonSchema)]
struct Tick {
    text: String,
}

/// Every kind of extractor at once; the room comes from the path.
#[procedure(output = event_iterator(Tick), method = GET, path = "/rooms/{room}/ticks")]
async fn ticks(
    input: TicksInput,
    user: web::ReqData<User>,
    pool: web::Data<Pool>,
    filter: web::Query<Filter>,
    req: HttpRequest,
    started: web::Data<Started>,
) {
    started.count();
    let agent = req
        .headers()
        .get("x-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    let prefix = filter.prefix.clone().unwrap_or_default();
    for i in 0..input.n {
        let text = format!(
            "{prefix}{i} in {} for {} from {} via {agent}",
            input.room, user.0, pool.name
        );
        yield_!(Tick { text });
    }
}

#[derive(Deserialize, JsonSchema)]
struct CountInput {
    n: u32,
}

/// A number in the path, checked against the schema like any input.
#[procedure(output = event_iterator(u32), method = GET, path = "/count/{n}")]
async fn count(input: CountInput) {
    for i in 0..input.n {
        yield_!(i);
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct PostInput {
    room_id: String,
    text: String,
}

#[derive(Serialize, JsonSchema)]
struct Posted {
    room: String,
    text: String,
}

/// A path parameter beside a JSON body; its camelCase name is the Rust field `room_id`.
#[procedure(method = POST, path = "/rooms/{roomId}/messages")]
async fn post(input: PostInput) -> Posted {
    Posted {
        room: input.room_id,
        text: input.text,
    }
}

/// Needs a bearer token.
#[procedure(output = event_iterator(String))]
async fn secret(auth: BearerAuth, started: web::Data<Started>) {
    started.count();
    yield_!(format!("token {}", auth.token()));
}

/// Needs a member, which takes a wait to find out.
#[procedure(output = event_iterator(String))]
async fn members(_member: Member, started: web::Data<Started>) {
    started.count();
    yield_!("welcome".to_owned());
}

/// Keeps a note in the session.
#[procedure]
async fn remember(input: String, session: Session) -> Result<(), ORPCError> {
    session
        .insert("note", input)
        .map_err(|_| ORPCError::internal())
}

/// The note kept in the session, if any.
#[procedure]
async fn recall(session: Session) -> Option<String> {
    session.get("note").ok().flatten()
}

/// Who signed in through `/login`.
#[procedure]
async fn whoami(identity: Identity) -> String {
    identity.id().unwrap_or_default()
}

async fn login(req: HttpRequest) -> HttpResponse {
    match Identity::login(&req.extensions(), "grace".to_owned()) {
        Ok(_) => HttpResponse::Ok().finish(),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

fn router() -> Router {
    Router::new()
        .procedure(ticks)
        .procedure(count)
        .procedure(post)
        .procedure(secret)
        .procedure(members)
        .procedure(remember)
        .procedure(recall)
        .procedure(whoami)
}

fn server() -> TestServer {
    server_counting(web::Data::new(Started::default()))
}

fn server_counting(started: web::Data<Started>) -> TestServer {
    let router = router();
    let pool = web::Data::new(Pool { name: "pool-1" });
    let key = Key::from(&[7; 64]);
    TestServer::start(
        move |cfg| {
            let session = SessionMiddleware::builder(CookieSessionStore::default(), key.clone())
                .cookie_secure(false)
                .build();
            cfg.app_data(pool.clone())
                .app_data(started.clone())
                .service(
                    web::scope("")
                        .wrap(from_fn(sign_in))
                        .wrap(IdentityMiddleware::default())
                        .wrap(session)
                        .route("/login", web::post().to(login))
                        .service(web::scope("/rpc").configure(router.rpc()))
                        .service(router.openapi_scope("/api")),
                );
        },
        false,
    )
}

async fn frames(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.status(), 200);
    Frames::new(response).rest().await
}

#[tokio::test]
async fn every_kind_of_extractor_reaches_the_handler_under_both_protocols() {
    let server = server();
    let openapi = client()
        .get(server.url("/api/rooms/lobby/ticks?n=2&prefix=t"))
        .header("x-user", "ada")
        .header("x-agent", "curl")
        .send()
        .await
        .unwrap();
    assert_eq!(
        frames(openapi).await[1..],
        [
            "event: message\ndata: {\"text\":\"t0 in lobby for ada from pool-1 via curl\"}",
            "event: message\ndata: {\"text\":\"t1 in lobby for ada from pool-1 via curl\"}",
            "event: done\ndata: null",
        ]
    );
    // Over RPC the whole input is in the body, the room too.
    let rpc = client()
        .post(server.url("/rpc/ticks"))
        .header("x-user", "bob")
        .json(&json!({ "json": { "room": "hall", "n": 1 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        frames(rpc).await[1..],
        [
            "event: message\ndata: {\"json\":{\"text\":\"0 in hall for bob from pool-1 via -\"}}",
            "event: done\ndata: {}",
        ]
    );
}

#[tokio::test]
async fn a_failed_extractor_answers_with_its_status_and_the_handler_never_starts() {
    let started = web::Data::new(Started::default());
    let server = server_counting(started.clone());
    // (procedure, request headers, status, code, message) under both protocols.
    let cases = [
        ("secret", vec![], 401, "UNAUTHORIZED", None),
        (
            "members",
            vec![("x-member", "no")],
            403,
            "FORBIDDEN",
            Some("members only"),
        ),
        // No `x-user`, so no `ReqData<User>`: the server's mistake, told in oRPC's words only.
        (
            "ticks",
            vec![("x-member", "yes")],
            500,
            "INTERNAL_SERVER_ERROR",
            Some("Internal Server Error"),
        ),
    ];
    for (name, headers, status, code, message) in cases {
        let input = if name == "ticks" {
            json!({ "room": "r", "n": 1 })
        } else {
            Value::Null
        };
        let mut rpc = client()
            .post(server.url(&format!("/rpc/{name}")))
            .json(&json!({ "json": input }));
        let path = if name == "ticks" {
            "/api/rooms/r/ticks?n=1".to_owned()
        } else {
            format!("/api/{name}")
        };
        let mut openapi = if name == "ticks" {
            client().get(server.url(&path))
        } else {
            client().post(server.url(&path)).json(&input)
        };
        for (header, value) in &headers {
            rpc = rpc.header(*header, *value);
            openapi = openapi.header(*header, *value);
        }
        for (protocol, request) in [("rpc", rpc), ("openapi", openapi)] {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), status, "{name} over {protocol}");
            let body: Value = response.json().await.unwrap();
            let error = if protocol == "rpc" {
                &body["json"]
            } else {
                &body
            };
            assert_eq!(error["code"], code, "{name} over {protocol}: {body}");
            assert_eq!(error["status"], status, "{name} over {protocol}");
            assert_eq!(error["defined"], false);
            if let Some(message) = message {
                assert_eq!(error["message"], message, "{name} over {protocol}");
            }
        }
    }
    assert_eq!(started.0.load(Ordering::SeqCst), 0, "no handler started");
    // The same calls, admitted, do start them.
    let admitted = client()
        .post(server.url("/rpc/members"))
        .header("x-member", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(frames(admitted).await.len(), 3);
    assert_eq!(started.0.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn async_and_third_party_extractors_admit_who_they_should() {
    let server = server();
    let member = client()
        .post(server.url("/api/members"))
        .header("x-member", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(
        frames(member).await[1..],
        [
            "event: message\ndata: \"welcome\"",
            "event: done\ndata: null"
        ]
    );
    let bearer = client()
        .post(server.url("/rpc/secret"))
        .bearer_auth("t0k3n")
        .send()
        .await
        .unwrap();
    assert_eq!(
        frames(bearer).await[1],
        "event: message\ndata: {\"json\":\"token t0k3n\"}"
    );
}

/// The `Set-Cookie` of a response, as a `Cookie` header.
fn cookie(response: &reqwest::Response) -> String {
    let set = response
        .headers()
        .get("set-cookie")
        .expect("a cookie")
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn session_and_identity_work_as_in_any_actix_handler() {
    let server = server();
    let call = |name: &str, input: Value, cookie: Option<&str>| {
        let mut request = client()
            .post(server.url(&format!("/rpc/{name}")))
            .json(&json!({ "json": input }));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        request.send()
    };
    let kept = call("remember", json!("buy milk"), None).await.unwrap();
    assert_eq!(kept.status(), 200);
    let session = cookie(&kept);
    let recalled: Value = call("recall", Value::Null, Some(&session))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(recalled, json!({ "json": "buy milk" }));
    let fresh: Value = call("recall", Value::Null, None)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(fresh, json!({ "json": null }));

    let anonymous = call("whoami", Value::Null, None).await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let logged_in = client().post(server.url("/login")).send().await.unwrap();
    let identity = cookie(&logged_in);
    let me: Value = call("whoami", Value::Null, Some(&identity))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me, json!({ "json": "grace" }));
}

#[tokio::test]
async fn path_parameters_fill_the_input_and_are_validated_with_it() {
    let server = server();
    let counted = client()
        .get(server.url("/api/count/2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        frames(counted).await[1..],
        [
            "event: message\ndata: 0",
            "event: message\ndata: 1",
            "event: done\ndata: null"
        ]
    );

    let malformed = client()
        .get(server.url("/api/count/abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let error: Value = malformed.json().await.unwrap();
    assert_eq!(error["code"], "BAD_REQUEST");
    assert_eq!(error["data"]["issues"][0]["path"], json!(["n"]), "{error}");

    // Beside a body: the path wins over a body field of the same name.
    let posted: Value = client()
        .post(server.url("/api/rooms/lobby/messages"))
        .json(&json!({ "text": "hi", "roomId": "elsewhere" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(posted, json!({ "room": "lobby", "text": "hi" }));
}

#[tokio::test]
async fn the_openapi_document_lists_path_parameters_apart_from_the_rest() {
    let server = server();
    let document: Value = client()
        .get(server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let get_ticks = &document["paths"]["/rooms/{room}/ticks"]["get"];
    assert_eq!(
        get_ticks["parameters"],
        json!([
            { "name": "room", "in": "path", "required": true, "schema": { "type": "string" } },
            { "name": "n", "in": "query", "required": true, "schema": { "type": "integer", "format": "uint32", "minimum": 0 } },
        ]),
        "{get_ticks}"
    );
    let post_message = &document["paths"]["/rooms/{roomId}/messages"]["post"];
    assert_eq!(post_message["parameters"][0]["name"], "roomId");
    assert_eq!(post_message["parameters"][0]["in"], "path");
    let body = &post_message["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["properties"].as_object().unwrap().len(), 1, "{body}");
    assert_eq!(body["required"], json!(["text"]));
}
