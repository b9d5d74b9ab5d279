//! The SSE frame counter: just enough of the WHATWG event-stream parser to count `message`
//! events and to notice `done` and `error`.
//!
//! It follows the standard's dispatch rules: lines end at CRLF, LF or CR; a blank line dispatches
//! the frame, but only if it had a `data` field; the event type is the last `event` field, and an
//! absent one means `message`; comments and unknown fields are ignored. It never builds the data
//! or keeps a line: only the first [`KEEP`] bytes of a line split across reads are copied, which
//! is enough to tell `event: message` from anything else. So it costs one `memchr` per line and
//! nothing per data byte.

use memchr::memchr2;

/// How many leading bytes of a split line are kept: enough for `event: message` and more.
const KEEP: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Done,
    Error,
    Other,
}

/// What a [`Frames::feed`] call saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// `message` frames dispatched (explicit `event: message` or no event field).
    pub messages: u64,
    /// `error` frames dispatched.
    pub errors: u64,
    /// Whether a `done` frame was dispatched; feeding stops right after it.
    pub done: bool,
}

/// Counts frames in an event stream fed in pieces of any size.
#[derive(Debug, Clone)]
pub struct Frames {
    /// The event type of the frame being read.
    kind: Kind,
    has_data: bool,
    /// The start of a line split across calls.
    partial: [u8; KEEP],
    partial_len: usize,
    /// Whether a split line is pending (it may have kept zero bytes only if `overflow`).
    pending: bool,
    /// Whether the pending line is longer than `KEEP`.
    overflow: bool,
    /// The previous call ended on CR: an LF starting this one belongs to it.
    skip_lf: bool,
}

impl Default for Frames {
    fn default() -> Self {
        Self::new()
    }
}

impl Frames {
    pub fn new() -> Self {
        Self {
            kind: Kind::Message,
            has_data: false,
            partial: [0; KEEP],
            partial_len: 0,
            pending: false,
            overflow: false,
            skip_lf: false,
        }
    }

    /// Reads `input`, adding what it dispatches to `seen`. Stops after a `done` frame and
    /// returns how many bytes of `input` it used.
    pub fn feed(&mut self, input: &[u8], seen: &mut Seen) -> usize {
        let mut pos = 0;
        if self.skip_lf && !input.is_empty() {
            self.skip_lf = false;
            if input[0] == b'\n' {
                pos = 1;
            }
        }
        while pos < input.len() {
            let Some(k) = memchr2(b'\n', b'\r', &input[pos..]) else {
                self.keep(&input[pos..]);
                return input.len();
            };
            let end = pos + k;
            if self.pending {
                self.keep(&input[pos..end]);
                let (len, overflow) = (self.partial_len, self.overflow);
                let line = self.partial;
                self.pending = false;
                self.partial_len = 0;
                self.overflow = false;
                self.line(&line[..len], overflow, seen);
            } else {
                self.line(&input[pos..end], false, seen);
            }
            pos = end + 1;
            if input[end] == b'\r' {
                match input.get(pos) {
                    Some(b'\n') => pos += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            if seen.done {
                return pos;
            }
        }
        pos
    }

    /// Keeps the start of a line that continues in the next call.
    fn keep(&mut self, bytes: &[u8]) {
        self.pending = true;
        let room = KEEP - self.partial_len;
        let take = room.min(bytes.len());
        self.partial[self.partial_len..self.partial_len + take].copy_from_slice(&bytes[..take]);
        self.partial_len += take;
        self.overflow |= bytes.len() > take;
    }

    /// Handles one line; `truncated` means only its first `KEEP` bytes are in `line`.
    fn line(&mut self, line: &[u8], truncated: bool, seen: &mut Seen) {
        if line.is_empty() && !truncated {
            if self.has_data {
                match self.kind {
                    Kind::Message => seen.messages += 1,
                    Kind::Error => seen.errors += 1,
                    Kind::Done => seen.done = true,
                    Kind::Other => {}
                }
            }
            self.kind = Kind::Message;
            self.has_data = false;
        } else if field(line, b"data").is_some() {
            self.has_data = true;
        } else if let Some(value) = field(line, b"event") {
            self.kind = match value {
                _ if truncated => Kind::Other,
                b"message" => Kind::Message,
                b"done" => Kind::Done,
                b"error" => Kind::Error,
                _ => Kind::Other,
            };
        }
    }
}

/// The value of `line` if its field name is `name`: after the colon and one optional space.
fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(name)?;
    match rest.split_first() {
        None => Some(rest),
        Some((b':', value)) => Some(value.strip_prefix(b" ").unwrap_or(value)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conformance server's `count` with n = 3, as it is on the wire.
    const COUNT: &[u8] = b": \n\nevent: message\nretry: 1000\nid: 0\ndata: {\"i\":0}\n\n\
        event: message\nretry: 1000\nid: 1\ndata: {\"i\":1}\n\n\
        event: message\nretry: 1000\nid: 2\ndata: {\"i\":2}\n\n\
        event: done\ndata: \"done!\"\n\n";

    fn count(input: &[u8], step: usize) -> (Seen, usize) {
        let mut frames = Frames::new();
        let mut seen = Seen::default();
        let mut used = 0;
        for piece in input.chunks(step) {
            used += frames.feed(piece, &mut seen);
            if seen.done {
                break;
            }
        }
        (seen, used)
    }

    #[test]
    fn counts_messages_and_done_split_at_every_boundary() {
        for step in 1..=COUNT.len() {
            let (seen, used) = count(COUNT, step);
            assert_eq!(seen.messages, 3, "step {step}");
            assert!(seen.done, "step {step}");
            assert_eq!(used, COUNT.len(), "step {step}");
        }
    }

    #[test]
    fn crlf_and_cr_line_endings_are_lines_too() {
        let crlf = b"event: message\r\ndata: 1\r\n\r\ndata: 2\r\rdata:3\r\n\revent:done\rdata\r\r";
        for step in 1..=crlf.len() {
            let (seen, _) = count(crlf, step);
            assert_eq!((seen.messages, seen.done), (3, true), "step {step}");
        }
    }

    #[test]
    fn comments_frames_without_data_and_other_events_do_not_count() {
        let input = b": keep-alive\n\nevent: message\nid: 7\n\nevent: messages\ndata: x\n\n\
            event: a-very-long-event-name-indeed\ndata: x\n\n\
            event: error\ndata: {\"code\":\"X\"}\n\ndata\n\n";
        for step in 1..=input.len() {
            let (seen, _) = count(input, step);
            assert_eq!(
                seen,
                Seen {
                    messages: 1,
                    errors: 1,
                    done: false
                },
                "step {step}"
            );
        }
    }

    #[test]
    fn stops_right_after_done() {
        let input = b"event: done\ndata: null\n\nevent: message\ndata: late\n\n";
        let (seen, used) = count(input, input.len());
        assert_eq!((seen.messages, seen.done, used), (0, true, 24));
    }
}
