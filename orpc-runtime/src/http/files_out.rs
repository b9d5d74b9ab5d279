//! A plain procedure's answer that holds files, as oRPC 1.x sends one.
//!
//! - RPC: a `multipart/form-data` body, as `RPCLink` reads it: a `data` part with
//!   `{"json", "meta", "maps"}`, where each file stands as `{}` in `json` and `maps` lists the
//!   path of each, then one part per file named by its index. (oRPC's RPC serializer sends a
//!   file returned alone the same way, as a form whose map is the empty path.)
//! - OpenAPI: a file returned alone is the raw body, with its `content-type` and a
//!   `content-disposition` naming it, as `OpenAPILink` and browsers read it. Files inside a larger
//!   output are not sent over OpenAPI: that is an error.
//! - oRPC 2's RPC: a file returned alone is the raw body as over OpenAPI, marked with the header
//!   `standard-server: file`; files inside a larger output are the form, as with 1.x.
//!
//! A file on disk is streamed from it; nothing is read whole into memory.

use std::hash::{BuildHasher, Hasher};

use actix_web::http::header;
use actix_web::HttpResponse;
use bytes::Bytes;
use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use crate::file::placeholder_index;
use crate::procedure::PlainOutput;
use crate::sse::Envelope;
use crate::{File, ORPCError};

/// The answer of a plain procedure whose output holds `output.files`.
pub(crate) fn file_response(
    output: PlainOutput,
    envelope: Envelope,
) -> Result<HttpResponse, ORPCError> {
    match envelope {
        Envelope::Rpc => rpc_form(output, envelope),
        Envelope::RpcV2 if !alone(&output) => rpc_form(output, envelope),
        Envelope::RpcV2 | Envelope::Plain => raw_file(output, envelope),
    }
}

/// Whether the output is one file and nothing else.
fn alone(output: &PlainOutput) -> bool {
    output.files.len() == 1
        && serde_json::from_slice::<String>(&output.json)
            .ok()
            .and_then(|text| placeholder_index(&text))
            == Some(0)
}

fn raw_file(output: PlainOutput, envelope: Envelope) -> Result<HttpResponse, ORPCError> {
    let alone = alone(&output);
    let Some(file) = output.files.into_iter().next().filter(|_| alone) else {
        tracing::error!(
            "an OpenAPI answer holds files inside other data; only a file alone is sent"
        );
        return Err(ORPCError::new("INTERNAL_SERVER_ERROR")
            .with_message("Over OpenAPI a procedure can return a file only as its whole output"));
    };
    let mut response = HttpResponse::Ok();
    if envelope == Envelope::RpcV2 {
        // How oRPC 2's client knows the body is a file whatever its media type.
        response.insert_header(("standard-server", "file"));
    }
    response.content_type(file.content_type()).insert_header((
        header::CONTENT_DISPOSITION,
        content_disposition(file.name()),
    ));
    Ok(response.no_chunking(file.len()).streaming(file.chunks()))
}

fn rpc_form(output: PlainOutput, envelope: Envelope) -> Result<HttpResponse, ORPCError> {
    let mut json: Value = serde_json::from_slice(&output.json).map_err(|error| {
        tracing::error!(%error, "a serialized output does not read back");
        ORPCError::internal()
    })?;
    let mut maps = vec![Value::Null; output.files.len()];
    stand_in_for_files(&mut json, &mut Vec::new(), &mut maps);
    if maps.iter().any(Value::is_null) {
        tracing::error!("an output's file placeholders do not match its files");
        return Err(ORPCError::internal());
    }
    let json = serde_json::to_vec(&json).expect("JSON writes to a Vec");
    // `{"json", "meta"}` as the envelope writes it, then `maps` before its closing brace.
    let mut data = envelope.wrap_with_meta(json, output.meta).to_vec();
    data.pop();
    data.extend_from_slice(br#","maps":"#);
    serde_json::to_writer(&mut data, &maps).expect("JSON writes to a Vec");
    data.push(b'}');

    let boundary = boundary();
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let mut head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\n")
        .into_bytes();
    head.extend_from_slice(&data);
    head.extend_from_slice(b"\r\n");
    let tail = Bytes::from(format!("--{boundary}--\r\n"));
    let parts = output.files.into_iter().enumerate().map(move |(index, file)| {
        let head = Bytes::from(format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{index}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quoted(file.name()),
            single_line(file.content_type()),
        ));
        file_part(head, file)
    });
    let body = stream::once(async move { Ok(Bytes::from(head)) })
        .chain(stream::iter(parts).flatten())
        .chain(stream::once(async move { Ok(tail) }));
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .streaming(body))
}

/// One file's part: its head, its bytes, the line break that ends it.
fn file_part(head: Bytes, file: File) -> impl futures_core::Stream<Item = std::io::Result<Bytes>> {
    stream::once(async move { Ok(head) })
        .chain(file.chunks())
        .chain(stream::once(async { Ok(Bytes::from_static(b"\r\n")) }))
}

/// Replaces each file's placeholder in `value` with `{}`, as oRPC writes a file in JSON, and
/// records its path at its index in `maps`.
fn stand_in_for_files(value: &mut Value, path: &mut Vec<Value>, maps: &mut [Value]) {
    match value {
        Value::String(text) => {
            if let Some(slot) = placeholder_index(text).and_then(|index| maps.get_mut(index)) {
                *slot = Value::Array(path.clone());
                *value = Value::Object(serde_json::Map::new());
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                path.push(index.into());
                stand_in_for_files(item, path, maps);
                path.pop();
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields.iter_mut() {
                path.push(key.clone().into());
                stand_in_for_files(item, path, maps);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A boundary that no file's bytes are expected to hold: 32 hexadecimal digits, random per
/// answer.
fn boundary() -> String {
    let random = || {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    };
    format!("orpc-{:016x}{:016x}", random(), random())
}

/// A file name inside a quoted header parameter: quotes and line breaks percent-encoded, as
/// browsers write them in forms.
fn quoted(name: &str) -> String {
    name.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A header value on one line.
fn single_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// `content-disposition` for a file named `name`, as oRPC writes it: an ASCII `filename`
/// (other characters as `_`) and the exact name in `filename*`, percent-encoded UTF-8.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '_' })
        .collect::<String>()
        .replace('"', "\\\"");
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'|')
        .remove(b'`')
        .remove(b'^');
    let exact = percent_encoding::utf8_percent_encode(name, SET);
    format!("inline; filename=\"{ascii}\"; filename*=utf-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_names_the_file_in_ascii_and_exactly() {
        assert_eq!(
            content_disposition("download.bin"),
            "inline; filename=\"download.bin\"; filename*=utf-8''download.bin"
        );
        assert_eq!(
            content_disposition("résumé \"v2\".pdf"),
            "inline; filename=\"r_sum_ \\\"v2\\\".pdf\"; filename*=utf-8''r%C3%A9sum%C3%A9%20%22v2%22.pdf"
        );
    }

    #[test]
    fn files_stand_as_empty_objects_with_their_paths_in_maps() {
        let mut json = serde_json::json!({ "a": ["orpc-file:1", 2], "b": "orpc-file:0", "c": "x" });
        let mut maps = vec![Value::Null; 2];
        stand_in_for_files(&mut json, &mut Vec::new(), &mut maps);
        assert_eq!(json, serde_json::json!({ "a": [{}, 2], "b": {}, "c": "x" }));
        assert_eq!(
            maps,
            [serde_json::json!(["b"]), serde_json::json!(["a", 0])]
        );

        let mut root = serde_json::json!("orpc-file:0");
        let mut maps = vec![Value::Null];
        stand_in_for_files(&mut root, &mut Vec::new(), &mut maps);
        assert_eq!(
            (root, maps),
            (serde_json::json!({}), vec![serde_json::json!([])])
        );
    }
}
