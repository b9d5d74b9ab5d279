//! Property: whatever the encoder writes, the decoder reads back unchanged, however the bytes are
//! cut into chunks; and read through the envelope, every frame is the one that was encoded
//! (`Frame` → bytes → `Frame` is the identity), ids, retries, comments and odd strings included.
//!
//! Frames are drawn at random: messages with ids, retry times and comments (text without CR, LF
//! or NUL, which the encoder refuses), payloads of arbitrary JSON (strings with any character,
//! line breaks included), bare comments, raw text messages, `done` and `error` frames, in both
//! envelopes. The encoded bytes are cut at random points and fed chunk by chunk.

use std::time::Duration;

use orpc_protocol::sse::{Decoder, Encoder, RawEvent};
use orpc_protocol::{Envelope, Event, EventMeta, Frame, ORPCError};
use proptest::prelude::*;
use serde_json::Value;

/// One frame to encode.
#[derive(Debug, Clone)]
enum Item {
    Message {
        id: Option<String>,
        retry: Option<u64>,
        comments: Vec<String>,
        data: Value,
    },
    Comment(String),
    Text(String),
    Done(Value),
    Error {
        code: String,
        message: String,
        data: Option<Value>,
    },
}

/// Text that fits on one SSE line: anything but CR, LF and NUL.
fn line_text() -> impl Strategy<Value = String> {
    "[^\r\n\0]{0,12}"
}

/// Arbitrary JSON. Floats are left out: serde_json's default float parsing may differ from the
/// printed value in the last bit, which would test serde_json, not the SSE layers.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[\r\n a-zé😀]{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (
            proptest::option::of(line_text()),
            proptest::option::of(0u64..10_000_000),
            prop::collection::vec(line_text(), 0..3),
            json(),
        )
            .prop_map(|(id, retry, comments, data)| Item::Message { id, retry, comments, data }),
        1 => line_text().prop_map(Item::Comment),
        1 => any::<String>().prop_map(Item::Text),
        1 => json().prop_map(Item::Done),
        1 => ("[A-Z_]{1,12}", any::<String>(), proptest::option::of(json()))
            .prop_map(|(code, message, data)| Item::Error { code, message, data }),
    ]
}

/// Encodes `items`; returns the bytes and the events a decoder must read from them.
fn encode(items: &[Item], envelope: Envelope) -> (Vec<u8>, Vec<RawEvent>) {
    let wrap = |value: Value| match envelope {
        Envelope::Rpc | Envelope::RpcV2 => serde_json::json!({ "json": value }),
        Envelope::Plain => value,
    };
    let mut encoder = Encoder::new(envelope);
    let mut expected = Vec::new();
    for item in items {
        match item.clone() {
            Item::Message {
                id,
                retry,
                comments,
                data,
            } => {
                let mut meta = EventMeta::new().comments(comments.clone());
                if let Some(id) = &id {
                    meta = meta.id(id.as_str());
                }
                if let Some(ms) = retry {
                    meta = meta.retry(Duration::from_millis(ms));
                }
                encoder.message(&meta, &data).unwrap();
                expected.push(RawEvent {
                    event: "message".into(),
                    data: wrap(data).to_string(),
                    id,
                    retry: retry.map(Duration::from_millis),
                    comments,
                });
            }
            Item::Comment(text) => {
                encoder.comment(&text);
                expected.push(RawEvent {
                    comments: vec![text],
                    ..RawEvent::default()
                });
            }
            Item::Text(text) => {
                encoder.text_message(&text);
                // Line breaks of every kind come back as LF.
                let data = text.replace("\r\n", "\n").replace('\r', "\n");
                expected.push(RawEvent {
                    event: "message".into(),
                    data,
                    ..RawEvent::default()
                });
            }
            Item::Done(value) => {
                encoder.done(&value).unwrap();
                let event = if envelope == Envelope::RpcV2 {
                    "close"
                } else {
                    "done"
                };
                expected.push(RawEvent {
                    event: event.into(),
                    data: wrap(value).to_string(),
                    ..RawEvent::default()
                });
            }
            Item::Error {
                code,
                message,
                data,
            } => {
                let mut error = ORPCError::new(code).with_message(message);
                error.data = data;
                encoder.error(&error).unwrap();
                let mut object = serde_json::to_value(&error).unwrap();
                if envelope == Envelope::RpcV2 {
                    // oRPC 2's object: `inferable` beside `defined`, no `status`.
                    object["inferable"] = object["defined"].clone();
                    object.as_object_mut().unwrap().remove("status");
                }
                let data = wrap(object).to_string();
                expected.push(RawEvent {
                    event: "error".into(),
                    data,
                    ..RawEvent::default()
                });
            }
        }
    }
    (encoder.take().to_vec(), expected)
}

/// Decodes `bytes` fed in chunks cut at `cuts` (sorted byte offsets).
fn decode(bytes: &[u8], cuts: &[usize]) -> Vec<RawEvent> {
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain([bytes.len()].iter()) {
        let mut chunk = &bytes[start..cut];
        while let Some(event) = decoder.decode(&mut chunk) {
            events.push(event);
        }
        start = cut;
    }
    decoder.finish().expect("the encoder writes whole events");
    events
}

/// Compares JSON data by value: the encoder writes keys in the order serde_json keeps them,
/// and the text may differ from `Value::to_string` only in ways that do not change the value.
fn same(decoded: &[RawEvent], expected: &[RawEvent]) -> Result<(), TestCaseError> {
    prop_assert_eq!(decoded.len(), expected.len());
    for (got, want) in decoded.iter().zip(expected) {
        let parse = |s: &str| serde_json::from_str::<Value>(s).ok();
        prop_assert_eq!(&got.event, &want.event);
        prop_assert_eq!(&got.id, &want.id);
        prop_assert_eq!(got.retry, want.retry);
        prop_assert_eq!(&got.comments, &want.comments);
        if want.event == "message" && parse(&want.data).is_none() {
            prop_assert_eq!(&got.data, &want.data);
        } else {
            prop_assert_eq!(parse(&got.data), parse(&want.data), "data {:?}", got.data);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn what_the_encoder_writes_the_decoder_reads_back(
        items in prop::collection::vec(item(), 0..12),
        envelope in prop_oneof![Just(Envelope::Rpc), Just(Envelope::RpcV2), Just(Envelope::Plain)],
        cut_points in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
    ) {
        let (bytes, expected) = encode(&items, envelope);
        let mut cuts: Vec<usize> = cut_points.iter().map(|i| i.index(bytes.len() + 1)).collect();
        cuts.sort_unstable();
        same(&decode(&bytes, &cuts), &expected)?;
        // One byte at a time too: every CRLF and every multi-byte character gets split.
        let every_byte: Vec<usize> = (1..bytes.len()).collect();
        same(&decode(&bytes, &every_byte), &expected)?;
    }
}

/// An event iterator's frame, drawn at random.
fn frame() -> impl Strategy<Value = Frame<Value, Value>> {
    let meta = (
        proptest::option::of(line_text()),
        proptest::option::of(0u64..10_000_000),
        prop::collection::vec(line_text(), 0..3),
    )
        .prop_map(|(id, retry, comments)| {
            let mut meta = EventMeta::new().comments(comments);
            meta.id = id.map(Into::into);
            meta.retry = retry.map(Duration::from_millis);
            meta
        });
    prop_oneof![
        4 => (json(), meta).prop_map(|(data, meta)| Frame::Event(Event::with_meta(data, meta))),
        1 => json().prop_map(Frame::Done),
        1 => (
            "[A-Z_]{1,12}",
            any::<String>(),
            any::<bool>(),
            proptest::option::of(json()),
        )
            .prop_map(|(code, message, defined, data)| {
                let mut error = ORPCError::new(code).with_message(message).with_defined(defined);
                error.data = data;
                Frame::Error(error)
            }),
    ]
}

/// Reads frames back as a client does: the SSE event type says which frame, the envelope holds
/// the value, and an error frame's value is read by oRPC's rules for error objects.
fn read_frames(bytes: &[u8], envelope: Envelope) -> Vec<Frame<Value, Value>> {
    let mut decoder = Decoder::new();
    let frames = decoder
        .feed(bytes)
        .into_iter()
        .map(|mut raw| {
            let value: Value = envelope.read(raw.data.as_bytes()).expect("enveloped JSON");
            match raw.event.as_str() {
                "message" => Frame::Event(Event::with_meta(value, raw.take_meta())),
                "done" => Frame::Done(value),
                "error" => Frame::Error(ORPCError::from_json(&value).expect("an error object")),
                other => panic!("unexpected event type {other:?}"),
            }
        })
        .collect();
    decoder.finish().expect("the encoder writes whole events");
    frames
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn frames_survive_the_wire(
        frames in prop::collection::vec(frame(), 0..12),
        rpc in any::<bool>(),
    ) {
        let envelope = if rpc { Envelope::Rpc } else { Envelope::Plain };
        let mut encoder = Encoder::new(envelope);
        for frame in &frames {
            match frame {
                Frame::Event(event) => encoder.message(&event.meta, &event.data).unwrap(),
                Frame::Done(value) => encoder.done(value).unwrap(),
                Frame::Error(error) => encoder.error(error).unwrap(),
            }
        }
        let expected: Vec<_> = frames
            .into_iter()
            .map(|frame| match frame {
                // oRPC's client gives an error object with an empty message the code's default.
                Frame::Error(mut error) if error.message.is_empty() => {
                    error.message = orpc_protocol::default_message(&error.code)
                        .unwrap_or(&error.code)
                        .to_owned();
                    Frame::Error(error)
                }
                frame => frame,
            })
            .collect();
        prop_assert_eq!(read_frames(&encoder.take(), envelope), expected);
    }
}
