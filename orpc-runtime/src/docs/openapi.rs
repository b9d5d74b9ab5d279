//! The OpenAPI 3.1 document of a router's OpenAPI protocol.
//!
//! One operation per procedure, at the method and path it is served with. Inputs are a JSON
//! request body, or query parameters for `GET` routes; the fields a path parameter fills are
//! path parameters instead; an input holding a file is `multipart/form-data`. Plain outputs are
//! `application/json` (a file returned alone, `application/octet-stream`);
//! event iterators are `text/event-stream`, described as oRPC describes them: a `oneOf` of the
//! three frames a stream can carry, `message` (the event, with optional `id` and `retry`),
//! `done` (the return value) and `error` (the error object). Named types go to
//! `components/schemas`, shared by every operation.

use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use crate::{ORPCError, Route};

/// The document's `info`: the API's title and version.
#[derive(Debug, Clone)]
pub(crate) struct ApiInfo {
    /// The API's name.
    pub(crate) title: String,
    /// The API's version (not the OpenAPI version).
    pub(crate) version: String,
}

impl Default for ApiInfo {
    fn default() -> Self {
        ApiInfo {
            title: "oRPC API".into(),
            version: "0.1.0".into(),
        }
    }
}

/// Builds the document for `routes`, served under `server_url` (such as `/api`).
pub(crate) fn document<'a>(
    routes: impl IntoIterator<Item = &'a Route>,
    info: &ApiInfo,
    server_url: &str,
) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    let error_schema = generator.subschema_for::<ORPCError>();

    let mut routes: Vec<&Route> = routes.into_iter().collect();
    routes.sort_by_key(|r| r.name);
    let mut paths = Map::new();
    for route in routes {
        let method = route.method.unwrap_or("POST").to_ascii_lowercase();
        let path = template(&route.openapi_path());
        let operation = operation(route, &method, &mut generator, &error_schema);
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method] = operation;
    }
    let schemas = generator.take_definitions(true);
    json!({
        "openapi": "3.1.1",
        "info": { "title": info.title, "version": info.version },
        "servers": [{ "url": if server_url.is_empty() { "/" } else { server_url } }],
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

fn operation(
    route: &Route,
    method: &str,
    generator: &mut SchemaGenerator,
    error_schema: &Schema,
) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), route.name.replace('/', "_").into());
    if let Some(summary) = route.docs.summary {
        op.insert("summary".into(), summary.into());
    }
    if let Some(description) = route.docs.description {
        op.insert("description".into(), description.into());
    }
    if !route.docs.tags.is_empty() {
        op.insert("tags".into(), route.docs.tags.into());
    }

    let mut input = (route.schemas.input)(generator).to_value();
    let mut parameters = Vec::new();
    let mut all_in_path = false;
    if !route.params.is_empty() {
        // The fields the path fills are path parameters, and not in the query or the body.
        let mut resolved = resolve(&input, generator);
        for name in &route.params {
            let schema = resolved
                .pointer(&format!("/properties/{name}"))
                .cloned()
                .unwrap_or_else(|| json!({ "type": "string" }));
            parameters
                .push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
            if let Some(properties) = resolved
                .get_mut("properties")
                .and_then(Value::as_object_mut)
            {
                properties.remove(*name);
            }
            if let Some(required) = resolved.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|r| r != name);
            }
        }
        all_in_path = resolved
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(Map::is_empty);
        input = resolved;
    }
    if !accepts_nothing(&input) && !all_in_path {
        if method == "get" {
            parameters.extend(query_parameters(&input, generator));
        } else {
            // An input with a file is sent as a form, a file being a part of it.
            let media = if holds_file(&input, generator, 0) {
                "multipart/form-data"
            } else {
                "application/json"
            };
            op.insert(
                "requestBody".into(),
                json!({ "required": !accepts_null(&input, generator), "content": { media: { "schema": input } } }),
            );
        }
    }
    if !parameters.is_empty() {
        op.insert("parameters".into(), parameters.into());
    }

    let output = (route.schemas.output)(generator).to_value();
    let success = match route.schemas.done {
        // A file returned alone is the body itself.
        None if is_file(&output) => json!({
            "description": "The procedure's output: a file, as the body.",
            "content": { "application/octet-stream": { "schema": output } },
        }),
        None => json!({
            "description": "The procedure's output.",
            "content": { "application/json": { "schema": output } },
        }),
        Some(done) => {
            let done = done(generator).to_value();
            json!({
                "description": "An event iterator: server-sent events, each a `message`, then a final `done` or `error`.",
                "content": { "text/event-stream": { "schema": { "oneOf": [
                    frame("message", output, true),
                    frame("done", done, false),
                    frame("error", error_schema.clone().to_value(), false),
                ] } } },
            })
        }
    };
    let mut responses = json!({
        "200": success,
        "default": {
            "description": "An error, before any event: the HTTP status is the error's.",
            "content": { "application/json": { "schema": error_schema } },
        },
    });
    // Declared errors, by status: each one's exact code and status, and its data's schema.
    let mut declared: std::collections::BTreeMap<u16, Vec<Value>> = Default::default();
    for error in route.errors {
        let mut properties = json!({
            "defined": { "const": true },
            "code": { "const": error.code },
            "status": { "const": error.status() },
            "message": { "type": "string" },
        });
        let mut required = vec!["defined", "code", "status", "message"];
        if let Some(data) = error.data {
            properties["data"] = data(generator).to_value();
            required.push("data");
        }
        declared
            .entry(error.status())
            .or_default()
            .push(json!({ "type": "object", "properties": properties, "required": required }));
    }
    for (status, mut schemas) in declared {
        let codes: Vec<&str> = schemas
            .iter()
            .filter_map(|s| s["properties"]["code"]["const"].as_str())
            .collect();
        let description = format!("A declared error: {}.", codes.join(", "));
        let schema = if schemas.len() == 1 {
            schemas.remove(0)
        } else {
            json!({ "oneOf": schemas })
        };
        responses[status.to_string()] = json!({
            "description": description,
            "content": { "application/json": { "schema": schema } },
        });
    }
    op.insert("responses".into(), responses);
    Value::Object(op)
}

/// One SSE frame: its event name, its data, and for messages the optional `id` and `retry`.
fn frame(event: &str, data: Value, meta: bool) -> Value {
    let mut properties = json!({ "event": { "const": event }, "data": data });
    if meta {
        properties["id"] = json!({ "type": "string" });
        properties["retry"] = json!({ "type": "integer", "minimum": 0 });
    }
    json!({ "type": "object", "properties": properties, "required": ["event", "data"] })
}

/// An actix-web path pattern as an OpenAPI path template: `/rooms/{room:\\d+}` is
/// `/rooms/{room}`.
fn template(path: &str) -> String {
    crate::path::rewrite(path, |out, param| {
        out.push('{');
        out.push_str(param.name);
        out.push('}');
    })
}

/// Each property of an object input as a query parameter.
fn query_parameters(input: &Value, generator: &SchemaGenerator) -> Vec<Value> {
    let resolved = resolve(input, generator);
    let required: Vec<&str> = resolved
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = resolved.get("properties").and_then(Value::as_object) else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let nested = matches!(resolve(schema, generator).get("type"), Some(Value::String(t)) if t == "object" || t == "array");
            let mut parameter = json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if nested {
                parameter["style"] = "deepObject".into();
                parameter["explode"] = true.into();
            }
            parameter
        })
        .collect()
}

/// The schema behind a `$ref` to `components/schemas`.
fn resolve(schema: &Value, generator: &SchemaGenerator) -> Value {
    match schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        Some(name) => generator
            .definitions()
            .get(name)
            .cloned()
            .unwrap_or(Value::Null),
        None => schema.clone(),
    }
}

/// A file's schema (see [`File`](crate::File)).
fn is_file(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("string")
        && schema.get("format").and_then(Value::as_str) == Some("binary")
}

/// Whether `schema` holds a file anywhere, its references followed to a bounded depth.
fn holds_file(schema: &Value, generator: &SchemaGenerator, depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    match schema {
        Value::Object(fields) if fields.contains_key("$ref") => {
            holds_file(&resolve(schema, generator), generator, depth + 1)
        }
        Value::Object(fields) => {
            is_file(schema) || fields.values().any(|v| holds_file(v, generator, depth + 1))
        }
        Value::Array(items) => items.iter().any(|v| holds_file(v, generator, depth + 1)),
        _ => false,
    }
}

/// The unit type: a procedure that takes no input.
fn accepts_nothing(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn accepts_null(schema: &Value, generator: &SchemaGenerator) -> bool {
    match resolve(schema, generator).get("type") {
        Some(Value::String(t)) => t == "null",
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "null"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn actix_web_patterns_become_openapi_templates() {
        assert_eq!(template("/count"), "/count");
        assert_eq!(template("/rooms/{room}/ticks"), "/rooms/{room}/ticks");
        assert_eq!(template("/a/{x:\\d+}/{ y }/b"), "/a/{x}/{y}/b");
    }
}
