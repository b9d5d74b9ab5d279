//! The Redis backend on a Redis Cluster of 3 masters and 3 replicas, started for each test from
//! `redis-server` and `redis-cli --cluster create` on loopback ports
//! (`orpc_test_support::redis_cluster`): instances of ours on different masters' slots sharing
//! channels and resuming across each other, and a master killed mid-stream.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use orpc_pubsub::{
    orpc_payload, Durability, Error, GapPolicy, Message, MessageId, PubSub, Redis, RedisConfig,
    Retention, Settings, Subscription,
};
use orpc_test_support::process::ServerProcess;
use orpc_test_support::redis_cluster::Cluster;
use support::{next_text, next_within, quiet_for, settings};

async fn instance(nodes: &[String], settings: Settings, config: RedisConfig) -> (PubSub, Redis) {
    let redis = Redis::connect_cluster(nodes, settings, config)
        .await
        .expect("connect to the cluster");
    (PubSub::new(redis.clone(), settings.gap_policy()), redis)
}

/// Two instances, each knowing the cluster through a different node.
async fn two_instances(cluster: &Cluster, config: RedisConfig) -> (PubSub, PubSub) {
    let urls = cluster.urls();
    let settings = settings(10_000, GapPolicy::Error);
    let (a, _) = instance(&urls[..1], settings, config.clone()).await;
    let (b, _) = instance(&urls[3..4], settings, config).await;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_channels_on_different_masters_and_resume_across_each_other() {
    let Some(cluster) = Cluster::start(
        "instances_share_channels_on_different_masters_and_resume_across_each_other",
    )
    .await
    else {
        return;
    };
    let prefix = RedisConfig::default().key_prefix;
    let (scores, ticker) = cluster.keys_on_different_masters(&prefix).await;
    let (a, b) = two_instances(&cluster, RedisConfig::default()).await;

    let mut on_a = [
        a.subscribe(&scores, None).await.unwrap(),
        a.subscribe(&ticker, None).await.unwrap(),
    ];
    let mut ids = Vec::new();
    for i in 0..20 {
        for channel in [&scores, &ticker] {
            ids.push(b.publish(channel, format!("{channel}:{i}")).await.unwrap());
        }
    }
    let mut last = Vec::new();
    for (subscription, channel) in on_a.iter_mut().zip([&scores, &ticker]) {
        let mut seen = None;
        for i in 0..20 {
            let (message, text) = next_text(subscription).await;
            assert_eq!(text, format!("{channel}:{i}"));
            seen = Some(message.id());
        }
        last.push(seen.unwrap());
    }
    assert!(quiet_for(&mut on_a[0], Duration::from_millis(200)).await);

    // The clients of A reconnect to B with their last ids while A publishes.
    drop(on_a);
    for channel in [&scores, &ticker] {
        a.publish(channel, format!("{channel}:missed"))
            .await
            .unwrap();
    }
    for (channel, last) in [&scores, &ticker].into_iter().zip(last) {
        let mut resumed = b.subscribe(channel, Some(&last.to_string())).await.unwrap();
        assert_eq!(next_text(&mut resumed).await.1, format!("{channel}:missed"));
        a.publish(channel, format!("{channel}:live")).await.unwrap();
        assert_eq!(next_text(&mut resumed).await.1, format!("{channel}:live"));
        assert!(quiet_for(&mut resumed, Duration::from_millis(200)).await);
    }
}

/// Reads `subscription` until `wanted` is among what arrived or `within` passes; returns every
/// message in arrival order.
async fn read_until(
    subscription: &mut Subscription,
    wanted: &str,
    within: Duration,
) -> Vec<(MessageId, String)> {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    while tokio::time::Instant::now() < deadline {
        let left = deadline - tokio::time::Instant::now();
        match next_within(subscription, left).await {
            Some(Ok(message)) => {
                let text = text(&message);
                let done = text == wanted;
                seen.push((message.id(), text));
                if done {
                    break;
                }
            }
            other => panic!("the subscription ended or stalled: {other:?}; saw {seen:?}"),
        }
    }
    seen
}

fn text(message: &Message) -> String {
    String::from_utf8_lossy(message.payload()).into_owned()
}

/// Publishes `text` until one attempt is acknowledged, each attempt with its own payload
/// (`text#attempt`), since one that failed may still have been stored (and one that failed with
/// `NotReplicated` was). Returns the acknowledged payload and its id.
async fn publish_acknowledged(pubsub: &PubSub, channel: &str, text: &str) -> (String, MessageId) {
    for attempt in 0..120 {
        let payload = format!("{text}#{attempt}");
        match pubsub.publish(channel, payload.clone()).await {
            Ok(id) => return (payload, id),
            Err(Error::Unavailable(_) | Error::NotReplicated { .. }) => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(err) => panic!("publishing {payload}: {err}"),
        }
    }
    panic!("no attempt to publish {text} was acknowledged within about 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_replica_required_a_failover_loses_no_acknowledged_event() {
    let Some(mut cluster) =
        Cluster::start("with_one_replica_required_a_failover_loses_no_acknowledged_event").await
    else {
        return;
    };
    let config = RedisConfig {
        durability: Durability::replicas(1, Duration::from_millis(500)),
        // Readers poll once a minute: what arrives sooner came by notification, which must
        // follow the channel's slot to its new master.
        block: Duration::from_secs(60),
        reconnect_grace: Duration::from_secs(30),
        ..RedisConfig::default()
    };
    let prefix = config.key_prefix.clone();
    let (channel, _) = cluster.keys_on_different_masters(&prefix).await;
    let key = format!("{prefix}{channel}");
    let (a, b) = two_instances(&cluster, config).await;
    let mut live = a.subscribe(&channel, None).await.unwrap();

    let mut acknowledged: Vec<(String, MessageId)> = Vec::new();
    for i in 0..50 {
        acknowledged.push(publish_acknowledged(&b, &channel, &format!("before-{i}")).await);
    }
    // Killed right after the acknowledgements, while a publisher goes on publishing into the
    // failover.
    let old = cluster.kill_master_of(key.as_bytes()).await;
    let publishing = {
        let b = b.clone();
        let channel = channel.clone();
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0..40 {
                acknowledged.push(publish_acknowledged(&b, &channel, &format!("during-{i}")).await);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            acknowledged
        })
    };
    let new = cluster.await_failover(key.as_bytes(), &old).await;
    assert_ne!(new, old);
    // The promoted replica has no replica of its own, so until the old master is back as one,
    // no publish can be acknowledged (each fails with NotReplicated, and is retried).
    cluster.restart(&old).await;
    acknowledged.extend(publishing.await.unwrap());
    let (last, _) = acknowledged.last().cloned().unwrap();

    let seen = read_until(&mut live, &last, Duration::from_secs(40)).await;
    assert!(
        seen.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "ids in order: {seen:?}"
    );
    let mut times: HashMap<&str, usize> = HashMap::new();
    for (_, text) in &seen {
        *times.entry(text.as_str()).or_default() += 1;
    }
    for (payload, id) in &acknowledged {
        assert_eq!(
            times.get(payload.as_str()),
            Some(&1),
            "the acknowledged {payload} ({id}) is delivered exactly once; saw {seen:?}"
        );
    }
    assert!(times.values().all(|n| *n == 1), "nothing twice: {seen:?}");

    // A client that had everything up to the kill resumes on the other instance after it.
    let (_, before_kill) = &acknowledged[49];
    let mut resumed = b
        .subscribe(&channel, Some(&before_kill.to_string()))
        .await
        .unwrap();
    let replayed = read_until(&mut resumed, &last, Duration::from_secs(20)).await;
    for (payload, _) in &acknowledged[50..] {
        assert_eq!(
            replayed.iter().filter(|(_, text)| text == payload).count(),
            1,
            "{payload} in the replay after the kill: {replayed:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orpc_compatible_format_works_on_a_cluster() {
    let Some(cluster) = Cluster::start("the_orpc_compatible_format_works_on_a_cluster").await
    else {
        return;
    };
    let config = RedisConfig::orpc_compatible();
    let (channel, _) = cluster.keys_on_different_masters(&config.key_prefix).await;
    let settings = Settings::default()
        .retention(Retention::new(1000).max_age(Duration::from_secs(60)))
        .on_gap(GapPolicy::Error);
    let urls = cluster.urls();
    let (a, _) = instance(&urls[..1], settings, config.clone()).await;
    let (b, _) = instance(&urls[4..5], settings, config).await;
    let mut live = a.subscribe(&channel, None).await.unwrap();
    let meta = orpc_protocol::EventMeta::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let payload = orpc_payload(&serde_json::json!({ "i": i }), &meta).unwrap();
        ids.push(b.publish(&channel, payload).await.unwrap());
    }
    for id in &ids {
        let item = next_within(&mut live, Duration::from_secs(5)).await;
        assert!(matches!(&item, Some(Ok(m)) if m.id() == *id), "{item:?}");
    }
    let mut resumed = b
        .subscribe(&channel, Some(&ids[2].to_string()))
        .await
        .unwrap();
    for id in &ids[3..] {
        let item = next_within(&mut resumed, Duration::from_secs(5)).await;
        assert!(matches!(&item, Some(Ok(m)) if m.id() == *id), "{item:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_serves_channels_from_a_cluster() {
    let Some(cluster) = Cluster::start("the_example_serves_channels_from_a_cluster").await else {
        return;
    };
    let nodes = cluster.urls()[..2].join(",");
    let server = ServerProcess::example_with("pubsub", &["--redis-cluster", &nodes]);
    let client = orpc_test_support::client();
    let base = format!("http://{}", server.addr);
    let publish = |payload: serde_json::Value| {
        let request = client
            .post(format!("{base}/rpc/publish"))
            .json(&serde_json::json!({ "json": { "channel": "scores", "payload": payload } }));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let body: serde_json::Value = response.json().await.unwrap();
            body["json"]["id"].as_str().expect("an id").to_owned()
        }
    };
    let first = publish(serde_json::json!({ "home": 1 })).await;
    let second = publish(serde_json::json!({ "home": 2 })).await;

    // Resumed after the first: the second, with its id, from the cluster's stream.
    let response = client
        .get(format!("{base}/api/subscribe"))
        .query(&[("channel", "scores")])
        .header("last-event-id", &first)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    // Past the stream's opening comment, up to the end of the first event.
    while !(text.contains("data:") && text.ends_with("\n\n")) {
        let chunk = tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut body))
            .await
            .ok()
            .flatten()
            .expect("an event within 10 s")
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains(&format!("id: {second}\n")), "{text:?}");
    assert!(text.contains(r#"{"home":2}"#), "{text:?}");

    // The cluster holds the channel under the same key as one Redis would.
    let key = format!("{}scores", RedisConfig::default().key_prefix);
    let master = cluster.master_of(key.as_bytes()).await;
    let client = redis::Client::open(master.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let len: usize = redis::cmd("XLEN")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(len, 2);

    // Its `/metrics` has the channels' counters beside the procedures'.
    let metrics = client_text(&format!("{base}/metrics")).await;
    let value = |name: &str, label: &str| {
        metrics
            .lines()
            .find(|line| line.starts_with(&format!("{name}{{")) && line.contains(label))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|value| value.parse::<f64>().ok())
    };
    let publishes = "orpc_pubsub_publishes_total";
    assert_eq!(value(publishes, r#"result="ok""#), Some(2.0), "{metrics}");
    assert_eq!(
        value(publishes, r#"result="error""#),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(
        value("orpc_pubsub_deliveries_total", ""),
        Some(1.0),
        "{metrics}"
    );
    let errors = "orpc_pubsub_redis_errors_total";
    assert_eq!(
        value(errors, r#"operation="publish""#),
        Some(0.0),
        "{metrics}"
    );
    let calls = r#"procedure="publish""#;
    assert_eq!(value("orpc_calls_total", calls), Some(2.0), "{metrics}");
}

async fn client_text(url: &str) -> String {
    let response = orpc_test_support::client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_holds_at_most_two_connections_per_node_whatever_its_channels() {
    let Some(cluster) =
        Cluster::start("a_process_holds_at_most_two_connections_per_node_whatever_its_channels")
            .await
    else {
        return;
    };
    let (pubsub, redis) = instance(
        &cluster.urls()[..1],
        settings(1000, GapPolicy::Error),
        RedisConfig::default(),
    )
    .await;
    let channels: Vec<String> = (0..200).map(|i| format!("many-{i}")).collect();
    let mut subscriptions = Vec::new();
    for channel in &channels {
        subscriptions.push(pubsub.subscribe(channel, None).await.unwrap());
    }
    for (i, channel) in channels.iter().enumerate() {
        pubsub.publish(channel, i.to_string()).await.unwrap();
    }
    for (i, subscription) in subscriptions.iter_mut().enumerate() {
        assert_eq!(next_text(subscription).await.1, i.to_string());
    }
    assert_eq!(redis.active_readers(), 200);
    // Every client of the node but its replica's link and this very connection is ours.
    let mut on_masters = 0;
    for node in cluster.urls() {
        let client = redis::Client::open(node.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut conn)
            .await
            .unwrap();
        let ours = list
            .lines()
            .filter(|line| !line.contains(" flags=S ") && !line.contains(" cmd=client|list "))
            .count();
        assert!(ours <= 2, "{ours} connections on {node}:\n{list}");
        if cluster.master_urls().await.contains(&node) {
            on_masters += ours;
        }
    }
    assert!(on_masters >= 3, "the channels are read from every master");
}

/// Publishes `range` on `channel` through `publisher`, then expects it on `live`.
async fn publish_and_receive(
    publisher: &PubSub,
    channel: &str,
    live: &mut Subscription,
    range: std::ops::Range<usize>,
) {
    for i in range.clone() {
        publisher.publish(channel, i.to_string()).await.unwrap();
    }
    for i in range {
        let item = next_within(live, Duration::from_secs(10)).await;
        assert!(
            matches!(&item, Some(Ok(m)) if text(m) == i.to_string()),
            "message {i}: {item:?}"
        );
    }
}

/// A command to one node, as a client of that node alone.
async fn on_node(node: &str, command: &mut redis::Cmd) -> redis::Value {
    let client = redis::Client::open(node).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    command
        .query_async(&mut conn)
        .await
        .unwrap_or_else(|err| panic!("{command:?} on {node}: {err}"))
}

async fn node_id(node: &str) -> String {
    match on_node(node, redis::cmd("CLUSTER").arg("MYID")).await {
        redis::Value::BulkString(id) => String::from_utf8(id).unwrap(),
        other => panic!("CLUSTER MYID: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_whose_slot_moves_to_another_master_goes_on_through_ask_and_moved() {
    let Some(cluster) = Cluster::start(
        "a_channel_whose_slot_moves_to_another_master_goes_on_through_ask_and_moved",
    )
    .await
    else {
        return;
    };
    let config = RedisConfig {
        // Readers poll once a minute: what arrives sooner came by notification.
        block: Duration::from_secs(60),
        ..RedisConfig::default()
    };
    let prefix = config.key_prefix.clone();
    let (channel, _) = cluster.keys_on_different_masters(&prefix).await;
    let key = format!("{prefix}{channel}");
    let (a, b) = two_instances(&cluster, config).await;
    let mut live = a.subscribe(&channel, None).await.unwrap();
    publish_and_receive(&b, &channel, &mut live, 0..5).await;

    // Move the channel's slot from its master to another one, as `redis-cli --cluster reshard`
    // does, publishing at each step.
    let source = cluster.master_of(key.as_bytes()).await;
    let masters = cluster.master_urls().await;
    let target = masters.iter().find(|m| **m != source).unwrap().clone();
    let slot = orpc_test_support::redis_cluster::slot(key.as_bytes());
    let (source_id, target_id) = (node_id(&source).await, node_id(&target).await);
    let setslot = |state: &str, id: &str| {
        let mut cmd = redis::cmd("CLUSTER");
        cmd.arg("SETSLOT").arg(slot).arg(state).arg(id);
        cmd
    };
    on_node(&target, &mut setslot("IMPORTING", &source_id)).await;
    on_node(&source, &mut setslot("MIGRATING", &target_id)).await;
    publish_and_receive(&b, &channel, &mut live, 5..10).await;

    // The key moves; the source now answers ASK for it.
    let port = target.rsplit(':').next().unwrap();
    on_node(
        &source,
        redis::cmd("MIGRATE")
            .arg("127.0.0.1")
            .arg(port)
            .arg("")
            .arg(0)
            .arg(5000)
            .arg("KEYS")
            .arg(&key),
    )
    .await;
    // Publishing still works: the scripts follow the ASK to the target. Their notifications go
    // out on the target, while the readers are subscribed on the source, so these wait for the
    // end of the move (or a reader's next poll).
    for i in 10..15 {
        b.publish(&channel, i.to_string()).await.unwrap();
    }

    // The slot is the target's; every node learns it, and the source answers MOVED. The source
    // unsubscribes the channel's notifications, which are subscribed again on the target, and
    // the reader catches up at once.
    on_node(&target, &mut setslot("NODE", &target_id)).await;
    for master in &masters {
        on_node(master, &mut setslot("NODE", &target_id)).await;
    }
    for i in 10..15 {
        let item = next_within(&mut live, Duration::from_secs(10)).await;
        assert!(
            matches!(&item, Some(Ok(m)) if text(m) == i.to_string()),
            "message {i}: {item:?}"
        );
    }
    publish_and_receive(&b, &channel, &mut live, 15..20).await;
    assert_eq!(cluster.master_of(key.as_bytes()).await, target);
    assert!(quiet_for(&mut live, Duration::from_millis(300)).await);
}
