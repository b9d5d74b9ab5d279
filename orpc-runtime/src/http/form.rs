//! Reading a `multipart/form-data` request into an input with files.
//!
//! - RPC (oRPC 1.x's `RPCLink`, for any input holding a `File` or `Blob`): a `data` part with
//!   `{"json", "meta", "maps"}`, then one part per file named by its index in `maps`, whose entry
//!   is the file's path in the input. oRPC 2 sends the same form, except for a file that is the
//!   whole input: that is the raw body, marked `standard-server: file` ([`read_raw_file`]).
//! - OpenAPI (`OpenAPILink`, or any HTML form): each part a field of the input, named in bracket
//!   notation (`a[b]`); a part with a file name is a file, any other is text read as the input's
//!   schema says, as a query string's is.
//!
//! Limits: text counts against the body limit, files against the file limit (413 beyond either,
//! as soon as it is known); at most 1,000 parts; a form that does not parse is a 400. Files above
//! [`IN_MEMORY`](crate::file::IN_MEMORY) go to a temporary file, removed when the `File` drops,
//! so an upload refused halfway leaves nothing behind.

use actix_multipart::{Field, Multipart, MultipartError};
use actix_web::http::header;
use actix_web::{web, HttpRequest};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::file::IN_MEMORY;
use crate::input::{Form, FormFields, Segment};
use crate::sse::Envelope;
use crate::{File, ORPCError, RawInput};

/// How much a form may carry.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// Everything but files.
    pub(crate) body: usize,
    /// All files together.
    pub(crate) files: usize,
}

/// The most parts a form may have, so that many tiny parts cannot make many files.
const MAX_PARTS: usize = 1000;

/// Whether `req` carries a multipart form.
pub(crate) fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value.len() >= 19 && value[..19].eq_ignore_ascii_case("multipart/form-data")
        })
}

/// The body length `req` declares in `content-length`, if it declares one that parses.
pub(crate) fn declared_length(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Whether `req` carries a file alone as its body, as oRPC 2's client sends a `File` or `Blob`
/// input: `standard-server: file`, the file's type as `content-type`, its name in
/// `content-disposition`.
pub(crate) fn is_raw_file(req: &HttpRequest) -> bool {
    req.headers()
        .get("standard-server")
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"file"))
}

/// Reads a file sent alone as the body ([`is_raw_file`]) into an input that is that file.
pub(crate) async fn read_raw_file(
    req: &HttpRequest,
    mut payload: web::Payload,
    limits: Limits,
) -> Result<RawInput, ORPCError> {
    if declared_length(req).is_some_and(|len| len > limits.files) {
        return Err(too_large("files", limits.files));
    }
    let name = req
        .headers()
        .get(header::CONTENT_DISPOSITION)
        .and_then(|value| header::ContentDisposition::from_raw(value).ok())
        .and_then(|disposition| disposition.get_filename().map(unescape_file_name));
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty())
        .map(str::to_owned);
    let mut reader = Reader {
        limits,
        text_used: 0,
        files_used: 0,
    };
    let file = reader.file(&mut payload, name, content_type).await?;
    Ok(RawInput::Form(Form {
        fields: FormFields::Json(Value::Null),
        files: vec![(Vec::new(), file)],
    }))
}

/// Reads the form of `req` into an input.
pub(crate) async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    envelope: Envelope,
    limits: Limits,
) -> Result<RawInput, ORPCError> {
    if declared_length(req).is_some_and(|len| len > limits.body.saturating_add(limits.files)) {
        return Err(too_large("form", limits.body.saturating_add(limits.files)));
    }
    let mut form = Multipart::new(req.headers(), payload);
    let mut reader = Reader {
        limits,
        text_used: 0,
        files_used: 0,
    };
    let mut data = None;
    let mut text = String::new();
    let mut files: Vec<(String, File)> = Vec::new();
    let mut parts = 0;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(malformed)?;
        parts += 1;
        if parts > MAX_PARTS {
            return Err(ORPCError::bad_request(format!(
                "The multipart form has more than {MAX_PARTS} parts"
            )));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let file_name = field
            .content_disposition()
            .and_then(|disposition| disposition.get_filename())
            .map(unescape_file_name);
        let is_file = match envelope {
            Envelope::Rpc | Envelope::RpcV2 => name != "data",
            Envelope::Plain => file_name.is_some(),
        };
        if is_file {
            let content_type = field.content_type().map(ToString::to_string);
            let file = reader.file(&mut field, file_name, content_type).await?;
            files.push((name, file));
        } else {
            let bytes = reader.text(&mut field).await?;
            match envelope {
                Envelope::Rpc | Envelope::RpcV2 => data = Some(bytes),
                Envelope::Plain => {
                    let value = std::str::from_utf8(&bytes).map_err(|_| {
                        ORPCError::bad_request(format!("The form field {name:?} is not UTF-8 text"))
                    })?;
                    if !text.is_empty() {
                        text.push('&');
                    }
                    text.push_str(&encode(&name));
                    text.push('=');
                    text.push_str(&encode(value));
                }
            }
        }
    }
    let form = match envelope {
        Envelope::Rpc | Envelope::RpcV2 => rpc_form(data, files, envelope)?,
        Envelope::Plain => Form {
            fields: FormFields::Query(text),
            files: files
                .into_iter()
                .map(|(name, file)| Ok((bracket_path(&name)?, file)))
                .collect::<Result<_, ORPCError>>()?,
        },
    };
    Ok(RawInput::Form(form))
}

/// The RPC form's input: the `data` part's JSON, and each file at its path in `maps`.
fn rpc_form(
    data: Option<Bytes>,
    files: Vec<(String, File)>,
    envelope: Envelope,
) -> Result<Form, ORPCError> {
    #[derive(Deserialize)]
    struct Maps {
        #[serde(default)]
        maps: Vec<Vec<Value>>,
    }
    let data = data.ok_or_else(|| {
        ORPCError::bad_request(r#"The RPC form has no "data" part with the input's JSON"#)
    })?;
    let json = crate::input::decode_json(&data, envelope)?;
    let Maps { maps } = serde_json::from_slice(&data)
        .map_err(|e| ORPCError::bad_request(format!("The RPC form's maps do not read: {e}")))?;
    let mut by_index: Vec<Option<File>> = Vec::new();
    for (name, file) in files {
        let index: usize = name
            .parse()
            .ok()
            .filter(|index| *index < maps.len())
            .ok_or_else(|| {
                ORPCError::bad_request(format!(
                    "The RPC form's part {name:?} is neither \"data\" nor a file of its maps"
                ))
            })?;
        if by_index.len() <= index {
            by_index.resize_with(index + 1, || None);
        }
        by_index[index] = Some(file);
    }
    let mut placed = Vec::with_capacity(maps.len());
    for (index, path) in maps.into_iter().enumerate() {
        let file = by_index
            .get_mut(index)
            .and_then(Option::take)
            .ok_or_else(|| {
                ORPCError::bad_request(format!(
                    "The RPC form lacks the part \"{index}\" of its maps"
                ))
            })?;
        let path = path
            .into_iter()
            .map(|segment| match segment {
                Value::String(key) => Ok(Segment::Key(key)),
                Value::Number(n) => n
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .map(Segment::Index)
                    .ok_or(()),
                _ => Err(()),
            })
            .collect::<Result<Vec<_>, ()>>()
            .map_err(|()| {
                ORPCError::bad_request(
                    "The RPC form's maps hold a path that is not keys and indexes",
                )
            })?;
        placed.push((path, file));
    }
    Ok(Form {
        fields: FormFields::Json(json),
        files: placed,
    })
}

/// A file name as the client meant it: browsers and `fetch` write `"`, CR and LF in a form's
/// file names as `%22`, `%0D` and `%0A` (the HTML standard's form encoding), and decode them the
/// same way.
fn unescape_file_name(name: &str) -> String {
    name.replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
}

/// A field name in bracket notation as a path: `a[b][0]` is `a`, `b`, `0`.
fn bracket_path(name: &str) -> Result<Vec<Segment>, ORPCError> {
    let bad = || ORPCError::bad_request(format!("The form field name {name:?} does not parse"));
    let (head, mut rest) = name
        .split_once('[')
        .map_or((name, ""), |(head, rest)| (head, rest));
    let mut path = vec![Segment::Key(head.to_owned())];
    while !rest.is_empty() {
        let (segment, after) = rest.split_once(']').ok_or_else(bad)?;
        path.push(match segment.parse() {
            Ok(index) => Segment::Index(index),
            Err(_) => Segment::Key(segment.to_owned()),
        });
        rest = match after {
            "" => "",
            after => after.strip_prefix('[').ok_or_else(bad)?,
        };
    }
    Ok(path)
}

/// Percent-encodes a form value for a query string, keeping brackets for nested names.
fn encode(text: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'[')
        .remove(b']')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.');
    percent_encoding::utf8_percent_encode(text, SET).to_string()
}

/// Reads fields within the form's limits.
struct Reader {
    limits: Limits,
    text_used: usize,
    files_used: usize,
}

impl Reader {
    /// A text field, counted against the body limit.
    async fn text(&mut self, field: &mut Field) -> Result<Bytes, ORPCError> {
        let mut bytes = BytesMut::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(malformed)?;
            self.text_used += chunk.len();
            if self.text_used > self.limits.body {
                return Err(too_large("request body", self.limits.body));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes.freeze())
    }

    /// A file read from `body` (a form's part, or a whole request body), counted against the
    /// file limit: in memory while small, then in a temporary file.
    async fn file<E: std::fmt::Display>(
        &mut self,
        body: &mut (impl futures_util::Stream<Item = Result<Bytes, E>> + Unpin),
        name: Option<String>,
        content_type: Option<String>,
    ) -> Result<File, ORPCError> {
        let content_type = content_type.unwrap_or_else(|| "application/octet-stream".to_owned());
        let name = name.unwrap_or_else(|| "blob".to_owned());
        let mut memory = BytesMut::new();
        let mut disk: Option<(tokio::fs::File, tempfile::TempPath)> = None;
        let mut len = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|error| {
                ORPCError::bad_request(format!("The upload could not be read: {error}"))
            })?;
            self.files_used += chunk.len();
            if self.files_used > self.limits.files {
                return Err(too_large("files", self.limits.files));
            }
            len += chunk.len() as u64;
            match &mut disk {
                Some((file, _)) => write(file, &chunk).await?,
                None if memory.len() + chunk.len() <= IN_MEMORY => memory.extend_from_slice(&chunk),
                None => {
                    let (file, path) = tempfile::NamedTempFile::new()
                        .map_err(spool_failed)?
                        .into_parts();
                    let mut file = tokio::fs::File::from_std(file);
                    write(&mut file, &memory).await?;
                    write(&mut file, &chunk).await?;
                    memory = BytesMut::new();
                    disk = Some((file, path));
                }
            }
        }
        Ok(match disk {
            None => File::new(name, content_type, memory.freeze()),
            Some((mut file, path)) => {
                file.flush().await.map_err(spool_failed)?;
                drop(file);
                File::on_disk(name, content_type, path, len)
            }
        })
    }
}

/// Writes a piece of an upload to its temporary file, in the system's temporary directory.
async fn write(file: &mut tokio::fs::File, bytes: &[u8]) -> Result<(), ORPCError> {
    file.write_all(bytes).await.map_err(spool_failed)
}

fn spool_failed(error: std::io::Error) -> ORPCError {
    tracing::error!(%error, "an upload could not be written to a temporary file");
    ORPCError::internal()
}

fn too_large(what: &str, limit: usize) -> ORPCError {
    ORPCError::new("PAYLOAD_TOO_LARGE").with_message(format!("The {what} exceeds {limit} bytes"))
}

fn malformed(error: MultipartError) -> ORPCError {
    ORPCError::bad_request(format!("The multipart form does not parse: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bracket_names_are_paths() {
        use Segment::{Index, Key};
        let key = |k: &str| Key(k.to_owned());
        assert_eq!(bracket_path("file").unwrap(), [key("file")]);
        assert_eq!(
            bracket_path("a[b][0]").unwrap(),
            [key("a"), key("b"), Index(0)]
        );
        assert_eq!(bracket_path("a[]").unwrap(), [key("a"), key("")]);
        assert!(bracket_path("a[b").is_err());
        assert!(bracket_path("a[b]c").is_err());
    }
}
