//! What oRPC 2's RPC protocol ([`Envelope::RpcV2`](crate::Envelope::RpcV2)) writes differently
//! from 1.x, as `@orpc/client` and `@orpc/server` 2.0.0-beta.16 do. Everything else, the
//! `{"json", "meta"}` envelope, the form with files, `id`, `retry` and comments on events, and
//! `Last-Event-ID`, is the same, and is written by the same code.
//!
//! - `meta` names its types: `["bigint", "big"]` where 1.x writes `[0, "big"]` (`TAG_NAMES`).
//! - The error object is `{"defined", "inferable", "code", "message", "data"?}`: no `status`
//!   (the HTTP status still carries it), and `inferable`, which oRPC 2 sets for the errors a
//!   client can type: the declared ones, so it equals `defined` here ([`ErrorObject`]).
//! - A stream ends with `event: close` (1.x: `event: done`), with no `data` line for a unit
//!   return; the SSE encoder writes that.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::ORPCError;

/// oRPC 2's names for the `meta` types, indexed by 1.x's number for the same type.
pub(crate) const TAG_NAMES: [&str; 8] = [
    "bigint",
    "date",
    "nan",
    "undefined",
    "url",
    "regexp",
    "set",
    "map",
];

/// The number 1.x gives the type oRPC 2 calls `name`.
pub(crate) fn tag_code(name: &str) -> Option<u8> {
    let index = TAG_NAMES.iter().position(|&known| known == name)?;
    u8::try_from(index).ok()
}

/// An [`ORPCError`] as oRPC 2 writes it, in its field order.
pub(crate) struct ErrorObject<'a>(pub(crate) &'a ORPCError);

impl Serialize for ErrorObject<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let error = self.0;
        let fields = if error.data.is_some() { 5 } else { 4 };
        let mut object = serializer.serialize_struct("ORPCError", fields)?;
        object.serialize_field("defined", &error.defined)?;
        object.serialize_field("inferable", &error.defined)?;
        object.serialize_field("code", &error.code)?;
        object.serialize_field("message", &error.message)?;
        if let Some(data) = &error.data {
            object.serialize_field("data", data)?;
        }
        object.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_tag_has_a_name_and_back() {
        for (code, name) in TAG_NAMES.iter().enumerate() {
            assert_eq!(tag_code(name), Some(code as u8));
        }
        assert_eq!(tag_code("0"), None);
        assert_eq!(tag_code("BigInt"), None);
    }

    #[test]
    fn the_error_object_has_inferable_and_no_status() {
        let declared = ORPCError::new("RATE_LIMITED")
            .with_status(429)
            .with_message("slow down")
            .with_data(json!({"retry_after": 10}))
            .with_defined(true);
        assert_eq!(
            serde_json::to_string(&ErrorObject(&declared)).unwrap(),
            r#"{"defined":true,"inferable":true,"code":"RATE_LIMITED","message":"slow down","data":{"retry_after":10}}"#
        );
        assert_eq!(
            serde_json::to_string(&ErrorObject(&ORPCError::not_found("gone"))).unwrap(),
            r#"{"defined":false,"inferable":false,"code":"NOT_FOUND","message":"gone"}"#
        );
    }
}
