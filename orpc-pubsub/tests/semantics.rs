//! The subscription semantics, run once per backend: module `memory` and module `redis`
//! (against the Redis at `REDIS_URL`; see `support` for when it is skipped).
//!
//! Every wait is bounded: reads time out after seconds, loops count to a fixed number.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orpc_pubsub::{Error, Gap, GapKind, GapPolicy, MessageId, PubSub, Retention, Settings};
use support::{next_text, next_within, quiet_for, redis_or_skip, redis_pubsub, settings, unique};

#[derive(Clone, Copy)]
enum Kind {
    Memory,
    Redis,
}

impl Kind {
    /// A pub/sub on this backend, or `None` when Redis is absent (and this is not CI).
    async fn pubsub(self, test: &str, settings: Settings) -> Option<PubSub> {
        match self {
            Kind::Memory => Some(PubSub::in_memory(settings)),
            Kind::Redis => {
                let url = redis_or_skip(test).await?;
                Some(redis_pubsub(&url, settings).await.0)
            }
        }
    }

    /// An id of the right form that a fresh channel never issued.
    fn unissued_id(self) -> &'static str {
        match self {
            Kind::Memory => "5",
            Kind::Redis => "5-0",
        }
    }

    /// An id of the other backend's form.
    fn foreign_id(self) -> &'static str {
        match self {
            Kind::Memory => "5-0",
            Kind::Redis => "5",
        }
    }
}

async fn publish_n(pubsub: &PubSub, channel: &str, range: std::ops::Range<u32>) -> Vec<MessageId> {
    let mut ids = Vec::new();
    for i in range {
        ids.push(pubsub.publish(channel, i.to_string()).await.unwrap());
    }
    ids
}

fn gap_after(id: MessageId, kind: GapKind) -> Error {
    Error::Gap(Gap {
        after: Some(id),
        kind,
    })
}

async fn resume_replays_what_was_missed_then_goes_live(kind: Kind) {
    let Some(pubsub) = kind.pubsub("resume", settings(100, GapPolicy::Error)).await else {
        return;
    };
    let channel = unique("resume");
    let mut live = pubsub.subscribe(&channel, None).await.unwrap();
    let ids = publish_n(&pubsub, &channel, 0..3).await;
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    for (i, id) in ids.iter().enumerate() {
        let (message, text) = next_text(&mut live).await;
        assert_eq!((message.id(), text), (*id, i.to_string()));
    }
    drop(live);

    // Away for two messages, then back with the last id it had.
    publish_n(&pubsub, &channel, 3..5).await;
    let mut resumed = pubsub
        .subscribe(&channel, Some(&ids[2].to_string()))
        .await
        .unwrap();
    publish_n(&pubsub, &channel, 5..7).await;
    for i in 3..7 {
        assert_eq!(next_text(&mut resumed).await.1, i.to_string());
    }
    assert!(quiet_for(&mut resumed, Duration::from_millis(200)).await);

    // Resuming at the newest message replays nothing and waits for the next.
    let newest = publish_n(&pubsub, &channel, 7..8).await[0];
    let mut at_head = pubsub
        .subscribe(&channel, Some(&newest.to_string()))
        .await
        .unwrap();
    assert!(quiet_for(&mut at_head, Duration::from_millis(200)).await);
    publish_n(&pubsub, &channel, 8..9).await;
    assert_eq!(next_text(&mut at_head).await.1, "8");
}

/// From the oldest: everything retention kept, then live, with no duplicate at the seam; an empty
/// channel goes straight to live; what retention dropped is not asked for, so it is no gap.
async fn from_the_oldest_replays_all_retained_then_goes_live(kind: Kind) {
    let Some(pubsub) = kind.pubsub("oldest", settings(3, GapPolicy::Error)).await else {
        return;
    };
    let channel = unique("oldest");
    let mut empty = pubsub.subscribe_from_oldest(&channel).await.unwrap();
    publish_n(&pubsub, &channel, 0..5).await;
    for i in 0..5 {
        assert_eq!(next_text(&mut empty).await.1, i.to_string());
    }
    // Retention keeps the last three of five. (The replay reads retention when first polled:
    // what is published before that may push the oldest out of it.)
    let mut all = pubsub.subscribe_from_oldest(&channel).await.unwrap();
    for i in 2..5 {
        assert_eq!(next_text(&mut all).await.1, i.to_string());
    }
    publish_n(&pubsub, &channel, 5..7).await;
    for i in 5..7 {
        assert_eq!(next_text(&mut all).await.1, i.to_string());
    }
    assert!(quiet_for(&mut all, Duration::from_millis(200)).await);
}

/// Subscribers join, with and without a last id, while a publisher is publishing: each must get
/// every message after its last id (or after it joined) exactly once, in order.
async fn publishing_while_subscribing_loses_and_repeats_nothing(kind: Kind) {
    let settings = settings(10_000, GapPolicy::Error).buffer(8192);
    let Some(pubsub) = kind.pubsub("seam race", settings).await else {
        return;
    };
    let channel = unique("race");
    let total: u64 = match kind {
        Kind::Memory => 3000,
        Kind::Redis => 1000,
    };
    let published: Arc<Mutex<Vec<MessageId>>> = Arc::default();
    let publisher = {
        let (pubsub, channel, published) = (pubsub.clone(), channel.clone(), published.clone());
        tokio::spawn(async move {
            for i in 0..total {
                let id = pubsub.publish(&channel, i.to_string()).await.unwrap();
                published.lock().unwrap().push(id);
                if i % 25 == 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        })
    };
    let mut checkers = Vec::new();
    for k in 0..30u64 {
        tokio::time::sleep(Duration::from_millis(2)).await;
        let after = if k % 3 == 0 {
            None
        } else {
            let published = published.lock().unwrap();
            let len = published.len();
            // Resume at the newest message, or a few before it.
            (len > 0).then(|| {
                let i = len - 1 - (k as usize % 4).min(len - 1);
                (i as u64, published[i])
            })
        };
        let mut subscription = pubsub
            .subscribe(&channel, after.map(|(_, id)| id.to_string()).as_deref())
            .await
            .unwrap();
        // Every message whose publish began after `subscribe` returned must arrive.
        let joined_at = published.lock().unwrap().len() as u64;
        checkers.push(tokio::spawn(async move {
            let mut expected = after.map(|(i, _)| i + 1);
            if expected == Some(total) {
                return;
            }
            for _ in 0..total {
                let (_, text) = next_text(&mut subscription).await;
                let i: u64 = text.parse().unwrap();
                match expected {
                    Some(e) => assert_eq!(i, e, "subscriber {k} (after {after:?})"),
                    None => assert!(
                        i <= joined_at + 1,
                        "subscriber {k} joined at {joined_at} but started at {i}"
                    ),
                }
                expected = Some(i + 1);
                if i == total - 1 {
                    return;
                }
            }
            panic!("subscriber {k} never reached the last message");
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), publisher)
        .await
        .expect("publisher done in time")
        .unwrap();
    for checker in checkers {
        tokio::time::timeout(Duration::from_secs(30), checker)
            .await
            .expect("subscriber done in time")
            .unwrap();
    }
}

async fn a_last_id_older_than_retention_is_an_error_by_default(kind: Kind) {
    let Some(pubsub) = kind
        .pubsub("retention gap", settings(5, GapPolicy::Error))
        .await
    else {
        return;
    };
    let channel = unique("gap");
    let ids = publish_n(&pubsub, &channel, 0..10).await;
    // Retained: 5..=9. After 2, messages 3 and 4 are gone.
    let mut late = pubsub
        .subscribe(&channel, Some(&ids[2].to_string()))
        .await
        .unwrap();
    let item = next_within(&mut late, Duration::from_secs(5)).await;
    assert_eq!(item, Some(Err(gap_after(ids[2], GapKind::Expired))));
    assert_eq!(next_within(&mut late, Duration::from_secs(1)).await, None);

    // After 4, the oldest dropped message, nothing is missing.
    let mut just_in_time = pubsub
        .subscribe(&channel, Some(&ids[4].to_string()))
        .await
        .unwrap();
    for i in 5..10 {
        assert_eq!(next_text(&mut just_in_time).await.1, i.to_string());
    }
}

async fn under_the_marker_policy_a_gap_is_marked_and_the_rest_follows(kind: Kind) {
    let Some(pubsub) = kind
        .pubsub("gap marker", settings(5, GapPolicy::Marker))
        .await
    else {
        return;
    };
    let channel = unique("marker");
    let ids = publish_n(&pubsub, &channel, 0..10).await;
    let mut late = pubsub
        .subscribe(&channel, Some(&ids[1].to_string()))
        .await
        .unwrap();
    let item = next_within(&mut late, Duration::from_secs(5)).await;
    assert_eq!(item, Some(Err(gap_after(ids[1], GapKind::Expired))));
    for i in 5..10 {
        assert_eq!(next_text(&mut late).await.1, i.to_string());
    }
    publish_n(&pubsub, &channel, 10..11).await;
    assert_eq!(next_text(&mut late).await.1, "10");

    // An id the channel never issued: marked, then the whole retention, then live.
    let mut lost = pubsub
        .subscribe(&channel, Some(&bump(ids[9]).to_string()))
        .await
        .unwrap();
    let item = next_within(&mut lost, Duration::from_secs(5)).await;
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
    for i in 6..11 {
        assert_eq!(next_text(&mut lost).await.1, i.to_string());
    }
    publish_n(&pubsub, &channel, 11..12).await;
    assert_eq!(next_text(&mut lost).await.1, "11");
}

/// An id after `id` that no publish produced: past the newest one.
fn bump(id: MessageId) -> MessageId {
    match (id.as_sequence(), id.as_stream()) {
        (Some(n), _) => MessageId::sequence(n + 1000),
        (_, Some((ms, seq))) => MessageId::stream(ms + 1_000_000, seq),
        _ => unreachable!("an id has one of the two forms"),
    }
}

async fn an_unknown_last_id_is_a_gap_never_silence(kind: Kind) {
    let Some(pubsub) = kind
        .pubsub("unknown id", settings(5, GapPolicy::Error))
        .await
    else {
        return;
    };
    // A channel with no history, as after a restart that lost everything.
    let channel = unique("unknown");
    let mut subscription = pubsub
        .subscribe(&channel, Some(kind.unissued_id()))
        .await
        .unwrap();
    let item = next_within(&mut subscription, Duration::from_secs(5)).await;
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
    assert_eq!(
        next_within(&mut subscription, Duration::from_secs(1)).await,
        None
    );
}

async fn age_retention_expires_messages(kind: Kind) {
    let retention = Retention::new(100).max_age(Duration::from_millis(300));
    let settings = Settings::default().retention(retention);
    let Some(pubsub) = kind.pubsub("age retention", settings).await else {
        return;
    };
    let channel = unique("age");
    let ids = publish_n(&pubsub, &channel, 0..3).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Nothing was published since: expiry still applies on an idle channel.
    let mut old = pubsub
        .subscribe(&channel, Some(&ids[0].to_string()))
        .await
        .unwrap();
    let item = next_within(&mut old, Duration::from_secs(5)).await;
    assert_eq!(item, Some(Err(gap_after(ids[0], GapKind::Expired))));

    // A client that had everything missed nothing, even though all of it expired.
    let mut current = pubsub
        .subscribe(&channel, Some(&ids[2].to_string()))
        .await
        .unwrap();
    publish_n(&pubsub, &channel, 3..4).await;
    assert_eq!(next_text(&mut current).await.1, "3");
}

/// A subscriber that never reads is cut off once it is `buffer` behind: the publisher and a
/// subscriber that keeps up do not notice, and the slow one resumes from retention.
async fn a_slow_subscriber_is_cut_off_without_slowing_anyone(kind: Kind) {
    let settings = settings(10_000, GapPolicy::Error).buffer(16);
    let Some(pubsub) = kind.pubsub("slow subscriber", settings).await else {
        return;
    };
    let channel = unique("slow");
    let total = 400u32;
    let before = pubsub.publish(&channel, "before").await.unwrap();
    let mut slow = pubsub.subscribe(&channel, None).await.unwrap();
    let mut fast = pubsub.subscribe(&channel, None).await.unwrap();
    let fast = tokio::spawn(async move {
        for i in 0..total {
            assert_eq!(next_text(&mut fast).await.1, i.to_string());
        }
    });
    let mut worst = Duration::ZERO;
    for i in 0..total {
        let started = Instant::now();
        pubsub.publish(&channel, i.to_string()).await.unwrap();
        worst = worst.max(started.elapsed());
        if i % 4 == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    tokio::time::timeout(Duration::from_secs(20), fast)
        .await
        .expect("the fast subscriber keeps up")
        .unwrap();
    assert!(
        worst < Duration::from_millis(500),
        "a publish took {worst:?}"
    );

    let item = next_within(&mut slow, Duration::from_secs(5)).await;
    assert!(
        matches!(item, Some(Err(Error::Lagged { skipped })) if skipped > 0),
        "{item:?}"
    );
    assert_eq!(next_within(&mut slow, Duration::from_secs(1)).await, None);
    drop(slow);

    let mut resumed = pubsub
        .subscribe(&channel, Some(&before.to_string()))
        .await
        .unwrap();
    for i in 0..total {
        assert_eq!(next_text(&mut resumed).await.1, i.to_string());
    }
}

async fn dropping_a_subscription_unsubscribes_at_once(kind: Kind) {
    let Some(pubsub) = kind.pubsub("drop", settings(100, GapPolicy::Error)).await else {
        return;
    };
    let channel = unique("drop");
    let a = pubsub.subscribe(&channel, None).await.unwrap();
    let b = pubsub.subscribe(&channel, None).await.unwrap();
    assert_eq!(pubsub.subscribers(&channel), 2);
    drop(a);
    assert_eq!(pubsub.subscribers(&channel), 1);

    // Dropped in the middle of a replay.
    let ids = publish_n(&pubsub, &channel, 0..10).await;
    let mut c = pubsub
        .subscribe(&channel, Some(&ids[0].to_string()))
        .await
        .unwrap();
    assert_eq!(next_text(&mut c).await.1, "1");
    assert_eq!(pubsub.subscribers(&channel), 2);
    drop(c);
    drop(b);
    assert_eq!(pubsub.subscribers(&channel), 0);
    // Publishing to a channel nobody listens to still retains.
    pubsub.publish(&channel, "after").await.unwrap();
}

async fn bad_input_is_refused_with_errors(kind: Kind) {
    let Some(pubsub) = kind.pubsub("bad input", Settings::default()).await else {
        return;
    };
    let channel = unique("bad");
    let long = "x".repeat(PubSub::MAX_CHANNEL_LEN + 1);
    assert_eq!(pubsub.publish("", "x").await, Err(Error::InvalidChannel));
    assert_eq!(pubsub.publish(&long, "x").await, Err(Error::InvalidChannel));
    assert_eq!(
        pubsub.subscribe("", None).await.unwrap_err(),
        Error::InvalidChannel
    );
    for bad in ["abc", "", "-1", "+1", kind.foreign_id(), "1-2-3", "ü"] {
        let err = pubsub.subscribe(&channel, Some(bad)).await.unwrap_err();
        assert_eq!(err, Error::InvalidLastId(bad.to_owned()));
    }
    let huge = "9".repeat(5000);
    let err = pubsub.subscribe(&channel, Some(&huge)).await.unwrap_err();
    assert_eq!(err, Error::InvalidLastId("9".repeat(64)));
    // Binary and odd payloads are carried as they are.
    let mut subscription = pubsub.subscribe(&channel, None).await.unwrap();
    pubsub
        .publish(&channel, vec![0u8, 255, b'\n'])
        .await
        .unwrap();
    let item = next_within(&mut subscription, Duration::from_secs(5)).await;
    assert_eq!(
        item.unwrap().unwrap().payload().as_ref(),
        &[0u8, 255, b'\n']
    );
}

macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Kind::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Kind::Redis).await
                }
            )*
        }
    };
}

on_both_backends!(
    resume_replays_what_was_missed_then_goes_live,
    from_the_oldest_replays_all_retained_then_goes_live,
    publishing_while_subscribing_loses_and_repeats_nothing,
    a_last_id_older_than_retention_is_an_error_by_default,
    under_the_marker_policy_a_gap_is_marked_and_the_rest_follows,
    an_unknown_last_id_is_a_gap_never_silence,
    age_retention_expires_messages,
    a_slow_subscriber_is_cut_off_without_slowing_anyone,
    dropping_a_subscription_unsubscribes_at_once,
    bad_input_is_refused_with_errors,
);
