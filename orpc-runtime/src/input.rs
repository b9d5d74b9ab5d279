//! A call's input, from what the transport received to the handler's typed value.
//!
//! The transport hands over a [`RawInput`]: JSON out of a body, or a query string for `GET`
//! routes, which is first coerced into JSON by the input's schema (`?n=3` is the number 3 when
//! the schema says so). The JSON is then checked against the schema, which reports every
//! violation with its path, and deserialized with serde, whose errors are reported the same way.
//! Either failure is a 400 `BAD_REQUEST` with the issues in `data.issues`, before any handler
//! runs.
//!
//! A body is decoded by [`decode_body`] (JSON, in the protocol's envelope); serde_json's recursion
//! limit turns deeply nested JSON into an ordinary parse error.

use orpc_protocol::EnvelopeError;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::schema::{Issue, SchemaCheck};
use crate::sse::Envelope;
use crate::{File, ORPCError};

/// The input of one call, as the transport received it.
pub enum RawInput {
    /// A JSON value; `null` stands for "no input".
    Json(serde_json::Value),
    /// A URL query string, for `GET` routes.
    Query(String),
    /// A multipart form with files, as the transports read it.
    Form(Form),
}

/// A multipart form read by a transport: the input without its files, and each file with where
/// it goes in the input. Built by the transports; see [`File`].
pub struct Form {
    pub(crate) fields: FormFields,
    pub(crate) files: Vec<(Vec<Segment>, File)>,
}

/// What a form carries besides its files.
pub(crate) enum FormFields {
    /// oRPC's RPC form: the input's JSON, its `meta` applied.
    Json(Value),
    /// A plain form's text fields, as a query string, read as the input's schema says.
    Query(String),
}

/// A step of the path to a file within the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
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
    let query_to_json = |query: &str| {
        crate::schema::query_to_json(query, &check.schema).map_err(|message| {
            invalid_input(vec![Issue {
                path: Vec::new(),
                message,
            }])
        })
    };
    let (mut value, files, paths) = match raw {
        RawInput::Json(value) => (value, Vec::new(), Vec::new()),
        RawInput::Query(query) => (query_to_json(&query)?, Vec::new(), Vec::new()),
        RawInput::Form(form) => {
            let mut value = match form.fields {
                FormFields::Json(value) => value,
                FormFields::Query(query) => query_to_json(&query)?,
            };
            let mut files = Vec::with_capacity(form.files.len());
            let mut paths = Vec::with_capacity(form.files.len());
            for (path, file) in form.files {
                place(&mut value, &path, crate::file::placeholder(files.len())).map_err(
                    |message| {
                        ORPCError::bad_request(format!("A file does not fit the input: {message}"))
                    },
                )?;
                files.push(file);
                paths.push(path);
            }
            (value, files, paths)
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
    let (input, untaken) =
        crate::file::with_incoming(files, || serde_path_to_error::deserialize(value));
    let input = input.map_err(|error| {
        let path = crate::schema::path_of(error.path());
        invalid_input(vec![Issue {
            path,
            message: error.into_inner().to_string(),
        }])
    })?;
    if !untaken.is_empty() {
        return Err(invalid_input(
            untaken
                .into_iter()
                .map(|index| Issue {
                    path: paths[index].iter().map(Segment::to_path).collect(),
                    message: "a file was sent where the input has no file".to_owned(),
                })
                .collect(),
        ));
    }
    Ok(input)
}

impl Segment {
    fn to_path(&self) -> crate::schema::PathSegment {
        match self {
            Segment::Key(key) => crate::schema::PathSegment::Key(key.clone()),
            Segment::Index(index) => crate::schema::PathSegment::Index(*index),
        }
    }
}

/// Puts `leaf` at `path` in `value`, making the objects on the way; an array grows by one
/// element at most, so that no path makes a large one.
fn place(value: &mut Value, path: &[Segment], leaf: Value) -> Result<(), String> {
    let mut at = value;
    for segment in path {
        if at.is_null() {
            *at = match segment {
                Segment::Index(_) => Value::Array(Vec::new()),
                Segment::Key(_) => Value::Object(serde_json::Map::new()),
            };
        }
        at = match (at, segment) {
            (Value::Object(fields), Segment::Key(key)) => {
                fields.entry(key.clone()).or_insert(Value::Null)
            }
            (Value::Object(fields), Segment::Index(index)) => {
                fields.entry(index.to_string()).or_insert(Value::Null)
            }
            (Value::Array(items), Segment::Index(index)) if *index <= items.len() => {
                if *index == items.len() {
                    items.push(Value::Null);
                }
                &mut items[*index]
            }
            (_, segment) => return Err(format!("nothing to put it in at {segment:?}")),
        };
    }
    *at = leaf;
    Ok(())
}

/// The message of the 400 an input that fails its schema gets; telemetry counts the calls
/// answered with it as input validation failures.
pub(crate) const INPUT_VALIDATION_FAILED: &str = "Input validation failed";

fn invalid_input(issues: Vec<Issue>) -> ORPCError {
    ORPCError::bad_request(INPUT_VALIDATION_FAILED)
        .with_data(serde_json::json!({ "issues": issues }))
}

/// Turns a body into the procedure's input. An empty body means "no input" (`null`).
///
/// The content type is not enforced: clients such as `curl -d` label JSON as form data, and what
/// decides is whether the body parses. A body that does not gets 400 either way.
pub(crate) fn decode_body(body: &[u8], envelope: Envelope) -> Result<RawInput, ORPCError> {
    decode_json(body, envelope).map(RawInput::Json)
}

/// The JSON of a body in `envelope`, its `meta` applied; `null` for an empty body.
pub(crate) fn decode_json(body: &[u8], envelope: Envelope) -> Result<Value, ORPCError> {
    envelope.read::<Value>(body).map_err(|error| match error {
        EnvelopeError::Json(e) => {
            ORPCError::bad_request(format!("The request body is not valid JSON: {e}"))
        }
        EnvelopeError::NotAnObject => {
            ORPCError::bad_request(r#"The RPC request body must be an object like {"json": input}"#)
        }
        EnvelopeError::Meta(message) => ORPCError::bad_request(format!(
            "The request's meta does not fit its json: {message}"
        )),
    })
}
