//! Schemas: checking inputs and events against the constraints their types declare with
//! schemars, and describing procedures in an OpenAPI document.
//!
//! Rust's types already fix the shape of every event; what a schema adds are ranges, lengths,
//! patterns and formats. `implied` tells the two apart, so that a type whose schema adds nothing
//! is never checked at run time, and `SchemaCheck` compiles the validator of one that does,
//! once per procedure.

mod check;
mod coerce;
mod fast;
mod implied;
mod keywords;
mod openapi;

pub(crate) use check::SchemaCheck;
pub use check::{Issue, PathSegment};
pub(crate) use coerce::query_to_json;
pub(crate) use openapi::document;
pub use openapi::ApiInfo;

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
