//! Files a procedure returns, as oRPC 1.x sends them: over RPC a `multipart/form-data` body
//! whose `data` part maps the output's one file to the empty path, that file being part `0`;
//! a raw body with `content-disposition` (as an OpenAPI route answers) is read too.

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use serde::Deserialize;
use serde_json::Value;

use crate::Error;

/// A file a procedure returned: its name, media type and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct File {
    /// Its name, as the server gave it (`blob` when it gave none).
    pub name: String,
    /// Its media type (`application/octet-stream` when the server gave none).
    pub content_type: String,
    /// Its bytes.
    pub bytes: Bytes,
}

/// Reads the file `response` carries, `procedure` naming the call in errors.
pub(crate) async fn read(response: reqwest::Response, procedure: &str) -> Result<File, Error> {
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header(CONTENT_TYPE).unwrap_or_default();
    if let Some(disposition) = header(CONTENT_DISPOSITION) {
        return Ok(File {
            name: file_name(&disposition).unwrap_or_else(|| "blob".to_owned()),
            content_type: non_empty(content_type),
            bytes: response.bytes().await?,
        });
    }
    let not_a_file =
        |why: &str| Error::Protocol(format!("`{procedure}` did not answer with a file: {why}"));
    let boundary = multer::parse_boundary(&content_type)
        .map_err(|_| not_a_file("the answer is neither a form nor a file"))?;
    let mut form = multer::Multipart::new(response.bytes_stream(), boundary);
    let malformed =
        |e: multer::Error| Error::Protocol(format!("`{procedure}` answered a malformed form: {e}"));
    let mut root_alone = false;
    let mut file = None;
    while let Some(mut field) = form.next_field().await.map_err(malformed)? {
        match field.name() {
            Some("data") => {
                #[derive(Deserialize)]
                struct Data {
                    #[serde(default)]
                    maps: Vec<Vec<Value>>,
                }
                let data: Data =
                    serde_json::from_slice(&field.bytes().await.map_err(malformed)?)
                        .map_err(|e| not_a_file(&format!("its data part does not read ({e})")))?;
                root_alone = data.maps.len() == 1 && data.maps[0].is_empty();
            }
            Some("0") => {
                let name = field
                    .file_name()
                    .map(unescape)
                    .unwrap_or_else(|| "blob".to_owned());
                let content_type = non_empty(
                    field
                        .content_type()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                );
                let mut bytes = BytesMut::new();
                while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                    bytes.extend_from_slice(&chunk);
                }
                file = Some(File {
                    name,
                    content_type,
                    bytes: bytes.freeze(),
                });
            }
            _ => {}
        }
    }
    match file {
        Some(file) if root_alone => Ok(file),
        _ => Err(not_a_file("the output is not one file alone")),
    }
}

fn non_empty(content_type: String) -> String {
    if content_type.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        content_type
    }
}

/// A form's file name as meant: `%22`, `%0D` and `%0A` stand for `"`, CR and LF.
fn unescape(name: &str) -> String {
    name.replace("%22", "\"")
        .replace("%0D", "\r")
        .replace("%0A", "\n")
}

/// The file name of a `content-disposition`: the exact `filename*` (percent-encoded UTF-8) when
/// there is one, else `filename`.
fn file_name(disposition: &str) -> Option<String> {
    let params = disposition.split(';').map(str::trim);
    let mut plain = None;
    for param in params {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = value.split_once("''").map_or(value, |(_, rest)| rest);
                if let Ok(name) = percent_decode(encoded) {
                    return Some(name);
                }
            }
            "filename" => {
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                plain = Some(value.replace("\\\"", "\""));
            }
            _ => {}
        }
    }
    plain
}

fn percent_decode(text: &str) -> Result<String, ()> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3).ok_or(())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::file_name;

    #[test]
    fn the_exact_name_comes_from_filename_star() {
        let header = "inline; filename=\"r_sum_ \\\"v2\\\".pdf\"; filename*=utf-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf";
        assert_eq!(file_name(header).as_deref(), Some("résumé \"v2\".pdf"));
        assert_eq!(
            file_name("attachment; filename=\"a.txt\"").as_deref(),
            Some("a.txt")
        );
        assert_eq!(file_name("inline").as_deref(), None);
        assert_eq!(
            file_name("inline; filename*=utf-8''%ZZ; filename=x").as_deref(),
            Some("x")
        );
    }
}
