//! The router's oRPC contract as a TypeScript module, for a typed oRPC client.
//!
//! The types come from the very schemas that validate inputs and events: each named schemars
//! definition becomes an exported type alias, and each procedure an entry of `contract`, built
//! with `oc` from `@orpc/contract` (the only import): its OpenAPI method and path, its input,
//! and its output, `eventIterator(event, done)` for an event iterator. A `/` in a procedure's
//! name nests objects. Nothing is typed `any`: a schema that allows anything is `unknown`.
//! `BigInt` and `Date` fields are `bigint` and `Date`, as oRPC's RPC serializer delivers them.
//!
//! For oRPC 2 ([`Flavour::V2`], `@orpc/contract` 2.0.0-beta.16) the same types are written with
//! its builder: no `oc.route` (oRPC 2 keeps HTTP routes out of the contract), declared errors
//! without `status`, and `asyncIteratorObject(event, done)` for an event iterator.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::Route;

/// Which `@orpc/contract` the module is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    /// oRPC 1.x.
    V1,
    /// oRPC 2 (a beta).
    V2,
}

/// The contract of `routes` as a TypeScript module.
pub(crate) fn contract<'a>(
    routes: impl IntoIterator<Item = &'a Route>,
    flavour: Flavour,
) -> String {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/$defs".into();
    settings.meta_schema = None;
    let mut generator = settings.into_generator();

    let mut routes: Vec<&Route> = routes.into_iter().collect();
    routes.sort_by_key(|r| r.name);
    let mut tree = Node::default();
    for route in routes {
        let input = (route.schemas.input)(&mut generator).to_value();
        let output = (route.schemas.output)(&mut generator).to_value();
        let method = route.method.unwrap_or("POST");
        let path = crate::path::rewrite(&route.openapi_path(), |out, param| {
            out.push('{');
            out.push_str(param.name);
            out.push('}');
        });
        let mut entry = match flavour {
            Flavour::V1 => format!(
                "oc.route({{ method: {}, path: {} }})",
                quote(method),
                quote(&path)
            ),
            Flavour::V2 => "oc".to_owned(),
        };
        if !route.errors.is_empty() {
            let declared: Vec<String> = route
                .errors
                .iter()
                .map(|error| {
                    let status = match flavour {
                        Flavour::V1 => format!("status: {}, ", error.status()),
                        Flavour::V2 => String::new(),
                    };
                    let mut item = format!(
                        "{}: {{ {status}message: {}",
                        key_of(error.code),
                        quote(error.message())
                    );
                    if let Some(data) = error.data {
                        let data = data(&mut generator).to_value();
                        let _ = write!(item, ", data: type<{}>()", ts(&data, 1));
                    }
                    item.push_str(" }");
                    item
                })
                .collect();
            let _ = write!(entry, ".errors({{ {} }})", declared.join(", "));
        }
        let input = if accepts_nothing(&input) {
            "void".to_owned()
        } else {
            ts(&input, 1)
        };
        let _ = write!(entry, ".input(type<{input}>())");
        match route.schemas.done {
            None => {
                let _ = write!(entry, ".output(type<{}>())", ts(&output, 1));
            }
            Some(done) => {
                let done = done(&mut generator).to_value();
                let done = if accepts_nothing(&done) {
                    "void".to_owned()
                } else {
                    ts(&done, 1)
                };
                let iterator = match flavour {
                    Flavour::V1 => "eventIterator",
                    Flavour::V2 => "asyncIteratorObject",
                };
                let _ = write!(
                    entry,
                    ".output({iterator}(type<{}>(), type<{done}>()))",
                    ts(&output, 1)
                );
            }
        }
        tree.insert(route.name.split('/'), entry);
    }

    let mut out = String::from(match flavour {
        Flavour::V1 => {
            "// The oRPC contract of an orpc-rs router, generated from its schemas. Do not edit: \
             generate it again.\n\nimport { eventIterator, oc, type } from '@orpc/contract'\n"
        }
        Flavour::V2 => {
            "// The oRPC 2 contract of an orpc-rs router, generated from its schemas. Do not \
             edit: generate it again.\n\nimport { asyncIteratorObject, oc, type } from \
             '@orpc/contract'\n"
        }
    });
    for (name, schema) in generator.take_definitions(true) {
        out.push('\n');
        if let Some(description) = schema.get("description").and_then(Value::as_str) {
            doc(&mut out, description, 0);
        }
        let _ = writeln!(out, "export type {} = {}", ident(&name), ts(&schema, 0));
    }
    out.push_str("\nexport const contract = ");
    tree.write(&mut out, 0);
    out.push('\n');
    out
}

/// The procedures by the segments of their names.
#[derive(Default)]
struct Node {
    entry: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert<'a>(&mut self, mut segments: impl Iterator<Item = &'a str>, entry: String) {
        match segments.next() {
            None => self.entry = Some(entry),
            Some(segment) => self
                .children
                .entry(segment.to_owned())
                .or_default()
                .insert(segments, entry),
        }
    }

    fn write(&self, out: &mut String, depth: usize) {
        if let (Some(entry), true) = (&self.entry, self.children.is_empty()) {
            out.push_str(entry);
            return;
        }
        // A name that is both a procedure and a prefix of others keeps the procedure: oRPC's
        // router cannot hold both under one key.
        out.push_str("{\n");
        for (key, child) in &self.children {
            out.push_str(&"  ".repeat(depth + 1));
            out.push_str(&key_of(key));
            out.push_str(": ");
            child.write(out, depth + 1);
            out.push_str(",\n");
        }
        out.push_str(&"  ".repeat(depth));
        out.push('}');
    }
}

/// Whether a schema admits only `null`: a procedure without input, or a unit value.
fn accepts_nothing(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// The TypeScript type for `schema`, indented for `depth` levels of nesting.
fn ts(schema: &Value, depth: usize) -> String {
    let Some(object) = schema.as_object() else {
        return match schema {
            Value::Bool(false) => "never".into(),
            _ => "unknown".into(),
        };
    };
    // What travels as oRPC's `bigint` and `Date` (`orpc_protocol::BigInt` and `Date`).
    match object.get("x-orpc-type").and_then(Value::as_str) {
        Some("bigint") => return "bigint".into(),
        Some("date") => return "Date".into(),
        _ => {}
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return ident(name);
    }
    if let Some(constant) = object.get("const") {
        return literal(constant);
    }
    if let Some(values) = object.get("enum").and_then(Value::as_array) {
        return union(values.iter().map(literal).collect());
    }
    let mut parts = Vec::new();
    if let Some(own) = own_type(object, depth) {
        parts.push(own);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = object.get(key).and_then(Value::as_array) {
            parts.push(union(branches.iter().map(|b| ts(b, depth)).collect()));
        }
    }
    if let Some(all) = object.get("allOf").and_then(Value::as_array) {
        parts.extend(all.iter().map(|s| ts(s, depth)));
    }
    match parts.len() {
        0 => "unknown".into(),
        1 => parts.pop().unwrap_or_default(),
        _ => parts.into_iter().map(group).collect::<Vec<_>>().join(" & "),
    }
}

/// The type its `type` keyword (and the keywords that go with it) describes, if any.
fn own_type(object: &Map<String, Value>, depth: usize) -> Option<String> {
    let types: Vec<&str> = match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if object.contains_key("properties") => vec!["object"],
        _ => return None,
    };
    let types = types
        .into_iter()
        .map(|t| match t {
            // A `File`, which oRPC's clients send and receive as one.
            "string" if object.get("format").and_then(Value::as_str) == Some("binary") => {
                "File".to_owned()
            }
            "string" => "string".to_owned(),
            "integer" | "number" => "number".to_owned(),
            "boolean" => "boolean".to_owned(),
            "null" => "null".to_owned(),
            "array" => array(object, depth),
            "object" => object_type(object, depth),
            _ => "unknown".to_owned(),
        })
        .collect();
    Some(union(types))
}

fn array(object: &Map<String, Value>, depth: usize) -> String {
    if let Some(prefix) = object.get("prefixItems").and_then(Value::as_array) {
        let items: Vec<String> = prefix.iter().map(|s| ts(s, depth)).collect();
        return format!("[{}]", items.join(", "));
    }
    match object.get("items") {
        Some(items) => format!("{}[]", group(ts(items, depth))),
        None => "unknown[]".into(),
    }
}

fn object_type(object: &Map<String, Value>, depth: usize) -> String {
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = object.get("properties").and_then(Value::as_object);
    let others = object.get("additionalProperties");
    let mut lines = Vec::new();
    for (name, schema) in properties.into_iter().flatten() {
        let mut line = String::new();
        if let Some(description) = schema.get("description").and_then(Value::as_str) {
            doc(&mut line, description, depth + 1);
        }
        let optional = if required.contains(&name.as_str()) {
            ""
        } else {
            "?"
        };
        let _ = write!(
            line,
            "{}{}{optional}: {}",
            "  ".repeat(depth + 1),
            key_of(name),
            ts(schema, depth + 1)
        );
        lines.push(line);
    }
    match others {
        Some(Value::Bool(false)) => {}
        Some(schema) if schema.is_object() => lines.push(format!(
            "{}[key: string]: {}",
            "  ".repeat(depth + 1),
            ts(schema, depth + 1)
        )),
        _ if properties.is_none() => {
            lines.push(format!("{}[key: string]: unknown", "  ".repeat(depth + 1)))
        }
        _ => {}
    }
    if lines.is_empty() {
        return "Record<string, never>".into();
    }
    format!("{{\n{}\n{}}}", lines.join("\n"), "  ".repeat(depth))
}

/// A JSON value as a TypeScript literal type.
fn literal(value: &Value) -> String {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null => value.to_string(),
        _ => "unknown".into(),
    }
}

fn union(mut members: Vec<String>) -> String {
    members.dedup();
    match members.len() {
        0 => "never".into(),
        _ => members.join(" | "),
    }
}

/// `ty` in parentheses when it is a union or an intersection, so that `[]` or `&` binds to all
/// of it.
fn group(ty: String) -> String {
    // Only a `|` or `&` outside every bracket and string joins the whole type.
    let (mut depth, mut quoted, mut escaped, mut joined) = (0usize, false, false, false);
    let bytes = ty.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b'{' | b'[' | b'(' | b'<' => depth += 1,
            b'}' | b']' | b')' | b'>' => depth = depth.saturating_sub(1),
            b'|' | b'&' if depth == 0 && i > 0 && bytes[i - 1] == b' ' => joined = true,
            _ => {}
        }
    }
    if joined {
        format!("({ty})")
    } else {
        ty
    }
}

/// `text` as a single-quoted TypeScript string.
fn quote(text: &str) -> String {
    let json = Value::String(text.to_owned()).to_string();
    let inner = json[1..json.len() - 1]
        .replace("\\\"", "\"")
        .replace('\'', "\\'");
    format!("'{inner}'")
}

/// A property or contract key: bare when it is an identifier, quoted otherwise.
fn key_of(name: &str) -> String {
    if is_ident(name) {
        name.to_owned()
    } else {
        Value::String(name.to_owned()).to_string()
    }
}

fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// A definition's name as a TypeScript identifier (schemars names generic instances with
/// characters an identifier cannot hold).
fn ident(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A doc comment, `*/` kept from ending it early.
fn doc(out: &mut String, text: &str, depth: usize) {
    let pad = "  ".repeat(depth);
    let text = text.replace("*/", "*\\/");
    if !text.contains('\n') {
        let _ = writeln!(out, "{pad}/** {text} */");
        return;
    }
    let _ = writeln!(out, "{pad}/**");
    for line in text.lines() {
        let _ = writeln!(out, "{pad} * {line}");
    }
    let _ = writeln!(out, "{pad} */");
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn only_a_top_level_union_or_intersection_is_grouped() {
        assert_eq!(group("string | null".into()), "(string | null)");
        assert_eq!(
            group("{\n  a: string | null\n}".into()),
            "{\n  a: string | null\n}"
        );
        assert_eq!(group("{ a: 1 } | { b: 2 }".into()), "({ a: 1 } | { b: 2 })");
        assert_eq!(group("\"a | b\"".into()), "\"a | b\"");
        assert_eq!(group("A & B".into()), "(A & B)");
        assert_eq!(group("number[]".into()), "number[]");
    }
}
