//! Hostile requests against the conformance procedures: each gets a clear answer (a status and
//! an error object), nothing panics, and the server keeps serving everyone else.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use orpc_test_support::conformance::Conformance;
use orpc_test_support::{client, Options};
use serde_json::{json, Value};

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// A raw HTTP/1.1 exchange: sends `request` as is and reads until the server closes, or fails
/// the test after `within`.
fn raw(addr: std::net::SocketAddr, request: &[u8], within: Duration) -> String {
    let mut socket = TcpStream::connect(addr).unwrap();
    socket.set_read_timeout(Some(within)).unwrap();
    socket.write_all(request).unwrap();
    let mut response = Vec::new();
    let _ = socket.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// The status line's code and the JSON body of a raw response.
fn status_and_body(response: &str) -> (u16, Value) {
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    [head.as_bytes(), body].concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_clear_answers_and_the_server_keeps_serving() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));

    let server = Conformance::with(
        orpc_test_support::conformance::router(),
        Options {
            request_timeout: Duration::from_secs(1),
            ..Options::default()
        },
    );
    let addr = server.addr;
    let deep = format!("{{\"json\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let huge_body = vec![b'x'; 2 * 1024 * 1024];
    let long_id = "9".repeat(64 * 1024);

    // (name, request, expected status, expected code)
    let table: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "body not UTF-8",
            request("POST", "/rpc/echo", &[], &[0xff, 0xfe, 0x80, 0x00]),
            400,
            "BAD_REQUEST",
        ),
        (
            "JSON nested 10,000 deep",
            request("POST", "/rpc/echo", &[], deep.as_bytes()),
            400,
            "BAD_REQUEST",
        ),
        (
            "number beyond f64",
            request("POST", "/rpc/count", &[], br#"{"json":{"n":1e400}}"#),
            400,
            "BAD_REQUEST",
        ),
        (
            "number beyond u32",
            request(
                "POST",
                "/rpc/count",
                &[],
                br#"{"json":{"n":99999999999999999999999}}"#,
            ),
            400,
            "BAD_REQUEST",
        ),
        (
            "duplicate keys",
            request(
                "POST",
                "/rpc/echo",
                &[],
                br#"{"json":{"name":"a","name":"b"}}"#,
            ),
            200,
            "",
        ),
        (
            "NUL in a string",
            request(
                "POST",
                "/rpc/echo",
                &[],
                b"{\"json\":{\"name\":\"a\\u0000b\"}}",
            ),
            200,
            "",
        ),
        (
            "NUL byte in the body",
            request("POST", "/rpc/echo", &[], b"{\"json\":{\"name\":\"a\0b\"}}"),
            400,
            "BAD_REQUEST",
        ),
        (
            "form content-type, form body",
            request(
                "POST",
                "/rpc/echo",
                &[("content-type", "application/x-www-form-urlencoded")],
                b"name=bob",
            ),
            400,
            "BAD_REQUEST",
        ),
        (
            "multipart content-type",
            request(
                "POST",
                "/rpc/echo",
                &[("content-type", "multipart/form-data; boundary=x")],
                b"--x\r\n\r\nhi\r\n--x--",
            ),
            400,
            "BAD_REQUEST",
        ),
        (
            "body over the limit",
            request("POST", "/rpc/echo", &[], &huge_body),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
        (
            "unknown procedure",
            request("POST", "/rpc/nope", &[], b""),
            404,
            "NOT_FOUND",
        ),
        (
            "dot-dot path",
            request("POST", "/rpc/../rpc/echo", &[], b""),
            404,
            "NOT_FOUND",
        ),
        (
            "percent-encoded dot-dot",
            request("POST", "/rpc/%2e%2e/echo", &[], b""),
            404,
            "NOT_FOUND",
        ),
        (
            "percent-encoded NUL",
            request("POST", "/rpc/echo%00", &[], b""),
            404,
            "NOT_FOUND",
        ),
        (
            "query on an unknown API path",
            request("GET", "/api/%2e%2e%2fetc%2fpasswd?x=1", &[], b""),
            404,
            "NOT_FOUND",
        ),
        (
            "bad query types",
            request("GET", "/api/count?n=-5&delay_ms=abc", &[], b""),
            400,
            "BAD_REQUEST",
        ),
        (
            "GET on RPC",
            request("GET", "/rpc/echo", &[], b""),
            405,
            "METHOD_NOT_SUPPORTED",
        ),
    ];
    for (name, bytes, status, code) in table {
        let openapi = bytes.windows(5).position(|w| w == b" /api")
            == Some(bytes.iter().position(|&b| b == b' ').unwrap());
        let response =
            tokio::task::spawn_blocking(move || raw(addr, &bytes, Duration::from_secs(10)))
                .await
                .unwrap();
        let (got, body) = status_and_body(&response);
        assert_eq!(got, status, "{name}: {response}");
        if status >= 400 {
            // The RPC protocol wraps the error object; the OpenAPI protocol sends it plain.
            let error = if openapi { &body } else { &body["json"] };
            assert_eq!(error["code"], code, "{name}: {response}");
            assert_eq!(error["status"], status, "{name}: {response}");
            assert!(error["message"].is_string(), "{name}: {response}");
        }
    }

    // A 64 KiB Last-Event-ID, and ones with control characters that reach the handler (tab,
    // and C1 controls such as U+0085): treated as absent, never echoed.
    for last_event_id in [
        long_id.clone(),
        "5\t6".to_owned(),
        "5\u{85}".to_owned(),
        "\u{9b}31m5".to_owned(),
    ] {
        let bytes = request(
            "GET",
            "/api/count?n=2",
            &[("last-event-id", &last_event_id)],
            b"",
        );
        let text = tokio::task::spawn_blocking(move || raw(addr, &bytes, Duration::from_secs(10)))
            .await
            .unwrap();
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.contains("id: 0\n"), "starts over: {text}");
        assert!(!text.contains(&last_event_id), "the header is never echoed");
    }

    // C0 controls such as ESC never get that far: actix-web's HTTP parser refuses the request
    // with a bare 400 before any handler runs.
    let escape = request(
        "GET",
        "/api/count?n=2",
        &[("last-event-id", "5\u{1b}[31m")],
        b"",
    );
    let refused = tokio::task::spawn_blocking(move || raw(addr, &escape, Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");

    // Slowloris: one byte at a time, slower than the request timeout allows.
    let slow = tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let started = Instant::now();
        for byte in b"POST /rpc/echo HTTP/1.1\r\nHost: x\r\n" {
            if socket.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            if started.elapsed() > Duration::from_secs(4) {
                break;
            }
        }
        let mut response = Vec::new();
        let _ = socket.read_to_end(&mut response);
        (
            started.elapsed(),
            String::from_utf8_lossy(&response).into_owned(),
        )
    })
    .await
    .unwrap();
    assert!(
        slow.1.starts_with("HTTP/1.1 408"),
        "cut off with 408: {:?}",
        slow.1
    );
    assert!(
        slow.0 < Duration::from_secs(5),
        "within the timeout: {:?}",
        slow.0
    );

    // Half-closed right after the request: the answer still comes.
    let half_closed = tokio::task::spawn_blocking(move || {
        let mut socket = TcpStream::connect(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket
            .write_all(&request(
                "POST",
                "/rpc/echo",
                &[],
                br#"{"json":{"name":"half"}}"#,
            ))
            .unwrap();
        socket.shutdown(Shutdown::Write).unwrap();
        let mut response = Vec::new();
        let _ = socket.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap();
    let (status, body) = status_and_body(&half_closed);
    assert_eq!(
        (status, body),
        (200, json!({ "json": { "greeting": "hello half" } }))
    );

    // Everyone else is still served.
    let echo: Value = client()
        .post(server.url("/rpc/echo"))
        .json(&json!({ "json": { "name": "still" } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo, json!({ "json": { "greeting": "hello still" } }));
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "nothing panicked");
}
