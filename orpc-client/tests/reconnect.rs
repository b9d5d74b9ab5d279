//! Reconnecting, against a scripted HTTP server on loopback that answers each connection with the
//! next reply of its script (repeating the last one), so every way a stream can end is produced
//! on purpose: a clean end without `done`, a cut mid-event, a stall, an error response.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orpc_client::{Client, Error, EventStream, Frame, ReconnectPolicy};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMIT: Duration = Duration::from_secs(20);

/// One answer of the scripted server.
#[derive(Clone)]
struct Reply {
    bytes: Vec<u8>,
    /// Keep the connection open, silent, after writing (instead of closing it).
    stall: bool,
}

/// A complete `text/event-stream` response with `body`, then the connection closes.
fn sse(body: &str) -> Reply {
    Reply {
        bytes: format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
        stall: false,
    }
}

/// A `text/event-stream` response that sends `body`, then neither ends nor sends anything more.
fn stalled_sse(body: &str) -> Reply {
    Reply {
        bytes: format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{body}"
        )
        .into_bytes(),
        stall: true,
    }
}

fn status(code: u16, content_type: &str, body: &str) -> Reply {
    Reply {
        bytes: format!(
            "HTTP/1.1 {code} Whatever\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
        stall: false,
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
    at: Instant,
}

impl Seen {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

struct Scripted {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Scripted {
    async fn start(script: Vec<Reply>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/rpc", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let task = tokio::spawn(async move {
            for n in 0.. {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let reply = script[n.min(script.len() - 1)].clone();
                let log = log.clone();
                tokio::spawn(answer(socket, reply, log));
            }
        });
        Scripted { url, seen, task }
    }

    fn client(&self, policy: ReconnectPolicy) -> Client {
        Client::builder(&self.url)
            .reconnect(policy)
            .build()
            .unwrap()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(mut socket: TcpStream, reply: Reply, log: Arc<Mutex<Vec<Seen>>>) {
    let at = Instant::now();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < head_end + 4 + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end + 4..]).into_owned();
    log.lock().unwrap().push(Seen { head, body, at });
    if socket.write_all(&reply.bytes).await.is_err() {
        return;
    }
    if reply.stall {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}

/// A policy with short, exact waits.
fn quick(max_attempts: u32) -> ReconnectPolicy {
    ReconnectPolicy::builder()
        .max_attempts(max_attempts)
        .initial_delay(Duration::from_millis(1))
        .jitter(false)
        .build()
}

async fn frames(stream: EventStream<Value, Value>) -> Vec<Result<Frame<Value, Value>, Error>> {
    use futures_util::StreamExt;
    tokio::time::timeout(LIMIT, stream.collect())
        .await
        .expect("the stream ended in time")
}

fn data(frames: &[Result<Frame<Value, Value>, Error>]) -> Vec<Value> {
    frames
        .iter()
        .filter_map(|f| match f {
            Ok(Frame::Event(e)) => Some(e.data.clone()),
            _ => None,
        })
        .collect()
}

async fn open(client: &Client) -> EventStream<Value, Value> {
    tokio::time::timeout(
        LIMIT,
        client.stream::<Value, Value>("count", &json!({ "n": 2 })),
    )
    .await
    .unwrap()
    .unwrap()
}

#[tokio::test]
async fn a_clean_end_without_done_resumes_after_the_last_id_and_honours_retry() {
    let server = Scripted::start(vec![
        sse(": \n\nevent: message\nretry: 150\nid: 1\ndata: {\"json\":1}\n\n"),
        sse(
            "event: message\nid: 2\ndata: {\"json\":2}\n\nevent: done\ndata: {\"json\":\"ok\"}\n\n",
        ),
    ])
    .await;
    let frames = frames(open(&server.client(quick(3))).await).await;
    assert_eq!(data(&frames), [json!(1), json!(2)]);
    assert!(
        matches!(frames.last(), Some(Ok(Frame::Done(v))) if v == "ok"),
        "{frames:?}"
    );

    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("last-event-id"), None);
    assert_eq!(seen[1].header("last-event-id").as_deref(), Some("1"));
    // The same request again: same path, same body.
    assert!(seen[1].head.starts_with("POST /rpc/count HTTP/1.1"));
    assert_eq!(
        seen[1].header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(seen[0].body, r#"{"json":{"n":2}}"#);
    assert_eq!(seen[1].body, seen[0].body);
    // The server asked for 150 ms, rather than our 1 ms.
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
}

#[tokio::test]
async fn a_cut_mid_event_resumes_and_loses_nothing_whole() {
    let server = Scripted::start(vec![
        sse("event: message\nid: 1\ndata: {\"json\":1}\n\nevent: message\nid: 2\ndata: {\"js"),
        sse("event: message\nid: 2\ndata: {\"json\":2}\n\nevent: done\ndata: {}\n\n"),
    ])
    .await;
    let frames = frames(open(&server.client(quick(3))).await).await;
    assert_eq!(data(&frames), [json!(1), json!(2)]);
    assert!(
        matches!(frames.last(), Some(Ok(Frame::Done(Value::Null)))),
        "{frames:?}"
    );
    assert_eq!(
        server.seen()[1].header("last-event-id").as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn without_reconnects_a_cut_stream_is_an_error() {
    let server = Scripted::start(vec![
        sse("event: message\ndata: {\"json\":1}\n\nevent: mess"),
        sse("event: message\ndata: {\"json\":1}\n\n"),
    ])
    .await;
    let client = server.client(ReconnectPolicy::never());
    let frames = frames(open(&client).await).await;
    assert!(
        matches!(
            frames.last(),
            Some(Err(Error::StreamEnded { mid_event: true }))
        ),
        "{frames:?}"
    );
    let frames = self::frames(open(&client).await).await;
    assert!(
        matches!(
            frames.last(),
            Some(Err(Error::StreamEnded { mid_event: false }))
        ),
        "{frames:?}"
    );
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn attempts_in_a_row_run_out() {
    let server = Scripted::start(vec![sse("event: message\ndata: {\"json\":1}\n\n")]).await;
    let frames = frames(open(&server.client(quick(3))).await).await;
    // The first connection and three attempts, each with its event; then the last failure.
    assert_eq!(data(&frames).len(), 4, "{frames:?}");
    assert!(matches!(
        frames.last(),
        Some(Err(Error::StreamEnded { mid_event: false }))
    ));
    assert_eq!(server.seen().len(), 4);
}

#[tokio::test]
async fn a_healthy_connection_starts_the_count_again() {
    let script = vec![
        sse("event: message\ndata: {\"json\":1}\n\n"),
        sse("event: message\ndata: {\"json\":2}\n\n"),
        sse("event: message\ndata: {\"json\":3}\n\n"),
        sse("event: done\ndata: {\"json\":\"ok\"}\n\n"),
    ];
    // One attempt in a row, but every connection counts as healthy: it gets there.
    let server = Scripted::start(script.clone()).await;
    let forgiving = ReconnectPolicy::builder()
        .max_attempts(1)
        .initial_delay(Duration::from_millis(1))
        .reset_after(Duration::ZERO)
        .build();
    let frames = frames(open(&server.client(forgiving)).await).await;
    assert_eq!(data(&frames), [json!(1), json!(2), json!(3)]);
    assert!(matches!(frames.last(), Some(Ok(Frame::Done(v))) if v == "ok"));

    // The same script when no connection lasts long enough to count: the second failure ends it.
    let server = Scripted::start(script).await;
    let strict = ReconnectPolicy::builder()
        .max_attempts(1)
        .initial_delay(Duration::from_millis(1))
        .reset_after(Duration::from_secs(3600))
        .build();
    let frames = self::frames(open(&server.client(strict)).await).await;
    assert_eq!(data(&frames), [json!(1), json!(2)]);
    assert!(matches!(
        frames.last(),
        Some(Err(Error::StreamEnded { .. }))
    ));
}

#[tokio::test]
async fn nothing_is_requested_after_done() {
    let server = Scripted::start(vec![sse("event: done\ndata: {\"json\":5}\n\n")]).await;
    let frames = frames(open(&server.client(quick(5))).await).await;
    assert!(matches!(&frames[..], [Ok(Frame::Done(v))] if v == 5));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn an_empty_id_forgets_the_last_event_id() {
    let server = Scripted::start(vec![
        sse("event: message\nid: 5\ndata: {\"json\":1}\n\nevent: message\nid\ndata: {\"json\":2}\n\n"),
        sse("event: done\ndata: {}\n\n"),
    ])
    .await;
    let frames = frames(open(&server.client(quick(1))).await).await;
    assert_eq!(data(&frames).len(), 2);
    assert_eq!(server.seen()[1].header("last-event-id"), None);
}

#[tokio::test]
async fn an_error_response_to_a_reconnect_ends_the_stream_unless_errors_are_retried() {
    let script = vec![
        sse("event: message\nid: 1\ndata: {\"json\":1}\n\n"),
        status(503, "text/plain", "restarting"),
        sse("event: done\ndata: {\"json\":\"ok\"}\n\n"),
    ];
    let server = Scripted::start(script.clone()).await;
    let frames = frames(open(&server.client(quick(3))).await).await;
    let Some(Err(Error::Orpc(error))) = frames.last() else {
        panic!("{frames:?}")
    };
    assert_eq!(
        (error.code.as_str(), error.status),
        ("SERVICE_UNAVAILABLE", 503)
    );
    assert_eq!(error.data.as_ref().unwrap()["body"], "restarting");

    let server = Scripted::start(script).await;
    let policy = ReconnectPolicy::builder()
        .max_attempts(3)
        .initial_delay(Duration::from_millis(1))
        .retry_errors(true)
        .build();
    let frames = self::frames(open(&server.client(policy)).await).await;
    assert!(
        matches!(frames.last(), Some(Ok(Frame::Done(v))) if v == "ok"),
        "{frames:?}"
    );
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].header("last-event-id").as_deref(), Some("1"));
}

#[tokio::test]
async fn an_error_event_without_an_error_object_is_an_error_event() {
    let server = Scripted::start(vec![sse("event: error\ndata: {\"json\":{\"why\":1}}\n\n")]).await;
    let frames = frames(open(&server.client(quick(3))).await).await;
    assert!(
        matches!(&frames[..], [Err(Error::ErrorEvent(v))] if *v == json!({"why": 1})),
        "{frames:?}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn keep_alives_and_unknown_events_are_skipped() {
    let server = Scripted::start(vec![sse(
        ": \n\nevent: ping\ndata: x\n\ndata: {\"json\":0}\n\nevent: message\ndata: {\"json\":1}\n\n: \n\nevent: done\ndata: {}\n\n",
    )])
    .await;
    let frames = frames(open(&server.client(quick(0))).await).await;
    // An event without `event: message` is ignored, as oRPC's client ignores it.
    assert_eq!(data(&frames), [json!(1)]);
    assert!(matches!(frames.last(), Some(Ok(Frame::Done(Value::Null)))));
}

#[tokio::test]
async fn a_silent_connection_is_given_up_and_resumed() {
    let server = Scripted::start(vec![
        stalled_sse("event: message\nid: 1\ndata: {\"json\":1}\n\n"),
        sse("event: done\ndata: {\"json\":\"ok\"}\n\n"),
    ])
    .await;
    let client = Client::builder(&server.url)
        .idle_timeout(Some(Duration::from_millis(200)))
        .reconnect(quick(2))
        .build()
        .unwrap();
    let frames = frames(open(&client).await).await;
    assert_eq!(data(&frames), [json!(1)]);
    assert!(
        matches!(frames.last(), Some(Ok(Frame::Done(v))) if v == "ok"),
        "{frames:?}"
    );
    assert_eq!(
        server.seen()[1].header("last-event-id").as_deref(),
        Some("1")
    );
}

#[tokio::test]
async fn dropping_the_stream_while_it_waits_to_reconnect_sends_nothing_more() {
    use futures_util::StreamExt;
    let server = Scripted::start(vec![sse(
        "event: message\nretry: 300\ndata: {\"json\":1}\n\n",
    )])
    .await;
    let mut stream = open(&server.client(quick(5))).await;
    assert!(matches!(stream.next().await, Some(Ok(Frame::Event(_)))));
    // The connection has ended; the stream now waits 300 ms before reconnecting.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), stream.next())
            .await
            .is_err()
    );
    drop(stream);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn the_server_may_send_a_bom_and_crlf_line_ends() {
    let server = Scripted::start(vec![sse(
        "\u{FEFF}event: message\r\nid: 1\r\ndata: {\"json\":1}\r\n\r\nevent: done\rdata: {}\r\r",
    )])
    .await;
    let frames = frames(open(&server.client(quick(0))).await).await;
    assert_eq!(data(&frames), [json!(1)]);
    assert!(matches!(frames.last(), Some(Ok(Frame::Done(Value::Null)))));
}
