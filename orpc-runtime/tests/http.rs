//! The conformance procedures over real HTTP on loopback: exact bytes, every way a stream ends
//! with its cleanup, disconnects, keep-alive, compression, `Last-Event-ID` and error answers.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::sse::KeepAlive;
use orpc_test_support::conformance::{self, Conformance, Streams, INITIAL};
use orpc_test_support::firehose::{firehose, paused_within};
use orpc_test_support::{client, Frames, Options};
use serde_json::{json, Value};

#[tokio::test]
async fn rpc_count_sends_exactly_orpcs_bytes() {
    let c = Conformance::start();
    let response = c.rpc("count", json!({ "n": 2 })).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-accel-buffering"], "no");
    let body = response.text().await.unwrap();
    assert_eq!(
        body,
        ": \n\n\
         event: message\nretry: 1000\nid: 0\ndata: {\"json\":{\"i\":0}}\n\n\
         event: message\nretry: 1000\nid: 1\ndata: {\"json\":{\"i\":1}}\n\n\
         event: done\ndata: {\"json\":\"done!\"}\n\n"
    );
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn openapi_count_reads_the_query_and_resumes_after_last_event_id() {
    let c = Conformance::start();
    let response = client()
        .get(c.server.url("/api/count?n=4&delay_ms=0"))
        .header("last-event-id", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let frames = Frames::new(response).rest().await;
    assert_eq!(
        frames,
        [
            INITIAL,
            "event: message\nretry: 1000\nid: 2\ndata: {\"i\":2}",
            "event: message\nretry: 1000\nid: 3\ndata: {\"i\":3}",
            "event: done\ndata: \"done!\"",
        ]
    );
}

#[tokio::test]
async fn a_last_event_id_that_is_not_a_number_starts_over() {
    let c = Conformance::start();
    for bad in ["abc", "", "-1"] {
        let response = client()
            .get(c.server.url("/api/count?n=1"))
            .header("last-event-id", bad)
            .send()
            .await
            .unwrap();
        let frames = Frames::new(response).rest().await;
        assert_eq!(
            frames[1], "event: message\nretry: 1000\nid: 0\ndata: {\"i\":0}",
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn errors_mid_stream_are_error_events_and_cleanup_runs() {
    let c = Conformance::start();
    let frames = Frames::new(c.rpc("fail", Value::Null).await).rest().await;
    assert_eq!(
        frames,
        [
            INITIAL,
            "event: message\ndata: {\"json\":{\"a\":1}}",
            "event: error\ndata: {\"json\":{\"defined\":false,\"code\":\"BAD_REQUEST\",\"status\":400,\"message\":\"nope\",\"data\":{\"x\":1}}}",
        ]
    );
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn a_panic_is_an_internal_error_and_the_server_keeps_serving() {
    let c = Conformance::start();
    for _ in 0..3 {
        let frames = Frames::new(c.rpc("panic", Value::Null).await).rest().await;
        assert_eq!(
            frames[1..],
            [
                "event: message\ndata: {\"json\":{\"a\":1}}",
                "event: error\ndata: {\"json\":{\"defined\":false,\"code\":\"INTERNAL_SERVER_ERROR\",\"status\":500,\"message\":\"Internal server error\"}}",
            ]
        );
    }
    let echo = c.rpc("echo", json!({ "name": "still here" })).await;
    assert_eq!(
        echo.json::<Value>().await.unwrap(),
        json!({ "json": { "greeting": "hello still here" } })
    );
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
    assert_eq!(c.started(), 3);
}

#[tokio::test]
async fn metadata_is_sent_and_a_forged_id_never_reaches_the_wire() {
    let c = Conformance::start();
    let frames = Frames::new(c.rpc("meta", Value::Null).await).rest().await;
    assert_eq!(
        frames[1..],
        [
            ": hello\n: world\nevent: message\nid: α-1\ndata: {\"json\":{\"n\":1}}",
            "event: message\nretry: 2500\ndata: {\"json\":{\"n\":2}}",
            "event: error\ndata: {\"json\":{\"defined\":false,\"code\":\"INTERNAL_SERVER_ERROR\",\"status\":500,\"message\":\"Internal server error\"}}",
        ]
    );
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn an_invalid_event_ends_the_stream_unsent_and_cleanup_runs() {
    let c = Conformance::start();
    let frames = Frames::new(
        c.rpc("validated", json!({ "values": [0, 100, 101, 5] }))
            .await,
    )
    .rest()
    .await;
    assert_eq!(
        frames[1..],
        [
            "event: message\ndata: {\"json\":{\"value\":0}}",
            "event: message\ndata: {\"json\":{\"value\":100}}",
            "event: error\ndata: {\"json\":{\"defined\":false,\"code\":\"EVENT_ITERATOR_VALIDATION_FAILED\",\"status\":500,\"message\":\"Event iterator validation failed\"}}",
        ]
    );
    assert!(c.all_cleaned_within(Duration::from_secs(1)).await);
}

#[tokio::test]
async fn text_with_every_line_break_form_round_trips() {
    let c = Conformance::start();
    let items = ["a\nb", "c\r\nd", "e\rf", "", "ü€😀", "\n"];
    let frames = Frames::new(c.rpc("text", json!({ "items": items })).await)
        .rest()
        .await;
    let values: Vec<String> = frames[1..frames.len() - 1]
        .iter()
        .map(|frame| {
            let data = frame.strip_prefix("event: message\ndata: ").expect(frame);
            assert!(
                !data.contains('\n') && !data.contains('\r'),
                "one data line: {frame:?}"
            );
            serde_json::from_str::<Value>(data).unwrap()["json"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(values, items);
    assert_eq!(frames.last().unwrap(), "event: done\ndata: {}");
    // The OpenAPI protocol sends a unit return as `null`, so that an EventSource sees the end.
    let response = client()
        .post(c.server.url("/api/text"))
        .json(&json!({ "items": ["x"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        Frames::new(response).rest().await[1..],
        ["event: message\ndata: \"x\"", "event: done\ndata: null"]
    );
}

#[tokio::test]
async fn plain_procedures_and_error_answers() {
    let c = Conformance::start();
    let url = |p: &str| c.server.url(p);
    let ok = c.rpc("echo", json!({ "name": "bob" })).await;
    assert_eq!(
        (ok.status().as_u16(), ok.text().await.unwrap()),
        (200, r#"{"json":{"greeting":"hello bob"}}"#.into())
    );
    let plain = client()
        .post(url("/api/echo"))
        .json(&json!({ "name": "bob" }))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.text().await.unwrap(), r#"{"greeting":"hello bob"}"#);

    let invalid = c.rpc("echo", json!({ "name": "" })).await;
    assert_eq!(invalid.status(), 400);
    let body: Value = invalid.json().await.unwrap();
    assert_eq!(body["json"]["code"], "BAD_REQUEST");
    assert_eq!(body["json"]["message"], "Input validation failed");
    assert_eq!(body["json"]["data"]["issues"][0]["path"], json!(["name"]));

    let missing = c
        .rpc("echo", json!({}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        missing["json"]["data"]["issues"][0]["path"],
        json!(["name"])
    );
    let wrong_type = c
        .rpc("count", json!({ "n": "three" }))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        wrong_type["json"]["data"]["issues"][0]["path"],
        json!(["n"])
    );

    let not_json = client()
        .post(url("/rpc/echo"))
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(
        not_json.json::<Value>().await.unwrap()["json"]["code"],
        "BAD_REQUEST"
    );

    let unknown = client().post(url("/rpc/nope")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["json"]["code"],
        "NOT_FOUND"
    );
    let unknown_api = client().post(url("/api/nope")).send().await.unwrap();
    assert_eq!(
        (
            unknown_api.status().as_u16(),
            unknown_api.json::<Value>().await.unwrap()["code"].clone()
        ),
        (404, json!("NOT_FOUND"))
    );

    let get = client().get(url("/rpc/echo")).send().await.unwrap();
    assert_eq!(get.status(), 405);
    assert_eq!(
        get.json::<Value>().await.unwrap()["json"]["code"],
        "METHOD_NOT_SUPPORTED"
    );

    let huge = client()
        .post(url("/rpc/echo"))
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(
        huge.json::<Value>().await.unwrap()["json"]["code"],
        "PAYLOAD_TOO_LARGE"
    );

    // Errors keep oRPC's field order.
    let text = c.rpc("nope", Value::Null).await.text().await.unwrap();
    assert!(
        text.starts_with(r#"{"json":{"defined":false,"code":"NOT_FOUND","status":404,"message":"#),
        "{text}"
    );
}

#[tokio::test]
async fn an_empty_body_means_no_input() {
    let c = Conformance::start();
    let response = client()
        .post(c.server.url("/rpc/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "json": { "started": 0, "cleaned": 0 } })
    );
    // What RPCLink sends for an undefined input.
    let response = client()
        .post(c.server.url("/rpc/stats"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_idle_stream_is_cleaned_within_a_second_of_a_disconnect_without_keep_alive() {
    let c = Conformance::with(
        conformance::router().keep_alive(KeepAlive::default().interval(None)),
        Options::default(),
    );
    let frames = c.idle_stream().await;
    // The handler now waits an hour for its next tick; nothing is written.
    assert_eq!((c.started(), c.cleaned()), (1, 0));
    let left = Instant::now();
    drop(frames);
    assert!(
        c.all_cleaned_within(Duration::from_secs(1)).await,
        "cleanup within 1 s of the disconnect"
    );
    eprintln!("cleanup ran {:?} after the disconnect", left.elapsed());
}

#[tokio::test]
async fn keep_alive_comments_fill_silences() {
    let keep_alive = KeepAlive::default()
        .interval(Some(Duration::from_millis(100)))
        .comment("ping");
    let c = Conformance::with(
        conformance::router().keep_alive(keep_alive),
        Options::default(),
    );
    let mut frames = c.idle_stream().await;
    for _ in 0..3 {
        assert_eq!(
            frames.next_within(Duration::from_secs(5)).await.as_deref(),
            Some(": ping")
        );
    }
}

#[tokio::test]
async fn without_an_initial_comment_the_first_event_comes_first() {
    let keep_alive = KeepAlive::default().initial_comment(None::<&str>);
    let c = Conformance::with(
        conformance::router().keep_alive(keep_alive),
        Options::default(),
    );
    let frames = Frames::new(c.rpc("count", json!({ "n": 1 })).await)
        .rest()
        .await;
    assert_eq!(
        frames[0],
        "event: message\nretry: 1000\nid: 0\ndata: {\"json\":{\"i\":0}}"
    );
}

#[tokio::test]
async fn behind_compress_events_still_arrive_one_by_one() {
    let c = Conformance::with(
        conformance::router(),
        Options {
            compress: true,
            ..Options::default()
        },
    );
    let response = client()
        .get(c.server.url("/api/forever?interval_ms=3600000"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    // reqwest undoes the gzip it asked for; the header it removes proves there was some.
    assert!(response.headers().get("content-encoding").is_none());
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let compressed = raw
        .get(c.server.url("/api/forever?interval_ms=3600000"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    drop(compressed);
    // The first tick is followed by an hour of silence: it must arrive without waiting for more.
    let mut frames = Frames::new(response);
    assert_eq!(
        frames.next_within(Duration::from_secs(5)).await.as_deref(),
        Some(INITIAL)
    );
    assert_eq!(
        frames.next_within(Duration::from_secs(5)).await.as_deref(),
        Some("event: message\ndata: {\"tick\":0}")
    );
}

#[tokio::test]
async fn shutdown_ends_open_streams_without_done_and_runs_their_cleanup() {
    let router = conformance::router();
    let c = Conformance::with(router.clone(), Options::default());
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(c.idle_stream().await);
    }
    assert_eq!((c.started(), c.cleaned()), (3, 0));
    router.shutdown();
    for frames in &mut open {
        assert_eq!(
            frames.next_within(Duration::from_secs(2)).await,
            None,
            "the stream ends, without a done event"
        );
    }
    assert!(c.all_cleaned_within(Duration::from_secs(2)).await);
}

/// The library's default keep-alive, at its real interval, on paused time: a comment after each
/// 5 s of silence, counted from the last chunk written, so an event puts the next one off.
#[actix_web::test]
async fn default_keep_alive_fills_each_five_seconds_of_silence_on_paused_time() {
    use actix_web::body::MessageBody;

    tokio::time::pause();
    let router = conformance::router();
    let app = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(web::Data::new(Streams::default()))
            .service(web::scope("/api").configure(router.openapi())),
    )
    .await;
    let request = actix_web::test::TestRequest::get()
        .uri("/api/forever?interval_ms=12000")
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.status(), 200);
    let mut body = std::pin::pin!(response.into_body());
    let opened = tokio::time::Instant::now();
    let mut chunks = Vec::new();
    while chunks.len() < 7 {
        let chunk = std::future::poll_fn(|cx| body.as_mut().poll_next(cx))
            .await
            .expect("the stream goes on")
            .unwrap();
        // To the nearest 100 ms: tokio's timers round each deadline up to the next millisecond.
        let at = (opened.elapsed().as_millis() + 50) / 100 * 100;
        chunks.push((at, String::from_utf8(chunk.to_vec()).unwrap()));
    }
    let tick = |n: u32| format!("event: message\ndata: {{\"tick\":{n}}}\n\n");
    let keep_alive = ": \n\n".to_owned();
    assert_eq!(
        chunks,
        [
            (0, keep_alive.clone()),
            (0, tick(0)),
            (5_000, keep_alive.clone()),
            (10_000, keep_alive.clone()),
            (12_000, tick(1)),
            (17_000, keep_alive.clone()),
            (22_000, keep_alive),
        ]
    );
}

/// A stream on a connection that is not watched (no `watch_disconnects`, as behind TLS) has no
/// connection to be woken through: it ends at shutdown through a waiter of its own.
#[actix_web::test]
async fn shutdown_ends_a_stream_whose_connection_is_not_watched() {
    use actix_web::body::MessageBody;

    let router = conformance::router();
    let streams = web::Data::new(Streams::default());
    let app = actix_web::test::init_service(
        actix_web::App::new()
            .app_data(streams.clone())
            .service(web::scope("/api").configure(router.openapi())),
    )
    .await;
    let request = actix_web::test::TestRequest::get()
        .uri("/api/forever?interval_ms=3600000")
        .to_request();
    let response = actix_web::test::call_service(&app, request).await;
    assert_eq!(response.status(), 200);
    let mut body = std::pin::pin!(response.into_body());
    let mut next = async || {
        tokio::time::timeout(
            Duration::from_secs(2),
            std::future::poll_fn(|cx| body.as_mut().poll_next(cx)),
        )
        .await
        .expect("a chunk or the end within 2 s")
        .map(Result::unwrap)
    };
    assert_eq!(next().await.as_deref(), Some(&b": \n\n"[..]));
    assert_eq!(
        next().await.as_deref(),
        Some(&b"event: message\ndata: {\"tick\":0}\n\n"[..])
    );
    router.shutdown();
    assert_eq!(next().await, None, "the stream ends, without a done event");
    assert_eq!(streams.cleaned.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_that_reads_nothing_pauses_the_handler() {
    let c = Conformance::with(Router::new().procedure(firehose), Options::default());
    let response = c.rpc("firehose", Value::Null).await;
    assert_eq!(response.status(), 200);
    // Read nothing: the socket buffers fill, then actix-web stops polling the body.
    let (paused, produced) = paused_within(Duration::from_secs(5)).await;
    assert!(paused, "the handler kept producing: {produced} events");
    // Each event is ~150 bytes on the wire: what is produced is bounded by the buffers between
    // the handler and the client (socket buffers, actix-web's and this crate's), far below 64 MiB.
    assert!(
        produced * 150 < 64 * 1024 * 1024,
        "{produced} events produced while unread"
    );
    eprintln!("{produced} events produced before the handler was paused");
    drop(response);
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let c = Conformance::start();
    let doc: Value = client()
        .get(c.server.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.1");
    assert_eq!(doc["servers"][0]["url"], "/api");
    let count = &doc["paths"]["/count"]["get"];
    assert_eq!(
        count["summary"],
        "Counts from 0 (or after the `Last-Event-ID`) to `n - 1`."
    );
    assert_eq!(count["tags"], json!(["streams"]));
    let parameters: Vec<(&str, bool)> = count["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap(),
                p["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(parameters, [("delay_ms", false), ("n", true)]);
    let frames = count["responses"]["200"]["content"]["text/event-stream"]["schema"]["oneOf"]
        .as_array()
        .unwrap();
    let events: Vec<&str> = frames
        .iter()
        .map(|f| f["properties"]["event"]["const"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["message", "done", "error"]);
    assert_eq!(
        frames[0]["properties"]["data"],
        json!({ "$ref": "#/components/schemas/Tick" })
    );
    assert_eq!(frames[0]["properties"]["id"], json!({ "type": "string" }));
    assert_eq!(frames[1]["properties"]["data"], json!({ "type": "string" }));
    assert_eq!(
        frames[2]["properties"]["data"],
        json!({ "$ref": "#/components/schemas/ORPCError" })
    );

    let echo = &doc["paths"]["/echo"]["post"];
    assert_eq!(
        echo["requestBody"]["content"]["application/json"]["schema"],
        json!({ "$ref": "#/components/schemas/EchoInput" })
    );
    assert_eq!(
        doc["components"]["schemas"]["EchoInput"]["properties"]["name"]["minLength"],
        1
    );
    assert_eq!(
        echo["responses"]["200"]["content"]["application/json"]["schema"],
        json!({ "$ref": "#/components/schemas/Greeting" })
    );
    assert!(
        doc["paths"]["/stats"]["post"].get("requestBody").is_none(),
        "stats takes no input"
    );
    // Files: an upload is a form whose file field is binary; a download is the file itself.
    let upload = &doc["paths"]["/upload"]["post"]["requestBody"]["content"];
    assert_eq!(
        upload["multipart/form-data"]["schema"],
        json!({ "$ref": "#/components/schemas/UploadInput" })
    );
    assert!(upload.get("application/json").is_none(), "{upload}");
    assert_eq!(
        doc["components"]["schemas"]["UploadInput"]["properties"]["file"],
        json!({ "type": "string", "format": "binary" })
    );
    let download = &doc["paths"]["/download"]["get"];
    assert_eq!(download["parameters"][0]["name"], "size");
    assert_eq!(
        download["responses"]["200"]["content"]["application/octet-stream"]["schema"],
        json!({ "type": "string", "format": "binary" })
    );
    let operations = doc["paths"].as_object().unwrap().len();
    assert_eq!(operations, 13, "one per conformance procedure");
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Percent {
    #[schemars(range(min = 0, max = 100))]
    value: i64,
}

#[orpc_runtime::procedure(output = event_iterator(Percent), validate = false)]
async fn unchecked() {
    orpc_runtime::yield_!(Percent { value: 250 });
}

#[tokio::test]
async fn validation_can_be_switched_off_per_procedure() {
    let c = Conformance::with(Router::new().procedure(unchecked), Options::default());
    let frames = Frames::new(c.rpc("unchecked", Value::Null).await)
        .rest()
        .await;
    assert_eq!(
        frames[1..],
        [
            "event: message\ndata: {\"json\":{\"value\":250}}",
            "event: done\ndata: {}"
        ]
    );
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Summary {
    #[schemars(range(max = 10))]
    total: u32,
}

#[orpc_runtime::procedure(output = event_iterator(Percent, Summary))]
async fn summarised(input: u32) -> Summary {
    orpc_runtime::yield_!(Percent { value: 1 });
    Summary { total: input }
}

#[tokio::test]
async fn the_return_value_is_validated_too() {
    let c = Conformance::with(Router::new().procedure(summarised), Options::default());
    let ok = Frames::new(c.rpc("summarised", json!(10)).await)
        .rest()
        .await;
    assert_eq!(ok[2], "event: done\ndata: {\"json\":{\"total\":10}}");
    let bad = Frames::new(c.rpc("summarised", json!(11)).await)
        .rest()
        .await;
    assert_eq!(
        bad[1..],
        [
            "event: message\ndata: {\"json\":{\"value\":1}}",
            "event: error\ndata: {\"json\":{\"defined\":false,\"code\":\"EVENT_ITERATOR_VALIDATION_FAILED\",\"status\":500,\"message\":\"Event iterator validation failed\"}}",
        ]
    );
}

#[tokio::test]
async fn a_declared_error_is_sent_defined_with_its_data_and_documented() {
    let c = Conformance::start();
    let rpc = c.rpc("limited", Value::Null).await;
    assert_eq!(rpc.status(), 429);
    assert_eq!(
        rpc.text().await.unwrap(),
        r#"{"json":{"defined":true,"code":"RATE_LIMITED","status":429,"message":"slow down","data":{"retry_after":10}}}"#
    );
    let openapi = client().post(c.url("/api/limited")).send().await.unwrap();
    assert_eq!(openapi.status(), 429);
    assert_eq!(
        openapi.text().await.unwrap(),
        r#"{"defined":true,"code":"RATE_LIMITED","status":429,"message":"slow down","data":{"retry_after":10}}"#
    );
    let document: Value = client()
        .get(c.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let declared = &document["paths"]["/limited"]["post"]["responses"]["429"]["content"]
        ["application/json"]["schema"];
    assert_eq!(
        declared["properties"]["code"],
        json!({ "const": "RATE_LIMITED" })
    );
    assert_eq!(declared["properties"]["defined"], json!({ "const": true }));
    assert_eq!(
        document["components"]["schemas"]["RetryAfter"]["properties"]["retry_after"]["type"],
        "integer"
    );
    // Undeclared errors stay undefined.
    let undeclared = Frames::new(c.rpc("fail", Value::Null).await).rest().await;
    assert!(
        undeclared[2].contains("\"defined\":false"),
        "{undeclared:?}"
    );
}

#[tokio::test]
async fn the_api_reference_page_is_served_only_when_asked_for() {
    let c = Conformance::start();
    let off = client().get(c.url("/api/docs")).send().await.unwrap();
    assert_eq!(off.status(), 404, "off by default");

    let c = Conformance::with(
        conformance::router().api_reference(true),
        Options::default(),
    );
    let on = client().get(c.url("/api/docs")).send().await.unwrap();
    assert_eq!(on.status(), 200);
    assert_eq!(on.headers()["content-type"], "text/html; charset=utf-8");
    let page = on.text().await.unwrap();
    // One self-contained file: it reads the document beside it and loads nothing else.
    assert!(page.contains("fetch('openapi.json')"));
    assert!(
        !page.contains("src=") && !page.contains("<link"),
        "no external assets"
    );
}

#[tokio::test]
async fn bigint_and_date_travel_with_meta_over_rpc_and_as_strings_over_openapi() {
    let c = Conformance::start();
    let input = r#"{"json":{"big":"9007199254740993","at":"2024-05-01T12:00:00.000Z"},"meta":[[0,"big"],[1,"at"]]}"#;
    let rpc = client()
        .post(c.url("/rpc/types"))
        .body(input)
        .send()
        .await
        .unwrap();
    let payload = r#"{"json":{"big":"9007199254740994","at":"2024-05-02T12:00:00.000Z"},"meta":[[0,"big"],[1,"at"]]}"#;
    assert_eq!(
        Frames::new(rpc).rest().await[1..],
        [
            format!("event: message\ndata: {payload}"),
            format!("event: done\ndata: {payload}")
        ]
    );
    let openapi = client()
        .post(c.url("/api/types"))
        .json(&json!({ "big": "9007199254740993", "at": "2024-05-01T12:00:00.000Z" }))
        .send()
        .await
        .unwrap();
    let plain = r#"{"big":"9007199254740994","at":"2024-05-02T12:00:00.000Z"}"#;
    assert_eq!(
        Frames::new(openapi).rest().await[1..],
        [
            format!("event: message\ndata: {plain}"),
            format!("event: done\ndata: {plain}")
        ]
    );

    // Bad meta, or values that are not what it says: 400, and the server goes on.
    let at = r#""2024-05-01T12:00:00.000Z""#;
    let bad = [
        (
            format!(r#"{{"json":{{"big":"1","at":{at}}},"meta":[[0,"nope"]]}}"#),
            "not in `json`",
        ),
        (
            format!(r#"{{"json":{{"big":"1","at":{at}}},"meta":[[9,"big"]]}}"#),
            "unknown type 9",
        ),
        (
            format!(r#"{{"json":{{"big":"1.5","at":{at}}},"meta":[[0,"big"]]}}"#),
            "is not a bigint",
        ),
        (
            r#"{"json":{"big":"1","at":"yesterday"},"meta":[[1,"at"]]}"#.to_owned(),
            "date-time",
        ),
    ];
    for (body, expected) in bad {
        let response = client()
            .post(c.url("/rpc/types"))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let text = response.text().await.unwrap();
        assert!(
            text.contains("BAD_REQUEST") && text.contains(expected),
            "{body}: {text}"
        );
    }
    assert_eq!(c.rpc("echo", json!({ "name": "ok" })).await.status(), 200);
}

#[derive(serde::Serialize, schemars::JsonSchema)]
struct Row {
    id: u64,
    /// Opted in: a bigint on the wire, never refused.
    big: orpc_runtime::BigInt<u64>,
}

/// Its event and its `done` value can hold integers a JavaScript client would round; checked
/// whether or not validation is on.
#[orpc_runtime::procedure(output = event_iterator(Row, i64), validate = false)]
async fn rows(input: u64) -> i64 {
    orpc_runtime::yield_!(Row {
        id: input,
        big: orpc_runtime::BigInt(u64::MAX),
    });
    i64::try_from(input).unwrap_or(0) + 1
}

#[orpc_runtime::procedure]
async fn lookup(input: i64) -> Vec<i64> {
    vec![1, input]
}

#[tokio::test]
async fn integers_a_javascript_client_would_round_are_refused_not_rounded() {
    const SAFE: u64 = (1 << 53) - 1;
    let router = Router::new().procedure(rows).procedure(lookup);
    let c = Conformance::with(router, Options::default());
    let big = r#""big":"18446744073709551615"},"meta":[[0,"big"]]}"#;
    let ok = Frames::new(c.rpc("rows", json!(SAFE - 1)).await)
        .rest()
        .await;
    assert_eq!(
        ok[1..],
        [
            format!("event: message\ndata: {{\"json\":{{\"id\":9007199254740990,{big}"),
            "event: done\ndata: {\"json\":9007199254740991}".to_owned(),
        ]
    );
    let refused = |path: &str, value: &str| {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        format!(
            "event: error\ndata: {{\"json\":{{\"defined\":false,\"code\":\"INTERNAL_SERVER_ERROR\",\"status\":500,\"message\":\"Output not sent: the integer {value}{at} is beyond 2^53 - 1, so a JavaScript client would round it; send it as a BigInt (a bigint over RPC, a string over OpenAPI)\"}}}}"
        )
    };
    let done = Frames::new(c.rpc("rows", json!(SAFE)).await).rest().await;
    assert_eq!(done[2..], [refused("", "9007199254740992")]);
    let event = Frames::new(c.rpc("rows", json!(u64::MAX)).await)
        .rest()
        .await;
    assert_eq!(event[1..], [refused("id", "18446744073709551615")]);

    // A plain output, over both protocols.
    let fine = c.rpc("lookup", json!(-(SAFE as i64))).await;
    assert_eq!(
        fine.text().await.unwrap(),
        r#"{"json":[1,-9007199254740991]}"#
    );
    let rpc = c.rpc("lookup", json!(-(SAFE as i64) - 1)).await;
    assert_eq!(rpc.status(), 500);
    let body: Value = rpc.json().await.unwrap();
    assert_eq!(
        body["json"]["message"],
        "Output not sent: the integer -9007199254740992 at `[1]` is beyond 2^53 - 1, so a \
         JavaScript client would round it; send it as a BigInt (a bigint over RPC, a string over \
         OpenAPI)"
    );
    let openapi = client()
        .post(c.url("/api/lookup"))
        .json(&json!(i64::MIN))
        .send()
        .await
        .unwrap();
    assert_eq!(openapi.status(), 500);
    let body: Value = openapi.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("-9223372036854775808 at `[1]`"),
        "{body}"
    );
    // The server goes on serving.
    let again = Frames::new(c.rpc("rows", json!(1)).await).rest().await;
    assert_eq!(again[2], "event: done\ndata: {\"json\":2}");
}
