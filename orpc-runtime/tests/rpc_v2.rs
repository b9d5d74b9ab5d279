//! oRPC 2's RPC protocol (`Router::rpc_v2`) over real HTTP on loopback, beside 1.x on the same
//! router: what differs on the wire (named `meta` types, the error object with `inferable` and no
//! `status`, `event: close`), files, what the route refuses, and 1.x untouched beside it.

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_, BigInt, File, ORPCError};
use orpc_test_support::conformance::Conformance;
use orpc_test_support::{client, Options, TestServer};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};

async fn post(url: String, body: Value) -> reqwest::Response {
    client().post(url).json(&body).send().await.unwrap()
}

/// The SSE blocks of a whole response, without the opening comment.
async fn blocks(response: reqwest::Response) -> Vec<String> {
    let text = response.text().await.unwrap();
    text.split("\n\n")
        .filter(|block| !block.is_empty() && !block.starts_with(':'))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_same_stream_ends_with_close_on_v2_and_done_on_v1() {
    let c = Conformance::start();
    let input = json!({ "json": { "n": 2 } });
    let v2 = blocks(post(c.url("/v2/rpc/count"), input.clone()).await).await;
    assert_eq!(
        v2,
        [
            "event: message\nretry: 1000\nid: 0\ndata: {\"json\":{\"i\":0}}",
            "event: message\nretry: 1000\nid: 1\ndata: {\"json\":{\"i\":1}}",
            "event: close\ndata: {\"json\":\"done!\"}",
        ]
    );
    let v1 = blocks(post(c.url("/rpc/count"), input).await).await;
    assert_eq!(v1[2], "event: done\ndata: {\"json\":\"done!\"}");

    // A unit return closes with no data at all.
    let text =
        blocks(post(c.url("/v2/rpc/text"), json!({ "json": { "items": ["a"] } })).await).await;
    assert_eq!(
        text,
        ["event: message\ndata: {\"json\":\"a\"}", "event: close"]
    );
}

#[tokio::test]
async fn errors_have_inferable_and_no_status_before_and_in_a_stream() {
    let c = Conformance::start();
    let limited = post(c.url("/v2/rpc/limited"), json!({})).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(
        limited.json::<Value>().await.unwrap(),
        json!({ "json": {
            "defined": true, "inferable": true, "code": "RATE_LIMITED",
            "message": "slow down", "data": { "retry_after": 10 },
        } })
    );
    let invalid = post(c.url("/v2/rpc/echo"), json!({ "json": { "name": "" } })).await;
    assert_eq!(invalid.status(), 400);
    let body: Value = invalid.json().await.unwrap();
    assert_eq!(body["json"]["code"], "BAD_REQUEST");
    assert_eq!(body["json"]["inferable"], false);
    assert!(body["json"].get("status").is_none(), "{body}");

    let fail = blocks(post(c.url("/v2/rpc/fail"), json!({})).await).await;
    assert_eq!(
        fail[1],
        "event: error\ndata: {\"json\":{\"defined\":false,\"inferable\":false,\"code\":\"BAD_REQUEST\",\"message\":\"nope\",\"data\":{\"x\":1}}}"
    );
    let panic = blocks(post(c.url("/v2/rpc/panic"), json!({})).await).await;
    assert_eq!(
        panic[1],
        "event: error\ndata: {\"json\":{\"defined\":false,\"inferable\":false,\"code\":\"INTERNAL_SERVER_ERROR\",\"message\":\"Internal server error\"}}"
    );
    // The server keeps serving, 1.x too.
    let v1 = post(c.url("/rpc/limited"), json!({})).await;
    let v1: Value = v1.json().await.unwrap();
    assert_eq!(v1["json"]["status"], 429);
    assert!(v1["json"].get("inferable").is_none(), "{v1}");
}

#[tokio::test]
async fn meta_types_are_named_both_ways_and_numbers_are_refused() {
    let c = Conformance::start();
    let json = json!({ "big": "9007199254740993", "at": "2024-05-01T12:00:00.000Z" });
    let named = json!({ "json": json, "meta": [["bigint", "big"], ["date", "at"]] });
    let events = blocks(post(c.url("/v2/rpc/types"), named).await).await;
    let expected = "{\"json\":{\"big\":\"9007199254740994\",\"at\":\"2024-05-02T12:00:00.000Z\"},\"meta\":[[\"bigint\",\"big\"],[\"date\",\"at\"]]}";
    assert_eq!(events[0], format!("event: message\ndata: {expected}"));
    assert_eq!(events[1], format!("event: close\ndata: {expected}"));

    let numbered = json!({ "json": json, "meta": [[0, "big"], [1, "at"]] });
    let refused = post(c.url("/v2/rpc/types"), numbered.clone()).await;
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    let message = body["json"]["message"].as_str().unwrap();
    assert!(message.contains("no type name"), "{message}");
    // 1.x keeps its numbers, and refuses names.
    let v1 = blocks(post(c.url("/rpc/types"), numbered).await).await;
    assert!(
        v1[0].contains(r#""meta":[[0,"big"],[1,"at"]]"#),
        "{}",
        v1[0]
    );
    let named = json!({ "json": json, "meta": [["bigint", "big"]] });
    assert_eq!(post(c.url("/rpc/types"), named).await.status(), 400);
}

#[derive(Serialize, JsonSchema)]
struct Export {
    id: BigInt<u64>,
    file: File,
}

/// A file inside other data, beside a bigint.
#[procedure]
async fn export() -> Export {
    Export {
        id: BigInt(u64::MAX),
        file: File::new("e.csv", "text/csv", "a\n1\n"),
    }
}

/// A file alone.
#[procedure]
async fn report() -> File {
    File::new("r.txt", "text/plain", "hello")
}

/// Nothing.
#[procedure]
async fn nothing() {}

/// A file taken alone: its name, type and text.
#[procedure]
async fn describe(input: File) -> Value {
    let text = String::from_utf8(input.bytes().await.unwrap().to_vec()).unwrap();
    json!([input.name(), input.content_type(), text])
}

/// Always the same error, after one event.
#[procedure(output = event_iterator(u8))]
async fn late() -> Result<(), ORPCError> {
    yield_!(1);
    Err(ORPCError::new("CONFLICT").with_message("late"))
}

fn serve() -> TestServer {
    let router = Router::new()
        .procedure(export)
        .procedure(report)
        .procedure(nothing)
        .procedure(describe)
        .procedure(late);
    TestServer::with(
        move |cfg: &mut web::ServiceConfig| {
            cfg.service(web::scope("/rpc").configure(router.rpc()))
                .service(web::scope("/v2/rpc").configure(router.rpc_v2()));
        },
        Options::default(),
    )
}

#[tokio::test]
async fn files_go_out_as_orpc_2_reads_them() {
    let server = serve();
    // Alone: the raw body, marked as a file.
    let raw = post(server.url("/v2/rpc/report"), json!({})).await;
    assert_eq!(raw.status(), 200);
    let headers = raw.headers().clone();
    assert_eq!(headers["standard-server"], "file");
    assert_eq!(headers["content-type"], "text/plain");
    assert!(headers["content-disposition"]
        .to_str()
        .unwrap()
        .contains("filename=\"r.txt\""));
    assert_eq!(raw.text().await.unwrap(), "hello");

    // Inside other data: the form, whose data part names its meta types.
    let nested = post(server.url("/v2/rpc/export"), json!({})).await;
    let content_type = nested.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("multipart/form-data; boundary="));
    let body = nested.text().await.unwrap();
    assert!(
        body.contains(r#"{"json":{"file":{},"id":"18446744073709551615"},"meta":[["bigint","id"]],"maps":[["file"]]}"#),
        "{body}"
    );
    assert!(body.contains("a\n1\n"), "{body}");
    // 1.x: the same form with numbers.
    let v1 = post(server.url("/rpc/export"), json!({})).await;
    let v1 = v1.text().await.unwrap();
    assert!(
        v1.contains(r#""meta":[[0,"id"]],"maps":[["file"]]"#),
        "{v1}"
    );
}

/// oRPC 2's `RPCLink` sends a `File` input alone as the raw body, as its `toFetchBody` writes it.
#[tokio::test]
async fn a_file_alone_comes_in_as_the_raw_body() {
    let server = serve();
    let send = |path: &str, bytes: Vec<u8>| {
        client()
            .post(server.url(path))
            .header("standard-server", "file")
            .header("content-type", "text/plain")
            .header(
                "content-disposition",
                "inline; filename=\"a b.txt\"; filename*=utf-8''a%20b.txt",
            )
            .body(bytes)
            .send()
    };
    let described = send("/v2/rpc/describe", b"hello".to_vec()).await.unwrap();
    assert_eq!(described.status(), 200);
    assert_eq!(
        described.json::<Value>().await.unwrap(),
        json!({ "json": ["a b.txt", "text/plain", "hello"] })
    );
    // Over the file limit (10 MiB by default): 413, and the server keeps serving.
    let large = send("/v2/rpc/describe", vec![b'x'; 10 * 1024 * 1024 + 1])
        .await
        .unwrap();
    assert_eq!(large.status(), 413);
    // 1.x has no such request: its body must be the JSON envelope.
    let v1 = send("/rpc/describe", b"hello".to_vec()).await.unwrap();
    assert_eq!(v1.status(), 400);
    let again = send("/v2/rpc/describe", b"again".to_vec()).await.unwrap();
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn unit_outputs_and_late_errors() {
    let server = serve();
    let unit = post(server.url("/v2/rpc/nothing"), json!({})).await;
    assert_eq!(unit.status(), 200);
    assert_eq!(unit.json::<Value>().await.unwrap(), json!({ "json": null }));
    let frames = blocks(post(server.url("/v2/rpc/late"), json!({})).await).await;
    assert_eq!(
        frames,
        [
            "event: message\ndata: {\"json\":1}",
            "event: error\ndata: {\"json\":{\"defined\":false,\"inferable\":false,\"code\":\"CONFLICT\",\"message\":\"late\"}}",
        ]
    );
}

#[tokio::test]
async fn what_the_v2_route_refuses() {
    let c = Conformance::start();
    let call = |mode: Option<&str>, batch: bool| {
        let mut request = client()
            .post(c.url("/v2/rpc/echo"))
            .json(&json!({ "json": { "name": "x" } }));
        if let Some(mode) = mode {
            request = request.header("sec-fetch-mode", mode);
        }
        if batch {
            request = request.header("orpc-batch", "streaming");
        }
        request.send()
    };
    for (mode, status) in [
        (None, 200),
        (Some("cors"), 200),
        (Some("Same-Origin"), 200),
        (Some("navigate"), 403),
        (Some("no-cors"), 403),
        (Some("cors, navigate"), 403),
    ] {
        let response = call(mode, false).await.unwrap();
        assert_eq!(response.status(), status, "{mode:?}");
    }
    let batch = call(None, true).await.unwrap();
    assert_eq!(batch.status(), 400);
    let body: Value = batch.json().await.unwrap();
    assert!(
        body["json"]["message"]
            .as_str()
            .unwrap()
            .contains("BatchLinkPlugin"),
        "{body}"
    );
    // 1.x has no such guard: oRPC 1.x's RPCHandler has none.
    let v1 = client()
        .post(c.url("/rpc/echo"))
        .header("sec-fetch-mode", "navigate")
        .json(&json!({ "json": { "name": "x" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(v1.status(), 200);
}
