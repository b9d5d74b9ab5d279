//! The `Transfer-Encoding: chunked` decoder: a byte-at-a-time state machine for the chunk-size
//! lines and a pass-through for the chunk data.
//!
//! It keeps no buffer: data is handed on as slices of the caller's input, so a chunk split across
//! reads, or a size line split anywhere, costs nothing extra. Each input byte is looked at once,
//! and chunk data not at all, which keeps the load generator cheaper than the server it measures.
//! Chunk extensions and trailers are skipped. A bare LF is accepted where CRLF belongs, as most
//! clients do; anything else malformed is an error, and the decoder stays failed.

use std::fmt;

/// Why a chunked body could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedError {
    /// A chunk-size line did not start with a hexadecimal digit, or held something else.
    BadSize,
    /// A chunk size did not fit in 64 bits.
    SizeOverflow,
    /// Chunk data was not followed by CRLF.
    MissingCrlf,
}

impl fmt::Display for ChunkedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadSize => "malformed chunk size",
            Self::SizeOverflow => "chunk size overflows 64 bits",
            Self::MissingCrlf => "chunk data not followed by CRLF",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a size line.
    Size {
        value: u64,
        digits: u8,
    },
    /// Skipping whitespace or a `;extension` after the size, up to the line's end.
    Extension {
        value: u64,
    },
    /// Saw CR after the size; LF must follow.
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// After the last (zero-size) chunk: trailer lines, ended by an empty line.
    Trailer {
        line_start: bool,
    },
    TrailerLf,
    Done,
    Failed(ChunkedError),
}

/// Decodes one chunked body, fed in pieces as they arrive.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
}

impl Default for Chunked {
    fn default() -> Self {
        Self::new()
    }
}

impl Chunked {
    pub fn new() -> Self {
        Self {
            state: State::Size {
                value: 0,
                digits: 0,
            },
        }
    }

    /// Decodes `input`, handing each piece of chunk data to `on_data` in order. `on_data` returns
    /// `false` to stop early (the rest of `input` is then left unread). Returns whether the body
    /// is complete. Bytes after the end of the body are ignored.
    pub fn feed<'a>(
        &mut self,
        input: &'a [u8],
        mut on_data: impl FnMut(&'a [u8]) -> bool,
    ) -> Result<bool, ChunkedError> {
        let mut pos = 0;
        while pos < input.len() {
            if let State::Data { remaining } = self.state {
                let available = (input.len() - pos) as u64;
                let take = remaining.min(available) as usize;
                let piece = &input[pos..pos + take];
                pos += take;
                self.state = if take as u64 == remaining {
                    State::DataCr
                } else {
                    State::Data {
                        remaining: remaining - take as u64,
                    }
                };
                if !on_data(piece) {
                    return Ok(false);
                }
                continue;
            }
            let byte = input[pos];
            pos += 1;
            self.state = match self.state {
                State::Size { value, digits } => match hex(byte) {
                    Some(_) if value > u64::MAX >> 4 => State::Failed(ChunkedError::SizeOverflow),
                    Some(d) => State::Size {
                        value: value << 4 | u64::from(d),
                        digits: digits.saturating_add(1),
                    },
                    None if digits == 0 => State::Failed(ChunkedError::BadSize),
                    None => match byte {
                        b'\r' => State::SizeLf { value },
                        b'\n' => after_size(value),
                        b';' | b' ' | b'\t' => State::Extension { value },
                        _ => State::Failed(ChunkedError::BadSize),
                    },
                },
                State::Extension { value } => match byte {
                    b'\r' => State::SizeLf { value },
                    b'\n' => after_size(value),
                    _ => State::Extension { value },
                },
                State::SizeLf { value } => match byte {
                    b'\n' => after_size(value),
                    _ => State::Failed(ChunkedError::BadSize),
                },
                State::DataCr => match byte {
                    b'\r' => State::DataLf,
                    b'\n' => State::Size {
                        value: 0,
                        digits: 0,
                    },
                    _ => State::Failed(ChunkedError::MissingCrlf),
                },
                State::DataLf => match byte {
                    b'\n' => State::Size {
                        value: 0,
                        digits: 0,
                    },
                    _ => State::Failed(ChunkedError::MissingCrlf),
                },
                State::Trailer { line_start } => match byte {
                    b'\r' if line_start => State::TrailerLf,
                    b'\n' if line_start => State::Done,
                    b'\n' => State::Trailer { line_start: true },
                    _ => State::Trailer { line_start: false },
                },
                State::TrailerLf => match byte {
                    b'\n' => State::Done,
                    _ => State::Failed(ChunkedError::MissingCrlf),
                },
                State::Data { .. } => unreachable!("handled above"),
                State::Done => return Ok(true),
                State::Failed(error) => return Err(error),
            };
            if let State::Failed(error) = self.state {
                return Err(error);
            }
        }
        match self.state {
            State::Failed(error) => Err(error),
            state => Ok(state == State::Done),
        }
    }
}

fn after_size(value: u64) -> State {
    if value == 0 {
        State::Trailer { line_start: true }
    } else {
        State::Data { remaining: value }
    }
}

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` split at every `step` bytes and returns the data and whether it finished.
    fn decode(input: &[u8], step: usize) -> Result<(Vec<u8>, bool), ChunkedError> {
        let mut decoder = Chunked::new();
        let mut out = Vec::new();
        let mut done = false;
        for piece in input.chunks(step) {
            done = decoder.feed(piece, |data| {
                out.extend_from_slice(data);
                true
            })?;
        }
        Ok((out, done))
    }

    #[test]
    fn decodes_chunks_split_at_every_byte_boundary() {
        let body =
            b"5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for step in 1..=body.len() {
            let (data, done) = decode(body, step).unwrap();
            assert_eq!(data, b"hello 0123456789", "step {step}");
            assert!(done, "step {step}");
        }
    }

    #[test]
    fn unfinished_body_is_not_done_and_bare_lf_is_accepted() {
        assert_eq!(
            decode(b"3\r\nabc\r\n", 2).unwrap(),
            (b"abc".to_vec(), false)
        );
        assert_eq!(
            decode(b"3\nabc\n0\n\n", 1).unwrap(),
            (b"abc".to_vec(), true)
        );
    }

    #[test]
    fn bytes_after_the_last_chunk_are_ignored() {
        let (data, done) = decode(b"2\r\nok\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n", 64).unwrap();
        assert_eq!((data.as_slice(), done), (&b"ok"[..], true));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(decode(b"zz\r\n", 4), Err(ChunkedError::BadSize));
        assert_eq!(decode(b"\r\n", 4), Err(ChunkedError::BadSize));
        assert_eq!(decode(b"2\r\nabc\r\n", 16), Err(ChunkedError::MissingCrlf));
        assert_eq!(
            decode(b"11111111111111111\r\n", 64),
            Err(ChunkedError::SizeOverflow)
        );
    }

    #[test]
    fn stopping_early_leaves_the_rest_unread() {
        let mut decoder = Chunked::new();
        let mut seen = Vec::new();
        let done = decoder
            .feed(b"1\r\na\r\n1\r\nb\r\n0\r\n\r\n", |data| {
                seen.extend_from_slice(data);
                false
            })
            .unwrap();
        assert_eq!((seen.as_slice(), done), (&b"a"[..], false));
    }
}
