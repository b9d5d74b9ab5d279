//! Files over real HTTP on loopback: inputs with several files at nested paths over both
//! protocols (oRPC's RPC form, and a plain form in bracket notation whose text is read by the
//! schema), outputs holding a file inside other data, and where files are refused: in events, in
//! batches, over OpenAPI inside other data, and as JSON that pretends to be one.

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_, File};
use orpc_test_support::{client, Frames, Options, TestServer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, JsonSchema)]
struct Many {
    title: String,
    count: u32,
    docs: Vec<File>,
}

/// Each file's name, type and text, with the title and count.
#[procedure]
async fn describe(input: Many) -> Value {
    let mut docs = Vec::new();
    for doc in &input.docs {
        let text = String::from_utf8(doc.bytes().await.unwrap().to_vec()).unwrap();
        docs.push(json!([doc.name(), doc.content_type(), text]));
    }
    json!({ "title": input.title, "count": input.count, "docs": docs })
}

#[derive(Serialize, JsonSchema)]
struct Report {
    rows: u32,
    report: File,
}

/// A file inside other data.
#[procedure]
async fn report() -> Report {
    Report {
        rows: 2,
        report: File::new("r.csv", "text/csv", "a\n1\n"),
    }
}

/// Tries to send a file as an event.
#[procedure(output = event_iterator(File))]
async fn file_event() {
    yield_!(File::new("no.txt", "text/plain", "no"));
}

fn serve() -> TestServer {
    let router = Router::new()
        .procedure(describe)
        .procedure(report)
        .procedure(file_event);
    TestServer::with(
        move |cfg: &mut web::ServiceConfig| {
            cfg.service(web::scope("/rpc").configure(router.rpc()))
                .service(router.openapi_scope("/api"));
        },
        Options::default(),
    )
}

/// A multipart body of `parts`: `(name, file name, content)`.
fn form(parts: &[(&str, Option<&str>, &str)]) -> (String, String) {
    let boundary = "test-boundary-1";
    let mut body = String::new();
    for (name, file_name, content) in parts {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        ));
        if let Some(file_name) = file_name {
            body.push_str(&format!(
                "; filename=\"{file_name}\"\r\nContent-Type: text/plain"
            ));
        }
        body.push_str(&format!("\r\n\r\n{content}\r\n"));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post(
    server: &TestServer,
    path: &str,
    (content_type, body): (String, String),
) -> (u16, Value) {
    let response = client()
        .post(server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn files_at_nested_paths_over_both_protocols() {
    let server = serve();
    let expected = json!({
        "title": "t",
        "count": 3,
        "docs": [["a.txt", "text/plain", "AAA"], ["b.txt", "text/plain", "BB"]],
    });

    let rpc = form(&[
        (
            "data",
            None,
            r#"{"json":{"title":"t","count":3,"docs":[{},{}]},"maps":[["docs",1],["docs",0]]}"#,
        ),
        ("0", Some("b.txt"), "BB"),
        ("1", Some("a.txt"), "AAA"),
    ]);
    let (status, body) = post(&server, "/rpc/describe", rpc).await;
    assert_eq!(status, 200, "{body}");
    // Part 0 (b.txt) goes to docs[1] and part 1 (a.txt) to docs[0], as the maps say.
    assert_eq!(body, json!({ "json": expected }));

    // A plain form: text read as the schema says (`count` is a number), files by bracket name.
    let openapi = form(&[
        ("title", None, "t"),
        ("count", None, "3"),
        ("docs[0]", Some("a.txt"), "AAA"),
        ("docs[1]", Some("b.txt"), "BB"),
    ]);
    let (status, body) = post(&server, "/api/describe", openapi).await;
    assert_eq!((status, body), (200, expected));
}

#[tokio::test]
async fn a_form_that_does_not_fit_its_input_is_a_400() {
    let server = serve();
    for (path, parts) in [
        // A file where the input wants text.
        (
            "/rpc/describe",
            vec![
                (
                    "data",
                    None,
                    r#"{"json":{"title":{},"count":3,"docs":[]},"maps":[["title"]]}"#,
                ),
                ("0", Some("x.txt"), "X"),
            ],
        ),
        // A path into something that is not an object or array.
        (
            "/rpc/describe",
            vec![
                (
                    "data",
                    None,
                    r#"{"json":{"title":"t","count":3,"docs":[]},"maps":[["count","x"]]}"#,
                ),
                ("0", Some("x.txt"), "X"),
            ],
        ),
        // An index far past the end of an array.
        (
            "/rpc/describe",
            vec![
                (
                    "data",
                    None,
                    r#"{"json":{"title":"t","count":3,"docs":[]},"maps":[["docs",1000000000]]}"#,
                ),
                ("0", Some("x.txt"), "X"),
            ],
        ),
        // A part that is neither data nor one of its files.
        (
            "/rpc/describe",
            vec![
                ("data", None, r#"{"json":null,"maps":[]}"#),
                ("7", Some("x"), "X"),
            ],
        ),
        // Bad bracket names.
        ("/api/describe", vec![("docs[0", Some("x.txt"), "X")]),
    ] {
        let (status, body) = post(&server, path, form(&parts)).await;
        assert_eq!(status, 400, "{parts:?}: {body}");
    }
    // Too many parts.
    let names: Vec<String> = (0..1001).map(|i| i.to_string()).collect();
    let parts: Vec<_> = names.iter().map(|n| (n.as_str(), Some("x"), "x")).collect();
    let (status, body) = post(&server, "/rpc/describe", form(&parts)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["json"]["message"]
            .as_str()
            .unwrap()
            .contains("more than 1000 parts"),
        "{body}"
    );

    // JSON that pretends to be a file.
    let response = client()
        .post(server.url("/rpc/describe"))
        .json(&json!({ "json": { "title": "t", "count": 1, "docs": ["orpc-file:0"] } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn an_output_with_a_file_inside_is_an_rpc_form_and_refused_elsewhere() {
    let server = serve();
    let response = client()
        .post(server.url("/rpc/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap()
        .to_owned();
    let body = response.text().await.unwrap();
    assert_eq!(
        body,
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n\
             {{\"json\":{{\"report\":{{}},\"rows\":2}},\"maps\":[[\"report\"]]}}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"r.csv\"\r\n\
             Content-Type: text/csv\r\n\r\na\n1\n\r\n--{boundary}--\r\n"
        )
    );

    // Over OpenAPI only a file alone is sent.
    let response = client()
        .post(server.url("/api/report"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 500);

    // In a batch, a file is refused like an event iterator.
    let answers: Vec<Value> = client()
        .post(server.url("/rpc/report/__batch__"))
        .header("x-orpc-batch", "buffered")
        .json(&json!([{ "url": server.url("/rpc/report") }]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answers[0]["status"], 500, "{answers:?}");

    // As an event, a file is an error event, and nothing of it is sent.
    let response = client()
        .post(server.url("/rpc/file_event"))
        .send()
        .await
        .unwrap();
    let frames = Frames::new(response).rest().await;
    assert!(
        frames.last().unwrap().starts_with("event: error"),
        "{frames:?}"
    );
    assert!(!frames.iter().any(|f| f.contains("no.txt")), "{frames:?}");
}
