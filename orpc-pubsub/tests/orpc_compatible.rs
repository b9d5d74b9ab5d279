//! The oRPC-compatible Redis format in a mixed fleet: oRPC's own `IORedisPublisher`
//! (`@orpc/experimental-publisher` 1.14.7 on Node, with `resumeRetentionSeconds` set) and this
//! crate on the same Redis, events going both ways, subscribers cut on one side resuming on the
//! other; and entries written by hand that are not oRPC's format.
//!
//! The Node side is `tests/pubsub-node/peer.mjs`, one process per publish or subscribe, its
//! packages pinned in the root lock file. These tests need Redis (see `support`) and Node.js 20+
//! with npm; without either they are skipped with one `SKIPPED:` line, and fail under `CI=true`.
//! Every key they write starts with `orpcrs-test:` and is deleted when the test ends.

mod support;

use std::fmt;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use futures_util::StreamExt;
use orpc_protocol::{BigInt, Date, Envelope, EventMeta, IsoTimestamp};
use orpc_pubsub::{
    orpc_payload, Error, Gap, GapKind, GapPolicy, Message, PubSub, Redis, RedisConfig, Retention,
    Settings, Subscription,
};
use orpc_test_support::node::{npm_ci, run_with_timeout, workspace_root};
use orpc_test_support::tools;
use serde::{Deserialize, Serialize};
use support::{next_within, quiet_for, redis_or_skip, unique};

const PREFIX: &str = "orpcrs-test:";
/// oRPC's `resumeRetentionSeconds`, on both sides.
const RETENTION_SECONDS: u64 = 60;
const EVENTS: u32 = 1000;
const NODE_TIMEOUT: Duration = Duration::from_secs(60);

/// What both sides publish: a `bigint` and a `Date` as oRPC carries them.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Event {
    i: u32,
    big: BigInt<i64>,
    at: Date<Stamp>,
}

/// A timestamp kept as the text JavaScript's `toISOString()` writes.
#[derive(Debug, PartialEq)]
struct Stamp(String);

impl IsoTimestamp for Stamp {
    fn write_iso(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        out.write_str(&self.0)
    }

    fn parse_iso(text: &str) -> Result<Self, String> {
        Ok(Stamp(text.to_owned()))
    }
}

/// Event `i` as `peer.mjs` publishes it, and as the Rust side does too.
fn event(i: u32) -> Event {
    Event {
        i,
        big: BigInt(9_007_199_254_740_993 + i64::from(i)),
        at: Date(Stamp(format!("2024-01-02T03:04:05.{:03}Z", i % 1000))),
    }
}

/// What `peer.mjs subscribe` prints for each event it receives.
#[derive(Deserialize, Debug)]
struct Received {
    id: String,
    i: u32,
    big: Option<String>,
    at: Option<String>,
    retry: Option<u64>,
    comments: Vec<String>,
}

async fn ready(test: &str) -> Option<String> {
    let url = redis_or_skip(test).await?;
    let group = format!("Redis test {test} (oRPC's IORedisPublisher on Node.js)");
    if !tools::available(&group, tools::node(), tools::NODE_HOW) {
        return None;
    }
    tokio::task::spawn_blocking(npm_ci).await.unwrap();
    Some(url)
}

fn settings() -> Settings {
    Settings::default()
        .retention(Retention::new(10_000).max_age(Duration::from_secs(RETENTION_SECONDS)))
        .buffer(4096)
}

async fn compatible(url: &str, settings: Settings) -> PubSub {
    let config = RedisConfig {
        key_prefix: PREFIX.into(),
        ..RedisConfig::orpc_compatible()
    };
    let redis = Redis::connect(url, settings, config)
        .await
        .expect("connect to Redis");
    PubSub::new(redis, settings.gap_policy())
}

/// Deletes the test's keys when dropped, also when the test fails.
struct Cleanup {
    url: String,
    keys: Vec<String>,
}

impl Cleanup {
    fn new(url: &str, channels: &[&str]) -> Self {
        let keys = channels.iter().map(|c| format!("{PREFIX}{c}")).collect();
        Cleanup {
            url: url.to_owned(),
            keys,
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let deleted = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection_with_timeout(Duration::from_secs(2)))
            .and_then(|mut conn| redis::cmd("DEL").arg(&self.keys).query::<i64>(&mut conn));
        if let Err(err) = deleted {
            eprintln!("could not delete {:?}: {err}", self.keys);
        }
    }
}

async fn raw_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

fn peer_args<'a>(mode: &'a str, channel: &'a str) -> Vec<String> {
    let retention = RETENTION_SECONDS.to_string();
    [
        "peer.mjs",
        mode,
        "--prefix",
        PREFIX,
        "--event",
        channel,
        "--retention",
        &retention,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `peer.mjs publish`: events `from..from + count` from oRPC's publisher; returns when all are
/// published.
async fn node_publishes(url: &str, channel: &str, from: u32, count: u32) {
    let mut args = peer_args("publish", channel);
    args.extend(["--from".into(), from.to_string()]);
    args.extend(["--count".into(), count.to_string()]);
    let mut cmd = Command::new("node");
    cmd.args(&args)
        .current_dir(workspace_root().join("tests/pubsub-node"))
        .env("REDIS_URL", url);
    let out = tokio::task::spawn_blocking(move || {
        run_with_timeout(cmd, "`node peer.mjs publish`", NODE_TIMEOUT)
    })
    .await
    .unwrap();
    assert!(out.success(), "{}", out.describe("`node peer.mjs publish`"));
}

/// A running `peer.mjs subscribe`: oRPC's subscriber iterating `publisher.subscribe`. Killed
/// when dropped.
struct NodeSubscriber {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl NodeSubscriber {
    /// Starts one that stops after `count` events, and waits until Redis acknowledged its
    /// subscription.
    async fn start(url: &str, channel: &str, count: u32, last_event_id: Option<&str>) -> Self {
        let mut args = peer_args("subscribe", channel);
        args.extend(["--count".into(), count.to_string()]);
        if let Some(id) = last_event_id {
            args.extend(["--last-event-id".into(), id.to_owned()]);
        }
        let mut child = Command::new("node")
            .args(&args)
            .current_dir(workspace_root().join("tests/pubsub-node"))
            .env("REDIS_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut subscriber = NodeSubscriber { child, lines };
        let first = subscriber.line().await;
        assert_eq!(
            first.as_deref(),
            Some("ready"),
            "the Node subscriber started"
        );
        subscriber
    }

    /// The next line it prints, `None` once it exited.
    async fn line(&mut self) -> Option<String> {
        let deadline = tokio::time::Instant::now() + NODE_TIMEOUT;
        loop {
            match self.lines.try_recv() {
                Ok(line) => return Some(line),
                Err(mpsc::TryRecvError::Disconnected) => return None,
                Err(mpsc::TryRecvError::Empty) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "the Node subscriber printed nothing for {NODE_TIMEOUT:?}"
                    );
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
    }

    /// Every event it receives until it stops, after which it must exit with success.
    async fn events(mut self) -> Vec<Received> {
        let mut events = Vec::new();
        while let Some(line) = self.line().await {
            let received = serde_json::from_str(&line)
                .unwrap_or_else(|err| panic!("the Node subscriber printed {line:?}: {err}"));
            events.push(received);
        }
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the Node subscriber exited with {status}");
        events
    }
}

impl Drop for NodeSubscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks that oRPC's subscriber received events `range` with ids `ids`, once each, in order,
/// with their `bigint`, `Date` and event meta as the Rust side published them.
fn assert_received_from_rust(received: &[Received], range: std::ops::Range<u32>, ids: &[String]) {
    assert_eq!(received.len(), range.len(), "every event, exactly once");
    for ((got, i), id) in received.iter().zip(range).zip(ids) {
        let want = event(i);
        assert_eq!(
            (got.i, &got.id),
            (i, id),
            "in order, with the stream id as its id"
        );
        assert_eq!(
            got.big.as_deref(),
            Some(&*want.big.0.to_string()),
            "a bigint"
        );
        assert_eq!(got.at.as_deref(), Some(&*want.at.0 .0), "a Date");
        assert_eq!(got.retry, Some(2000 + u64::from(i)));
        let comments: Vec<String> = rust_meta(i)
            .comments
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(got.comments, comments);
    }
}

fn rust_meta(i: u32) -> EventMeta {
    let meta = EventMeta::new().retry(Duration::from_millis(2000 + u64::from(i)));
    if i.is_multiple_of(3) {
        meta.comment(format!("from rust {i}"))
    } else {
        meta
    }
}

async fn rust_publishes(
    pubsub: &PubSub,
    channel: &str,
    range: std::ops::Range<u32>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in range {
        let payload = orpc_payload(&event(i), &rust_meta(i)).unwrap();
        ids.push(pubsub.publish(channel, payload).await.unwrap().to_string());
    }
    ids
}

/// The next message, which must be event `i` as `peer.mjs` published it.
async fn expect_from_node(subscription: &mut Subscription, i: u32) -> Message {
    let message = next_within(subscription, Duration::from_secs(30))
        .await
        .expect("the subscription goes on")
        .unwrap_or_else(|err| panic!("event {i}: {err}"));
    let got: Event = Envelope::Rpc.read(message.payload()).unwrap();
    assert_eq!(got, event(i), "in order, with its bigint and Date");
    let meta = message.event_meta();
    assert_eq!(meta.id.unwrap().as_str(), message.id().to_string());
    assert_eq!(meta.retry, Some(Duration::from_millis(1000 + u64::from(i))));
    let comments: Vec<&str> = meta.comments.iter().map(|c| &**c).collect();
    let want = format!("from node {i}");
    assert_eq!(
        comments,
        if i.is_multiple_of(2) {
            vec![&*want]
        } else {
            vec![]
        }
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_by_orpc_on_node_reach_rust_subscribers_and_resume_on_node() {
    let test = "events_published_by_orpc_on_node_reach_rust_subscribers_and_resume_on_node";
    let Some(url) = ready(test).await else {
        return;
    };
    let channel = unique("from-node");
    let _cleanup = Cleanup::new(&url, &[&channel]);
    let pubsub = compatible(&url, settings()).await;

    let mut all = pubsub.subscribe(&channel, None).await.unwrap();
    let mut cut = pubsub.subscribe(&channel, None).await.unwrap();
    let publishing = node_publishes(&url, &channel, 0, EVENTS);
    let receiving = async {
        for i in 0..EVENTS {
            expect_from_node(&mut all, i).await;
        }
        // A Rust subscriber cut after 600 events...
        let mut last = None;
        for i in 0..600 {
            last = Some(expect_from_node(&mut cut, i).await.id().to_string());
        }
        drop(cut);
        last.unwrap()
    };
    let ((), last) = tokio::join!(publishing, receiving);
    assert!(
        quiet_for(&mut all, Duration::from_millis(300)).await,
        "nothing twice"
    );

    // ...resumes on Node with its last id: the 400 it missed, then live events from Rust.
    let resumed = NodeSubscriber::start(&url, &channel, EVENTS - 600 + 50, Some(&last)).await;
    let ids = rust_publishes(&pubsub, &channel, 0..50).await;
    let received = resumed.events().await;
    let (replayed, live) = received.split_at(400);
    for (got, i) in replayed.iter().zip(600..) {
        assert_eq!(got.i, i, "the events after the last id, in order");
        assert_eq!(got.retry, Some(1000 + u64::from(i)));
        assert!(got.big.is_some() && got.at.is_some(), "a bigint and a Date");
    }
    assert_received_from_rust(live, 0..50, &ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_by_rust_reach_orpc_subscribers_and_resume_in_rust() {
    let test = "events_published_by_rust_reach_orpc_subscribers_and_resume_in_rust";
    let Some(url) = ready(test).await else {
        return;
    };
    let channel = unique("from-rust");
    let _cleanup = Cleanup::new(&url, &[&channel]);
    let pubsub = compatible(&url, settings()).await;

    let all = NodeSubscriber::start(&url, &channel, EVENTS, None).await;
    // An oRPC subscriber cut after 600 events.
    let cut = NodeSubscriber::start(&url, &channel, 600, None).await;
    let ids = rust_publishes(&pubsub, &channel, 0..EVENTS).await;
    let (all, cut) = tokio::join!(all.events(), cut.events());
    assert_received_from_rust(&all, 0..EVENTS, &ids);
    assert_received_from_rust(&cut, 0..600, &ids);

    // It resumes in Rust with its last id: exactly the 400 it missed, then live ones from Node.
    let last = &cut.last().unwrap().id;
    let mut resumed = pubsub.subscribe(&channel, Some(last)).await.unwrap();
    for (i, id) in (600..EVENTS).zip(&ids[600..]) {
        let message = next_within(&mut resumed, Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&message.id().to_string(), id);
        let got: Event = Envelope::Rpc.read(message.payload()).unwrap();
        assert_eq!(got, event(i));
        assert_eq!(message.event_meta().retry, rust_meta(i).retry);
    }
    node_publishes(&url, &channel, 5000, 3).await;
    for i in 5000..5003 {
        expect_from_node(&mut resumed, i).await;
    }
    assert!(quiet_for(&mut resumed, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_is_not_orpc_payload_ends_only_the_subscriptions_that_reach_it() {
    let test = "an_entry_that_is_not_orpc_payload_ends_only_the_subscriptions_that_reach_it";
    let Some(url) = redis_or_skip(test).await else {
        return;
    };
    let (channel, other) = (unique("bad-entry"), unique("bad-entry-other"));
    let _cleanup = Cleanup::new(&url, &[&channel, &other]);
    let pubsub = compatible(&url, settings()).await;
    let mut raw = raw_connection(&url).await;
    let key = format!("{PREFIX}{channel}");
    let good = |i| orpc_payload(&event(i), &EventMeta::new()).unwrap();

    let mut live = pubsub.subscribe(&channel, None).await.unwrap();
    let mut elsewhere = pubsub.subscribe(&other, None).await.unwrap();
    let first = pubsub.publish(&channel, good(0)).await.unwrap();

    // Entries as `redis-cli XADD <key> '*' data <value>` writes them, each with what it lacks.
    let bad = [
        ("data", "garbage", "not oRPC's serialized payload"),
        ("data", "{}", r#""meta" is not an array"#),
        (
            "data",
            r#"{"json":5,"meta":[]}"#,
            "not an object or an array",
        ),
        (
            "data",
            r#"{"json":{"a":1},"meta":[[0,"zzz"]]}"#,
            "not in `json`",
        ),
        (
            "data",
            r#"{"json":{},"meta":[],"eventMeta":{"retry":-1}}"#,
            "retry",
        ),
    ];
    let mut bad_ids = Vec::new();
    for (field, value, _) in bad {
        let id: String = redis::cmd("XADD")
            .arg(&key)
            .arg("*")
            .arg(field)
            .arg(value)
            .query_async(&mut raw)
            .await
            .unwrap();
        bad_ids.push(id);
    }
    // And a notification by hand, which ends every oRPC subscription of the channel.
    redis::cmd("PUBLISH")
        .arg(&key)
        .arg("garbage")
        .query_async::<i64>(&mut raw)
        .await
        .unwrap();
    let after = pubsub.publish(&channel, good(1)).await.unwrap();
    pubsub.publish(&other, good(2)).await.unwrap();

    // The live subscriber gets the good entry, then a clear error naming the bad one, and ends.
    let message = next_within(&mut live, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(message.unwrap().id(), first);
    let ended = next_within(&mut live, Duration::from_secs(10))
        .await
        .unwrap();
    match ended {
        Err(Error::InvalidPayload { id, reason }) => {
            assert_eq!(id.unwrap().to_string(), bad_ids[0]);
            assert!(reason.contains("not oRPC's serialized payload"), "{reason}");
        }
        other => panic!("expected InvalidPayload, got {other:?}"),
    }
    assert!(next_within(&mut live, Duration::from_secs(1))
        .await
        .is_none());
    // Another channel goes on.
    let message = next_within(&mut elsewhere, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        Envelope::Rpc
            .read::<Event>(message.unwrap().payload())
            .unwrap(),
        event(2)
    );

    // Resuming from each entry meets the next bad one, with its reason; after the last, the
    // good entry that follows.
    let mut from = first.to_string();
    for ((_, _, why), bad_id) in bad.iter().zip(&bad_ids) {
        let mut resumed = pubsub.subscribe(&channel, Some(&from)).await.unwrap();
        match next_within(&mut resumed, Duration::from_secs(10))
            .await
            .unwrap()
        {
            Err(Error::InvalidPayload { id, reason }) => {
                assert_eq!(&id.unwrap().to_string(), bad_id);
                assert!(reason.contains(why), "{reason} should say {why:?}");
            }
            other => panic!("expected InvalidPayload at {bad_id}, got {other:?}"),
        }
        assert!(resumed.next().await.is_none(), "the subscription ended");
        from = bad_id.clone();
    }
    let mut past = pubsub.subscribe(&channel, Some(&from)).await.unwrap();
    let message = next_within(&mut past, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(message.unwrap().id(), after);

    // Nothing oRPC could not read back is written.
    let len = |mut conn: redis::aio::MultiplexedConnection, key: String| async move {
        redis::cmd("XLEN")
            .arg(key)
            .query_async::<u64>(&mut conn)
            .await
            .unwrap()
    };
    let before = len(raw.clone(), key.clone()).await;
    for refused in [r#"{"home":1}"#, r#"{"json":1,"meta":[]}"#, "garbage"] {
        let err = pubsub.publish(&channel, refused).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidPayload { id: None, .. }),
            "{err}"
        );
    }
    assert_eq!(len(raw.clone(), key.clone()).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_stored_as_orpc_stores_them_and_trimmed_ids_are_gaps() {
    let test = "entries_are_stored_as_orpc_stores_them_and_trimmed_ids_are_gaps";
    let Some(url) = redis_or_skip(test).await else {
        return;
    };
    let channel = unique("stored");
    let _cleanup = Cleanup::new(&url, &[&channel]);
    let pubsub = compatible(&url, settings().on_gap(GapPolicy::Error)).await;
    let mut raw = raw_connection(&url).await;
    let key = format!("{PREFIX}{channel}");

    let meta = EventMeta::new().retry(Duration::from_secs(5)).comment("c1");
    let first = pubsub
        .publish(&channel, orpc_payload(&event(7), &meta).unwrap())
        .await
        .unwrap();
    let second = pubsub
        .publish(&channel, r#"{"json":{"x":1}}"#)
        .await
        .unwrap();
    let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(
        entries,
        [
            (
                first.to_string(),
                vec![
                    "data".to_owned(),
                    r#"{"json":{"i":7,"big":"9007199254741000","at":"2024-01-02T03:04:05.007Z"},"meta":[[0,"big"],[1,"at"]],"eventMeta":{"retry":5000,"comments":["c1"]}}"#.to_owned()
                ]
            ),
            (second.to_string(), vec!["data".to_owned(), r#"{"json":{"x":1},"meta":[]}"#.to_owned()]),
        ]
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .unwrap();
    let twice = i64::try_from(2 * RETENTION_SECONDS * 1000).unwrap();
    assert!(
        (twice - 5000..=twice).contains(&ttl),
        "expires after twice the age: {ttl}"
    );

    // A last id that trimming removed is reported: nothing says what followed it.
    redis::cmd("XTRIM")
        .arg(&key)
        .arg("MINID")
        .arg(second.to_string())
        .query_async::<i64>(&mut raw)
        .await
        .unwrap();
    let mut resumed = pubsub
        .subscribe(&channel, Some(&first.to_string()))
        .await
        .unwrap();
    let item = next_within(&mut resumed, Duration::from_secs(10))
        .await
        .unwrap();
    let want = Gap {
        after: Some(first),
        kind: GapKind::Expired,
    };
    assert!(
        matches!(item, Err(Error::Gap(gap)) if gap == want),
        "{item:?}"
    );
    // One that is still there resumes as usual.
    let mut fine = pubsub
        .subscribe(&channel, Some(&second.to_string()))
        .await
        .unwrap();
    assert!(quiet_for(&mut fine, Duration::from_millis(200)).await);
    // And once the stream expired, every id is unknown to it.
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<i64>(&mut raw)
        .await
        .unwrap();
    let mut gone = pubsub
        .subscribe(&channel, Some(&second.to_string()))
        .await
        .unwrap();
    let item = next_within(&mut gone, Duration::from_secs(10))
        .await
        .unwrap();
    assert!(
        matches!(
            item,
            Err(Error::Gap(Gap {
                kind: GapKind::Unknown,
                ..
            }))
        ),
        "{item:?}"
    );

    // The format needs the age that plays oRPC's resumeRetentionSeconds.
    let no_age = Redis::connect(&url, Settings::default(), RedisConfig::orpc_compatible()).await;
    assert!(matches!(no_age, Err(Error::Config(_))));
}
