//! oRPC's WebSocket transport (`Router::websocket`, served by the conformance server at `/ws`)
//! through a real socket, with a Rust client: the exact messages, and what bad input, limits,
//! aborts, closed sockets and shutdown do to the socket, its calls and the other sockets. The
//! client is `orpc_test_support::websocket`: a hand-written upgrade and actix-http's frame codec,
//! so that it can send what a browser would not.
//!
//! The real JavaScript client (`RPCLink` from `@orpc/client/websocket`) is driven against the
//! same server by `tests/interop/websocket.test.mjs`.

use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::{SinkExt, StreamExt};
use orpc_runtime::http::WebSocketConfig;
use orpc_test_support::conformance::{self, Conformance};
use orpc_test_support::websocket::{self, CloseCode, Frame, Item, Message, Socket};
use orpc_test_support::{eventually, Options};

const WAIT: Duration = Duration::from_secs(5);

async fn connect(server: &Conformance) -> Socket {
    websocket::connect(server.addr, "/ws", &[])
        .await
        .expect("the upgrade succeeds")
}

async fn send(socket: &mut Socket, text: &str) {
    socket.send(Message::Text(text.into())).await.unwrap();
}

/// The next frame that is not a ping (pings are answered), within 5 s.
async fn next(socket: &mut Socket) -> Frame {
    loop {
        let frame = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a frame within 5 s")
            .expect("the socket is open")
            .expect("a valid frame");
        match frame {
            Frame::Ping(bytes) => socket.send(Message::Pong(bytes)).await.unwrap(),
            frame => return frame,
        }
    }
}

/// The next message, as text.
async fn text(socket: &mut Socket) -> String {
    match next(socket).await {
        Frame::Text(bytes) => String::from_utf8(bytes.to_vec()).unwrap(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

/// The close frame the server sends next: its code and reason.
async fn closed(socket: &mut Socket) -> (CloseCode, String) {
    match next(socket).await {
        Frame::Close(Some(reason)) => (reason.code, reason.description.unwrap_or_default()),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[actix_web::test]
async fn calls_and_streams_are_answered_as_orpcs_server_answers() {
    let server = Conformance::start();
    let mut socket = connect(&server).await;
    send(
        &mut socket,
        r#"{"i":"1","p":{"u":"/count","b":{"json":{"n":2}}}}"#,
    )
    .await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"1","p":{"h":{"content-type":"text/event-stream"}}}"#
    );
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"1","t":3,"p":{"e":"message","d":{"json":{"i":0}},"m":{"id":"0","retry":1000}}}"#
    );
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"1","t":3,"p":{"e":"message","d":{"json":{"i":1}},"m":{"id":"1","retry":1000}}}"#
    );
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"1","t":3,"p":{"e":"done","d":{"json":"done!"}}}"#
    );

    send(
        &mut socket,
        r#"{"i":"2","p":{"u":"/echo","b":{"json":{"name":"bob"}}}}"#,
    )
    .await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"2","p":{"b":{"json":{"greeting":"hello bob"}}}}"#
    );
    send(
        &mut socket,
        r#"{"i":"3","p":{"u":"/echo","b":{"json":{"name":""}}}}"#,
    )
    .await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"3","p":{"s":400,"b":{"json":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"Input validation failed","data":{"issues":[{"message":"\"\" is shorter than 1 character","path":["name"]}]}}}}}"#
    );
    send(&mut socket, r#"{"i":"4","p":{"u":"/fail","b":{}}}"#).await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"4","p":{"h":{"content-type":"text/event-stream"}}}"#
    );
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"4","t":3,"p":{"e":"message","d":{"json":{"a":1}}}}"#
    );
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"4","t":3,"p":{"e":"error","d":{"json":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"nope","data":{"x":1}}}}}"#
    );
    send(&mut socket, r#"{"i":"5","p":{"u":"/meta"}}"#).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(text(&mut socket).await);
    }
    assert_eq!(
        got[1..],
        [
            r#"{"i":"5","t":3,"p":{"e":"message","d":{"json":{"n":1}},"m":{"id":"α-1","comments":["hello","world"]}}}"#,
            r#"{"i":"5","t":3,"p":{"e":"message","d":{"json":{"n":2}},"m":{"retry":2500}}}"#,
            r#"{"i":"5","t":3,"p":{"e":"error","d":{"json":{"defined":false,"code":"INTERNAL_SERVER_ERROR","status":500,"message":"Internal server error"}}}}"#,
        ]
    );
    send(
        &mut socket,
        r#"{"i":"6","p":{"u":"/validated","b":{"json":{"values":[1,101]}}}}"#,
    )
    .await;
    let _opened = text(&mut socket).await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"6","t":3,"p":{"e":"message","d":{"json":{"value":1}}}}"#
    );
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"6","t":3,"p":{"e":"error","d":{"json":{"defined":false,"code":"EVENT_ITERATOR_VALIDATION_FAILED","status":500,"message":"Event iterator validation failed"}}}}"#
    );
    send(&mut socket, r#"{"i":"7","p":{"u":"/no/such"}}"#).await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"7","p":{"s":404,"b":{"json":{"defined":false,"code":"NOT_FOUND","status":404,"message":"No procedure named \"no/such\""}}}}"#
    );

    assert!(server.all_cleaned_within(WAIT).await);
    let stats = server.router().stats();
    assert_eq!(
        (stats.started(), stats.finished(), stats.events()),
        (4, 4, 6),
        "{stats:?}"
    );
    assert_eq!(
        (stats.errors(), stats.validation_failures()),
        (2, 1),
        "{stats:?}"
    );
}

#[actix_web::test]
async fn last_event_id_is_the_calls_own_header_not_the_upgrades() {
    let server = Conformance::start();
    let mut socket = websocket::connect(server.addr, "/ws", &[("Last-Event-ID", "0")])
        .await
        .unwrap();
    let count = |id: &str, header: &str| {
        format!(r#"{{"i":"{id}","p":{{"u":"/count","b":{{"json":{{"n":3}}}},"h":{{{header}}}}}}}"#)
    };
    send(&mut socket, &count("a", r#""last-event-id":"1""#)).await;
    let _opened = text(&mut socket).await;
    assert!(text(&mut socket).await.contains(r#""d":{"json":{"i":2}}"#));
    assert!(text(&mut socket).await.contains(r#""e":"done""#));
    // oRPC's client sends an array when the link and the call both set one; its server joins
    // them, which `count` does not parse, and so starts from 0. The upgrade's "0" is not used.
    send(&mut socket, &count("b", r#""x":"y""#)).await;
    let _opened = text(&mut socket).await;
    assert!(text(&mut socket).await.contains(r#""d":{"json":{"i":0}}"#));
}

#[actix_web::test]
async fn an_abort_drops_its_stream_and_leaves_the_others() {
    let server = Conformance::start();
    let mut socket = connect(&server).await;
    for id in ["x", "y"] {
        send(
            &mut socket,
            &format!(
                r#"{{"i":"{id}","p":{{"u":"/forever","b":{{"json":{{"interval_ms":20}}}}}}}}"#
            ),
        )
        .await;
    }
    let mut seen = String::new();
    while !(seen.contains(r#"{"i":"x","t":3"#) && seen.contains(r#"{"i":"y","t":3"#)) {
        seen += &text(&mut socket).await;
    }
    send(&mut socket, r#"{"i":"x","t":4}"#).await;
    // An abort of a call that is not in flight is ignored.
    send(&mut socket, r#"{"i":"nope","t":4}"#).await;
    assert!(eventually(WAIT, async || server.cleaned() == 1).await);
    // `x` sends nothing more, once what was already queued has gone; `y` goes on.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..3 {
        while let Ok(Some(Ok(Frame::Text(_)))) =
            tokio::time::timeout(Duration::from_millis(1), socket.next()).await
        {}
        let message = text(&mut socket).await;
        assert!(message.starts_with(r#"{"i":"y","t":3"#), "{message}");
    }
    assert_eq!((server.started(), server.cleaned()), (2, 1));
    let stats = server.router().stats();
    assert_eq!((stats.active(), stats.disconnects()), (1, 1), "{stats:?}");
}

#[actix_web::test]
async fn a_closed_socket_cleans_up_every_stream_on_it_within_a_second() {
    let server = Conformance::start();
    let mut socket = connect(&server).await;
    for i in 0..50 {
        send(
            &mut socket,
            &format!(
                r#"{{"i":"{i}","p":{{"u":"/forever","b":{{"json":{{"interval_ms":3600000}}}}}}}}"#
            ),
        )
        .await;
    }
    assert!(eventually(WAIT, async || server.started() == 50).await);
    // The TCP connection goes away without a close frame, as when a browser tab is killed.
    drop(socket);
    assert!(
        server.all_cleaned_within(Duration::from_secs(1)).await,
        "{:?}",
        server.router().stats()
    );
    assert_eq!(server.router().stats().disconnects(), 50);
}

#[actix_web::test]
async fn frames_that_name_no_call_close_only_their_own_socket() {
    let server = Conformance::start();
    let mut other = connect(&server).await;
    send(
        &mut other,
        r#"{"i":"1","p":{"u":"/forever","b":{"json":{"interval_ms":20}}}}"#,
    )
    .await;
    let _opened = text(&mut other).await;

    let cases = [
        (
            Message::Text("this is not json".into()),
            CloseCode::Policy,
            "not an oRPC peer message: not JSON (expected ident at line 1 column 2)",
        ),
        (
            Message::Text("[1,2,3]".into()),
            CloseCode::Policy,
            "not an oRPC peer message: not a JSON object",
        ),
        (
            Message::Text(r#"{"p":{"u":"/echo"}}"#.into()),
            CloseCode::Policy,
            "not an oRPC peer message: no string or numeric `i`",
        ),
        (
            Message::Text(r#"{"i":"1","t":99,"p":{"u":"/echo"}}"#.into()),
            CloseCode::Policy,
            "unknown message type 99",
        ),
        (
            Message::Binary(Bytes::from_static(b"\xde\xad\xbe\xef")),
            CloseCode::Policy,
            "not an oRPC peer message: not JSON (expected value at line 1 column 1)",
        ),
    ];
    for (frame, code, reason) in cases {
        let mut socket = connect(&server).await;
        socket.send(frame).await.unwrap();
        assert_eq!(closed(&mut socket).await, (code, reason.to_owned()));
    }
    // A text frame that is not UTF-8 (sent as raw bytes under the text opcode).
    let mut socket = connect(&server).await;
    socket
        .send(Message::Continuation(Item::FirstText(Bytes::from_static(
            b"\xff",
        ))))
        .await
        .unwrap();
    socket
        .send(Message::Continuation(Item::Last(Bytes::new())))
        .await
        .unwrap();
    assert_eq!(
        closed(&mut socket).await,
        (
            CloseCode::Invalid,
            "a text frame that is not UTF-8".to_owned()
        )
    );

    // The other socket's stream went on throughout.
    for _ in 0..3 {
        assert!(text(&mut other)
            .await
            .starts_with(r#"{"i":"1","t":3,"p":{"e":"message""#));
    }
    assert_eq!(server.cleaned(), 0);
}

#[actix_web::test]
async fn malformed_requests_with_an_id_are_answered_on_an_open_socket() {
    let server = Conformance::start();
    let mut socket = connect(&server).await;
    send(&mut socket, r#"{"i":"r","p":{"u":"echo"}}"#).await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"r","p":{"s":400,"b":{"json":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"Malformed request: `u` is not a path: echo"}}}}"#
    );
    send(
        &mut socket,
        r#"{"i":"b","p":{"u":"/echo","b":{"json":{"name":"x"},"meta":[[0,"zzz"]]}}}"#,
    )
    .await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"b","p":{"s":400,"b":{"json":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"The request's meta does not fit its json: meta entry [0,\"zzz\"] names a place that is not in `json`"}}}}"#
    );
    send(&mut socket, r#"{"i":"g","p":{"u":"/echo","m":"GET"}}"#).await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"g","p":{"s":405,"b":{"json":{"defined":false,"code":"METHOD_NOT_SUPPORTED","status":405,"message":"RPC procedures are called with POST"}}}}"#
    );
    // JSON in a binary frame is a message too; a File or Blob body after 0xFF is refused.
    socket
        .send(Message::Binary(Bytes::from_static(
            br#"{"i":"j","p":{"u":"/echo","b":{"json":{"name":"bin"}}}}"#,
        )))
        .await
        .unwrap();
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"j","p":{"b":{"json":{"greeting":"hello bin"}}}}"#
    );
    socket.send(Message::Binary(Bytes::from_static(b"{\"i\":\"f\",\"p\":{\"u\":\"/echo\",\"h\":{\"content-type\":\"multipart/form-data; boundary=x\"}}}\xff--x--"))).await.unwrap();
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"f","p":{"s":400,"b":{"json":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"File, Blob and event iterator inputs are not supported by this server"}}}}"#
    );
    // A request that reuses the id of a call in flight is ignored, as oRPC's server ignores it.
    send(
        &mut socket,
        r#"{"i":"s","p":{"u":"/forever","b":{"json":{"interval_ms":3600000}}}}"#,
    )
    .await;
    let _opened = text(&mut socket).await;
    let _tick = text(&mut socket).await;
    send(
        &mut socket,
        r#"{"i":"s","p":{"u":"/echo","b":{"json":{"name":"dup"}}}}"#,
    )
    .await;
    send(
        &mut socket,
        r#"{"i":"e","p":{"u":"/echo","b":{"json":{"name":"after"}}}}"#,
    )
    .await;
    assert_eq!(
        text(&mut socket).await,
        r#"{"i":"e","p":{"b":{"json":{"greeting":"hello after"}}}}"#
    );
}

#[actix_web::test]
async fn a_message_over_the_limit_closes_the_socket_with_1009() {
    let server = Conformance::start();
    let mut socket = connect(&server).await;
    send(
        &mut socket,
        r#"{"i":"1","p":{"u":"/forever","b":{"json":{"interval_ms":3600000}}}}"#,
    )
    .await;
    assert!(eventually(WAIT, async || server.started() == 1).await);
    let limit = orpc_runtime::http::DEFAULT_MAX_MESSAGE_SIZE;
    let name = "x".repeat(limit);
    send(
        &mut socket,
        &format!(r#"{{"i":"2","p":{{"u":"/echo","b":{{"json":{{"name":"{name}"}}}}}}}}"#),
    )
    .await;
    let _opened = text(&mut socket).await;
    let _tick = text(&mut socket).await;
    assert_eq!(
        closed(&mut socket).await,
        (CloseCode::Size, format!("a message exceeds {limit} bytes"))
    );
    assert!(server.all_cleaned_within(Duration::from_secs(1)).await);

    // Continuation frames count together.
    let mut socket = connect(&server).await;
    let half = Bytes::from(vec![b' '; limit / 2 + 1]);
    socket
        .send(Message::Continuation(Item::FirstText(half.clone())))
        .await
        .unwrap();
    socket
        .send(Message::Continuation(Item::Last(half)))
        .await
        .unwrap();
    assert_eq!(
        closed(&mut socket).await,
        (CloseCode::Size, format!("a message exceeds {limit} bytes"))
    );
}

#[actix_web::test]
async fn a_page_of_another_origin_is_refused_with_403() {
    let server = Conformance::start();
    let upgrade = async |origin: &str| {
        let headers: &[(&str, &str)] = if origin.is_empty() {
            &[]
        } else {
            &[("Origin", origin)]
        };
        websocket::connect(server.addr, "/ws", headers)
            .await
            .map(drop)
    };
    assert_eq!(upgrade("https://evil.example").await, Err(403));
    assert_eq!(upgrade("null").await, Err(403));
    assert_eq!(upgrade(&format!("http://{}", server.addr)).await, Ok(()));
    assert_eq!(upgrade("").await, Ok(()), "no Origin: not a browser");

    // The body says why, as oRPC's error object.
    let response = orpc_test_support::client()
        .get(server.ws_url().replace("ws://", "http://"))
        .header("origin", "https://evil.example")
        .header("upgrade", "websocket")
        .header("connection", "upgrade")
        .header("sec-websocket-version", "13")
        .header("sec-websocket-key", "x3JJHMbDL1EzLkh9GBhXDw==")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.text().await.unwrap(),
        r#"{"defined":false,"code":"FORBIDDEN","status":403,"message":"Origin \"https://evil.example\" may not open a WebSocket here"}"#
    );

    // Allowed origins are configurable.
    let router = conformance::router()
        .websocket_config(WebSocketConfig::default().allow_origin("https://app.example"));
    let server = Conformance::with(router, Options::default());
    let allowed = websocket::connect(server.addr, "/ws", &[("Origin", "https://app.example")]);
    assert!(allowed.await.is_ok());
}

#[actix_web::test]
async fn streams_over_sockets_share_the_routers_limit() {
    let server = Conformance::with(conformance::router().max_streams(1), Options::default());
    let mut socket = connect(&server).await;
    send(
        &mut socket,
        r#"{"i":"1","p":{"u":"/forever","b":{"json":{"interval_ms":3600000}}}}"#,
    )
    .await;
    let _opened = text(&mut socket).await;
    send(
        &mut socket,
        r#"{"i":"2","p":{"u":"/forever","b":{"json":{"interval_ms":3600000}}}}"#,
    )
    .await;
    let message = loop {
        let message = text(&mut socket).await;
        if message.starts_with(r#"{"i":"2""#) {
            break message;
        }
    };
    assert_eq!(
        message,
        r#"{"i":"2","p":{"s":503,"b":{"json":{"defined":false,"code":"SERVICE_UNAVAILABLE","status":503,"message":"Too many open streams; retry later"}}}}"#
    );
    // The HTTP transport sees the same limit.
    let refused = server
        .rpc("forever", serde_json::json!({"interval_ms": 1}))
        .await;
    assert_eq!(refused.status(), 503);
    assert_eq!(server.router().stats().rejected(), 2);
}

#[actix_web::test]
async fn shutdown_closes_sockets_with_1001_and_ends_their_streams() {
    let server = Conformance::start();
    let mut socket = connect(&server).await;
    send(
        &mut socket,
        r#"{"i":"1","p":{"u":"/forever","b":{"json":{"interval_ms":3600000}}}}"#,
    )
    .await;
    let _opened = text(&mut socket).await;
    let _tick = text(&mut socket).await;
    server.router().shutdown();
    assert_eq!(
        closed(&mut socket).await,
        (CloseCode::Away, "server shutting down".to_owned())
    );
    assert!(server.all_cleaned_within(Duration::from_secs(1)).await);
    assert_eq!(
        server.router().stats().disconnects(),
        0,
        "shutdown is not a disconnect"
    );
}

#[actix_web::test]
async fn a_peer_that_stops_answering_pings_is_closed() {
    let every = Duration::from_millis(100);
    let router = conformance::router()
        .websocket_config(WebSocketConfig::default().ping_interval(Some(every)));
    let server = Conformance::with(router, Options::default());
    let mut quiet = connect(&server).await;
    send(
        &mut quiet,
        r#"{"i":"1","p":{"u":"/forever","b":{"json":{"interval_ms":3600000}}}}"#,
    )
    .await;
    let mut answering = connect(&server).await;
    // The answering peer reads (and so pongs) for a while, beside the quiet one.
    let answering = actix_web::rt::spawn(async move {
        let until = tokio::time::Instant::now() + 10 * every;
        while let Ok(frame) = tokio::time::timeout_at(until, answering.next()).await {
            match frame.unwrap().unwrap() {
                Frame::Ping(bytes) => answering.send(Message::Pong(bytes)).await.unwrap(),
                other => panic!("{other:?}"),
            }
        }
        answering
    });
    // The quiet one, read only now, was pinged, then closed, and its stream cleaned up.
    let mut frames = Vec::new();
    while let Some(Ok(frame)) = tokio::time::timeout(WAIT, quiet.next()).await.unwrap() {
        frames.push(frame);
    }
    assert!(matches!(frames.first(), Some(Frame::Text(_))), "{frames:?}");
    assert!(
        frames.iter().any(|f| matches!(f, Frame::Ping(_))),
        "{frames:?}"
    );
    let Some(Frame::Close(Some(reason))) = frames.last() else {
        panic!("{frames:?}")
    };
    assert_eq!(
        (reason.code, reason.description.as_deref()),
        (CloseCode::Away, Some("keep-alive timed out"))
    );
    assert!(server.all_cleaned_within(Duration::from_secs(1)).await);
    let mut answering = answering.await.unwrap();
    send(
        &mut answering,
        r#"{"i":"1","p":{"u":"/echo","b":{"json":{"name":"still here"}}}}"#,
    )
    .await;
    assert_eq!(
        text(&mut answering).await,
        r#"{"i":"1","p":{"b":{"json":{"greeting":"hello still here"}}}}"#
    );
}
