//! Where replies come from: an OpenAI-compatible chat completions API (OpenAI, Azure, Groq,
//! Together, Ollama, vLLM, llama.cpp's server, LM Studio all speak it), or a scripted model that
//! needs no network.
//!
//! The OpenAI client is reqwest and the project's own SSE decoder (`orpc_protocol::sse`): one
//! POST to `{base}/chat/completions` with `stream: true`, read as server-sent events. A full SDK
//! (async-openai) would bring hundreds of types for the one call a chat backend makes, and its
//! own retry policy, which a reply that the user can stop must not have.
//!
//! Every failure is a message for the reply's `error` chunk: a refused key (401/403), rate
//! limiting (429, with its `retry-after`), a server error, no answer in time, a stream cut off
//! before its end.

use std::pin::Pin;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use orpc_protocol::sse::Decoder;
use serde::Serialize;
use serde_json::Value;

use crate::chunks::FinishReason;

/// How long the upstream may take to answer, and to send each next piece.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// A message of the conversation, as the upstream takes it.
#[derive(Clone, Debug, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

/// What the model sends, in order: text and reasoning as they come, then why it finished.
#[derive(Clone, Debug, PartialEq)]
pub enum Piece {
    Text(String),
    Reasoning(String),
    Finish(FinishReason),
}

/// The pieces of one reply; an `Err` is the last item. Dropping it cancels the request.
pub type Pieces = Pin<Box<dyn Stream<Item = Result<Piece, String>> + Send>>;

/// The model replies come from.
#[derive(Clone)]
pub enum Model {
    /// A canned answer, one word every `pace`, as a hosted model would stream it.
    Scripted { pace: Duration },
    /// An OpenAI-compatible server.
    OpenAi(OpenAi),
}

/// An OpenAI-compatible chat completions API.
#[derive(Clone)]
pub struct OpenAi {
    client: reqwest::Client,
    /// `{base}/chat/completions`.
    url: String,
    model: String,
    api_key: Option<String>,
}

impl OpenAi {
    /// The API at `base` (as OpenAI's SDKs take it: `https://api.openai.com/v1`,
    /// `http://127.0.0.1:11434/v1`), answering as `model`; `api_key` is sent as a bearer token.
    ///
    /// A query in the base (Azure's `?api-version=..`) is kept, after the path.
    pub fn new(base: &str, model: String, api_key: Option<String>) -> Result<Self, String> {
        let mut url =
            reqwest::Url::parse(base).map_err(|err| format!("--upstream {base:?}: {err}"))?;
        url.path_segments_mut()
            .map_err(|()| format!("--upstream {base:?}: not an http(s) URL"))?
            .pop_if_empty()
            .extend(["chat", "completions"]);
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|err| err.to_string())?;
        Ok(OpenAi {
            client,
            url: url.to_string(),
            model,
            api_key: api_key.filter(|key| !key.is_empty()),
        })
    }
}

impl Model {
    /// Starts a reply to `messages`.
    pub fn reply(&self, messages: Vec<Message>) -> Pieces {
        match self {
            Model::Scripted { pace } => scripted(&messages, *pace),
            Model::OpenAi(api) => openai(api.clone(), messages),
        }
    }
}

fn scripted(messages: &[Message], pace: Duration) -> Pieces {
    let question = messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map_or("", |m| m.content.as_str());
    let topic: String = question
        .split_whitespace()
        .take(8)
        .collect::<Vec<_>>()
        .join(" ");
    let answer = format!(
        "You asked: \u{201c}{topic}\u{201d}. I am a scripted model, but my reply travels like a \
         real one: each word is a chunk written to a pub/sub channel by a task of its own, and \
         every client of this chat reads that channel. Reload the page while I am talking: the \
         page resumes where it was, and no word comes twice. Press Stop: the generation ends at \
         once, as it would cancel a paid request upstream."
    );
    let words: Vec<String> = answer.split_inclusive(' ').map(str::to_owned).collect();
    let pieces = futures_util::stream::iter(words)
        .then(move |word| async move {
            tokio::time::sleep(pace).await;
            Ok(Piece::Text(word))
        })
        .chain(futures_util::stream::once(async {
            Ok(Piece::Finish(FinishReason::Stop))
        }));
    Box::pin(pieces)
}

fn openai(api: OpenAi, messages: Vec<Message>) -> Pieces {
    // Dropping the stream drops the request with it: the upstream sees the connection close.
    Box::pin(async_stream::stream! {
        let mut request = api.client.post(&api.url).json(&serde_json::json!({
            "model": api.model,
            "messages": messages,
            "stream": true,
        }));
        if let Some(key) = &api.api_key {
            request = request.bearer_auth(key);
        }
        let response = match tokio::time::timeout(ANSWER_TIMEOUT, request.send()).await {
            Err(_) => {
                yield Err("the model did not answer within 30 s".to_owned());
                return;
            }
            Ok(Err(err)) => {
                yield Err(format!("the model could not be reached: {}", without_url(err)));
                return;
            }
            Ok(Ok(response)) => response,
        };
        if let Err(message) = refused(&response) {
            let body = response.text().await.unwrap_or_default();
            yield Err(format!("{message}{}", error_detail(&body)));
            return;
        }
        let mut body = response.bytes_stream();
        let mut decoder = Decoder::new();
        // The finish reason comes before `[DONE]`; the reply finishes at `[DONE]` (or at the end
        // of the body, after a finish reason), so that the request is read to its end rather
        // than dropped as if cancelled.
        let mut finished = None;
        loop {
            let bytes = match tokio::time::timeout(ANSWER_TIMEOUT, body.next()).await {
                Err(_) => {
                    yield Err("the model stopped sending for 30 s".to_owned());
                    return;
                }
                Ok(None) => {
                    match finished {
                        Some(reason) => yield Ok(Piece::Finish(reason)),
                        None => yield Err("the model's stream was cut off before its end".to_owned()),
                    }
                    return;
                }
                Ok(Some(Err(err))) => {
                    yield Err(format!("the model's stream failed: {}", without_url(err)));
                    return;
                }
                Ok(Some(Ok(bytes))) => bytes,
            };
            for event in decoder.feed(&bytes) {
                match read_event(&event.data) {
                    Read::Pieces(pieces) => {
                        for piece in pieces {
                            match piece {
                                Piece::Finish(reason) => finished = Some(reason),
                                piece => yield Ok(piece),
                            }
                        }
                    }
                    Read::Done => {
                        // `[DONE]` without a finish reason: the model ended all the same.
                        yield Ok(Piece::Finish(finished.unwrap_or(FinishReason::Stop)));
                        return;
                    }
                    Read::Failed(message) => {
                        yield Err(message);
                        return;
                    }
                }
            }
        }
    })
}

/// A non-2xx answer, as the reply's error says it.
fn refused(response: &reqwest::Response) -> Result<(), String> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(match status.as_u16() {
        401 | 403 => format!("the model refused the API key ({status})"),
        429 => {
            let after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(|v| format!("; retry after {v} s"))
                .unwrap_or_default();
            format!("the model is rate limiting requests (429){after}")
        }
        _ => format!("the model failed ({status})"),
    })
}

/// `: {message}` from an OpenAI error body (`{"error": {"message": ..}}`), bounded.
fn error_detail(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned));
    match message {
        Some(message) => {
            let message: String = message.chars().take(300).collect();
            format!(": {message}")
        }
        None => String::new(),
    }
}

/// reqwest's error without the URL, which may carry a key in its query.
fn without_url(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}

enum Read {
    Pieces(Vec<Piece>),
    Done,
    Failed(String),
}

/// One event of the completion stream: `[DONE]`, or a chunk object whose first choice's delta
/// has content (or, from servers that show it, reasoning) and maybe a finish reason.
fn read_event(data: &str) -> Read {
    if data.trim() == "[DONE]" {
        return Read::Done;
    }
    let Ok(chunk) = serde_json::from_str::<Value>(data) else {
        return Read::Pieces(Vec::new());
    };
    if let Some(error) = chunk.get("error") {
        let message = error["message"].as_str().unwrap_or("unknown error");
        return Read::Failed(format!("the model failed: {message}"));
    }
    let choice = &chunk["choices"][0];
    let delta = &choice["delta"];
    let mut pieces = Vec::new();
    for key in ["reasoning_content", "reasoning"] {
        if let Some(text) = delta[key].as_str().filter(|t| !t.is_empty()) {
            pieces.push(Piece::Reasoning(text.to_owned()));
            break;
        }
    }
    if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
        pieces.push(Piece::Text(text.to_owned()));
    }
    if let Some(reason) = choice["finish_reason"].as_str() {
        pieces.push(Piece::Finish(FinishReason::from_openai(reason)));
    }
    Read::Pieces(pieces)
}
