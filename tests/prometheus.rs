//! A real Prometheus scrapes the conformance server's `/metrics`, and its query API answers the
//! spec's "Metrics" section after known traffic: three `count` streams done, one `forever`
//! stream whose client left, one invalid input. `promtool check metrics` accepts the exposition,
//! and every query of the Grafana dashboard (`dashboards/orpc-rs.json`) returns data.
//!
//! Prometheus is Debian's package (scripts/test installs it as root); without it the test is
//! skipped with one line, and fails under CI=true. It runs on 127.0.0.1 with its storage in a
//! temporary directory, scrapes every second, and is killed when the test ends.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use orpc_test_support::process::ServerProcess;
use orpc_test_support::{client, eventually, tools, Frames};
use serde_json::{json, Value};

/// Prometheus as a child process, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _storage: tempfile::TempDir,
}

impl Prometheus {
    /// Scrapes `target` (`HOST:PORT`) every second.
    fn scraping(target: &str) -> Prometheus {
        let storage = tempfile::tempdir().unwrap();
        let config = storage.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: orpc\n    \
                 static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        // A free port, taken from the kernel and given back for Prometheus to bind.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                storage.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _storage: storage,
        }
    }

    /// The single value `query` evaluates to now, if it has one.
    async fn value(&self, query: &str) -> Option<f64> {
        let response = client()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn prometheus_reads_what_the_spec_says_after_known_traffic() {
    if !tools::available(
        "Prometheus test",
        tools::prometheus(),
        tools::PROMETHEUS_HOW,
    ) {
        return;
    }
    let server = ServerProcess::start();
    let rpc = |name: &str, input: Value| {
        client()
            .post(format!("http://{}/rpc/{name}", server.addr))
            .json(&json!({ "json": input }))
            .send()
    };
    for _ in 0..3 {
        let response = rpc("count", json!({ "n": 5 })).await.unwrap();
        let _ = response.bytes().await.unwrap();
    }
    let mut forever = Frames::new(rpc("forever", json!({ "interval_ms": 20 })).await.unwrap());
    forever.next().await.expect("a first event");
    drop(forever);
    assert_eq!(
        rpc("echo", json!({ "name": "" })).await.unwrap().status(),
        400
    );

    // promtool accepts the exposition.
    let exposition = client()
        .get(format!("http://{}/metrics", server.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );

    let prometheus = Prometheus::scraping(&server.addr);
    let expected = [
        (
            r#"sum(orpc_streams_ended_total{procedure="count",reason="done"})"#,
            3.0,
        ),
        (r#"sum(orpc_events_sent_total{procedure="count"})"#, 15.0),
        (
            r#"sum(orpc_streams_ended_total{procedure="forever",reason="disconnect"})"#,
            1.0,
        ),
        (r#"sum(orpc_streams_active{procedure="forever"})"#, 0.0),
        (
            r#"sum(orpc_calls_total{procedure="echo",code="BAD_REQUEST"})"#,
            1.0,
        ),
    ];
    let mut answers = Vec::new();
    // Prometheus starts, then scrapes every second: its first answers may be empty.
    let all = eventually(Duration::from_secs(30), async || {
        answers.clear();
        for (query, _) in expected {
            answers.push(prometheus.value(query).await);
        }
        let right = answers
            .iter()
            .zip(expected)
            .all(|(answer, (_, want))| *answer == Some(want));
        if !right {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        right
    })
    .await;
    assert!(
        all,
        "{:?}",
        expected
            .iter()
            .map(|(q, _)| q)
            .zip(&answers)
            .collect::<Vec<_>>()
    );

    // Every query of the Grafana dashboard runs, and has data once rates have two scrapes.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dashboards/orpc-rs.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let queries: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|panel| panel["targets"].as_array().unwrap())
        .map(|target| target["expr"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(queries.len(), 8, "{queries:?}");
    let mut empty = Vec::new();
    let answered = eventually(Duration::from_secs(30), async || {
        empty.clear();
        for query in &queries {
            if prometheus.value(query).await.is_none() {
                empty.push(query.clone());
            }
        }
        if !empty.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        empty.is_empty()
    })
    .await;
    assert!(answered, "dashboard queries without data: {empty:?}");
}
