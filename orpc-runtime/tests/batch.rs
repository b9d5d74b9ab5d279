//! oRPC's batch requests over real HTTP on loopback, as `BatchLinkPlugin` sends them: both
//! answer modes, each call answered alone with what it would have answered unbatched, calls run
//! at once, event iterators refused without running, and the limits with clear errors.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest};
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_, LastEventId};
use orpc_test_support::conformance::Conformance;
use orpc_test_support::{client, Frames, Options, TestServer};
use serde_json::{json, Value};

/// Posts `calls` as a batch in `mode` to `/rpc/{first}/__batch__`, as the client does.
async fn batch(c: &Conformance, mode: &str, calls: &[(&str, Value)]) -> reqwest::Response {
    let items: Vec<Value> = calls
        .iter()
        .map(|(name, input)| json!({ "url": c.url(&format!("/rpc/{name}")), "body": { "json": input } }))
        .collect();
    client()
        .post(c.url(&format!("/rpc/{}/__batch__", calls[0].0)))
        .header("x-orpc-batch", mode)
        .json(&items)
        .send()
        .await
        .unwrap()
}

/// The unbatched answer to `name` with `input`: its status and its JSON body.
async fn alone(c: &Conformance, name: &str, input: Value) -> (u16, Value) {
    let response = c.rpc(name, input).await;
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The batch answers by index: `(status, body)`, each index exactly once.
fn by_index(answers: Vec<Value>, calls: usize) -> Vec<(u16, Value)> {
    let mut out = vec![None; calls];
    for answer in answers {
        let index = answer["index"].as_u64().unwrap() as usize;
        assert!(out[index].is_none(), "index {index} answered twice");
        out[index] = Some((
            answer["status"].as_u64().unwrap() as u16,
            answer["body"].clone(),
        ));
    }
    out.into_iter()
        .enumerate()
        .map(|(i, a)| a.unwrap_or_else(|| panic!("index {i} not answered")))
        .collect()
}

/// Calls with every kind of answer: output, invalid input, a defined error, unknown procedure.
fn mixed_calls() -> Vec<(&'static str, Value)> {
    vec![
        ("echo", json!({ "name": "ada" })),
        ("echo", json!({ "name": "" })),
        ("limited", Value::Null),
        ("nope", Value::Null),
        ("echo", json!({ "name": "bob" })),
    ]
}

#[tokio::test]
async fn buffered_answers_each_call_as_it_would_be_answered_alone() {
    let c = Conformance::start();
    let calls = mixed_calls();
    let response = batch(&c, "buffered", &calls).await;
    assert_eq!(response.status(), 207);
    assert_eq!(response.headers()["content-type"], "application/json");
    let answers: Vec<Value> = response.json().await.unwrap();
    let answers = by_index(answers, calls.len());
    for ((name, input), answer) in calls.into_iter().zip(answers) {
        assert_eq!(
            answer,
            alone(&c, name, input.clone()).await,
            "{name} {input}"
        );
    }
}

#[tokio::test]
async fn streaming_sends_one_message_event_per_call() {
    let c = Conformance::start();
    let calls = mixed_calls();
    let response = batch(&c, "streaming", &calls).await;
    assert_eq!(response.status(), 207);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let frames = Frames::new(response).rest().await;
    let answers: Vec<Value> = frames
        .iter()
        .map(|frame| {
            let data = frame
                .strip_prefix("event: message\ndata: ")
                .unwrap_or_else(|| panic!("not a message event: {frame:?}"));
            serde_json::from_str(data).unwrap()
        })
        .collect();
    assert_eq!(answers.len(), calls.len(), "{frames:?}");
    let answers = by_index(answers, calls.len());
    assert_eq!(
        answers[0],
        (200, json!({ "json": { "greeting": "hello ada" } }))
    );
    assert_eq!(answers[1].0, 400);
    assert_eq!(answers[1].1["json"]["message"], "Input validation failed");
    assert_eq!(answers[2].0, 429);
    assert_eq!(answers[2].1["json"]["code"], "RATE_LIMITED");
    assert_eq!(answers[2].1["json"]["defined"], true);
    assert_eq!(answers[3].0, 404);
    assert_eq!(
        answers[4],
        (200, json!({ "json": { "greeting": "hello bob" } }))
    );
}

#[tokio::test]
async fn an_event_iterator_in_a_batch_is_refused_without_running() {
    let c = Conformance::start();
    let calls = [
        ("echo", json!({ "name": "x" })),
        ("count", json!({ "n": 2 })),
    ];
    let answers: Vec<Value> = batch(&c, "buffered", &calls).await.json().await.unwrap();
    let answers = by_index(answers, 2);
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[1].0, 500);
    let message = answers[1].1["json"]["message"].as_str().unwrap();
    assert!(message.contains("call it outside the batch"), "{message}");
    assert_eq!(c.started(), 0, "the stream's handler ran");
    assert_eq!(c.router().stats().started(), 0);
}

#[tokio::test]
async fn bad_batches_get_clear_errors_and_the_server_keeps_serving() {
    let c = Conformance::start();
    let url = c.url("/rpc/echo/__batch__");
    let post = |body: Vec<u8>| {
        client()
            .post(&url)
            .header("x-orpc-batch", "buffered")
            .header("content-type", "application/json")
            .body(body)
    };
    let error = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (
            status,
            body["json"]["code"].as_str().unwrap().to_owned(),
            body,
        )
    };

    // More calls than the limit (10 by default).
    let eleven: Vec<_> = (0..11)
        .map(|_| json!({ "url": c.url("/rpc/echo"), "body": { "json": { "name": "a" } } }))
        .collect();
    let (status, code, body) = error(
        post(serde_json::to_vec(&eleven).unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, code.as_str()), (413, "PAYLOAD_TOO_LARGE"));
    assert!(
        body["json"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 10 calls"),
        "{body}"
    );

    // Not JSON, not an array, calls without a url, and a cut body.
    for bad in [
        &b"{nope"[..],
        b"{\"url\":\"x\"}",
        b"[{\"body\":1}]",
        b"[{\"url\":\"http://h/rpc/echo\"",
    ] {
        let (status, code, body) = error(post(bad.to_vec()).send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (400, "BAD_REQUEST"),
            "{bad:?}: {body}"
        );
    }

    // A body over the body limit, and a batch asked for with GET.
    let huge = format!("[{{\"url\":\"{}\"}}]", "x".repeat(2 * 1024 * 1024));
    let (status, code, _) = error(post(huge.into_bytes()).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (413, "PAYLOAD_TOO_LARGE"));
    let get = client()
        .get(&url)
        .header("x-orpc-batch", "buffered")
        .send()
        .await
        .unwrap();
    let (status, code, _) = error(get).await;
    assert_eq!((status, code.as_str()), (405, "METHOD_NOT_SUPPORTED"));

    // A call elsewhere than under the batch's RPC path, or with another method.
    let items = json!([
        { "url": c.url("/api/echo"), "body": { "json": { "name": "a" } } },
        { "url": c.url("/rpc/echo"), "method": "GET" },
    ]);
    let answers: Vec<Value> = post(serde_json::to_vec(&items).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let answers = by_index(answers, 2);
    assert_eq!(
        (answers[0].0, answers[0].1["json"]["code"].clone()),
        (404, json!("NOT_FOUND"))
    );
    assert_eq!(
        (answers[1].0, answers[1].1["json"]["code"].clone()),
        (405, json!("METHOD_NOT_SUPPORTED"))
    );

    // Still serving, batched and not.
    let answers: Vec<Value> = batch(&c, "buffered", &[("echo", json!({ "name": "z" }))])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_index(answers, 1)[0].0, 200);
    assert_eq!(alone(&c, "echo", json!({ "name": "z" })).await.0, 200);
}

/// Waits until `n` calls are waiting together: only calls that run at once get past it.
#[procedure]
async fn together(barrier: web::Data<tokio::sync::Barrier>) -> bool {
    barrier.wait().await.is_leader()
}

/// Answers after `ms` milliseconds with `ms`.
#[procedure]
async fn sleep_for(input: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(input)).await;
    input
}

/// The `authorization` header its extractor saw.
#[procedure]
async fn who(req: HttpRequest) -> Option<String> {
    let auth = req.headers().get("authorization")?;
    auth.to_str().ok().map(str::to_owned)
}

/// The `Last-Event-ID` its extractor saw.
#[procedure]
async fn last(id: Option<LastEventId>) -> Option<String> {
    id.map(|id| id.as_str().to_owned())
}

/// A stream beside the batch.
#[procedure(output = event_iterator(u32))]
async fn two() {
    yield_!(1);
    yield_!(2);
}

fn custom(calls: usize) -> (TestServer, Router) {
    let router = Router::new()
        .procedure(together)
        .procedure(sleep_for)
        .procedure(who)
        .procedure(two)
        .procedure(last)
        .batch_limit(calls);
    let barrier = web::Data::from(Arc::new(tokio::sync::Barrier::new(calls)));
    let mounted = router.clone();
    let server = TestServer::with(
        move |cfg| {
            cfg.app_data(barrier.clone())
                .service(web::scope("/v1/rpc").configure(mounted.rpc()));
        },
        Options::default(),
    );
    (server, router)
}

fn items(server: &TestServer, calls: &[(&str, Value)]) -> Value {
    calls
        .iter()
        .map(|(name, input)| json!({ "url": server.url(&format!("/v1/rpc/{name}")), "body": { "json": input } }))
        .collect()
}

/// Posts `items` to `url` as a buffered batch whose request carries `header`; its answers.
async fn buffered_with(url: String, items: &Value, header: (&str, &str)) -> Vec<Value> {
    client()
        .post(url)
        .header("x-orpc-batch", "buffered")
        .header(header.0, header.1)
        .json(items)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_calls_of_a_batch_run_at_once_and_stream_as_they_finish() {
    // Twenty calls, beyond the default limit, that only finish if all run at once.
    let (server, _router) = custom(20);
    let calls: Vec<_> = (0..20).map(|_| ("together", Value::Null)).collect();
    let response = client()
        .post(server.url("/v1/rpc/together/__batch__"))
        .header("x-orpc-batch", "buffered")
        .json(&items(&server, &calls))
        .send();
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("the batch's calls did not run at once")
        .unwrap();
    let answers: Vec<Value> = response.json().await.unwrap();
    let answers = by_index(answers, 20);
    let leaders = answers
        .iter()
        .filter(|a| a.1 == json!({ "json": true }))
        .count();
    assert_eq!(leaders, 1, "{answers:?}");

    // Streaming: the quick call's answer arrives while the slow one is still running.
    let calls = [("sleep_for", json!(60_000)), ("sleep_for", json!(0))];
    let response = client()
        .post(server.url("/v1/rpc/sleep_for/__batch__"))
        .header("x-orpc-batch", "streaming")
        .json(&items(&server, &calls))
        .send()
        .await
        .unwrap();
    let mut frames = Frames::new(response);
    let first = frames
        .next_within(Duration::from_secs(10))
        .await
        .expect("no answer streamed");
    assert_eq!(
        first,
        "event: message\ndata: {\"index\":1,\"status\":200,\"body\":{\"json\":0}}"
    );
}

#[tokio::test]
async fn extractors_read_the_batch_request_and_a_stream_runs_beside_a_batch() {
    let (server, router) = custom(10);
    let stream = client()
        .post(server.url("/v1/rpc/two"))
        .send()
        .await
        .unwrap();
    let calls = [("who", Value::Null), ("who", Value::Null)];
    let answers = buffered_with(
        server.url("/v1/rpc/who/__batch__"),
        &items(&server, &calls),
        ("authorization", "Bearer shared"),
    )
    .await;
    for (status, body) in by_index(answers, 2) {
        assert_eq!((status, body), (200, json!({ "json": "Bearer shared" })));
    }
    let frames = Frames::new(stream).rest().await;
    assert_eq!(
        frames
            .iter()
            .filter(|f| f.starts_with("event: message"))
            .count(),
        2,
        "{frames:?}"
    );
    assert_eq!(frames.last().unwrap(), "event: done\ndata: {}");
    assert_eq!(router.stats().started(), 1);
}

#[tokio::test]
async fn a_calls_own_headers_reach_its_extractors_over_the_batchs() {
    let (server, _router) = custom(10);
    let url = server.url("/v1/rpc/last");
    let items = json!([
        { "url": url, "headers": { "last-event-id": "7" } },
        { "url": url },
        { "url": url, "headers": { "Last-Event-ID": ["8"] } },
    ]);
    let answers = buffered_with(
        server.url("/v1/rpc/last/__batch__"),
        &items,
        ("last-event-id", "1"),
    )
    .await;
    let bodies: Vec<Value> = by_index(answers, 3).into_iter().map(|a| a.1).collect();
    assert_eq!(
        bodies,
        [
            json!({ "json": "7" }),
            json!({ "json": "1" }),
            json!({ "json": "8" })
        ]
    );
}
