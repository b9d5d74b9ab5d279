//! What each fuzz target checks, as plain functions, shared with `tests/fuzz_regressions.rs`,
//! which replays every saved crash through them on stable Rust, so a crash found once stays
//! fixed.
//!
//! `request_input` fuzzes the runtime's request decoding (its target is in `fuzz/`); `encoder`
//! and `decoder` fuzz `orpc-protocol`'s SSE encoder and decoder, and live with them in
//! `orpc-protocol/fuzz/`, whose `checks.rs` is included here.

#[path = "../../../orpc-protocol/fuzz/checks.rs"]
mod protocol;

pub use protocol::{decoder, encoder};

/// Arbitrary request bytes, as a body and as a query string: nothing may panic.
pub fn request_input(bytes: &[u8]) {
    orpc_runtime::__fuzz::request_input(bytes);
}
