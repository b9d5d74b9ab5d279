//! The client over HTTP/2 with TLS: a reqwest client that only speaks HTTP/2 (prior knowledge,
//! so an HTTP/1.1 answer would fail the call), sharing one connection among concurrent streams
//! and plain calls against the conformance server over HTTPS.

use std::time::Duration;

use orpc_client::Client;
use orpc_test_support::conformance::{self, Conformance};
use orpc_test_support::Options;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Deserialize)]
struct Tick {
    i: u32,
}

#[tokio::test]
async fn streams_and_calls_share_one_http2_connection() {
    let options = Options {
        tls: true,
        ..Options::default()
    };
    let c = Conformance::with(conformance::router(), options);
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .danger_accept_invalid_certs(true)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let client = Client::builder(&c.rpc_url())
        .http_client(http)
        .build()
        .unwrap();
    assert!(c.rpc_url().starts_with("https://"));

    let streams = (0..20).map(|_| async {
        let stream = client
            .stream::<Tick, String>("count", &json!({ "n": 10, "delay_ms": 10 }))
            .await
            .unwrap();
        stream.collect_all().await.unwrap()
    });
    let all = tokio::time::timeout(
        Duration::from_secs(20),
        futures_util::future::join_all(streams),
    )
    .await
    .expect("the streams finished in time");
    for (events, done) in all {
        let seen: Vec<u32> = events.iter().map(|e| e.data.i).collect();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(done, "done!");
    }
    let stats: Value = client.call("stats", &()).await.unwrap();
    assert_eq!(stats["started"], 20);
    assert_eq!(stats["cleaned"], 20);
}
