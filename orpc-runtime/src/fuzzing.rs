//! Entry points for the fuzz target `request_input` in `fuzz/` and its regression tests. Not a
//! public API: the crate re-exports this module as `__fuzz`, hidden from the docs.

use crate::sse::Envelope;

/// Decodes a request body and a query string as the transport does; must never panic.
pub fn request_input(bytes: &[u8]) {
    for envelope in [Envelope::Rpc, Envelope::RpcV2, Envelope::Plain] {
        let _ = crate::input::decode_body(bytes, envelope);
    }
    if let Ok(query) = std::str::from_utf8(bytes) {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "n": { "type": "integer" },
                "list": { "type": "array", "items": { "type": "number" } },
                "nested": { "type": "object", "properties": { "flag": { "type": "boolean" } } },
            },
        });
        let _ = crate::schema::query_to_json(query, &schema);
    }
}
