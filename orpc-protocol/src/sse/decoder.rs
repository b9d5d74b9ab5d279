//! Reading `text/event-stream` bytes back into events, by the WHATWG parsing rules.
//!
//! The rules, from the HTML standard's "Interpreting an event stream":
//! - a line ends at CR, LF or CRLF, and a CRLF counts once even when its CR and LF arrive in
//!   different chunks;
//! - one byte order mark at the very start of the stream is skipped;
//! - `name: value` splits at the first colon and drops exactly one space after it; a line with no
//!   colon is a field with an empty value; a line starting with a colon is a comment;
//! - `data` lines are joined with LF; `event` sets the type; `id` is ignored when it holds NUL;
//!   `retry` is taken only when it is all ASCII digits; any other field is ignored;
//! - a blank line ends the event.
//!
//! Where this decoder departs from the letter of the standard, it does so to match oRPC's own
//! decoder, which oRPC servers are written against:
//! - Every block of lines ends up as a [`RawEvent`], even one without data (`event: done` alone
//!   is a valid end of an oRPC stream) or with only comments (a keep-alive). Callers decide what
//!   to ignore.
//! - Comments are kept, with their one leading space dropped, instead of being thrown away.
//! - [`RawEvent::id`] is the event's own `id` field. The standard's "last event ID", which
//!   carries over from one event to the next, is for the caller to keep.
//! - Input that ends in the middle of an event is an error ([`IncompleteEvent`]), not something to
//!   drop silently: it means the connection broke, and the caller should reconnect.
//!
//! Guarantees:
//! - Chunk boundaries never matter: any split of the same bytes decodes to the same events.
//!   Text is decoded as UTF-8 only once a whole line is in, so a character split across chunks
//!   stays whole; invalid UTF-8 becomes U+FFFD, as the standard's decoder does.
//! - Linear time: each input byte is scanned once for line ends, and a line that spans chunks
//!   is gathered in one growing buffer. (oRPC once re-scanned its whole buffer for every chunk,
//!   so 6 MB relayed in 64-byte chunks took minutes; `benches/decoder.rs` measures this case.)
//! - Nothing is lost between calls: bytes after a returned event stay in the caller's slice, and a
//!   partial line or event stays in the decoder until its end arrives.

use std::borrow::Cow;
use std::time::Duration;

use crate::{EventId, EventMeta};

/// The UTF-8 byte order mark.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// One event as it was on the wire, before its `data` is read as JSON.
///
/// ```
/// use orpc_protocol::sse::Decoder;
///
/// let events = Decoder::new().feed(b": hi\nevent: message\nid: 7\ndata: {\"json\":1}\n\n");
/// assert_eq!(events[0].event, "message");
/// assert_eq!(events[0].id.as_deref(), Some("7"));
/// assert_eq!(events[0].data, r#"{"json":1}"#);
/// assert_eq!(events[0].comments, ["hi"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawEvent {
    /// The `event` field; empty when there was none.
    pub event: String,
    /// The `data` lines joined with LF; empty when there were none.
    pub data: String,
    /// The event's own `id` field, if it had one without NUL. It may be empty: an empty `id`
    /// tells the client to forget its last event id.
    pub id: Option<String>,
    /// The `retry` field: how long the server asks clients to wait before reconnecting.
    pub retry: Option<Duration>,
    /// The comment lines (`: text`), in order, without the colon and one leading space.
    pub comments: Vec<String>,
}

impl RawEvent {
    /// Moves the event's `id`, `retry` and comments out as [`EventMeta`], leaving `event` and
    /// `data` to be read.
    ///
    /// ```
    /// use orpc_protocol::sse::Decoder;
    ///
    /// let mut raw = Decoder::new().feed(b": hi\nid: 7\nretry: 10\ndata: 1\n\n").remove(0);
    /// let meta = raw.take_meta();
    /// assert_eq!(meta.id.as_ref().map(|id| id.as_str()), Some("7"));
    /// assert_eq!(meta.comments[..], ["hi"]);
    /// assert_eq!(raw.data, "1");
    /// ```
    pub fn take_meta(&mut self) -> EventMeta {
        EventMeta {
            id: self.id.take().map(EventId::from),
            retry: self.retry.take(),
            comments: std::mem::take(&mut self.comments)
                .into_iter()
                .map(Cow::Owned)
                .collect(),
        }
    }
}

/// The input ended in the middle of an event: after some of its lines but before the blank line
/// that ends it. The connection was cut, or the server stopped writing mid-event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncompleteEvent;

impl std::fmt::Display for IncompleteEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the event stream ended in the middle of an event")
    }
}

impl std::error::Error for IncompleteEvent {}

/// Decodes a `text/event-stream` body fed in chunks of any size.
///
/// Use one decoder per response: the byte order mark is looked for at the start of each.
///
/// ```
/// use orpc_protocol::sse::Decoder;
///
/// let mut decoder = Decoder::new();
/// // A CRLF and the "é" (0xC3 0xA9) are both split between the two chunks.
/// let mut first: &[u8] = b"data: caf\xC3";
/// let mut second: &[u8] = b"\xA9\r\n\r\n";
/// assert_eq!(decoder.decode(&mut first), None);
/// let event = decoder.decode(&mut second).unwrap();
/// assert_eq!(event.data, "café");
/// assert!(decoder.finish().is_ok());
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    /// The start of a line whose end has not arrived yet.
    line: Vec<u8>,
    /// The last line ended with CR: an LF that comes next is the rest of a CRLF, not a line.
    after_cr: bool,
    /// How many bytes of a byte order mark the stream started with, until the check is over.
    bom_seen: usize,
    /// Whether the start of the stream has been checked for a byte order mark.
    bom_checked: bool,
    /// The event being read.
    pending: RawEvent,
    /// Whether any line of the pending event has been read.
    started: bool,
    /// Whether a `data` line of the pending event has been read, so the next one starts after
    /// an LF. (The data read so far may be empty even then.)
    has_data: bool,
}

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Decodes from the front of `input` until one event is complete, and returns it.
    ///
    /// `input` is advanced past the bytes read. `None` means all of `input` was read without
    /// completing an event: feed the next chunk. Call again with the same slice until it returns
    /// `None`, since one chunk can hold several events.
    ///
    /// ```
    /// use orpc_protocol::sse::Decoder;
    ///
    /// let mut decoder = Decoder::new();
    /// let mut chunk: &[u8] = b"data: 1\n\ndata: 2\n\nda";
    /// let mut data = Vec::new();
    /// while let Some(event) = decoder.decode(&mut chunk) {
    ///     data.push(event.data);
    /// }
    /// assert_eq!(data, ["1", "2"]);
    /// assert!(chunk.is_empty());
    /// ```
    pub fn decode(&mut self, input: &mut &[u8]) -> Option<RawEvent> {
        if !self.bom_checked && !self.skip_bom(input) {
            return None;
        }
        loop {
            if input.is_empty() {
                return None;
            }
            if self.after_cr {
                self.after_cr = false;
                if input[0] == b'\n' {
                    *input = &input[1..];
                    continue;
                }
            }
            let Some(end) = memchr::memchr2(b'\n', b'\r', input) else {
                self.line.extend_from_slice(input);
                *input = &[];
                return None;
            };
            let (text, rest) = input.split_at(end);
            self.after_cr = rest[0] == b'\r';
            *input = &rest[1..];
            let event = if self.line.is_empty() {
                self.line_ended(text)
            } else {
                // The line began in an earlier chunk. Take the buffer out to read it, then put it
                // back so that its allocation serves the next long line.
                let mut line = std::mem::take(&mut self.line);
                line.extend_from_slice(text);
                let event = self.line_ended(&line);
                line.clear();
                self.line = line;
                event
            };
            if event.is_some() {
                return event;
            }
        }
    }

    /// Decodes a whole chunk and returns every event it completes.
    ///
    /// ```
    /// use orpc_protocol::sse::Decoder;
    ///
    /// let mut decoder = Decoder::new();
    /// assert!(decoder.feed(b"event: done\r").is_empty());
    /// let events = decoder.feed(b"\n\r\n");
    /// assert_eq!(events.len(), 1);
    /// assert_eq!(events[0].event, "done");
    /// ```
    pub fn feed(&mut self, mut chunk: &[u8]) -> Vec<RawEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.decode(&mut chunk) {
            events.push(event);
        }
        events
    }

    /// Ends the input: an error if it stopped in the middle of an event.
    ///
    /// ```
    /// use orpc_protocol::sse::{Decoder, IncompleteEvent};
    ///
    /// let mut decoder = Decoder::new();
    /// decoder.feed(b"event: message\ndata: 1\n");
    /// assert_eq!(decoder.finish(), Err(IncompleteEvent));
    /// ```
    pub fn finish(self) -> Result<(), IncompleteEvent> {
        let partial_bom = !self.bom_checked && self.bom_seen > 0;
        if self.started || !self.line.is_empty() || partial_bom {
            Err(IncompleteEvent)
        } else {
            Ok(())
        }
    }

    /// Skips a byte order mark at the start of the stream, which may itself arrive in pieces.
    /// Returns whether the check is over; `false` means `input` was used up by a partial mark.
    fn skip_bom(&mut self, input: &mut &[u8]) -> bool {
        while self.bom_seen < BOM.len() {
            match input.first() {
                None => return false,
                Some(&b) if b == BOM[self.bom_seen] => {
                    self.bom_seen += 1;
                    *input = &input[1..];
                }
                Some(_) => {
                    // Not a mark after all: the bytes taken so far begin the first line. None of
                    // them is CR or LF, so they belong in the line buffer.
                    self.line.extend_from_slice(&BOM[..self.bom_seen]);
                    break;
                }
            }
        }
        self.bom_checked = true;
        true
    }

    /// Reads one complete line; returns the pending event when the line is blank.
    fn line_ended(&mut self, line: &[u8]) -> Option<RawEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        self.started = true;
        let (name, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match name {
            b"" => self.pending.comments.push(text(value).into_owned()),
            b"data" => {
                if self.has_data {
                    self.pending.data.push('\n');
                }
                self.pending.data.push_str(&text(value));
                self.has_data = true;
            }
            b"event" => self.pending.event = text(value).into_owned(),
            b"id" if !value.contains(&0) => self.pending.id = Some(text(value).into_owned()),
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let millis = value.iter().fold(0u64, |n, d| {
                    n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                self.pending.retry = Some(Duration::from_millis(millis));
            }
            _ => {}
        }
        None
    }

    /// Ends the pending event at a blank line. A blank line with nothing before it ends nothing.
    fn dispatch(&mut self) -> Option<RawEvent> {
        if !self.started {
            return None;
        }
        self.started = false;
        self.has_data = false;
        Some(std::mem::take(&mut self.pending))
    }
}

/// A field's text: UTF-8, with invalid bytes replaced by U+FFFD.
fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event of `input` fed whole, and whether it ended cleanly.
    fn decode(input: &[u8]) -> (Vec<RawEvent>, Result<(), IncompleteEvent>) {
        let mut decoder = Decoder::new();
        let events = decoder.feed(input);
        (events, decoder.finish())
    }

    /// The events of a stream that must end cleanly.
    fn events(input: &[u8]) -> Vec<RawEvent> {
        let (events, end) = decode(input);
        assert_eq!(end, Ok(()), "the stream ended cleanly");
        events
    }

    fn data(input: &[u8]) -> Vec<String> {
        events(input).into_iter().map(|e| e.data).collect()
    }

    /// The same events, fed in chunks cut at `cuts`.
    fn decode_split(input: &[u8], cuts: &[usize]) -> (Vec<RawEvent>, Result<(), IncompleteEvent>) {
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain([input.len()].iter()) {
            events.extend(decoder.feed(&input[start..cut]));
            start = cut;
        }
        (events, decoder.finish())
    }

    /// Asserts that every way of cutting `input` in two, and in single bytes, decodes alike.
    fn assert_split_invariant(input: &[u8]) -> Vec<RawEvent> {
        let whole = decode(input);
        for cut in 0..=input.len() {
            assert_eq!(decode_split(input, &[cut]), whole, "cut at byte {cut}");
        }
        let every_byte: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            decode_split(input, &every_byte),
            whole,
            "one byte at a time"
        );
        whole.0
    }

    #[test]
    fn lines_end_in_lf_cr_or_crlf() {
        for stream in [
            &b"event: message\ndata: a\n\n"[..],
            b"event: message\rdata: a\r\r",
            b"event: message\r\ndata: a\r\n\r\n",
            b"event: message\r\ndata: a\r\r\n",
        ] {
            let events = events(stream);
            assert_eq!(events.len(), 1, "{stream:?}");
            assert_eq!(
                (events[0].event.as_str(), events[0].data.as_str()),
                ("message", "a")
            );
        }
    }

    #[test]
    fn a_crlf_split_between_chunks_is_one_line_end() {
        let mut decoder = Decoder::new();
        assert!(decoder.feed(b"data: a\r").is_empty());
        assert!(decoder.feed(b"\ndata: b\r").is_empty());
        // Had the LF counted as a line of its own, this blank line would have ended the event
        // before `data: b`, and the next one would have been a second event.
        let events = decoder.feed(b"\n\r");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "a\nb");
        assert!(decoder.feed(b"\n").is_empty());
        assert_eq!(decoder.finish(), Ok(()));
    }

    #[test]
    fn a_cr_then_a_chunk_not_starting_with_lf() {
        let mut decoder = Decoder::new();
        assert!(decoder.feed(b"data: a\r").is_empty());
        let events = decoder.feed(b"\rdata: b\n\n");
        assert_eq!(
            events.iter().map(|e| &e.data).collect::<Vec<_>>(),
            ["a", "b"]
        );
    }

    #[test]
    fn any_split_decodes_alike() {
        let stream = ": \n\n: hi\r\nevent: message\rretry: 100\r\nid: α-1\ndata: {\"json\":\"é€😀\"}\r\n\r\n\
                      event: done\ndata: {}\n\n";
        let events = assert_split_invariant(stream.as_bytes());
        assert_eq!(events.len(), 3);
        assert_eq!(events[1].data, "{\"json\":\"é€😀\"}");
        assert_eq!(events[1].id.as_deref(), Some("α-1"));
        assert_eq!(events[2].event, "done");
    }

    #[test]
    fn a_multibyte_character_split_between_chunks_stays_whole() {
        // "€" is E2 82 AC and "😀" is F0 9F 98 80: cut inside each of them.
        let stream = "id: €\ndata: 😀€\n\n".as_bytes();
        for cut in [5, 6, 15, 16, 17, 19, 20] {
            let (events, end) = decode_split(stream, &[cut]);
            assert_eq!(end, Ok(()));
            assert_eq!(events[0].id.as_deref(), Some("€"), "cut at {cut}");
            assert_eq!(events[0].data, "😀€", "cut at {cut}");
        }
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let events = events(b"data: a\xFFb\xE2\x82\n\n");
        assert_eq!(events[0].data, "a\u{FFFD}b\u{FFFD}");
    }

    #[test]
    fn a_leading_bom_is_skipped_once() {
        assert_eq!(data(b"\xEF\xBB\xBFdata: a\n\n"), ["a"]);
        // Only at the very start: a second mark is part of the line, so this field is unknown.
        let events = events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n");
        assert_eq!(events, [RawEvent::default()]);
        // Split in every way, including inside the mark.
        let events = assert_split_invariant(b"\xEF\xBB\xBFdata: a\n\n");
        assert_eq!(events[0].data, "a");
    }

    #[test]
    fn bytes_that_only_begin_like_a_bom_are_kept() {
        let events = assert_split_invariant(b"\xEF\xBBdata: a\n\n");
        // The two bytes begin the field name, so it is no longer `data`.
        assert_eq!(events, [RawEvent::default()]);
        let (events, end) = decode(b"\xEF\xBB");
        assert!(events.is_empty());
        assert_eq!(end, Err(IncompleteEvent));
        assert_eq!(decode(b"\xEF\xBB\xBF"), (vec![], Ok(())));
    }

    #[test]
    fn exactly_one_leading_space_is_dropped() {
        assert_eq!(
            data(b"data:a\n\ndata: a\n\ndata:  a\n\ndata:\ta\n\n"),
            ["a", "a", " a", "\ta"]
        );
        let events = events(b"id:  x\nevent:  done\n:  two\n\n");
        assert_eq!(events[0].id.as_deref(), Some(" x"));
        assert_eq!(events[0].event, " done");
        assert_eq!(events[0].comments, [" two"]);
    }

    #[test]
    fn only_the_first_colon_splits_the_line() {
        assert_eq!(data(b"data: a: b:c\n\n"), ["a: b:c"]);
    }

    #[test]
    fn retry_is_taken_only_as_ascii_digits() {
        let retry = |line: &str| events(format!("{line}\n\n").as_bytes())[0].retry;
        assert_eq!(retry("retry: 100"), Some(Duration::from_millis(100)));
        assert_eq!(retry("retry:0"), Some(Duration::ZERO));
        assert_eq!(retry("retry: 007"), Some(Duration::from_millis(7)));
        for ignored in [
            "retry:",
            "retry: ",
            "retry:  10",
            "retry: 10 ",
            "retry: -1",
            "retry: +1",
            "retry: 1.5",
            "retry: 1e3",
            "retry: 1a",
            "retry: ١٢",
            "retry",
        ] {
            assert_eq!(retry(ignored), None, "{ignored:?}");
        }
        // Too large for any clock: saturates rather than wrapping.
        assert_eq!(
            retry("retry: 99999999999999999999999"),
            Some(Duration::from_millis(u64::MAX))
        );
    }

    #[test]
    fn an_id_with_nul_is_ignored() {
        let events = events(b"id: 1\n\nid: a\0b\n\nid: 2\nid: c\0\n\nid\n\n");
        let ids: Vec<_> = events.iter().map(|e| e.id.as_deref()).collect();
        // A field without colon is an empty id: "forget the last event id".
        assert_eq!(ids, [Some("1"), None, Some("2"), Some("")]);
    }

    #[test]
    fn comments_are_surfaced_in_order() {
        let events = events(b": \n\n: hello\nevent: message\n:world\ndata: 1\n:\n\n");
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[0],
            RawEvent {
                comments: vec![String::new()],
                ..RawEvent::default()
            }
        );
        assert_eq!(events[1].comments, ["hello", "world", ""]);
        assert_eq!(events[1].data, "1");
    }

    #[test]
    fn fields_without_colon_have_empty_values() {
        let events = events(b"data\ndata\n\nevent\ndata: x\n\n");
        assert_eq!(events[0].data, "\n");
        assert_eq!(events[1].event, "");
        assert_eq!(events[1].data, "x");
    }

    #[test]
    fn data_lines_are_joined_with_lf() {
        // The standard's own example.
        assert_eq!(
            data(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
            ["YHOO\n+2\n10"]
        );
        assert_eq!(data(b"data:\ndata:\n\n"), ["\n"]);
        assert_eq!(data(b"data:\n\n"), [""]);
        assert_eq!(data(b"data: a\r\ndata:\rdata: b\n\n"), ["a\n\nb"]);
    }

    #[test]
    fn unknown_and_miscased_fields_are_ignored() {
        let events = events(b"foo: bar\nData: no\nEVENT: no\ndata: yes\nid : no\n\n");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "yes");
        assert_eq!(events[0].event, "");
        assert_eq!(events[0].id, None);
    }

    #[test]
    fn blank_lines_alone_end_nothing() {
        assert_eq!(decode(b"\n\n\r\n\r\r"), (vec![], Ok(())));
        assert_eq!(data(b"\n\ndata: a\n\n\n\n"), ["a"]);
    }

    #[test]
    fn the_last_field_of_a_repeated_kind_wins() {
        let events = events(b"event: a\nevent: b\nid: 1\nid: 2\nretry: 1\nretry: 2\n\n");
        assert_eq!(events[0].event, "b");
        assert_eq!(events[0].id.as_deref(), Some("2"));
        assert_eq!(events[0].retry, Some(Duration::from_millis(2)));
    }

    #[test]
    fn fields_do_not_leak_into_the_next_event() {
        let events = events(b"event: done\nid: 1\nretry: 5\n: c\ndata: a\n\ndata: b\n\n");
        assert_eq!(
            events[1],
            RawEvent {
                data: "b".into(),
                ..RawEvent::default()
            }
        );
    }

    #[test]
    fn an_incomplete_final_event_is_an_error() {
        for cut_short in [
            &b"event: message\ndata: 1\n"[..],
            b"event: message\ndata: 1",
            b"data: 1\n\nevent: done",
            b"data: 1\n\n: keep-alive\n",
            b"data: 1\n\nx",
        ] {
            assert_eq!(decode(cut_short).1, Err(IncompleteEvent), "{cut_short:?}");
        }
        for whole in [
            &b""[..],
            b"data: 1\n\n",
            b"data: 1\r\r",
            b"data: 1\r\n\r",
            b"data: 1\n\n\n",
        ] {
            assert_eq!(decode(whole).1, Ok(()), "{whole:?}");
        }
    }

    #[test]
    fn decode_leaves_the_rest_of_the_chunk_to_the_caller() {
        let mut decoder = Decoder::new();
        let mut chunk: &[u8] = b"data: 1\n\ndata: 2\n\ndata: 3";
        assert_eq!(decoder.decode(&mut chunk).unwrap().data, "1");
        assert_eq!(chunk, b"data: 2\n\ndata: 3");
        assert_eq!(decoder.decode(&mut chunk).unwrap().data, "2");
        assert_eq!(decoder.decode(&mut chunk), None);
        assert!(chunk.is_empty());
        assert_eq!(decoder.feed(b"\n\n")[0].data, "3");
    }

    #[test]
    fn a_long_line_in_small_chunks_is_gathered_in_linear_time() {
        // 4 MiB in one data line, in 64-byte chunks. A decoder that re-scans what it holds for
        // every chunk does about 2^16 * 2 MiB of work here and takes minutes even optimised;
        // a linear one takes milliseconds, even unoptimised.
        let payload = "x".repeat(4 << 20);
        let stream = format!("event: message\ndata: {payload}\n\n");
        let started = std::time::Instant::now();
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        for chunk in stream.as_bytes().chunks(64) {
            events.extend(decoder.feed(chunk));
        }
        assert_eq!(decoder.finish(), Ok(()));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data.len(), payload.len());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "took {:?}",
            started.elapsed()
        );
    }
}
