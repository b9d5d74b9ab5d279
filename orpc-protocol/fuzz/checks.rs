//! What the `encoder` and `decoder` fuzz targets check, as plain functions over the crate's
//! public API. The targets in `fuzz_targets/` include this file, and so does
//! `tests/fuzz_regressions.rs`, which replays every saved crash through the same checks on
//! stable Rust, so a crash found once stays fixed.

use arbitrary::{Arbitrary, Unstructured};
use orpc_protocol::sse::{Decoder, Encoder};
use orpc_protocol::{Envelope, EventMeta, ORPCError};

/// One event with arbitrary metadata and data.
#[derive(Debug, Arbitrary)]
pub struct EventInput {
    pub id: Option<String>,
    pub comments: Vec<String>,
    pub retry_ms: Option<u64>,
    pub data: String,
    pub error_code: String,
    pub error_message: String,
}

/// Encodes an arbitrary event; what is written must be exactly that event, field by field, or
/// nothing at all when its id or a comment could break a line.
pub fn encoder(bytes: &[u8]) {
    let Ok(input) = EventInput::arbitrary(&mut Unstructured::new(bytes)) else {
        return;
    };
    error_frame(&input.error_code, &input.error_message);
    let comments: Vec<&str> = input.comments.iter().map(String::as_str).collect();
    let written = encode_message(&input);
    let breaks_line = |s: &str| s.contains(['\r', '\n', '\0']);
    let refusable =
        input.id.as_deref().is_some_and(breaks_line) || comments.iter().any(|c| breaks_line(c));
    if written.is_empty() {
        assert!(refusable, "a harmless event was refused: {input:?}");
        return;
    }
    assert!(
        !refusable,
        "an event that could forge fields was written: {input:?}"
    );
    let text = String::from_utf8(written).expect("frames are UTF-8");
    let body = text
        .strip_suffix("\n\n")
        .expect("a frame ends with a blank line");
    let mut lines = body.split('\n');
    for comment in &comments {
        assert_eq!(lines.next(), Some(format!(": {comment}").as_str()));
    }
    assert_eq!(lines.next(), Some("event: message"));
    let mut next = lines.next();
    if let Some(ms) = input.retry_ms {
        assert_eq!(next, Some(format!("retry: {ms}").as_str()));
        next = lines.next();
    }
    if let Some(id) = &input.id {
        assert_eq!(next, Some(format!("id: {id}").as_str()));
        next = lines.next();
    }
    let data = next
        .and_then(|l| l.strip_prefix("data: "))
        .expect("one data line");
    let value: serde_json::Value = serde_json::from_str(data).expect("data is JSON");
    assert_eq!(value, serde_json::json!({ "json": input.data }));
    assert_eq!(lines.next(), None, "no other line: {text:?}");
}

/// Encodes the event as a message frame: the bytes written, empty when the encoder refused it.
fn encode_message(input: &EventInput) -> Vec<u8> {
    let mut meta = EventMeta::new().comments(input.comments.iter().cloned());
    if let Some(id) = &input.id {
        meta = meta.id(id.as_str());
    }
    if let Some(ms) = input.retry_ms {
        meta = meta.retry(std::time::Duration::from_millis(ms));
    }
    let mut encoder = Encoder::new(Envelope::Rpc);
    match encoder.message(&meta, &input.data) {
        Ok(()) => encoder.take().to_vec(),
        Err(_) => {
            assert!(encoder.is_empty(), "a refused event left bytes behind");
            Vec::new()
        }
    }
}

fn error_frame(code: &str, message: &str) {
    let error = ORPCError::new(code.to_owned()).with_message(message);
    let mut encoder = Encoder::new(Envelope::Plain);
    encoder
        .error(&error)
        .expect("an error object always encodes");
    let text = String::from_utf8(encoder.take().to_vec()).expect("frames are UTF-8");
    let body = text
        .strip_prefix("event: error\ndata: ")
        .expect("an error frame");
    let data = body
        .strip_suffix("\n\n")
        .expect("one data line, then a blank line");
    assert!(
        !data.contains(['\r', '\n']),
        "the message cannot break out of its line: {text:?}"
    );
    let decoded: ORPCError = serde_json::from_str(data).expect("the data is the error object");
    assert_eq!(decoded, error);
}

/// Arbitrary bytes, decoded whole and then in arbitrary chunks: nothing may panic, and how the
/// bytes were split changes nothing, neither the events nor whether the end was complete.
pub fn decoder(bytes: &[u8]) {
    let Some((&seed, body)) = bytes.split_first() else {
        return;
    };
    let whole = decode_in_chunks(body, &[body.len().max(1)]);
    let sizes: Vec<usize> = (0..8)
        .map(|i| 1 + (usize::from(seed).wrapping_mul(i + 7) % 13))
        .collect();
    assert_eq!(
        decode_in_chunks(body, &sizes),
        whole,
        "chunking changed the result"
    );
}

fn decode_in_chunks(body: &[u8], sizes: &[usize]) -> (Vec<String>, bool) {
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    let mut rest = body;
    let mut turn = 0;
    while !rest.is_empty() {
        let take = sizes[turn % sizes.len()].min(rest.len());
        let (chunk, tail) = rest.split_at(take);
        events.extend(decoder.feed(chunk).into_iter().map(|e| format!("{e:?}")));
        rest = tail;
        turn += 1;
    }
    (events, decoder.finish().is_ok())
}
