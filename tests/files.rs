//! Uploads against the conformance server as a process of its own, with its own temporary
//! directory: a 10 MB file is taken with little memory (it waits on disk, not in memory), and
//! nothing of any upload, accepted or refused, stays on disk.
//!
//! Linux only: the memory figure is the process's peak resident memory from `/proc`.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::Duration;

use orpc_test_support::process::ServerProcess;
use orpc_test_support::{client, eventually};
use serde_json::{json, Value};

const MIB: usize = 1024 * 1024;

/// oRPC's RPC form for `upload`, with `size` bytes in the file; `cut` drops that many bytes from
/// the end of the body.
fn rpc_form(size: usize, cut: usize) -> (String, Vec<u8>) {
    let boundary = "b0undary-0f-the-test";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n\
         {{\"json\":{{\"name\":\"n\",\"file\":{{}}}},\"maps\":[[\"file\"]]}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"f.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend((0..size).map(|i| (i % 253) as u8));
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    body.truncate(body.len() - cut);
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(server: &ServerProcess, size: usize, cut: usize) -> (u16, Value) {
    let (content_type, body) = rpc_form(size, cut);
    let response = client()
        .post(format!("http://{}/rpc/upload", server.addr))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_10_mb_upload_waits_on_disk_and_nothing_stays_there() {
    let tmp = std::env::temp_dir().join(format!("orpc-files-test-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let server =
        ServerProcess::example_with_env("conformance", &[], &[("TMPDIR", tmp.as_os_str())]);
    let empty = || async { entries(&tmp).is_empty() };

    // Warm up every path an upload takes, in memory and on disk.
    for size in [1000, 2 * MIB] {
        let (status, body) = upload(&server, size, 0).await;
        assert_eq!(
            (status, body["json"]["size"].as_u64()),
            (200, Some(size as u64)),
            "{body}"
        );
    }
    let before = server.peak_rss();
    let (status, body) = upload(&server, 10_000_000, 0).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["json"]["size"], json!(10_000_000));
    let grown = server.peak_rss().saturating_sub(before);
    assert!(
        grown <= 2 * MIB as u64,
        "a 10 MB upload grew the server's peak memory by {} KiB",
        grown / 1024
    );
    assert!(
        eventually(Duration::from_secs(2), empty).await,
        "left on disk: {:?}",
        entries(&tmp)
    );

    // Refused uploads: too large (413), and cut inside the file (400).
    let (status, body) = upload(&server, 10 * MIB + 1, 0).await;
    assert_eq!(
        (status, &body["json"]["code"]),
        (413, &json!("PAYLOAD_TOO_LARGE")),
        "{body}"
    );
    let (status, body) = upload(&server, 3 * MIB, 1000).await;
    assert_eq!(
        (status, &body["json"]["code"]),
        (400, &json!("BAD_REQUEST")),
        "{body}"
    );
    assert!(
        eventually(Duration::from_secs(2), empty).await,
        "left on disk: {:?}",
        entries(&tmp)
    );

    // And the server still serves.
    let (status, _) = upload(&server, 10, 0).await;
    assert_eq!(status, 200);
    drop(server);
    std::fs::remove_dir_all(&tmp).unwrap();
}
