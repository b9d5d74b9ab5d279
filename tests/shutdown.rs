//! The conformance server as a process: its ready line, and a SIGTERM that ends open streams and
//! the process within 2 s, with status 0.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{client, Frames};

/// The conformance example, which `cargo test` builds next to the test binaries.
fn conformance_binary() -> std::path::PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    let binary = deps.parent().unwrap().join("examples").join("conformance");
    assert!(
        binary.exists(),
        "{} is missing: run `cargo test --workspace`, which builds the examples",
        binary.display()
    );
    binary
}

#[tokio::test]
async fn sigterm_ends_open_streams_and_exits_cleanly_within_two_seconds() {
    let mut server = Command::new(conformance_binary())
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(server.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("ready line: {line:?}"))
        .to_owned();

    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = client()
            .get(format!("{addr}/api/forever?interval_ms=3600000"))
            .send()
            .await
            .unwrap();
        let mut frames = Frames::new(response);
        assert_eq!(
            frames.next_within(Duration::from_secs(5)).await.as_deref(),
            Some(": ")
        );
        assert!(frames.next_within(Duration::from_secs(5)).await.is_some());
        streams.push(frames);
    }

    let signalled = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for frames in &mut streams {
        assert_eq!(
            frames.next_within(Duration::from_secs(2)).await,
            None,
            "streams end without a done event"
        );
    }
    let exit = loop {
        if let Some(exit) = server.try_wait().unwrap() {
            break exit;
        }
        if signalled.elapsed() > Duration::from_secs(2) {
            let _ = server.kill();
            panic!("still running 2 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
}
