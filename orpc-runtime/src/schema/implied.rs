//! Which parts of a generated schema the Rust type already guarantees.
//!
//! schemars describes the type itself (object shapes, required fields, enums, integer formats
//! with their bounds) as well as constraints added with attributes (`range`, `length`, `regex`,
//! `email`, ...). A value produced by Rust code always satisfies the first kind, so checking it
//! again is wasted work. Anything not known to be implied counts as a constraint: when in doubt,
//! validate.

use serde_json::{Map, Value};

/// Whether `schema` constrains values beyond what their Rust type guarantees.
pub(crate) fn adds_constraints(schema: &Value) -> bool {
    match schema {
        Value::Object(object) => object_adds_constraints(object),
        Value::Array(items) => items.iter().any(adds_constraints),
        _ => false,
    }
}

/// Keywords that only restate the type's shape, or annotate.
const SHAPE: &[&str] = &[
    "$schema",
    "$id",
    "$ref",
    "$defs",
    "definitions",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "enum",
    "const",
    "anyOf",
    "oneOf",
    "allOf",
    "nullable",
    "unevaluatedProperties",
];

fn object_adds_constraints(object: &Map<String, Value>) -> bool {
    let integer_bounds = object
        .get("format")
        .and_then(Value::as_str)
        .and_then(integer_format_bounds);
    let fixed_tuple = object
        .get("prefixItems")
        .and_then(Value::as_array)
        .map(Vec::len);
    for (key, value) in object {
        let implied = match key.as_str() {
            key if SHAPE.contains(&key) => !adds_constraints_below(key, value),
            "format" => {
                integer_bounds.is_some() || matches!(value.as_str(), Some("float" | "double"))
            }
            "minimum" => integer_bounds.is_some_and(|(min, _)| value.as_f64() == Some(min)),
            "maximum" => integer_bounds.is_some_and(|(_, max)| value.as_f64() == Some(max)),
            "minItems" | "maxItems" => {
                fixed_tuple.is_some_and(|len| value.as_u64() == Some(len as u64))
            }
            _ => false,
        };
        if !implied {
            return true;
        }
    }
    false
}

/// Whether the sub-schemas under a shape keyword add constraints.
fn adds_constraints_below(key: &str, value: &Value) -> bool {
    match key {
        "properties" | "$defs" | "definitions" => value
            .as_object()
            .is_some_and(|schemas| schemas.values().any(adds_constraints)),
        "items"
        | "prefixItems"
        | "additionalProperties"
        | "unevaluatedProperties"
        | "anyOf"
        | "oneOf"
        | "allOf" => adds_constraints(value),
        _ => false,
    }
}

/// The bounds schemars writes for an integer format.
fn integer_format_bounds(format: &str) -> Option<(f64, f64)> {
    Some(match format {
        "int8" => (i8::MIN as f64, i8::MAX as f64),
        "int16" => (i16::MIN as f64, i16::MAX as f64),
        "int32" => (i32::MIN as f64, i32::MAX as f64),
        "int64" | "int" => (i64::MIN as f64, i64::MAX as f64),
        "int128" => (i128::MIN as f64, i128::MAX as f64),
        "uint8" => (0.0, u8::MAX as f64),
        "uint16" => (0.0, u16::MAX as f64),
        "uint32" => (0.0, u32::MAX as f64),
        "uint64" | "uint" => (0.0, u64::MAX as f64),
        "uint128" => (0.0, u128::MAX as f64),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::{schema_for, JsonSchema};
    use std::collections::HashMap;

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    enum Side {
        Home,
        Away,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    #[serde(tag = "type")]
    enum Tagged {
        Goal { minute: u8 },
        End,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Plain {
        a: u8,
        b: u32,
        c: i64,
        d: f64,
        e: Option<String>,
        f: Vec<u16>,
        t: (u8, String),
        m: HashMap<String, usize>,
        side: Side,
        tagged: Tagged,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Ranged {
        #[schemars(range(min = 0, max = 100))]
        value: i64,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Nested {
        inner: Vec<Ranged>,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Email {
        #[schemars(email)]
        to: String,
    }

    fn constrained<T: JsonSchema>() -> bool {
        adds_constraints(&serde_json::to_value(schema_for!(T)).unwrap())
    }

    #[test]
    fn plain_rust_types_add_nothing() {
        assert!(!constrained::<Plain>());
        assert!(!constrained::<String>());
        assert!(!constrained::<()>());
    }

    #[test]
    fn attributes_add_constraints_at_any_depth() {
        assert!(constrained::<Ranged>());
        assert!(constrained::<Nested>());
        assert!(constrained::<Email>());
        assert!(constrained::<Vec<Ranged>>());
    }
}
