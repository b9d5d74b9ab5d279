//! An AI-style chat: a canned reply streamed token by token to the page at `/`, with a Stop
//! button that cancels the stream.
//!
//!     cargo run --example ai_chat                  # then open http://127.0.0.1:8085
//!     curl -N http://127.0.0.1:8085/api/chat -H 'content-type: application/json' \
//!          -d '{"prompt": "What is an event iterator?"}'
//!     curl http://127.0.0.1:8085/api/stats
//!
//! The page posts the prompt with `fetch` and parses the SSE response as it arrives (an
//! `EventSource` cannot POST). Stop aborts that fetch: the connection closes, the server notices
//! within a second, drops the handler, and its `finally` guard logs how far the reply got.
//! Nothing is left generating tokens for nobody. `GET /api/stats` counts those cleanups, for
//! people and for tests/browser.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::{finally, procedure, yield_};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// About the pace of a hosted model.
const TOKEN_INTERVAL: Duration = Duration::from_millis(50);

#[derive(Deserialize, JsonSchema)]
struct ChatInput {
    #[schemars(length(min = 1, max = 2000))]
    prompt: String,
}

/// A piece of the reply: a word and the space after it.
#[derive(Serialize, JsonSchema)]
struct Token {
    text: String,
}

/// The `done` value, sent once the whole reply was.
#[derive(Serialize, JsonSchema)]
struct Summary {
    tokens: u32,
    elapsed_ms: u64,
}

/// How many chat streams ran their cleanup, and how many of those were cut short.
#[derive(Default)]
struct Cleanups {
    all: AtomicU64,
    cancelled: AtomicU64,
}

/// A stand-in for a model: the same answer whatever the question, but streamed like one.
fn reply_to(prompt: &str) -> String {
    let topic: String = prompt
        .split_whitespace()
        .take(8)
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "You asked: \u{201c}{topic}\u{201d}. I am a canned reply, but I travel like a real \
         one: each word is an event of an oRPC event iterator, yielded by the handler, written \
         to the socket as a server-sent event and parsed by this page as it arrives. When I am \
         done, the handler returns a summary, sent as the stream's done event. Press Stop while \
         I am talking: the browser closes the connection, the server drops the handler, and its \
         finally guard logs how many tokens I got through."
    )
}

/// Streams the reply to `prompt`, one token about every 50 ms.
#[procedure(output = event_iterator(Token, Summary))]
async fn chat(input: ChatInput, cleanups: web::Data<Cleanups>) -> Summary {
    let started = Instant::now();
    let sent = AtomicU32::new(0);
    let finished = AtomicBool::new(false);
    // Runs however the stream ends: after the last token, or when the client stops reading.
    let _cleanup = finally(|| {
        let tokens = sent.load(Ordering::SeqCst);
        let finished = finished.load(Ordering::SeqCst);
        cleanups.all.fetch_add(1, Ordering::SeqCst);
        if !finished {
            cleanups.cancelled.fetch_add(1, Ordering::SeqCst);
        }
        let how = if finished { "complete" } else { "cancelled" };
        println!("cleanup: chat stream ended after {tokens} tokens ({how})");
    });
    for word in reply_to(&input.prompt).split_inclusive(' ') {
        tokio::time::sleep(TOKEN_INTERVAL).await;
        yield_!(Token {
            text: word.to_owned()
        });
        sent.fetch_add(1, Ordering::SeqCst);
    }
    finished.store(true, Ordering::SeqCst);
    Summary {
        tokens: sent.load(Ordering::SeqCst),
        elapsed_ms: started.elapsed().as_millis() as u64,
    }
}

#[derive(Serialize, JsonSchema)]
struct Stats {
    /// Chat streams whose cleanup ran, however they ended.
    cleanups: u64,
    /// Those of them that ended before the reply was complete (Stop, a closed tab).
    cancelled: u64,
}

/// How many chat streams have ended and cleaned up.
#[procedure(method = GET)]
async fn stats(cleanups: web::Data<Cleanups>) -> Stats {
    Stats {
        cleanups: cleanups.all.load(Ordering::SeqCst),
        cancelled: cleanups.cancelled.load(Ordering::SeqCst),
    }
}

/// The page, embedded in the binary: nothing to build, nothing fetched.
fn page(cfg: &mut web::ServiceConfig) {
    common::page(
        cfg,
        include_str!("web/ai_chat.html"),
        "/ai_chat.js",
        include_str!("web/ai_chat.js"),
    );
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    common::init_logs();
    let args = common::args("ai_chat", "127.0.0.1:8085")?;
    let router = Router::new()
        .info("ai chat", "1.0.0")
        .procedure(chat)
        .procedure(stats);
    let cleanups = web::Data::new(Cleanups::default());
    common::serve(router, args, move |cfg| {
        cfg.app_data(cleanups.clone()).configure(page);
    })
    .await
}
