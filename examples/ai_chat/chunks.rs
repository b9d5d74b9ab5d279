//! The AI SDK's UI message chunks (the `ai` package 7.x, its "UI message stream protocol"): what
//! `readUIMessageStream` and `useChat` assemble into a message. Each is one event of the
//! `chat` and `resume` event iterators, serialized as the SDK reads it:
//! `{"type": "text-delta", "id": "t1", "delta": "Hel"}`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One chunk of a reply. A reply is `start`, then parts (each `*-start`, deltas, `*-end`), then
/// `finish`, or `error` when it could not be completed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum Chunk {
    /// The reply begins; `message_id` is the assistant message's id.
    Start { message_id: String },
    /// A text part begins.
    TextStart { id: String },
    /// More of a text part.
    TextDelta { id: String, delta: String },
    /// A text part is complete.
    TextEnd { id: String },
    /// A reasoning part begins (models that show their reasoning).
    ReasoningStart { id: String },
    /// More of a reasoning part.
    ReasoningDelta { id: String, delta: String },
    /// A reasoning part is complete.
    ReasoningEnd { id: String },
    /// The reply is complete.
    Finish { finish_reason: FinishReason },
    /// The reply failed; nothing follows.
    Error { error_text: String },
}

impl Chunk {
    /// Whether nothing follows this chunk in its reply.
    pub fn is_last(&self) -> bool {
        matches!(self, Chunk::Finish { .. } | Chunk::Error { .. })
    }
}

/// Why a reply finished, as the AI SDK names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FinishReason {
    /// The model ended its answer.
    Stop,
    /// The model reached its token limit.
    Length,
    /// The provider filtered the answer.
    ContentFilter,
    /// The model called tools.
    ToolCalls,
    /// The reply was ended another way: a user's Stop.
    Other,
}

impl FinishReason {
    /// The AI SDK's reason for an OpenAI `finish_reason`.
    pub fn from_openai(reason: &str) -> Self {
        match reason {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "content_filter" => FinishReason::ContentFilter,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            _ => FinishReason::Other,
        }
    }
}
