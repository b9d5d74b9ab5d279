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

/// The parameters of an OpenAPI route's path, by name, as the request matched them.
pub(crate) type PathParams = Vec<(&'static str, String)>;

/// Decodes and validates an input against `check`, its type's schema. Path parameters fill the
/// input object's fields of their names (over the body's or the query's), coerced by the schema
/// as a query string is, before the whole input is checked.
pub(crate) fn decode_input<I: DeserializeOwned + JsonSchema>(
    raw: RawInput,
    params: PathParams,
    check: &SchemaCheck<I>,
) -> Result<I, ORPCError> {
    let mut value = match raw {
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
    if !params.is_empty() {
        let params = crate::schema::params_to_json(params, &check.schema);
        match &mut value {
            serde_json::Value::Null => value = serde_json::Value::Object(params),
            serde_json::Value::Object(fields) => fields.extend(params),
            _ => {
                return Err(invalid_input(vec![Issue {
                    path: Vec::new(),
                    message: "The input must be an object, since the path has parameters"
                        .to_owned(),
                }]))
            }
        }
    }
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
