//! The `ai_chat` example as a process, against a mock of OpenAI's streaming chat completions
//! API served by this test on loopback: it streams a known text a word at a time and records
//! each request, and whether it was cancelled before its end.
//!
//! What is checked: the reply is the upstream's text, chunk by chunk, in the AI SDK's chunk
//! types; a client cut off halfway resumes with `Last-Event-ID` and gets the rest exactly once,
//! as does one that comes back after the reply finished; Stop cancels the upstream request within
//! a second while a dropped client cancels nothing; upstream failures (429, 500, a cut stream)
//! become `error` chunks and the server goes on serving; a second `chat` while one is generating
//! is a 409; on Redis, a reply resumes on another instance, Stop works from any instance, and a
//! killed generator is reported within 5 s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use orpc_protocol::sse::{Decoder, RawEvent};
use orpc_test_support::process::ServerProcess;
use orpc_test_support::{client, eventually, TestServer};
use serde_json::{json, Value};

/// The mock model's answer, a word every [`PACE`].
const TEXT: &str = "Event iterators stream a reply one chunk at a time, and a client that \
                    loses its connection resumes after the last id it saw, so that every word \
                    arrives exactly once, in order, however often the network drops.";
const PACE: Duration = Duration::from_millis(25);

/// What the mock saw.
#[derive(Default)]
struct Seen {
    /// Each request's body and `authorization` header.
    requests: Mutex<Vec<(Value, Option<String>)>>,
    /// Each request's query string.
    queries: Mutex<Vec<String>>,
    /// When each streamed answer was cancelled (its connection closed before the end).
    cancelled: Mutex<Vec<Instant>>,
    completed: AtomicU64,
}

/// The mock upstream. Its model name says how it answers: `slow` streams [`TEXT`]; `long`
/// streams it ten times over; `thinking` reasons first; `cut` stops halfway without an end;
/// `limited` answers 429 with `retry-after: 7`; `broken` answers 500.
struct Mock {
    server: TestServer,
    seen: Arc<Seen>,
}

impl Mock {
    fn start() -> Mock {
        let seen = Arc::new(Seen::default());
        let data = web::Data::from(seen.clone());
        let server = TestServer::start(
            move |cfg| {
                cfg.app_data(data.clone())
                    .route("/v1/chat/completions", web::post().to(completions));
            },
            false,
        );
        Mock { server, seen }
    }

    /// The API's base, as `--upstream` takes it.
    fn base(&self) -> String {
        self.server.url("/v1")
    }

    fn requests(&self) -> usize {
        self.seen.requests.lock().unwrap().len()
    }

    fn cancelled(&self) -> Vec<Instant> {
        self.seen.cancelled.lock().unwrap().clone()
    }
}

async fn completions(
    body: web::Json<Value>,
    req: HttpRequest,
    seen: web::Data<Seen>,
) -> HttpResponse {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let model = body["model"].as_str().unwrap_or_default().to_owned();
    seen.requests
        .lock()
        .unwrap()
        .push((body.into_inner(), auth));
    seen.queries
        .lock()
        .unwrap()
        .push(req.query_string().to_owned());
    let error = |message: &str| json!({ "error": { "message": message, "type": "mock" } });
    let words: Vec<String> = match model.as_str() {
        "limited" => {
            return HttpResponse::TooManyRequests()
                .insert_header(("retry-after", "7"))
                .json(error("Rate limit reached for requests"))
        }
        "broken" => return HttpResponse::InternalServerError().json(error("the mock broke")),
        "long" => TEXT
            .repeat(10)
            .split_inclusive(' ')
            .map(str::to_owned)
            .collect(),
        _ => TEXT.split_inclusive(' ').map(str::to_owned).collect(),
    };
    let mut events: Vec<String> = Vec::new();
    if model == "thinking" {
        for word in ["Let ", "me ", "think."] {
            events.push(
                json!({ "choices": [{ "delta": { "reasoning_content": word } }] }).to_string(),
            );
        }
    }
    let half = words.len() / 2;
    for (i, word) in words.into_iter().enumerate() {
        if model == "cut" && i == half {
            break;
        }
        events
            .push(json!({ "choices": [{ "index": 0, "delta": { "content": word } }] }).to_string());
    }
    if model != "cut" {
        events.push(
            json!({ "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }] })
                .to_string(),
        );
        events.push("[DONE]".to_owned());
    }
    let paced = futures_util::stream::iter(events).then(|event| async move {
        tokio::time::sleep(PACE).await;
        Ok::<_, std::io::Error>(Bytes::from(format!("data: {event}\n\n")))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(Watched {
            inner: Box::pin(paced),
            seen: seen.into_inner(),
            done: false,
        })
}

/// A streamed answer that records whether it was dropped before its end.
struct Watched {
    inner: std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>>>>,
    seen: Arc<Seen>,
    done: bool,
}

impl Stream for Watched {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let std::task::Poll::Ready(None) = polled {
            self.done = true;
        }
        polled
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if self.done {
            self.seen.completed.fetch_add(1, Ordering::SeqCst);
        } else {
            self.seen.cancelled.lock().unwrap().push(Instant::now());
        }
    }
}

/// The example on a free port, its upstream the mock answering as `model`.
fn server(mock: &Mock, model: &str, more: &[&str]) -> ServerProcess {
    let base = mock.base();
    let mut args = vec!["--upstream", base.as_str(), "--model", model];
    args.extend_from_slice(more);
    ServerProcess::example_with_env("ai_chat", &args, &[("OPENAI_API_KEY", "sk-test".as_ref())])
}

/// A chat id no other test or run uses.
fn chat_id(name: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{name}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn messages(question: &str) -> Value {
    json!([
        { "id": "s", "role": "system", "parts": [{ "type": "text", "text": "Be brief." }] },
        { "id": "u1", "role": "user", "parts": [
            { "type": "text", "text": question },
            { "type": "step-start" },
        ], "metadata": { "ignored": true } },
    ])
}

/// The events of one oRPC event iterator response.
struct Events {
    body: std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    decoder: Decoder,
    queued: std::collections::VecDeque<RawEvent>,
}

/// One chunk, with its event id.
#[derive(Debug, Clone)]
struct Received {
    chunk: Value,
    id: Option<String>,
}

impl Events {
    async fn call(
        server: &ServerProcess,
        procedure: &str,
        input: Value,
        last: Option<&str>,
    ) -> Events {
        let mut request = client()
            .post(format!("http://{}/rpc/{procedure}", server.addr))
            .json(&json!({ "json": input }));
        if let Some(last) = last {
            request = request.header("last-event-id", last);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{procedure}");
        Events {
            body: Box::pin(response.bytes_stream()),
            decoder: Decoder::new(),
            queued: Default::default(),
        }
    }

    /// A new reply to `question` in `chat`.
    async fn chat(server: &ServerProcess, chat: &str, question: &str) -> Events {
        let input = json!({ "chatId": chat, "messages": messages(question) });
        Events::call(server, "chat", input, None).await
    }

    /// `resume` of `chat`, after `last` if given.
    async fn resume(server: &ServerProcess, chat: &str, last: Option<&str>) -> Events {
        Events::call(server, "resume", json!({ "chatId": chat }), last).await
    }

    /// The next `message` event's chunk, or `None` at `done`; fails on an `error` event, and
    /// after 10 s.
    async fn next(&mut self) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(event) = self.queued.pop_front() {
                if event.event.is_empty() && event.data.is_empty() {
                    continue; // a comment: the opening one, or a keep-alive
                }
                let data: Value = serde_json::from_str(&event.data).unwrap();
                match event.event.as_str() {
                    "message" => {
                        return Some(Received {
                            chunk: data["json"].clone(),
                            id: event.id,
                        })
                    }
                    "done" => return None,
                    other => panic!("{other} event: {data}"),
                }
            }
            let bytes = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream goes on to its done event")
                .unwrap();
            self.queued.extend(self.decoder.feed(&bytes));
        }
    }

    /// Every chunk to `done`.
    async fn rest(&mut self) -> Vec<Received> {
        let mut all = Vec::new();
        while let Some(received) = self.next().await {
            all.push(received);
        }
        all
    }
}

fn chunk_type(received: &Received) -> &str {
    received.chunk["type"].as_str().unwrap()
}

/// The text of the `text-delta` chunks, joined.
fn text_of(chunks: &[Received]) -> String {
    chunks
        .iter()
        .filter(|r| chunk_type(r) == "text-delta")
        .map(|r| r.chunk["delta"].as_str().unwrap())
        .collect()
}

async fn call(server: &ServerProcess, procedure: &str, input: Value) -> (u16, Value) {
    let response = client()
        .post(format!("http://{}/rpc/{procedure}", server.addr))
        .json(&json!({ "json": input }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json::<Value>().await.unwrap()["json"].clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reply_is_the_upstreams_text_in_the_ai_sdks_chunks() {
    let mock = Mock::start();
    let server = server(&mock, "slow", &[]);
    let chat = chat_id("whole");
    let mut events = Events::chat(&server, &chat, "Why?").await;
    let chunks = events.rest().await;

    let types: Vec<&str> = chunks.iter().map(chunk_type).collect();
    assert_eq!(types[..2], ["start", "text-start"]);
    assert_eq!(types[types.len() - 2..], ["text-end", "finish"]);
    assert!(
        types[2..types.len() - 2].iter().all(|t| *t == "text-delta"),
        "{types:?}"
    );
    assert_eq!(text_of(&chunks), TEXT);
    assert_eq!(
        chunks.last().unwrap().chunk,
        json!({ "type": "finish", "finishReason": "stop" })
    );
    let part = &chunks[1].chunk["id"];
    assert!(chunks[1..chunks.len() - 1]
        .iter()
        .all(|r| &r.chunk["id"] == part));
    // Every chunk has an id, each a new one.
    let ids: std::collections::HashSet<_> = chunks.iter().map(|r| r.id.clone().unwrap()).collect();
    assert_eq!(ids.len(), chunks.len());

    // The upstream got the conversation as OpenAI's messages, streaming, with the key.
    let (body, auth) = mock.seen.requests.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(body["stream"], true);
    assert_eq!(body["model"], "slow");
    assert_eq!(
        body["messages"],
        json!([
            { "role": "system", "content": "Be brief." },
            { "role": "user", "content": "Why?" },
        ])
    );
    // Read to its end, not dropped as a cancelled request is.
    let completed = eventually(Duration::from_secs(2), async || {
        mock.seen.completed.load(Ordering::SeqCst) == 1
    })
    .await;
    assert!(completed && mock.cancelled().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_with_a_query_keeps_it_after_the_path() {
    let mock = Mock::start();
    // As Azure OpenAI's base is written: the API version in the query.
    let base = format!("{}/?api-version=2024-10-21", mock.base());
    let server =
        ServerProcess::example_with("ai_chat", &["--upstream", base.as_str(), "--model", "slow"]);
    let chat = chat_id("query");
    let chunks = Events::chat(&server, &chat, "Hi").await.rest().await;
    assert_eq!(text_of(&chunks), TEXT);
    assert_eq!(
        mock.seen.queries.lock().unwrap()[..],
        ["api-version=2024-10-21"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_comes_as_its_own_part_before_the_text() {
    let mock = Mock::start();
    let server = server(&mock, "thinking", &[]);
    let chat = chat_id("thinking");
    let chunks = Events::chat(&server, &chat, "Hm?").await.rest().await;
    let types: Vec<&str> = chunks.iter().map(chunk_type).collect();
    assert_eq!(
        types[..6],
        [
            "start",
            "reasoning-start",
            "reasoning-delta",
            "reasoning-delta",
            "reasoning-delta",
            "reasoning-end"
        ]
    );
    assert_eq!(types[6], "text-start");
    assert_ne!(chunks[1].chunk["id"], chunks[6].chunk["id"]);
    assert_eq!(text_of(&chunks), TEXT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_client_resumes_exactly_once_during_and_after_the_reply() {
    let mock = Mock::start();
    let server = server(&mock, "slow", &[]);
    let chat = chat_id("cut");
    let mut events = Events::chat(&server, &chat, "Go").await;
    let mut first = Vec::new();
    while text_of(&first).len() < TEXT.len() / 2 {
        first.push(events.next().await.unwrap());
    }
    let last_id = first.last().unwrap().id.clone().unwrap();
    drop(events);

    // Back mid-reply with its last id: the rest, nothing twice. `chat` with a Last-Event-ID (oRPC's
    // retry plugin) resumes too, and starts nothing.
    let rest = Events::call(
        &server,
        "chat",
        json!({ "chatId": chat, "messages": messages("Go") }),
        Some(&last_id),
    )
    .await
    .rest()
    .await;
    assert_eq!(format!("{}{}", text_of(&first), text_of(&rest)), TEXT);
    assert_eq!(chunk_type(rest.last().unwrap()), "finish");
    assert_eq!(mock.requests(), 1, "resuming starts no reply");

    // After the reply finished: with the same id, the same rest; without one (a reloaded page),
    // the whole reply from its start.
    let again = Events::resume(&server, &chat, Some(&last_id))
        .await
        .rest()
        .await;
    assert_eq!(text_of(&again), text_of(&rest));
    let whole = Events::resume(&server, &chat, None).await.rest().await;
    assert_eq!(chunk_type(&whole[0]), "start");
    assert_eq!(text_of(&whole), TEXT);
    assert_eq!(chunk_type(whole.last().unwrap()), "finish");
    // After its last chunk there is nothing more: the stream ends at once.
    let finish_id = whole.last().unwrap().id.clone().unwrap();
    let after_end = Events::resume(&server, &chat, Some(&finish_id))
        .await
        .rest()
        .await;
    assert!(after_end.is_empty(), "{after_end:?}");

    // A chat that has no reply: an empty stream, at once.
    let started = Instant::now();
    let nothing = Events::resume(&server, &chat_id("none"), None)
        .await
        .rest()
        .await;
    assert!(nothing.is_empty());
    assert!(started.elapsed() < Duration::from_secs(1));

    // A Last-Event-ID this server never sent is refused.
    let refused = error_event(
        &server,
        "resume",
        json!({ "chatId": chat }),
        Some("not-an-id"),
    )
    .await;
    assert_eq!(
        (refused["code"].as_str(), refused["status"].as_u64()),
        (Some("BAD_REQUEST"), Some(400))
    );
}

/// The `error` event a call of an event iterator ends with at once, as oRPC's client reads it.
async fn error_event(
    server: &ServerProcess,
    procedure: &str,
    input: Value,
    last: Option<&str>,
) -> Value {
    let mut request = client()
        .post(format!("http://{}/rpc/{procedure}", server.addr))
        .json(&json!({ "json": input }));
    if let Some(last) = last {
        request = request.header("last-event-id", last);
    }
    let body = request.send().await.unwrap().text().await.unwrap();
    let error = Decoder::new()
        .feed(body.as_bytes())
        .into_iter()
        .find(|event| event.event == "error")
        .unwrap_or_else(|| panic!("no error event in {body:?}"));
    serde_json::from_str::<Value>(&error.data).unwrap()["json"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_the_upstream_within_a_second_and_a_dropped_client_does_not() {
    let mock = Mock::start();
    let server = server(&mock, "long", &[]);
    let chat = chat_id("stop");
    let mut events = Events::chat(&server, &chat, "Talk").await;
    for _ in 0..5 {
        events.next().await.unwrap();
    }
    // The client leaves: the reply goes on.
    drop(events);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        mock.cancelled().is_empty(),
        "a client that left cancelled the upstream"
    );
    let conflict = error_event(
        &server,
        "chat",
        json!({ "chatId": chat, "messages": messages("Again") }),
        None,
    )
    .await;
    assert_eq!(
        (conflict["code"].as_str(), conflict["status"].as_u64()),
        (Some("CONFLICT"), Some(409))
    );

    // Stop: the upstream request is cancelled at once, the reply closes its part and finishes.
    let mut watching = Events::resume(&server, &chat, None).await;
    watching.next().await.unwrap();
    let asked = Instant::now();
    let (status, stopped) = call(&server, "stop", json!({ "chatId": chat })).await;
    assert_eq!((status, stopped), (200, json!({ "stopped": true })));
    let cancelled_in_time = eventually(Duration::from_secs(1), async || {
        !mock.cancelled().is_empty()
    })
    .await;
    assert!(
        cancelled_in_time,
        "the upstream request was not cancelled within 1 s of Stop"
    );
    assert!(mock.cancelled()[0].duration_since(asked) < Duration::from_secs(1));
    let rest = watching.rest().await;
    let types: Vec<&str> = rest.iter().map(chunk_type).collect();
    assert_eq!(
        types[types.len() - 2..],
        ["text-end", "finish"],
        "{types:?}"
    );
    assert_eq!(
        rest.last().unwrap().chunk,
        json!({ "type": "finish", "finishReason": "other" })
    );
    assert!(text_of(&rest).len() < TEXT.len() * 10);

    // Nothing is generating any more: Stop says so, and the upstream saw one request only.
    let (_, stopped) = call(&server, "stop", json!({ "chatId": chat })).await;
    assert_eq!(stopped, json!({ "stopped": false }));
    assert_eq!(mock.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_failures_are_error_chunks_and_the_server_goes_on() {
    let mock = Mock::start();
    for (model, expected) in [
        ("limited", "the model is rate limiting requests (429); retry after 7 s: Rate limit reached for requests"),
        ("broken", "the model failed (500 Internal Server Error): the mock broke"),
        ("cut", "the model's stream was cut off before its end"),
    ] {
        let server = server(&mock, model, &[]);
        let chat = chat_id(model);
        let chunks = Events::chat(&server, &chat, "Hi")
            .await
            .rest()
            .await;
        let last = chunks.last().unwrap();
        assert_eq!(last.chunk, json!({ "type": "error", "errorText": expected }), "{model}");
        if model == "cut" {
            // What came before the cut is kept, its part closed.
            assert_eq!(chunk_type(&chunks[chunks.len() - 2]), "text-end");
            assert!(TEXT.starts_with(&text_of(&chunks)));
        }
        // The chat is free again, and the server serves on.
        let (status, _) = call(&server, "stop", json!({ "chatId": chat })).await;
        assert_eq!(status, 200);
        let again = Events::chat(&server, &chat, "Hi")
            .await
            .rest()
            .await;
        assert_eq!(chunk_type(again.last().unwrap()), "error");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused() {
    let mock = Mock::start();
    let server = server(&mock, "slow", &[]);
    for input in [
        json!({ "chatId": "", "messages": messages("Hi") }),
        json!({ "chatId": "a/b", "messages": messages("Hi") }),
        json!({ "chatId": "x".repeat(129), "messages": messages("Hi") }),
        json!({ "chatId": "ok", "messages": [] }),
        json!({ "chatId": "ok", "messages": [{ "role": "robot", "parts": [] }] }),
    ] {
        let (status, error) = call(&server, "chat", input.clone()).await;
        assert_eq!(
            (status, error["code"].as_str()),
            (400, Some("BAD_REQUEST")),
            "{input}"
        );
    }
    assert_eq!(mock.requests(), 0);
}

/// The Redis URL if one answers; else the workspace's skip line (a failure under `CI=true`).
async fn redis_or_skip() -> Option<String> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let ping = async {
        let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(|e| e.to_string())
    };
    let found = tokio::time::timeout(Duration::from_secs(3), ping)
        .await
        .unwrap_or_else(|_| Err("no answer within 3 s".to_owned()))
        .map(drop)
        .map_err(|err| format!("no Redis answers at {url} ({err})"));
    let how = "start one (`redis-server`), set REDIS_URL, or run scripts/test, which starts a private one";
    orpc_test_support::tools::available("Redis test of the ai_chat example", found, how)
        .then_some(url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_redis_replies_resume_and_stop_on_any_instance_and_a_dead_generator_is_reported() {
    let Some(url) = redis_or_skip().await else {
        return;
    };
    let mock = Mock::start();
    let a = server(&mock, "long", &["--redis", &url]);
    let b = server(&mock, "long", &["--redis", &url]);

    // Cut off on A halfway through a few words, resumed on B: the rest, exactly once.
    let chat = chat_id("redis");
    let mut on_a = Events::chat(&a, &chat, "Go").await;
    let mut first = Vec::new();
    for _ in 0..10 {
        first.push(on_a.next().await.unwrap());
    }
    drop(on_a);
    let last_id = first.last().unwrap().id.clone().unwrap();
    let mut on_b = Events::resume(&b, &chat, Some(&last_id)).await;
    let mut rest = Vec::new();
    for _ in 0..10 {
        rest.push(on_b.next().await.unwrap());
    }
    // A reloaded page on B: the reply from its start, to the same point and on.
    let mut whole = Events::resume(&b, &chat, None).await;
    let mut from_start = Vec::new();
    for _ in 0..20 {
        from_start.push(whole.next().await.unwrap());
    }
    assert_eq!(
        format!("{}{}", text_of(&first), text_of(&rest)),
        text_of(&from_start)
    );
    assert!((TEXT.repeat(10)).starts_with(&text_of(&from_start)));

    // Stop on B ends A's generation and cancels its upstream request within a second.
    let asked = Instant::now();
    let (_, stopped) = call(&b, "stop", json!({ "chatId": chat })).await;
    assert_eq!(stopped, json!({ "stopped": true }));
    assert!(
        eventually(Duration::from_secs(1), async || !mock
            .cancelled()
            .is_empty())
        .await
    );
    assert!(mock.cancelled()[0].duration_since(asked) < Duration::from_secs(1));
    let ended = on_b.rest().await;
    assert_eq!(ended.last().unwrap().chunk["finishReason"], "other");
    let full = format!("{}{}{}", text_of(&first), text_of(&rest), text_of(&ended));
    assert_eq!(
        text_of(&whole.rest().await),
        full[text_of(&from_start).len()..]
    );
    // The finished reply's stream goes when retention is over (10 minutes).
    let reply = last_id.split('.').next().unwrap();
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("orpc:pubsub:ai-chat/{chat}/{reply}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");

    // A new reply on A, whose instance dies: readers on B are told within 5 s.
    let chat = chat_id("dead");
    let mut on_a = Events::chat(&a, &chat, "Go").await;
    on_a.next().await.unwrap();
    let mut on_b = Events::resume(&b, &chat, None).await;
    on_b.next().await.unwrap();
    drop(a);
    let killed = Instant::now();
    let mut last = None;
    while let Some(received) = on_b.next().await {
        last = Some(received);
    }
    let last = last.unwrap();
    assert_eq!(chunk_type(&last), "error", "{last:?}");
    assert!(last.chunk["errorText"].as_str().unwrap().contains("gone"));
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "reported after {:?}",
        killed.elapsed()
    );
    // Its chat is free again once the lease expired.
    let again = Events::chat(&b, &chat, "Again").await;
    drop(again);
}
