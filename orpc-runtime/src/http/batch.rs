//! oRPC's batch requests over the RPC protocol, as `BatchLinkPlugin` sends them and
//! `BatchHandlerPlugin` answers them: a `POST` anywhere under the RPC scope carrying
//! `x-orpc-batch` (the client posts to its first call's path plus `/__batch__`), whose body is a
//! JSON array of calls `{"url", "method"?, "headers"?, "body"?}`.
//!
//! Every call goes through the serving core as an unbatched one would, all of them at once, each
//! answered alone as `{"index", "status", "body"}`, its body what the unbatched call would have
//! answered: an error stays with its call. The answer has status 207 and comes in one of two
//! modes, as the header asks:
//! - `buffered`: a JSON array of every answer, once the last call is done;
//! - anything else (`streaming`): an SSE stream with one `message` event per answer, in the
//!   order the calls finish, ended when the last one is.
//!
//! Event iterators cannot be batched (oRPC refuses them too): such a call is answered with a
//! 500 error telling the client to call it alone, and its handler does not run.
//!
//! Extractors of a batched call read the batch request (whose headers `BatchLinkPlugin` makes
//! the ones all its calls share); a call that carries headers of its own has them merged over
//! the batch request's and put beside it as [`peer::Headers`] in the request's extensions, as the
//! WebSocket transport does, which `Option<LastEventId>` reads. actix-web gives no way to build
//! a second request, so extractors that read `HttpRequest::headers` see the batch's.

use std::sync::Arc;

use actix_web::http::{Method, StatusCode, Uri};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::stream::{FuturesUnordered, StreamExt};
use orpc_protocol::peer;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use super::input::read_body;
use super::reply::{error_body, error_response};
use super::served::Served;
use crate::input::{decode_body, PathParams};
use crate::serving::{rpc_method_not_supported, Call, Transport};
use crate::sse::Envelope;
use crate::ORPCError;

/// The header that makes a request under the RPC scope a batch.
pub(crate) const BATCH_HEADER: &str = "x-orpc-batch";

/// One call of a batch, as `BatchLinkPlugin` writes it.
#[derive(Deserialize)]
struct Item {
    url: String,
    /// Absent when it is the batch request's own method.
    method: Option<String>,
    /// The call's own headers, beside those of the batch request: a value or a list of values.
    #[serde(default)]
    headers: serde_json::Map<String, Value>,
    /// The call's body: `{"json": input, "meta": [..]}`, or absent for no input.
    body: Option<Box<RawValue>>,
}

/// A call's answer: its status and the body the unbatched call would have had.
struct Answer {
    index: usize,
    status: StatusCode,
    body: Bytes,
}

impl Answer {
    /// `{"index":..,"status":..,"body":..}`.
    fn to_json(&self) -> Bytes {
        let head = format!(
            r#"{{"index":{},"status":{},"body":"#,
            self.index,
            self.status.as_u16()
        );
        let mut json = BytesMut::with_capacity(head.len() + self.body.len() + 1);
        json.put_slice(head.as_bytes());
        json.put_slice(&self.body);
        json.put_u8(b'}');
        json.freeze()
    }
}

/// Answers the batch request `req`, whose scope-relative path was `name`.
pub(crate) async fn serve(
    served: &Served,
    req: HttpRequest,
    name: &str,
    payload: web::Payload,
) -> HttpResponse {
    if req.method() != Method::POST {
        return error_response(&rpc_method_not_supported(), Envelope::Rpc);
    }
    let buffered = req
        .headers()
        .get(BATCH_HEADER)
        .is_some_and(|mode| mode.as_bytes().eq_ignore_ascii_case(b"buffered"));
    let items = match read_items(served, &req, payload).await {
        Ok(items) => items,
        Err(error) => return error_response(&error, Envelope::Rpc),
    };
    let prefix = scope_prefix(req.path(), name).to_owned();
    // One copy of the router's state for all the calls, which outlive this borrow.
    let served = Arc::new(served.clone());
    let answers: FuturesUnordered<_> = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let (served, req, prefix) = (served.clone(), req.clone(), prefix.clone());
            async move {
                let (status, body) = match answer(&served, &req, &prefix, item).await {
                    Ok(body) => (StatusCode::OK, body),
                    Err(error) => (error.status_code(), error_body(&error, Envelope::Rpc)),
                };
                Answer {
                    index,
                    status,
                    body,
                }
            }
        })
        .collect();

    if buffered {
        let answers: Vec<Answer> = answers.collect().await;
        let mut json = BytesMut::from(&b"["[..]);
        for (i, answer) in answers.iter().enumerate() {
            if i > 0 {
                json.put_u8(b',');
            }
            json.put_slice(&answer.to_json());
        }
        json.put_u8(b']');
        HttpResponse::build(StatusCode::MULTI_STATUS)
            .content_type("application/json")
            .body(json.freeze())
    } else {
        // A message event per answer; serde_json writes no line breaks, so one `data:` line.
        let frames = answers.map(|answer| {
            let json = answer.to_json();
            let mut frame = BytesMut::with_capacity(json.len() + 24);
            frame.put_slice(b"event: message\ndata: ");
            frame.put_slice(&json);
            frame.put_slice(b"\n\n");
            Ok::<_, std::convert::Infallible>(frame.freeze())
        });
        HttpResponse::build(StatusCode::MULTI_STATUS)
            .content_type("text/event-stream")
            .insert_header(("cache-control", "no-cache"))
            .streaming(frames)
    }
}

/// The batch's calls, within the body limit and the batch limit.
async fn read_items(
    served: &Served,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Vec<Item>, ORPCError> {
    let body = read_body(req, payload, served.body_limit).await?;
    let items: Vec<Item> = serde_json::from_slice(&body).map_err(|e| {
        ORPCError::bad_request(format!(
            "Invalid batch request: the body must be a JSON array of calls \
             {{\"url\", \"method\"?, \"headers\"?, \"body\"?}} ({e})"
        ))
    })?;
    if items.len() > served.batch_limit {
        return Err(ORPCError::new("PAYLOAD_TOO_LARGE").with_message(format!(
            "A batch holds at most {} calls; this one holds {}",
            served.batch_limit,
            items.len()
        )));
    }
    Ok(items)
}

/// One call of the batch, through the core as if it had come alone: its RPC body, or its error.
async fn answer(
    served: &Served,
    req: &HttpRequest,
    prefix: &str,
    item: Item,
) -> Result<Bytes, ORPCError> {
    if item.method.as_deref().is_some_and(|m| m != "POST") {
        return Err(rpc_method_not_supported());
    }
    let name = procedure_name(prefix, &item.url).ok_or_else(|| {
        ORPCError::not_found(format!(
            "The batched call's url {:?} is not under this batch's RPC path {prefix:?}",
            item.url
        ))
    })?;
    let route = served.core.find(&name)?.clone();
    if route.is_event_iterator() {
        return Err(
            ORPCError::new("INTERNAL_SERVER_ERROR").with_message(format!(
            "{name:?} is an event iterator, which a batch cannot carry; call it outside the batch"
        )),
        );
    }
    let body = item.body.as_ref().map_or("", |body| body.get());
    let input = decode_body(body.as_bytes(), Envelope::Rpc)?;
    // The handler's extractors run now, synchronously, and see the call's own headers over
    // the batch request's (`peer::Headers` in the request's extensions, as over a WebSocket).
    let headers = (!item.headers.is_empty()).then(|| merged_headers(req, &item.headers));
    if let Some(headers) = headers {
        req.extensions_mut().insert(headers);
    }
    let started = served
        .core
        .call(&route, input, PathParams::new(), req, Transport::Sse);
    req.extensions_mut().remove::<peer::Headers>();
    match started? {
        Call::Plain(running) => {
            let output = running.await?;
            if !output.files.is_empty() {
                return Err(
                    ORPCError::new("INTERNAL_SERVER_ERROR").with_message(format!(
                    "{name:?} answered with a file, which a batch cannot carry; call it outside \
                     the batch"
                )),
                );
            }
            Ok(Envelope::Rpc.wrap_with_meta(output.json, output.meta))
        }
        // Checked above; a stream's place is given back as it drops.
        Call::Stream(_) => Err(ORPCError::new("INTERNAL_SERVER_ERROR")),
    }
}

/// The batch request's headers with the call's own over them: oRPC's values are a string or a
/// list of strings, a list joined with `", "`.
fn merged_headers(req: &HttpRequest, own: &serde_json::Map<String, Value>) -> peer::Headers {
    let own_value = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    };
    let batch = req
        .headers()
        .iter()
        .filter(|(name, _)| {
            !own.keys()
                .any(|own| own.eq_ignore_ascii_case(name.as_str()))
        })
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        });
    let own = own
        .iter()
        .filter_map(|(name, value)| Some((name.clone(), own_value(value)?)));
    batch.chain(own).collect()
}

/// The part of `path` before the scope-relative `name`: `/rpc/` for `/rpc/echo/__batch__`.
/// `name` is decoded and `path` is not, so the prefix is counted in segments.
fn scope_prefix<'a>(path: &'a str, name: &str) -> &'a str {
    let tail_segments = name.split('/').count();
    let mut end = path.len();
    for _ in 0..tail_segments {
        match path[..end].rfind('/') {
            Some(slash) => end = slash,
            None => return "/",
        }
    }
    &path[..=end]
}

/// The procedure a batched call's `url` names, if that url is under `prefix`: its path after the
/// prefix, each segment percent-decoded, as an unbatched call's path is.
fn procedure_name(prefix: &str, url: &str) -> Option<String> {
    let uri: Uri = url.parse().ok()?;
    let rest = uri.path().strip_prefix(prefix)?;
    let segments = rest
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .ok()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_what_comes_before_the_name() {
        assert_eq!(
            scope_prefix("/rpc/echo/__batch__", "echo/__batch__"),
            "/rpc/"
        );
        assert_eq!(
            scope_prefix("/v1/rpc/a/b/__batch__", "a/b/__batch__"),
            "/v1/rpc/"
        );
        assert_eq!(
            scope_prefix("/rpc/x%2Fy/__batch__", "x%2Fy/__batch__"),
            "/rpc/"
        );
        assert_eq!(scope_prefix("/__batch__", "__batch__"), "/");
        assert_eq!(scope_prefix("/rpc/", ""), "/rpc/");
    }

    #[test]
    fn a_call_names_its_procedure_by_its_path_under_the_prefix() {
        let name = |url| procedure_name("/rpc/", url);
        assert_eq!(
            name("http://127.0.0.1:8787/rpc/echo").as_deref(),
            Some("echo")
        );
        assert_eq!(
            name("http://h/rpc/chat/send?x=1").as_deref(),
            Some("chat/send")
        );
        assert_eq!(name("http://h/rpc/caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(name("/rpc/echo").as_deref(), Some("echo"));
        assert_eq!(name("http://h/api/echo"), None);
        assert_eq!(name("http://h/rpc/%FF"), None);
        assert_eq!(name("not a url"), None);
    }

    #[test]
    fn an_answer_is_an_object_with_its_index_status_and_body() {
        let answer = Answer {
            index: 3,
            status: StatusCode::BAD_REQUEST,
            body: Bytes::from_static(br#"{"json":1}"#),
        };
        assert_eq!(
            &answer.to_json()[..],
            br#"{"index":3,"status":400,"body":{"json":1}}"#
        );
    }
}
