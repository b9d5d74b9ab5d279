//! Schemas: checking inputs and events against the constraints their types declare with
//! schemars. (The documents that describe procedures with the same schemas are `docs/`.)
//!
//! Rust's types already fix the shape of every event; what a schema adds are ranges, lengths,
//! patterns and formats. `implied` tells the two apart, so that a type whose schema adds nothing
//! is never checked at run time, and `SchemaCheck` compiles the validator of one that does,
//! once per procedure.
//!
//! # Formats
//!
//! A string's `format` is asserted, on inputs and on events alike: a string that does not match
//! its format is a violation, as a number out of its range is. The formats checked are `date`,
//! `date-time`, `duration`, `email`, `hostname`, `ipv4`, `ipv6`, `iri`, `iri-reference`,
//! `json-pointer`, `regex`, `relative-json-pointer`, `time`, `uri`, `uri-reference`,
//! `uri-template` and `uuid`, as the `jsonschema` crate checks them under draft 2020-12; so
//! `#[schemars(email)]`, `#[schemars(url)]` (which writes `uri`), `#[schemars(ipv4)]` and
//! `#[schemars(ipv6)]` are checked. Every other format is ignored: the ones schemars writes beside
//! numbers (`int32`, `uint8`, `double`, ...) restate the Rust type, and `ip` (from
//! `#[schemars(ip)]` and `IpAddr`), `idn-email`, `idn-hostname`, `partial-time` and custom names
//! are not checked.
//!
//! An event type whose schema has a checked format anywhere (a field of type `Ipv4Addr`, or
//! `uuid::Uuid` with schemars' `uuid1` feature, counts too) is validated as each event is sent,
//! by the full validator rather than the allocation-free bounds check; a procedure's
//! `validate = false` turns event validation off.

mod check;
mod coerce;
mod fast;
mod implied;
mod keywords;

pub(crate) use check::SchemaCheck;
pub use check::{Issue, PathSegment};
pub(crate) use coerce::{params_to_json, query_to_json};
pub(crate) use keywords::holds_wide_integers;

/// The path of a serde error, in an [`Issue`]'s form.
pub(crate) fn path_of(path: &serde_path_to_error::Path) -> Vec<PathSegment> {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Seq { index } => Some(PathSegment::Index(*index)),
            Segment::Map { key } => Some(PathSegment::Key(key.clone())),
            Segment::Enum { variant } => Some(PathSegment::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}
