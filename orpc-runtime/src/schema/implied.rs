//! Which parts of a generated schema the Rust type already guarantees.
//!
//! schemars describes the type itself (object shapes, required fields, enums, integer formats
//! with their bounds) as well as constraints added with attributes (`range`, `length`, `regex`,
//! `email`, ...). A value produced by Rust code always satisfies the first kind, so checking it
//! again is wasted work. What each keyword is comes from the table in `keywords`; anything not
//! known to be implied counts as a constraint: when in doubt, validate.

use serde_json::{Map, Value};

use super::keywords::{bound_is_implied, classify, subschemas, Keyword};

/// Whether `schema` constrains values beyond what their Rust type guarantees.
pub(crate) fn adds_constraints(schema: &Value) -> bool {
    match schema {
        Value::Object(object) => object_adds_constraints(object),
        Value::Array(items) => items.iter().any(adds_constraints),
        _ => false,
    }
}

fn object_adds_constraints(object: &Map<String, Value>) -> bool {
    object
        .iter()
        .any(|(key, value)| match classify(key, value) {
            Keyword::Implied | Keyword::Reference => false,
            // A `$ref`'s target lives in the definitions, so they are looked at wherever they are.
            Keyword::Definitions | Keyword::Parts | Keyword::Branches => {
                subschemas(key, value).into_iter().any(adds_constraints)
            }
            Keyword::Bound(bound) => !bound_is_implied(object, bound, value),
            Keyword::Full => true,
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

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Numbers {
        a: u32,
        b: u64,
        c: usize,
        d: i32,
        e: isize,
        f: u128,
        g: f32,
        h: Option<u16>,
        i: Vec<i8>,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct UnknownFormats {
        #[schemars(ip)]
        ip: String,
        #[schemars(extend("format" = "not-a-format"))]
        custom: String,
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

    /// schemars writes `format: "uint32"`, `"int"`, `"double"`, ... beside every number: they
    /// restate the Rust type and must not make its events checked.
    #[test]
    fn integer_and_number_formats_add_nothing() {
        let schema = serde_json::to_value(schema_for!(Numbers)).unwrap();
        let formats: Vec<&str> = ["a", "c", "e", "g"]
            .iter()
            .map(|field| schema["properties"][field]["format"].as_str().unwrap())
            .collect();
        assert_eq!(formats, ["uint32", "uint", "int", "float"]);
        assert!(!adds_constraints(&schema));
        assert!(!constrained::<u32>());
        assert!(!constrained::<f64>());
    }

    /// A format the validator does not check (`ip` from `#[schemars(ip)]`, custom names) is an
    /// annotation, not a constraint.
    #[test]
    fn unknown_formats_add_nothing() {
        let schema = serde_json::to_value(schema_for!(UnknownFormats)).unwrap();
        assert_eq!(schema["properties"]["ip"]["format"], "ip");
        assert_eq!(schema["properties"]["custom"]["format"], "not-a-format");
        assert!(!adds_constraints(&schema));
    }
}
