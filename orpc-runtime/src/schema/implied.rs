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
