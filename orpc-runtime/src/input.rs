//! A call's input, from what the transport received to the handler's typed value.
//!
//! The transport hands over a [`RawInput`]: JSON out of a body, or a query string for `GET`
//! routes, which is first coerced into JSON by the input's schema (`?n=3` is the number 3 when
//! the schema says so). The JSON is then checked against the schema, which reports every
//! violation with its path, and deserialized with serde, whose errors are reported the same way.
//! Either failure is a 400 `BAD_REQUEST` with the issues in `data.issues`, before any handler
//! runs.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::schema::{Issue, SchemaCheck};
use crate::ORPCError;

/// The input of one call, as the transport received it.
pub enum RawInput {
    /// A JSON value; `null` stands for "no input".
    Json(serde_json::Value),
    /// A URL query string, for `GET` routes.
    Query(String),
}

/// Decodes and validates an input against `check`, its type's schema.
pub(crate) fn decode_input<I: DeserializeOwned + JsonSchema>(
    raw: RawInput,
    check: &SchemaCheck<I>,
) -> Result<I, ORPCError> {
    let value = match raw {
        RawInput::Json(value) => value,
        RawInput::Query(query) => {
            crate::schema::query_to_json(&query, &check.schema).map_err(|message| {
                invalid_input(vec![Issue {
                    path: Vec::new(),
                    message,
                }])
            })?
        }
    };
    check.check_value(&value).map_err(invalid_input)?;
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = crate::schema::path_of(error.path());
        invalid_input(vec![Issue {
            path,
            message: error.into_inner().to_string(),
        }])
    })
}

fn invalid_input(issues: Vec<Issue>) -> ORPCError {
    ORPCError::bad_request("Input validation failed")
        .with_data(serde_json::json!({ "issues": issues }))
}
