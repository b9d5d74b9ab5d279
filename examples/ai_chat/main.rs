//! An AI chat whose replies survive the connection: a real model upstream (any
//! OpenAI-compatible server) or a scripted one, replies written by a task of their own to a
//! pub/sub channel, and clients that resume exactly where they were, after a reload or a cut,
//! on this instance or, with Redis, another.
//!
//!     cargo run --example ai_chat                   # a scripted model; open http://127.0.0.1:8085
//!     cargo run --example ai_chat -- --upstream http://127.0.0.1:11434/v1 --model llama3.2
//!     OPENAI_API_KEY=sk-... cargo run --example ai_chat -- \
//!         --upstream https://api.openai.com/v1 --model gpt-4o-mini
//!     cargo run --example ai_chat -- --redis redis://127.0.0.1:6379   # several instances
//!
//! Procedures (oRPC's `RPCLink` at `/rpc`, plain JSON at `/api`), each chunk an event with an id,
//! in the AI SDK's UI message stream protocol (`chunks.rs`), so that `useChat` and
//! `readUIMessageStream` read them through oRPC's `eventIteratorToUnproxiedDataStream`:
//! - `chat` `{chatId, messages}` (the AI SDK's `UIMessage`s): starts a reply and yields its
//!   chunks. 409 `CONFLICT` while the chat's last reply is still being written. With a
//!   `Last-Event-ID` (oRPC's retry plugin reconnecting) it resumes instead, starting nothing.
//! - `resume` `{chatId}`: with a `Last-Event-ID`, the rest of that reply; without, the current or
//!   last reply from its `start` (a reloaded page). Ends at once, with no chunk, when the chat has
//!   none.
//! - `stop` `{chatId}`: ends the reply being written at once, cancelling the upstream request;
//!   `{stopped}` says whether one was. A client that leaves stops nothing.
//!
//! Its metrics are at `/metrics`. `--emit-typescript PATH` writes the oRPC contract of these
//! procedures, for a typed client (`tests/ai-sdk/typed/`), and exits.

#[path = "../common/mod.rs"]
mod common;

mod chunks;
mod replies;
mod upstream;

use std::time::Duration;

use actix_web::web;
use orpc_pubsub::{PubSub, Retention, Settings};
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_, LastEventId, ORPCError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use chunks::Chunk;
use replies::{Followed, Replies};
use upstream::{Message, Model, OpenAi};

/// The scripted model's pace: about a hosted model's.
const SCRIPTED_PACE: Duration = Duration::from_millis(50);

/// One message of the conversation, as the AI SDK's `UIMessage` has it. Other fields are ignored.
#[derive(Deserialize, JsonSchema)]
struct UiMessage {
    role: Role,
    /// The message's parts; text parts (`{"type": "text", "text": ..}`) are what the model reads,
    /// others are ignored.
    #[schemars(length(max = 1000))]
    parts: Vec<Value>,
}

#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Role {
    System,
    User,
    Assistant,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ChatInput {
    /// The chat's id, as `useChat` makes it.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    chat_id: String,
    /// The conversation so far, its last message the user's.
    #[schemars(length(min = 1, max = 500))]
    messages: Vec<UiMessage>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct ChatRef {
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_-]+$"))]
    chat_id: String,
}

#[derive(Serialize, JsonSchema)]
struct Stopped {
    /// Whether a reply was being written.
    stopped: bool,
}

/// The upstream's messages: each UI message's text parts, joined.
fn to_upstream(messages: Vec<UiMessage>) -> Vec<Message> {
    messages
        .into_iter()
        .map(|message| {
            let content = message
                .parts
                .iter()
                .filter(|part| part["type"] == "text")
                .filter_map(|part| part["text"].as_str())
                .collect::<Vec<_>>()
                .join("");
            let role = match message.role {
                Role::System => "system",
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            Message { role, content }
        })
        .collect()
}

/// Starts a reply and yields its chunks; with a `Last-Event-ID`, resumes instead.
#[procedure(output = event_iterator(Chunk))]
async fn chat(
    input: ChatInput,
    last_event_id: Option<LastEventId>,
    replies: web::Data<Replies>,
) -> Result<(), ORPCError> {
    let followed = match &last_event_id {
        Some(last) => replies.resume(&input.chat_id, Some(last.as_str())).await?,
        None => Some(
            replies
                .start(&input.chat_id, to_upstream(input.messages))
                .await?,
        ),
    };
    let Some(followed) = followed else {
        return Ok(());
    };
    let mut reader = replies.reader(&input.chat_id, followed);
    while let Some((chunk, id)) = reader.next().await {
        match id {
            Some(id) => yield_!(chunk, id = id),
            None => yield_!(chunk),
        }
    }
    Ok(())
}

/// The rest of the chat's reply after `Last-Event-ID`, or its current or last reply from the
/// start; nothing when it has none.
#[procedure(output = event_iterator(Chunk))]
async fn resume(
    input: ChatRef,
    last_event_id: Option<LastEventId>,
    replies: web::Data<Replies>,
) -> Result<(), ORPCError> {
    let last = last_event_id.as_ref().map(LastEventId::as_str);
    let Some(followed): Option<Followed> = replies.resume(&input.chat_id, last).await? else {
        return Ok(());
    };
    let mut reader = replies.reader(&input.chat_id, followed);
    while let Some((chunk, id)) = reader.next().await {
        match id {
            Some(id) => yield_!(chunk, id = id),
            None => yield_!(chunk),
        }
    }
    Ok(())
}

/// Ends the chat's reply being written, cancelling its upstream request.
#[procedure]
async fn stop(input: ChatRef, replies: web::Data<Replies>) -> Result<Stopped, ORPCError> {
    let stopped = replies.stop(&input.chat_id).await?;
    Ok(Stopped { stopped })
}

/// The page, embedded in the binary: nothing to build, nothing fetched.
fn page(cfg: &mut web::ServiceConfig) {
    common::page(
        cfg,
        include_str!("../web/ai_chat.html"),
        "/ai_chat.js",
        include_str!("../web/ai_chat.js"),
    );
}

/// The model the flags name: `--upstream URL --model NAME` (key from `OPENAI_API_KEY`), or the
/// scripted one.
fn model(flags: &std::collections::HashMap<String, String>) -> std::io::Result<Model> {
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    match (flags.get("--upstream"), flags.get("--model")) {
        (None, None) => Ok(Model::Scripted {
            pace: SCRIPTED_PACE,
        }),
        (Some(url), Some(name)) => {
            let key = std::env::var("OPENAI_API_KEY").ok();
            Ok(Model::OpenAi(
                OpenAi::new(url, name.clone(), key).map_err(invalid)?,
            ))
        }
        _ => Err(invalid("--upstream and --model go together".to_owned())),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    common::init_logs();
    let (args, flags) = common::args_with(
        "ai_chat",
        "127.0.0.1:8085",
        &[
            "--upstream URL",
            "--model NAME",
            "--redis URL",
            "--emit-typescript PATH",
        ],
    )?;
    let router = Router::new()
        .info("ai chat", "1.0.0")
        .procedure(chat)
        .procedure(resume)
        .procedure(stop);
    if let Some(path) = flags.get("--emit-typescript") {
        // The contract for a typed oRPC client: `chat` and `resume` yield the chunks' union.
        return std::fs::write(path, router.typescript());
    }
    let model = model(&flags)?;
    // Each reply is a channel of its own: it keeps every chunk of even a very long reply, for
    // ten minutes after its last. Its live ring is small (it is allocated whole, per reply): a
    // reader more than 64 chunks behind reads on from retention.
    let settings = Settings::default()
        .retention(Retention::new(replies::MAX_CHUNKS).max_age(replies::RETENTION))
        .buffer(64);
    let unreachable = |e: String| std::io::Error::other(format!("Redis: {e}"));
    let replies = match flags.get("--redis") {
        None => Replies::in_memory(PubSub::in_memory(settings), model),
        Some(url) => {
            let pubsub = PubSub::redis(url, settings)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            Replies::on_redis(pubsub, model, url)
                .await
                .map_err(unreachable)?
        }
    };
    let replies = web::Data::new(replies);
    common::serve(router, args, move |cfg| {
        cfg.app_data(replies.clone()).configure(page);
    })
    .await
}
