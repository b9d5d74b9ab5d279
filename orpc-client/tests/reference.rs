//! The client against oRPC's own server: `tests/node-reference/server.mjs` (`@orpc/server`
//! 1.15.3 on node:http) serves `count`, `fail`, `text` and `download` as the spec defines them, and every call
//! here must give the same results from it as from our conformance server. The `consume` example
//! must print the same lines for both, too.
//!
//! Needs Node.js 20+ and npm on PATH; `npm ci` runs at the repository's root (one npm workspace
//! for every Node directory) when its `node_modules` is missing or older than the lock file.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use futures_util::StreamExt;
use orpc_client::{Client, Error, Frame, ReconnectPolicy};
use orpc_test_support::conformance::Conformance;
use serde_json::{json, Value};
use support::node_reference;

const LIMIT: Duration = Duration::from_secs(20);

/// Everything a stream yielded, as JSON: each event with its metadata, then `done` or `error`.
async fn transcript(
    base: &str,
    procedure: &str,
    input: Value,
    last_event_id: Option<&str>,
) -> Vec<Value> {
    let client = Client::builder(base)
        .reconnect(ReconnectPolicy::never())
        .build()
        .unwrap();
    let mut request = client.stream::<Value, Value>(procedure, &input);
    if let Some(id) = last_event_id {
        request = request.last_event_id(id);
    }
    let stream = match tokio::time::timeout(LIMIT, request).await.unwrap() {
        Ok(stream) => stream,
        Err(error) => return vec![describe(&error)],
    };
    let frames: Vec<_> = tokio::time::timeout(LIMIT, stream.collect()).await.unwrap();
    frames
        .into_iter()
        .map(|frame| match frame {
            Ok(Frame::Event(e)) => json!({
                "data": e.data,
                "id": e.meta.id,
                "retry": e.meta.retry.map(|r| r.as_millis() as u64),
                "comments": e.meta.comments,
            }),
            Ok(Frame::Done(value)) => json!({ "done": value }),
            Err(error) => describe(&error),
        })
        .collect()
}

fn describe(error: &Error) -> Value {
    match error.as_orpc() {
        Some(error) => json!({ "error": error }),
        None => json!({ "client error": error.to_string() }),
    }
}

/// The same call against both servers: equal transcripts, which are returned; `None` when the
/// test is skipped for want of Node.js.
async fn same_on_both(
    procedure: &str,
    input: Value,
    last_event_id: Option<&str>,
) -> Option<Vec<Value>> {
    let reference = node_reference()?;
    let ours = Conformance::start();
    let from_ours = transcript(&ours.rpc_url(), procedure, input.clone(), last_event_id).await;
    let from_reference = transcript(&reference.rpc_url(), procedure, input, last_event_id).await;
    assert_eq!(
        from_ours, from_reference,
        "{procedure}: our server (left) and oRPC's (right) differ"
    );
    Some(from_ours)
}

fn tick(i: u32) -> Value {
    json!({ "data": { "i": i }, "id": i.to_string(), "retry": 1000, "comments": [] })
}

fn plain(data: Value) -> Value {
    json!({ "data": data, "id": null, "retry": null, "comments": [] })
}

#[tokio::test]
async fn count_is_the_same_as_from_orpc() {
    let Some(got) = same_on_both("count", json!({ "n": 4 }), None).await else {
        return;
    };
    let expected: Vec<_> = (0..4)
        .map(tick)
        .chain([json!({ "done": "done!" })])
        .collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn count_resumes_after_last_event_id_as_orpc_does() {
    let Some(got) = same_on_both("count", json!({ "n": 4 }), Some("1")).await else {
        return;
    };
    assert_eq!(got, [tick(2), tick(3), json!({ "done": "done!" })]);
}

#[tokio::test]
async fn fail_is_the_same_as_from_orpc() {
    let Some(got) = same_on_both("fail", Value::Null, None).await else {
        return;
    };
    assert_eq!(
        got,
        [
            plain(json!({ "a": 1 })),
            json!({ "error": {
                "defined": false, "code": "BAD_REQUEST", "status": 400, "message": "nope", "data": { "x": 1 }
            }}),
        ]
    );
}

#[tokio::test]
async fn text_is_the_same_as_from_orpc() {
    let items = ["a\nb", "c\r\nd", "e\rf", "", "ü€😀", " lead", "trail\n"];
    let Some(got) = same_on_both("text", json!({ "items": items }), None).await else {
        return;
    };
    let expected: Vec<_> = items
        .iter()
        .map(|s| plain(json!(s)))
        .chain([json!({ "done": null })])
        .collect();
    assert_eq!(got, expected);
}

/// `target/<profile>/examples/consume`, rebuilt first so that it matches the example's source.
/// (A plain `cargo test --workspace` has built it already; then this finds nothing to do.)
fn consume_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let target_dir = profile_dir.parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build
        .args([
            "build",
            "--quiet",
            "-p",
            "orpc-rs",
            "--example",
            "consume",
            "--target-dir",
        ])
        .arg(target_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let output = build
        .output()
        .expect("run cargo to build the consume example");
    assert!(
        output.status.success(),
        "building the consume example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let bin = profile_dir
        .join("examples")
        .join(format!("consume{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "no consume example at {}", bin.display());
    bin
}

/// Runs the consume example against `base`; returns its exit code and its stdout.
fn consume(bin: &PathBuf, base: &str, args: &[&str]) -> (i32, String) {
    let output = Command::new(bin)
        .args(["--url", base])
        .args(args)
        .output()
        .expect("run the consume example");
    (
        output.status.code().expect("exited, not killed"),
        String::from_utf8(output.stdout).expect("UTF-8 output"),
    )
}

#[tokio::test]
async fn consume_prints_the_same_lines_for_both_servers() {
    let Some(reference) = node_reference() else {
        return;
    };
    let bin = consume_bin();
    let ours = Conformance::start();
    let run = |base: &str, args: &[&str]| consume(&bin, base, args);

    let count = ["--procedure", "count", "--input", r#"{"n":3}"#];
    let from_ours = run(&ours.rpc_url(), &count);
    assert_eq!(from_ours, run(&reference.rpc_url(), &count));
    assert_eq!(
        from_ours,
        (
            0,
            [
                r#"{"event":"message","data":{"i":0},"id":"0"}"#,
                r#"{"event":"message","data":{"i":1},"id":"1"}"#,
                r#"{"event":"message","data":{"i":2},"id":"2"}"#,
                r#"{"event":"done","data":"done!"}"#,
                "",
            ]
            .join("\n")
        )
    );

    let resumed = [
        "--procedure",
        "count",
        "--input",
        r#"{"n":3}"#,
        "--last-event-id",
        "1",
    ];
    let from_ours = run(&ours.rpc_url(), &resumed);
    assert_eq!(from_ours, run(&reference.rpc_url(), &resumed));
    assert_eq!(
        from_ours.1,
        "{\"event\":\"message\",\"data\":{\"i\":2},\"id\":\"2\"}\n{\"event\":\"done\",\"data\":\"done!\"}\n"
    );

    let fail = ["--procedure", "fail"];
    let from_ours = run(&ours.rpc_url(), &fail);
    assert_eq!(from_ours, run(&reference.rpc_url(), &fail));
    assert_eq!(
        from_ours,
        (
            1,
            [
                r#"{"event":"message","data":{"a":1},"id":null}"#,
                r#"{"event":"error","data":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"nope","data":{"x":1}}}"#,
                "",
            ]
            .join("\n")
        )
    );
}

#[tokio::test]
async fn consume_exits_1_when_it_cannot_connect() {
    let bin = consume_bin();
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, out) = consume(
        &bin,
        &format!("http://{addr}/rpc"),
        &["--procedure", "count", "--retry", "1"],
    );
    assert_eq!(code, 1);
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["event"], "error");
    assert_eq!(line["data"]["code"], "NETWORK_ERROR");
    assert_eq!(line["data"]["status"], 0);
}

#[test]
fn consume_explains_bad_arguments() {
    let bin = consume_bin();
    let output = Command::new(&bin).args(["--procedure"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--procedure needs a value"), "{stderr}");
    assert!(stderr.contains("usage: consume"), "{stderr}");
}

/// One RPC call's raw answer: its status, and its body without SSE comments (ours opens with an
/// initial comment, oRPC's does not), so that the bytes of every frame can be compared.
async fn raw_rpc(base: &str, procedure: &str, body: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/{procedure}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = tokio::time::timeout(LIMIT, response.text())
        .await
        .unwrap()
        .unwrap();
    let frames: Vec<&str> = text
        .split("\n\n")
        .filter(|frame| !frame.is_empty() && !frame.starts_with(':'))
        .collect();
    (status, frames.join("\n\n"))
}

#[tokio::test]
async fn types_and_limited_are_byte_for_byte_what_orpc_sends() {
    let Some(reference) = node_reference() else {
        return;
    };
    let ours = Conformance::start();
    let calls = [
        (
            "types",
            r#"{"json":{"big":"9007199254740993","at":"2024-05-01T12:00:00.000Z"},"meta":[[0,"big"],[1,"at"]]}"#,
        ),
        ("limited", "{}"),
    ];
    for (procedure, body) in calls {
        let from_ours = raw_rpc(&ours.rpc_url(), procedure, body).await;
        let from_reference = raw_rpc(&reference.rpc_url(), procedure, body).await;
        assert_eq!(
            from_ours, from_reference,
            "{procedure}: our server (left) and oRPC's (right) differ"
        );
    }
    let (_, types) = raw_rpc(&ours.rpc_url(), "types", calls[0].1).await;
    assert!(types.contains(r#""meta":[[0,"big"],[1,"at"]]"#), "{types}");
}

#[tokio::test]
async fn a_downloaded_file_is_the_same_as_from_orpc() {
    let Some(reference) = node_reference() else {
        return;
    };
    let ours = Conformance::start();
    for size in [0, 1000, 300_000] {
        let input = json!({ "size": size });
        let from_ours = Client::new(&ours.rpc_url())
            .unwrap()
            .download("download", &input)
            .await
            .unwrap();
        let from_reference = Client::new(&reference.rpc_url())
            .unwrap()
            .download("download", &input)
            .await
            .unwrap();
        assert_eq!(
            from_ours, from_reference,
            "size {size}: ours (left) and oRPC's (right) differ"
        );
        assert_eq!(
            (from_ours.name.as_str(), from_ours.content_type.as_str()),
            ("download.bin", "application/octet-stream")
        );
        let expected: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        assert_eq!(&from_ours.bytes[..], &expected[..]);
    }
    // A plain JSON answer is not a file.
    let error = Client::new(&ours.rpc_url())
        .unwrap()
        .download("echo", &json!({ "name": "a" }))
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("did not answer with a file"),
        "{error}"
    );
}
