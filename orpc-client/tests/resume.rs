//! Resuming across a connection cut mid-stream: `count` (n = 50, 20 ms apart) through a TCP
//! proxy that cuts its first connection after a few hundred bytes of response. The client must
//! see every i from 0 to 49 exactly once, in order, then `done`, and its second request must have
//! carried `Last-Event-ID`. Against our conformance server and against oRPC's own.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use orpc_client::{Client, ReconnectPolicy};
use orpc_test_support::conformance::Conformance;
use serde::Deserialize;
use serde_json::json;
use support::{node_reference, CutProxy};

#[derive(Debug, Deserialize)]
struct Tick {
    i: u32,
}

/// Response bytes let through before the cut: the head and a handful of events, so the cut falls
/// early in the stream and, most likely, inside an event.
const CUT_AFTER: usize = 700;

async fn resume_through_a_cut(upstream: SocketAddr) {
    let proxy = CutProxy::start(upstream, CUT_AFTER).await;
    let policy = ReconnectPolicy::builder().max_attempts(3).build();
    let client = Client::builder(&proxy.rpc_url())
        .reconnect(policy)
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let stream = client
        .stream::<Tick, String>("count", &json!({ "n": 50, "delay_ms": 20 }))
        .await
        .unwrap();
    let (events, done) = tokio::time::timeout(Duration::from_secs(30), stream.collect_all())
        .await
        .expect("the stream ended in time")
        .expect("the stream resumed and finished");

    let seen: Vec<u32> = events.iter().map(|e| e.data.i).collect();
    assert_eq!(seen, (0..50).collect::<Vec<_>>());
    assert_eq!(done, "done!");

    let requests = proxy.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let last_event_id = |head: &str| {
        head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("last-event-id")
                .then(|| value.trim().to_owned())
        })
    };
    assert_eq!(last_event_id(&requests[0]), None);
    let resumed_after: u32 = last_event_id(&requests[1])
        .expect("the second request carried last-event-id")
        .parse()
        .unwrap();
    // The cut came early: the second connection did most of the work.
    assert!(resumed_after < 25, "resumed after {resumed_after}");
    // Both servers send `retry: 1000`, which the client honoured before reconnecting.
    assert!(started.elapsed() >= Duration::from_millis(1000));
}

#[tokio::test]
async fn a_cut_stream_resumes_from_our_server() {
    let server = Conformance::start();
    resume_through_a_cut(server.addr).await;
    // The cut stream and the resumed one both ran their cleanup.
    assert!(
        orpc_test_support::eventually(Duration::from_secs(1), async || server.started() == 2
            && server.cleaned() == 2)
        .await
    );
}

#[tokio::test]
async fn a_cut_stream_resumes_from_orpcs_server() {
    let Some(server) = node_reference() else {
        return;
    };
    resume_through_a_cut(server.addr).await;
}
