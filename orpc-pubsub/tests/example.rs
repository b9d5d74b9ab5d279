//! The `pubsub` example's procedures over real HTTP on loopback: two in-process servers with the
//! example's router, sharing one Redis, and one in memory.

mod support;

#[allow(dead_code)]
#[path = "../../examples/pubsub.rs"]
mod example;

use std::time::Duration;

use actix_web::web;
use futures_util::StreamExt;
use orpc_pubsub::{GapPolicy, PubSub};
use orpc_test_support::{client, TestServer};
use serde_json::{json, Value};
use support::{redis_or_skip, redis_pubsub, settings, unique};

/// The example's router and `pubsub` served in-process on a free loopback port; stopped when
/// dropped.
struct Server(TestServer);

impl Server {
    fn start(pubsub: PubSub) -> Server {
        let router = example::router();
        let configure = example::configure(pubsub);
        Server(TestServer::start(
            move |cfg| {
                configure(cfg);
                cfg.service(web::scope("/rpc").configure(router.rpc()))
                    .service(web::scope("/api").configure(router.openapi()));
            },
            false,
        ))
    }

    fn url(&self, path: &str) -> String {
        self.0.url(path)
    }

    async fn publish(&self, channel: &str, payload: Value) -> String {
        let response = client()
            .post(self.url("/rpc/publish"))
            .json(&json!({ "json": { "channel": channel, "payload": payload } }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["json"]["id"].as_str().expect("an id").to_owned()
    }

    /// `GET /api/subscribe`, optionally with `Last-Event-ID`.
    async fn subscribe(&self, channel: &str, last_event_id: Option<&str>) -> Events {
        let mut request = client()
            .get(self.url("/api/subscribe"))
            .query(&[("channel", channel)]);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        Events::new(response)
    }
}

/// One SSE event's fields.
#[derive(Debug, Default, PartialEq)]
struct Event {
    event: String,
    id: Option<String>,
    data: Value,
}

/// Reads SSE events from a response; comments (the initial one, keep-alives) are skipped.
struct Events {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buf: String,
}

impl Events {
    fn new(response: reqwest::Response) -> Self {
        Events {
            body: Box::pin(response.bytes_stream()),
            buf: String::new(),
        }
    }

    /// The next event, `None` at the end of the body; fails the test after 10 s.
    async fn next(&mut self) -> Option<Event> {
        tokio::time::timeout(Duration::from_secs(10), self.read())
            .await
            .expect("an event in time")
    }

    async fn read(&mut self) -> Option<Event> {
        loop {
            while let Some(at) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..at + 2).collect();
                let mut event = Event::default();
                let mut any = false;
                for line in frame.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event.event = v.to_owned();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        event.id = Some(v.to_owned());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        event.data = serde_json::from_str(v).expect("JSON data");
                    }
                }
                if any {
                    return Some(event);
                }
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buf.push_str(std::str::from_utf8(&chunk).unwrap()),
                _ => return None,
            }
        }
    }

    /// The next event, which must be a message of `channel` with payload `{"n": n}`; returns
    /// its id.
    async fn expect(&mut self, channel: &str, n: u32) -> String {
        let event = self.next().await.expect("the stream goes on");
        assert_eq!(event.event, "message", "{event:?}");
        assert_eq!(
            event.data,
            json!({ "channel": channel, "payload": { "n": n } })
        );
        event.id.expect("every event has the publisher's id")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_resume_a_client_exactly_once() {
    let Some(url) = redis_or_skip("two_instances_on_one_redis_resume_a_client_exactly_once").await
    else {
        return;
    };
    let a = Server::start(redis_pubsub(&url, settings(1000, GapPolicy::Error)).await.0);
    let b = Server::start(redis_pubsub(&url, settings(1000, GapPolicy::Error)).await.0);
    let channel = unique("http-instances");
    let total = 20;

    // Subscribed on A, events published on B.
    let mut on_a = a.subscribe(&channel, None).await;
    let mut published = Vec::new();
    for n in 0..total / 2 {
        published.push(b.publish(&channel, json!({ "n": n })).await);
    }
    let mut last = String::new();
    for n in 0..total / 2 {
        last = on_a.expect(&channel, n).await;
        assert_eq!(last, published[n as usize]);
    }
    // Cut after half of them; the rest is published while the client is away.
    drop(on_a);
    for n in total / 2..total {
        published.push(b.publish(&channel, json!({ "n": n })).await);
    }

    // Back on B with its last id: the rest, exactly once, then live ones.
    let mut on_b = b.subscribe(&channel, Some(&last)).await;
    for n in total / 2..total {
        assert_eq!(on_b.expect(&channel, n).await, published[n as usize]);
    }
    a.publish(&channel, json!({ "n": total })).await;
    on_b.expect(&channel, total).await;
    let extra = tokio::time::timeout(Duration::from_millis(300), on_b.read()).await;
    assert!(extra.is_err(), "nothing more: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_both_protocols_publish_subscribe_and_resume() {
    let server = Server::start(PubSub::in_memory(settings(1000, GapPolicy::Error)));
    let channel = unique("http-memory");
    let mut live = server.subscribe(&channel, None).await;
    for n in 0..3 {
        assert_eq!(
            server.publish(&channel, json!({ "n": n })).await,
            (n + 1).to_string()
        );
    }
    for n in 0..3 {
        assert_eq!(live.expect(&channel, n).await, (n + 1).to_string());
    }
    drop(live);
    for n in 3..5 {
        server.publish(&channel, json!({ "n": n })).await;
    }

    // Resuming over the RPC protocol: the same events in oRPC's envelope.
    let response = client()
        .post(server.url("/rpc/subscribe"))
        .header("last-event-id", "3")
        .json(&json!({ "json": { "channel": channel } }))
        .send()
        .await
        .unwrap();
    let mut resumed = Events::new(response);
    for n in 3..5 {
        let event = resumed.next().await.unwrap();
        assert_eq!(event.id.as_deref(), Some((n + 1).to_string().as_str()));
        assert_eq!(
            event.data,
            json!({ "json": { "channel": channel, "payload": { "n": n } } })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_errors_are_orpc_errors_a_client_can_act_on() {
    let pubsub = PubSub::in_memory(settings(2, GapPolicy::Error));
    let server = Server::start(pubsub.clone());
    let channel = unique("http-errors");
    for n in 0..5 {
        server.publish(&channel, json!({ "n": n })).await;
    }
    let mut expired = server.subscribe(&channel, Some("1")).await;
    let event = expired.next().await.unwrap();
    assert_eq!(event.event, "error");
    assert_eq!(
        event.data,
        json!({
            "defined": true, "code": "EVENTS_LOST", "status": 410,
            "message": "events after Last-Event-ID are no longer available",
            "data": { "channel": channel, "lastEventId": "1", "reason": "expired" },
        })
    );
    assert!(expired.next().await.is_none());

    for bad in ["abc", "1-0"] {
        let event = server
            .subscribe(&channel, Some(bad))
            .await
            .next()
            .await
            .unwrap();
        assert_eq!(
            (event.event.as_str(), &event.data["code"]),
            ("error", &json!("BAD_REQUEST"))
        );
    }
    let event = server.subscribe("", None).await.next().await.unwrap();
    assert_eq!(event.data["code"], json!("BAD_REQUEST"));

    // A payload written by someone else that is not JSON reaches clients as a string.
    let mut live = server.subscribe(&channel, None).await;
    pubsub.publish(&channel, "not json").await.unwrap();
    assert_eq!(
        live.next().await.unwrap().data["payload"],
        json!("not json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_disconnects_is_unsubscribed() {
    let pubsub = PubSub::in_memory(settings(100, GapPolicy::Error));
    let server = Server::start(pubsub.clone());
    let channel = unique("http-disconnect");
    let mut events = server.subscribe(&channel, None).await;
    server.publish(&channel, json!({ "n": 0 })).await;
    events.expect(&channel, 0).await;
    assert_eq!(pubsub.subscribers(&channel), 1);

    drop(events);
    let mut unsubscribed = false;
    for _ in 0..150 {
        if pubsub.subscribers(&channel) == 0 {
            unsubscribed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(unsubscribed, "still subscribed 3 s after the client left");
}
