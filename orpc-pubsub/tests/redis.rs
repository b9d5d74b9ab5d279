//! What only the Redis backend does: several instances sharing channels, one reader per
//! channel per process, and surviving Redis going away.
//!
//! Redis "going away" is simulated with a TCP proxy on loopback (`support::Proxy`) that closes
//! every connection through it and refuses new ones, then lets them through again: to the
//! backend that is exactly a Redis restart, without restarting the machine's Redis under the
//! other tests. A second, direct connection keeps publishing meanwhile, as other instances
//! would.

mod support;

use std::time::Duration;

use orpc_pubsub::{
    Durability, Error, Gap, GapKind, GapPolicy, PubSub, RedisConfig, Settings, Subscription,
};
use support::{
    next_text, next_within, quiet_for, redis_or_skip, redis_pubsub, redis_pubsub_with, settings,
    unique, Proxy,
};

async fn publish_range(pubsub: &PubSub, channel: &str, range: std::ops::Range<u32>) {
    for i in range {
        pubsub.publish(channel, i.to_string()).await.unwrap();
    }
}

async fn expect_range(subscription: &mut Subscription, range: std::ops::Range<u32>) -> String {
    let mut last = String::new();
    for i in range {
        let (message, text) = next_text(subscription).await;
        assert_eq!(text, i.to_string());
        last = message.id().to_string();
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumes_on_another_instance_exactly_once() {
    let Some(url) = redis_or_skip("a_client_resumes_on_another_instance_exactly_once").await else {
        return;
    };
    let (a, _) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let (b, _) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let channel = unique("instances");

    let mut on_a = a.subscribe(&channel, None).await.unwrap();
    publish_range(&b, &channel, 0..10).await;
    let last = expect_range(&mut on_a, 0..5).await;
    drop(on_a);

    publish_range(&b, &channel, 10..15).await;
    let mut on_b = b.subscribe(&channel, Some(&last)).await.unwrap();
    publish_range(&a, &channel, 15..20).await;
    expect_range(&mut on_b, 5..20).await;
    assert!(quiet_for(&mut on_b, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_reader_serves_every_local_subscriber_of_a_channel() {
    let Some(url) = redis_or_skip("one_reader_serves_every_local_subscriber_of_a_channel").await
    else {
        return;
    };
    let (pubsub, redis) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let (one, other) = (unique("shared"), unique("shared"));
    let mut subscriptions = Vec::new();
    for _ in 0..200 {
        subscriptions.push(pubsub.subscribe(&one, None).await.unwrap());
    }
    let mut elsewhere = pubsub.subscribe(&other, None).await.unwrap();
    assert_eq!(redis.active_readers(), 2);
    assert_eq!(pubsub.subscribers(&one), 200);

    pubsub.publish(&one, "hello").await.unwrap();
    for subscription in &mut subscriptions {
        assert_eq!(next_text(subscription).await.1, "hello");
    }
    assert!(quiet_for(&mut elsewhere, Duration::from_millis(100)).await);

    subscriptions.clear();
    assert_eq!(redis.active_readers(), 1, "the last drop stops the reader");
    assert_eq!(pubsub.subscribers(&one), 0);
    drop(elsewhere);
    assert_eq!(redis.active_readers(), 0);

    // A new subscriber starts a new reader, which misses nothing.
    let mut again = pubsub.subscribe(&one, None).await.unwrap();
    pubsub.publish(&one, "again").await.unwrap();
    assert_eq!(next_text(&mut again).await.1, "again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_lost_its_history_is_reported_to_live_subscribers() {
    let Some(url) =
        redis_or_skip("a_stream_that_lost_its_history_is_reported_to_live_subscribers").await
    else {
        return;
    };
    let (pubsub, _) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let channel = unique("flushed");
    let mut live = pubsub.subscribe(&channel, None).await.unwrap();
    pubsub.publish(&channel, "0").await.unwrap();
    assert_eq!(next_text(&mut live).await.1, "0");

    // Someone deletes the stream (FLUSHALL, a restart without persistence), then publishes.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}{channel}", RedisConfig::default().key_prefix);
    redis::cmd("DEL")
        .arg(&key)
        .query_async::<i64>(&mut conn)
        .await
        .unwrap();
    // A new stream's ids restart from Redis's clock; one that reused the reader's last id
    // exactly (the same millisecond) could not be told apart (see `reader.rs`).
    tokio::time::sleep(Duration::from_millis(5)).await;
    pubsub.publish(&channel, "1").await.unwrap();

    let item = next_within(&mut live, Duration::from_secs(10)).await;
    assert!(
        matches!(
            item,
            Some(Err(Error::Gap(Gap {
                kind: GapKind::Unknown,
                ..
            })))
        ),
        "{item:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_redis_outage_is_bridged_and_nothing_is_lost() {
    let Some(url) = redis_or_skip("a_short_redis_outage_is_bridged_and_nothing_is_lost").await
    else {
        return;
    };
    let proxy = Proxy::start(&url).await;
    let config = RedisConfig {
        reconnect_grace: Duration::from_secs(20),
        ..RedisConfig::default()
    };
    let (through_proxy, _) =
        redis_pubsub_with(&proxy.url(), settings(1000, GapPolicy::Error), config).await;
    let (direct, _) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let channel = unique("outage");

    let mut subscription = through_proxy.subscribe(&channel, None).await.unwrap();
    publish_range(&direct, &channel, 0..5).await;
    expect_range(&mut subscription, 0..5).await;

    proxy.cut();
    // Other instances go on publishing; this one cannot, and says so.
    publish_range(&direct, &channel, 5..10).await;
    let refused = through_proxy.publish(&channel, "lost?").await;
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    assert!(quiet_for(&mut subscription, Duration::from_millis(800)).await);

    proxy.restore();
    publish_range(&direct, &channel, 10..15).await;
    // The reader reconnects and carries on from its cursor: nothing lost, nothing twice.
    expect_range(&mut subscription, 5..15).await;
    assert!(quiet_for(&mut subscription, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_redis_outage_ends_subscribers_who_then_resume_without_loss() {
    let Some(url) =
        redis_or_skip("a_long_redis_outage_ends_subscribers_who_then_resume_without_loss").await
    else {
        return;
    };
    let proxy = Proxy::start(&url).await;
    let config = RedisConfig {
        reconnect_grace: Duration::from_millis(300),
        ..RedisConfig::default()
    };
    let (through_proxy, _) =
        redis_pubsub_with(&proxy.url(), settings(1000, GapPolicy::Error), config).await;
    let (direct, _) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let channel = unique("long-outage");

    let mut subscription = through_proxy.subscribe(&channel, None).await.unwrap();
    publish_range(&direct, &channel, 0..5).await;
    let last = expect_range(&mut subscription, 0..5).await;

    proxy.cut();
    publish_range(&direct, &channel, 5..10).await;
    let item = next_within(&mut subscription, Duration::from_secs(15)).await;
    assert!(matches!(item, Some(Err(Error::Unavailable(_)))), "{item:?}");
    assert_eq!(
        next_within(&mut subscription, Duration::from_secs(1)).await,
        None
    );
    drop(subscription);
    // While Redis is away, resuming fails with an error rather than hanging or pretending.
    let meanwhile = through_proxy.subscribe(&channel, Some(&last)).await;
    if let Ok(mut resumed) = meanwhile {
        let item = next_within(&mut resumed, Duration::from_secs(15)).await;
        assert!(matches!(item, Some(Err(Error::Unavailable(_)))), "{item:?}");
    }

    proxy.restore();
    publish_range(&direct, &channel, 10..12).await;
    // A client retries with backoff until Redis answers again: at most 50 tries.
    for attempt in 0..50 {
        let mut resumed = match through_proxy.subscribe(&channel, Some(&last)).await {
            Ok(resumed) => resumed,
            Err(Error::Unavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            Err(err) => panic!("{err}"),
        };
        match next_within(&mut resumed, Duration::from_secs(10)).await {
            Some(Ok(first)) => {
                assert_eq!(first.payload().as_ref(), b"5", "attempt {attempt}");
                expect_range(&mut resumed, 6..12).await;
                assert!(quiet_for(&mut resumed, Duration::from_millis(300)).await);
                return;
            }
            Some(Err(Error::Unavailable(_))) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("attempt {attempt}: {other:?}"),
        }
    }
    panic!("never resumed after Redis came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_holds_two_connections_whatever_its_number_of_channels() {
    let Some(url) =
        redis_or_skip("a_process_holds_two_connections_whatever_its_number_of_channels").await
    else {
        return;
    };
    let proxy = Proxy::start(&url).await;
    let (pubsub, redis) = redis_pubsub_with(
        &proxy.url(),
        settings(1000, GapPolicy::Error),
        RedisConfig::default(),
    )
    .await;
    let channels: Vec<String> = (0..300).map(|i| unique(&format!("many-{i}"))).collect();
    let mut subscriptions = Vec::new();
    for channel in &channels {
        subscriptions.push(pubsub.subscribe(channel, None).await.unwrap());
    }
    assert_eq!(redis.active_readers(), 300);
    for (i, channel) in channels.iter().enumerate() {
        pubsub.publish(channel, i.to_string()).await.unwrap();
    }
    for (i, subscription) in subscriptions.iter_mut().enumerate() {
        assert_eq!(next_text(subscription).await.1, i.to_string());
    }
    // Commands and notifications: one connection each, not one per channel.
    assert_eq!(proxy.connections(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_arrive_by_notification_also_after_the_notifications_were_cut() {
    let Some(url) =
        redis_or_skip("messages_arrive_by_notification_also_after_the_notifications_were_cut")
            .await
    else {
        return;
    };
    let proxy = Proxy::start(&url).await;
    // Readers poll only once a minute: anything sooner came by notification.
    let config = RedisConfig {
        block: Duration::from_secs(60),
        reconnect_grace: Duration::from_secs(30),
        ..RedisConfig::default()
    };
    let (through_proxy, _) =
        redis_pubsub_with(&proxy.url(), settings(1000, GapPolicy::Error), config).await;
    let (direct, _) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let channel = unique("notified");
    let mut subscription = through_proxy.subscribe(&channel, None).await.unwrap();
    direct.publish(&channel, "0").await.unwrap();
    let item = next_within(&mut subscription, Duration::from_secs(5)).await;
    assert!(
        matches!(&item, Some(Ok(m)) if m.payload().as_ref() == b"0"),
        "{item:?}"
    );

    // Both connections drop, for longer than the notification connection keeps retrying on its
    // own. What is published meanwhile, and after the notifications are subscribed again,
    // arrives well before the next poll.
    proxy.cut();
    direct.publish(&channel, "1").await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    let item = next_within(&mut subscription, Duration::from_secs(10)).await;
    assert!(
        matches!(&item, Some(Ok(m)) if m.payload().as_ref() == b"1"),
        "{item:?}"
    );
    // Resubscribed: a later publish wakes the reader at once again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    direct.publish(&channel, "2").await.unwrap();
    let item = next_within(&mut subscription, Duration::from_secs(5)).await;
    assert!(
        matches!(&item, Some(Ok(m)) if m.payload().as_ref() == b"2"),
        "{item:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_rolled_back_under_the_reader_goes_on_without_a_gap_or_a_repeat() {
    let Some(url) =
        redis_or_skip("a_stream_rolled_back_under_the_reader_goes_on_without_a_gap_or_a_repeat")
            .await
    else {
        return;
    };
    let (pubsub, _) = redis_pubsub(&url, settings(1000, GapPolicy::Error)).await;
    let channel = unique("rolled-back");
    let mut live = pubsub.subscribe(&channel, None).await.unwrap();
    let first = pubsub.publish(&channel, "a").await.unwrap();
    pubsub.publish(&channel, "b").await.unwrap();
    assert_eq!(next_text(&mut live).await.1, "a");
    assert_eq!(next_text(&mut live).await.1, "b");

    // What a failover to a replica that had only received "a" leaves: the stream ends at "a".
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}{channel}", RedisConfig::default().key_prefix);
    redis::pipe()
        .cmd("DEL")
        .arg(&key)
        .cmd("XADD")
        .arg(&key)
        .arg(first.to_string())
        .arg("p")
        .arg("a")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    pubsub.publish(&channel, "c").await.unwrap();

    // No gap (nothing unseen is missing), no "a" again: "c" is next.
    let item = next_within(&mut live, Duration::from_secs(10)).await;
    assert!(
        matches!(&item, Some(Ok(m)) if m.payload().as_ref() == b"c"),
        "{item:?}"
    );
    assert!(quiet_for(&mut live, Duration::from_millis(300)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publish_that_replicas_do_not_confirm_says_so_with_its_id() {
    let Some(url) =
        redis_or_skip("a_publish_that_replicas_do_not_confirm_says_so_with_its_id").await
    else {
        return;
    };
    // The tests' Redis has no replica, so none can confirm.
    let config = RedisConfig {
        durability: Durability::replicas(1, Duration::from_millis(50)),
        ..RedisConfig::default()
    };
    let (pubsub, _) = redis_pubsub_with(&url, settings(1000, GapPolicy::Error), config).await;
    let channel = unique("not-replicated");
    let mut live = pubsub.subscribe(&channel, None).await.unwrap();
    let published = pubsub.publish(&channel, "x").await;
    let Err(Error::NotReplicated {
        id,
        replicas: 0,
        required: 1,
    }) = published
    else {
        panic!("{published:?}");
    };
    // The master stored it under that id and its subscribers get it.
    let (message, text) = next_text(&mut live).await;
    assert_eq!((message.id(), text.as_str()), (id, "x"));

    let zero = RedisConfig {
        durability: Durability::replicas(0, Duration::from_millis(50)),
        ..RedisConfig::default()
    };
    let refused = orpc_pubsub::Redis::connect(&url, Settings::default(), zero).await;
    assert!(matches!(refused, Err(Error::Config(_))), "{refused:?}");
}
