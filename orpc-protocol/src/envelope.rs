//! How values travel in a body: oRPC's RPC envelope `{"json": value, "meta": [...]}` (oRPC 1.x,
//! or oRPC 2 with its own names in `meta`), or plain JSON as the OpenAPI protocol sends it.
//!
//! Every input, output, event, `done` value and error goes through one of the two. The rules, as
//! oRPC 1.x applies them:
//! - An RPC body is an object; the value is under `json`. A missing `json` is oRPC's
//!   `undefined`, read as `null`, and an empty body reads the same way. A `null` or `()` input is
//!   written as `{}`, which is what oRPC's own client sends for `undefined`.
//! - A plain body is the value itself; an empty body is `null`.
//! - The `meta` list, where oRPC's serializer marks values JSON cannot hold (`BigInt`, `Date`,
//!   `Set`, `Map`...), is not applied yet: those values are read in their JSON form (a decimal
//!   string, an ISO date string, an array), which is what a Rust type deserializes them from.
//!
//! Nothing here panics on hostile input: serde_json's recursion limit turns deeply nested JSON
//! into an ordinary error.

use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::ORPCError;

/// How values are wrapped in a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// oRPC's RPC protocol: `{"json": value}`, and `{}` for a unit return value.
    Rpc,
    /// oRPC 2's RPC protocol, as `@orpc/client` 2.0.0-beta.16 speaks it (oRPC 2 is a beta): the
    /// same envelope, with the `meta` types named (`["bigint", "big"]`), the error object
    /// `{"defined", "inferable", "code", "message", "data"?}` without `status`, and streams that
    /// end with `event: close`.
    RpcV2,
    /// Plain JSON, as the OpenAPI protocol sends it; a unit return value is `null`.
    Plain,
}

/// A body that is not what its envelope says.
#[derive(Debug)]
pub enum EnvelopeError {
    /// The body is not JSON, or its value does not deserialize as the type asked for.
    Json(serde_json::Error),
    /// An RPC body that is not a JSON object.
    NotAnObject,
    /// An RPC body whose `meta` does not fit its `json`: an unknown type, a place that does not
    /// exist, a `bigint` that is not an integer.
    Meta(String),
}

impl std::fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvelopeError::Json(error) => error.fmt(f),
            EnvelopeError::Meta(message) => f.write_str(message),
            EnvelopeError::NotAnObject => {
                f.write_str(r#"an RPC body must be an object like {"json": value}"#)
            }
        }
    }
}

impl std::error::Error for EnvelopeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EnvelopeError::Json(error) => Some(error),
            EnvelopeError::NotAnObject | EnvelopeError::Meta(_) => None,
        }
    }
}

/// The RPC envelope as read; only `json` matters. As with JavaScript's `JSON.parse`, which oRPC
/// reads bodies with, a key given twice takes its last value.
struct Rpc<T, M> {
    json: Option<T>,
    meta: Option<M>,
}

impl<'de, T: Deserialize<'de>, M: Deserialize<'de>> Deserialize<'de> for Rpc<T, M> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T, M>(std::marker::PhantomData<(T, M)>);

        impl<'de, T: Deserialize<'de>, M: Deserialize<'de>> serde::de::Visitor<'de> for Fields<T, M> {
            type Value = Rpc<T, M>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(r#"an object like {"json": value}"#)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Rpc<T, M>, A::Error> {
                let (mut json, mut meta) = (None, None);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    if key == "json" {
                        json = Some(map.next_value()?);
                    } else if key == "meta" {
                        meta = Some(map.next_value()?);
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(Rpc { json, meta })
            }
        }

        deserializer.deserialize_map(Fields(std::marker::PhantomData))
    }
}

impl Envelope {
    /// Whether this is one of the RPC protocol's envelopes, `{"json": ..}`.
    pub fn is_rpc(self) -> bool {
        self != Envelope::Plain
    }

    /// How this envelope's `meta` names its types.
    pub(crate) fn tags(self) -> crate::meta::Tags {
        match self {
            Envelope::RpcV2 => crate::meta::Tags::Names,
            Envelope::Rpc | Envelope::Plain => crate::meta::Tags::Numbers,
        }
    }

    /// Wraps an already serialized JSON value: `{"json":..}` for RPC, unchanged for plain.
    ///
    /// ```
    /// use orpc_protocol::Envelope;
    ///
    /// assert_eq!(&Envelope::Rpc.wrap(b"[1]".to_vec())[..], br#"{"json":[1]}"#);
    /// assert_eq!(&Envelope::Plain.wrap(b"[1]".to_vec())[..], b"[1]");
    /// ```
    pub fn wrap(self, json: Vec<u8>) -> Bytes {
        self.wrap_with_meta(json, None)
    }

    /// Like [`wrap`](Self::wrap), with the `meta` list of what JSON alone cannot carry (see
    /// [`to_json_with_meta`](crate::to_json_with_meta), whose numbered types oRPC 2's envelope
    /// names), which only the RPC envelopes hold.
    ///
    /// ```
    /// use orpc_protocol::Envelope;
    ///
    /// let meta = Some(br#"[[0,"id"]]"#.to_vec());
    /// let json = br#"{"id":"1"}"#.to_vec();
    /// assert_eq!(&Envelope::Rpc.wrap_with_meta(json.clone(), meta.clone())[..], br#"{"json":{"id":"1"},"meta":[[0,"id"]]}"#);
    /// assert_eq!(&Envelope::RpcV2.wrap_with_meta(json.clone(), meta.clone())[..], br#"{"json":{"id":"1"},"meta":[["bigint","id"]]}"#);
    /// assert_eq!(&Envelope::Plain.wrap_with_meta(json, meta)[..], br#"{"id":"1"}"#);
    /// ```
    pub fn wrap_with_meta(self, json: Vec<u8>, meta: Option<Vec<u8>>) -> Bytes {
        match (self, meta) {
            (Envelope::Plain, _) => json.into(),
            (_, None) => [&b"{\"json\":"[..], &json, b"}"].concat().into(),
            (_, Some(meta)) => {
                let meta = crate::meta::retag(meta, self.tags());
                [&b"{\"json\":"[..], &json, b",\"meta\":", &meta, b"}"]
                    .concat()
                    .into()
            }
        }
    }

    /// The error object as this envelope carries it in an error response or an `error` event:
    /// oRPC 1.x's object (`{"defined", "code", "status", "message", "data"?}`), under `json` for
    /// 1.x's RPC and alone for plain JSON; oRPC 2's (`{"defined", "inferable", "code", "message",
    /// "data"?}`) under `json` for its RPC.
    ///
    /// ```
    /// use orpc_protocol::{Envelope, ORPCError};
    ///
    /// let error = ORPCError::not_found("gone");
    /// assert_eq!(
    ///     &Envelope::Rpc.write_error(&error)[..],
    ///     br#"{"json":{"defined":false,"code":"NOT_FOUND","status":404,"message":"gone"}}"#
    /// );
    /// assert_eq!(
    ///     &Envelope::RpcV2.write_error(&error)[..],
    ///     br#"{"json":{"defined":false,"inferable":false,"code":"NOT_FOUND","message":"gone"}}"#
    /// );
    /// ```
    pub fn write_error(self, error: &ORPCError) -> Bytes {
        // The error's fields are strings, a bool, a number and a JSON value: nothing fails.
        let json = match self {
            Envelope::RpcV2 => serde_json::to_vec(&crate::v2::ErrorObject(error)),
            Envelope::Rpc | Envelope::Plain => serde_json::to_vec(error),
        };
        self.wrap(json.unwrap_or_default())
    }

    /// Reads a value out of a body, as a server reads an input or a client an output. An empty
    /// body, and an RPC body without `json`, read as `null`.
    ///
    /// ```
    /// use orpc_protocol::{Envelope, EnvelopeError};
    ///
    /// let n: u32 = Envelope::Rpc.read(br#"{"json":5,"meta":[]}"#).unwrap();
    /// assert_eq!(n, 5);
    /// assert_eq!(Envelope::Rpc.read::<Option<u8>>(b"{}").unwrap(), None);
    /// assert_eq!(Envelope::Plain.read::<u32>(b" 7 ").unwrap(), 7);
    /// assert!(matches!(Envelope::Rpc.read::<u32>(b"[5]"), Err(EnvelopeError::NotAnObject)));
    /// ```
    pub fn read<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, EnvelopeError> {
        let json = match body.iter().find(|b| !b.is_ascii_whitespace()) {
            None => None,
            Some(_) if self == Envelope::Plain => {
                return serde_json::from_slice(body).map_err(EnvelopeError::Json)
            }
            // serde would also read a struct from an array; an envelope is an object only.
            // One pass when there is no meta, as for a payload without bigints or dates; a
            // body with meta entries, or one that does not read as `T` (its meta may be what
            // makes it fit), is read again with the meta applied first.
            // The meta is only looked at here, as raw text, not parsed.
            Some(b'{') => match serde_json::from_slice::<Rpc<T, &RawValue>>(body) {
                Ok(rpc) if rpc.meta.is_none_or(|meta| meta.get() == "[]") => rpc.json,
                first => return read_with_meta(body, first.err(), self.tags()),
            },
            Some(_) => {
                // Say "not JSON" rather than "not an object" when it is not JSON at all.
                serde_json::from_slice::<serde::de::IgnoredAny>(body)
                    .map_err(EnvelopeError::Json)?;
                return Err(EnvelopeError::NotAnObject);
            }
        };
        match json {
            Some(value) => Ok(value),
            // `undefined` on the other side, or `null`: whatever `T` makes of a JSON null.
            None => T::deserialize(Value::Null).map_err(EnvelopeError::Json),
        }
    }

    /// Writes a request body for `input`: `{"json": input}` for RPC, and `{}` when the input is
    /// `null` or `()`, as oRPC's client sends `undefined`; plain JSON otherwise.
    ///
    /// ```
    /// use orpc_protocol::Envelope;
    ///
    /// assert_eq!(&Envelope::Rpc.write_input(&[1, 2]).unwrap()[..], br#"{"json":[1,2]}"#);
    /// assert_eq!(&Envelope::Rpc.write_input(&()).unwrap()[..], b"{}");
    /// ```
    pub fn write_input<I: Serialize + ?Sized>(self, input: &I) -> Result<Bytes, serde_json::Error> {
        const OPEN: &[u8] = b"{\"json\":";
        if self == Envelope::Plain {
            return serde_json::to_vec(input).map(Bytes::from);
        }
        let mut body = BytesMut::with_capacity(128);
        crate::meta::write_rpc(&mut body, input, self.tags())?;
        if &body[OPEN.len()..] == b"null}" {
            return Ok(Bytes::from_static(b"{}"));
        }
        Ok(body.freeze())
    }
}

/// Reads an RPC body whose `meta` must be applied before its `json` is a `T`: the JSON as a
/// value, the meta applied, then `T`. `first` is the error of the direct read, if it failed:
/// when there is no meta to apply, that error stands.
fn read_with_meta<T: DeserializeOwned>(
    body: &[u8],
    first: Option<serde_json::Error>,
    tags: crate::meta::Tags,
) -> Result<T, EnvelopeError> {
    let rpc = serde_json::from_slice::<Rpc<Value, Value>>(body).map_err(EnvelopeError::Json)?;
    match (rpc.meta, first) {
        // A `meta` that is not an array lists something wrong, which `apply` says.
        (Some(meta), _) if meta.as_array().is_none_or(|entries| !entries.is_empty()) => {
            let mut json = rpc.json.unwrap_or(Value::Null);
            crate::meta::apply(&mut json, &meta, tags).map_err(EnvelopeError::Meta)?;
            T::deserialize(json).map_err(EnvelopeError::Json)
        }
        (_, Some(error)) => Err(EnvelopeError::Json(error)),
        (_, None) => T::deserialize(rpc.json.unwrap_or(Value::Null)).map_err(EnvelopeError::Json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input<I: Serialize + ?Sized>(input: &I) -> String {
        String::from_utf8(Envelope::Rpc.write_input(input).unwrap().to_vec()).unwrap()
    }

    #[test]
    fn inputs_are_wrapped_and_unit_is_empty() {
        assert_eq!(input(&json!({"n": 3})), r#"{"json":{"n":3}}"#);
        assert_eq!(input("x"), r#"{"json":"x"}"#);
        assert_eq!(input(&()), "{}");
        assert_eq!(input(&None::<u8>), "{}");
        assert_eq!(input(&Value::Null), "{}");
        assert_eq!(input(&Some(1)), r#"{"json":1}"#);
        assert_eq!(&Envelope::Plain.write_input(&()).unwrap()[..], b"null");
    }

    #[test]
    fn values_are_read_from_json_and_undefined_is_null() {
        let rpc = Envelope::Rpc;
        assert_eq!(rpc.read::<u32>(br#"{"json":5}"#).unwrap(), 5);
        assert_eq!(rpc.read::<Value>(b"{}").unwrap(), Value::Null);
        assert_eq!(rpc.read::<Value>(b"").unwrap(), Value::Null);
        assert_eq!(rpc.read::<Value>(b" \n ").unwrap(), Value::Null);
        rpc.read::<()>(b"{}").unwrap();
        assert_eq!(rpc.read::<Option<u8>>(br#"{"json":null}"#).unwrap(), None);
        assert!(matches!(
            rpc.read::<String>(b"{}"),
            Err(EnvelopeError::Json(_))
        ));
        assert!(matches!(
            rpc.read::<Value>(b"[1]"),
            Err(EnvelopeError::NotAnObject)
        ));
        assert!(matches!(
            rpc.read::<Value>(b" 5"),
            Err(EnvelopeError::NotAnObject)
        ));
        assert!(matches!(
            rpc.read::<Value>(b"{"),
            Err(EnvelopeError::Json(_))
        ));
        assert!(matches!(
            rpc.read::<Value>(b"nope"),
            Err(EnvelopeError::Json(_))
        ));
        assert_eq!(rpc.read::<u8>(br#"{"json":1,"json":2}"#).unwrap(), 2);
        // `meta` is read as oRPC writes it, and must fit `json`.
        assert_eq!(rpc.read::<u8>(br#"{"meta":[],"json":3}"#).unwrap(), 3);
        assert_eq!(
            rpc.read::<crate::BigInt<u64>>(br#"{"json":"18446744073709551615","meta":[[0]]}"#)
                .unwrap(),
            crate::BigInt(u64::MAX)
        );
        assert!(matches!(
            rpc.read::<u8>(br#"{"meta":[[0,"x"]],"json":3}"#),
            Err(EnvelopeError::Meta(message)) if message.contains("not in `json`")
        ));
        let plain = Envelope::Plain;
        assert_eq!(plain.read::<Value>(b"").unwrap(), Value::Null);
        assert_eq!(plain.read::<Value>(b"[1]").unwrap(), json!([1]));
        assert!(matches!(
            plain.read::<Value>(b"{"),
            Err(EnvelopeError::Json(_))
        ));
    }

    #[test]
    fn meta_is_applied_before_the_value_is_read() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Row {
            tags: std::collections::BTreeMap<String, u8>,
            n: Option<u8>,
        }
        // A `Map` arrives as pairs: only its meta entry makes it the object `Row` reads.
        let row: Row = Envelope::Rpc
            .read(br#"{"json":{"tags":[["a",1]],"n":null},"meta":[[7,"tags"],[3,"n"]]}"#)
            .unwrap();
        let tags = [("a".to_owned(), 1)].into();
        assert_eq!(row, Row { tags, n: None });
        let unlisted = Envelope::Rpc.read::<Row>(br#"{"json":{"tags":[["a",1]],"n":null}}"#);
        assert!(
            matches!(unlisted, Err(EnvelopeError::Json(_))),
            "{unlisted:?}"
        );
        // Meta that names nothing is refused even when the value itself reads.
        let nowhere = Envelope::Rpc.read::<u8>(br#"{"json":1,"meta":[[0,"x"]]}"#);
        assert!(
            matches!(nowhere, Err(EnvelopeError::Meta(_))),
            "{nowhere:?}"
        );
        assert_eq!(
            Envelope::Rpc
                .read::<u8>(br#"{"meta":[],"json":1}"#)
                .unwrap(),
            1
        );
    }

    #[test]
    fn orpc_2_reads_and_writes_named_meta() {
        let v2 = Envelope::RpcV2;
        let body = br#"{"json":{"big":"18446744073709551615"},"meta":[["bigint","big"]]}"#;
        let value: std::collections::BTreeMap<String, crate::BigInt<u64>> = v2.read(body).unwrap();
        assert_eq!(value["big"], crate::BigInt(u64::MAX));
        // oRPC 2's server refuses 1.x's numbers, and 1.x's refuses names.
        let numbered = br#"{"json":{"big":"1"},"meta":[[0,"big"]]}"#;
        assert!(matches!(
            v2.read::<Value>(numbered),
            Err(EnvelopeError::Meta(_))
        ));
        assert!(matches!(
            Envelope::Rpc.read::<Value>(body),
            Err(EnvelopeError::Meta(_))
        ));
        assert_eq!(
            &v2.write_input(&[crate::BigInt(1u8)]).unwrap()[..],
            br#"{"json":["1"],"meta":[["bigint",0]]}"#
        );
        assert_eq!(&v2.write_input(&()).unwrap()[..], b"{}");
        assert!(v2.is_rpc() && Envelope::Rpc.is_rpc() && !Envelope::Plain.is_rpc());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"json\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            Envelope::Rpc.read::<Value>(deep.as_bytes()),
            Err(EnvelopeError::Json(_))
        ));
    }
}
