//! Turning a query string into the JSON its input schema expects.
//!
//! A query string carries text only: `?n=3&live=true` says `"3"` and `"true"`. Browsers'
//! `EventSource` can send nothing else, and oRPC's `OpenAPILink` writes numbers and booleans the
//! same way (with bracket notation for nesting: `a[b]=1`, `l[0]=x`). Like oRPC's server, this
//! reads the text as the type the schema asks for; what still does not fit is left for validation
//! to report.

use serde_json::{Map, Number, Value};

/// Parses `query` into JSON shaped by `schema`. An empty query is `null`, "no input".
pub(crate) fn query_to_json(query: &str, schema: &Value) -> Result<Value, String> {
    if query.is_empty() {
        return Ok(Value::Null);
    }
    let parsed: Map<String, Value> = serde_qs::Config::new(16, false)
        .deserialize_str(query)
        .map_err(|e| format!("The query string does not parse: {e}"))?;
    Ok(coerce(Value::Object(parsed), schema, schema, 0))
}

/// Path parameters as the fields of an object, each read as the schema's property says (`7` is
/// the number 7 when the field is one).
pub(crate) fn params_to_json(
    params: impl IntoIterator<Item = (&'static str, String)>,
    schema: &Value,
) -> Map<String, Value> {
    let fields = params
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect();
    match coerce(Value::Object(fields), schema, schema, 0) {
        Value::Object(fields) => fields,
        _ => unreachable!("coercing an object keeps it an object"),
    }
}

fn coerce(value: Value, schema: &Value, root: &Value, depth: usize) -> Value {
    let Some(schema) = resolve(schema, root) else {
        return value;
    };
    if depth > 32 {
        return value;
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = schema.get(key).and_then(Value::as_array) {
            for branch in branches {
                let coerced = coerce(value.clone(), branch, root, depth + 1);
                if coerced != value {
                    return coerced;
                }
            }
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    match value {
        Value::String(text) => scalar(text, &types),
        Value::Object(fields) if types.contains(&"array") => {
            // `l[0]=a&l[1]=b` arrives as {"0": "a", "1": "b"}.
            let mut indexed: Vec<(usize, Value)> = fields
                .into_iter()
                .filter_map(|(k, v)| k.parse().ok().map(|i| (i, v)))
                .collect();
            indexed.sort_by_key(|(i, _)| *i);
            let items = schema.get("items");
            Value::Array(
                indexed
                    .into_iter()
                    .map(|(_, v)| items.map_or(v.clone(), |s| coerce(v, s, root, depth + 1)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            let item_schema = schema.get("items");
            Value::Array(
                items
                    .into_iter()
                    .map(|v| item_schema.map_or(v.clone(), |s| coerce(v, s, root, depth + 1)))
                    .collect(),
            )
        }
        Value::Object(fields) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let others = schema.get("additionalProperties").filter(|s| s.is_object());
            let coerced: Map<String, Value> = fields
                .into_iter()
                .map(|(key, v)| {
                    let field_schema = properties.and_then(|p| p.get(&key)).or(others);
                    let v = match field_schema {
                        Some(s) => coerce(v, s, root, depth + 1),
                        None => v,
                    };
                    (key, v)
                })
                .collect();
            Value::Object(coerced)
        }
        other => other,
    }
}

/// Reads text as the first scalar type the schema allows that it parses as.
fn scalar(text: String, types: &[&str]) -> Value {
    for ty in types {
        let parsed = match *ty {
            "integer" => text
                .parse::<i64>()
                .map(Number::from)
                .or_else(|_| text.parse::<u64>().map(Number::from))
                .ok()
                .map(Value::Number),
            "number" => text
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number),
            "boolean" => match text.as_str() {
                "true" => Some(Value::Bool(true)),
                "false" => Some(Value::Bool(false)),
                _ => None,
            },
            "null" if text.is_empty() => Some(Value::Null),
            "string" => return Value::String(text),
            _ => None,
        };
        if let Some(value) = parsed {
            return value;
        }
    }
    Value::String(text)
}

/// Follows a local `$ref`.
fn resolve<'a>(schema: &'a Value, root: &'a Value) -> Option<&'a Value> {
    let mut schema = schema;
    for _ in 0..16 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => schema = root.pointer(reference.strip_prefix('#')?)?,
            None => return Some(schema),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::{schema_for, JsonSchema};
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Inner {
        b: u8,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Query {
        n: u32,
        delay_ms: Option<u64>,
        live: bool,
        name: String,
        ratio: f64,
        a: Inner,
        l: Vec<i32>,
    }

    #[test]
    fn text_becomes_what_the_schema_asks_for() {
        let schema = serde_json::to_value(schema_for!(Query)).unwrap();
        let query = "n=3&delay_ms=0&live=true&name=007&ratio=0.5&a%5Bb%5D=1&l%5B0%5D=-1&l%5B1%5D=2";
        assert_eq!(
            query_to_json(query, &schema).unwrap(),
            json!({"n": 3, "delay_ms": 0, "live": true, "name": "007", "ratio": 0.5, "a": {"b": 1}, "l": [-1, 2]})
        );
    }

    #[test]
    fn what_does_not_fit_is_left_for_validation() {
        let schema = serde_json::to_value(schema_for!(Query)).unwrap();
        assert_eq!(
            query_to_json("n=abc", &schema).unwrap(),
            json!({"n": "abc"})
        );
        assert_eq!(query_to_json("", &schema).unwrap(), Value::Null);
    }
}
