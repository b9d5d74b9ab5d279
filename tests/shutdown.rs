//! The conformance server as a process: its ready line, and a SIGTERM that ends open streams and
//! the process within 2 s, with status 0.

use std::process::Command;
use std::time::{Duration, Instant};

use orpc_test_support::process::ServerProcess;
use orpc_test_support::{client, Frames};

#[tokio::test]
async fn sigterm_ends_open_streams_and_exits_cleanly_within_two_seconds() {
    let mut server = ServerProcess::start();
    let addr = format!("http://{}", server.addr);

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
        .args(["-TERM", &server.pid().to_string()])
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
        if let Some(exit) = server.try_wait() {
            break exit;
        }
        if signalled.elapsed() > Duration::from_secs(2) {
            panic!("still running 2 s after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exit.success(), "exit status {exit:?}");
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
}
