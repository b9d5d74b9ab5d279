//! The one table of JSON Schema keywords: for each, what checking a value against it takes.
//!
//! schemars writes two kinds of keyword: ones that restate the Rust type (its shape, its integer
//! formats and their ranges) and ones that attributes add (`range`, `length`, `regex`, ...).
//! [`classify`] puts every keyword in one [`Keyword`] kind, and both run-time decisions read it:
//! whether a type's events need checking at all (`implied`) and whether the allocation-free
//! serializer-side check can do it (`fast`). The guarantees: a keyword the table does not know
//! needs the full validator (when in doubt, validate), and a keyword is called implied only when
//! every value of a Rust type whose schema schemars wrote satisfies it. The full validator is
//! built here too ([`validator_for`]), so that the formats it asserts are exactly the ones the
//! table sends to it ([`ASSERTED_FORMATS`]); every other format is an annotation to both.

use serde_json::{Map, Value};

/// What checking one keyword takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    /// Annotates, or restates what the Rust type guarantees: nothing to check.
    Implied,
    /// Holds schemas that apply only where a `$ref` points at them: `$defs`, `definitions`.
    Definitions,
    /// A reference to another schema: `$ref`.
    Reference,
    /// Holds sub-schemas that apply to parts of the value (`properties`, `items`, ...): the
    /// keyword restates the shape, its sub-schemas may constrain, and the fast path follows them.
    Parts,
    /// Holds sub-schemas that the whole value is matched against (`anyOf`, `oneOf`, `allOf`,
    /// `unevaluatedProperties`): the keyword restates the shape, its sub-schemas may constrain,
    /// and only the full validator follows them.
    Branches,
    /// A numeric, length or count bound, which the fast path checks. Whether the type implies it
    /// depends on its neighbours; see [`bound_is_implied`].
    Bound(Bound),
    /// Only the full validator checks it: patterns, asserted formats, `multipleOf`, and
    /// everything not in this table.
    Full,
}

/// The bounds the fast path checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    Minimum,
    Maximum,
    ExclusiveMinimum,
    ExclusiveMaximum,
    MinLength,
    MaxLength,
    MinItems,
    MaxItems,
}

/// What checking `key`, with `value`, takes. The value matters for `format` only.
pub(crate) fn classify(key: &str, value: &Value) -> Keyword {
    match key {
        // Annotations.
        "$schema" | "$id" | "$comment" | "title" | "description" | "default" | "examples"
        | "deprecated" | "readOnly" | "writeOnly" => Keyword::Implied,
        // The shape, which the Rust type fixes.
        "type" | "required" | "enum" | "const" | "nullable" => Keyword::Implied,
        "format" => match value.as_str() {
            Some(format) if ASSERTED_FORMATS.contains(&format) => Keyword::Full,
            // schemars' integer and number formats (`uint32`, `double`, ...), which the Rust
            // type implies, and names the validator does not know, which it ignores.
            Some(_) => Keyword::Implied,
            None => Keyword::Full,
        },
        "$defs" | "definitions" => Keyword::Definitions,
        "$ref" => Keyword::Reference,
        "properties" | "additionalProperties" | "items" | "prefixItems" => Keyword::Parts,
        "anyOf" | "oneOf" | "allOf" | "unevaluatedProperties" => Keyword::Branches,
        "minimum" => Keyword::Bound(Bound::Minimum),
        "maximum" => Keyword::Bound(Bound::Maximum),
        "exclusiveMinimum" => Keyword::Bound(Bound::ExclusiveMinimum),
        "exclusiveMaximum" => Keyword::Bound(Bound::ExclusiveMaximum),
        "minLength" => Keyword::Bound(Bound::MinLength),
        "maxLength" => Keyword::Bound(Bound::MaxLength),
        "minItems" => Keyword::Bound(Bound::MinItems),
        "maxItems" => Keyword::Bound(Bound::MaxItems),
        _ => Keyword::Full,
    }
}

/// The sub-schemas a keyword holds: the values of a map of named schemas, the items of a list,
/// or the value itself. Nothing for a keyword that holds none.
pub(crate) fn subschemas<'a>(key: &str, value: &'a Value) -> Vec<&'a Value> {
    match (key, value) {
        ("properties" | "$defs" | "definitions", Value::Object(schemas)) => {
            schemas.values().collect()
        }
        ("prefixItems" | "anyOf" | "oneOf" | "allOf", Value::Array(schemas)) => {
            schemas.iter().collect()
        }
        ("items" | "additionalProperties" | "unevaluatedProperties", schema) => vec![schema],
        _ => Vec::new(),
    }
}

/// Whether a bound only restates the type, given the rest of its schema `object`: the range
/// schemars writes beside an integer format, or the item count of a fixed-length tuple.
pub(crate) fn bound_is_implied(object: &Map<String, Value>, bound: Bound, value: &Value) -> bool {
    let integer_bounds = object
        .get("format")
        .and_then(Value::as_str)
        .and_then(integer_format_bounds);
    let tuple_length = object
        .get("prefixItems")
        .and_then(Value::as_array)
        .map(|items| items.len() as u64);
    match bound {
        Bound::Minimum => integer_bounds.is_some_and(|(min, _)| value.as_f64() == Some(min)),
        Bound::Maximum => integer_bounds.is_some_and(|(_, max)| value.as_f64() == Some(max)),
        Bound::MinItems | Bound::MaxItems => {
            tuple_length.is_some_and(|len| value.as_u64() == Some(len))
        }
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

/// Whether a value of `schema` can hold an integer that a JavaScript number would round: an
/// `integer` anywhere in it, its definitions included, whose format is wider than 2^53 − 1
/// (`int64`, `uint64`, `int`, `uint`, `int128`, `uint128`, as schemars writes them) or that has
/// no format to say how wide it is. Only the payloads of such types are scanned as they are sent.
pub(crate) fn holds_wide_integers(schema: &Value) -> bool {
    const SAFE: f64 = orpc_protocol::MAX_SAFE_INTEGER as f64;
    match schema {
        Value::Object(object) => {
            let integer = match object.get("type") {
                Some(Value::String(kind)) => kind == "integer",
                Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "integer"),
                _ => false,
            };
            let wide = integer
                && match object.get("format").and_then(Value::as_str) {
                    None => true,
                    Some(format) => integer_format_bounds(format)
                        .is_none_or(|(min, max)| min < -SAFE || max > SAFE),
                };
            wide || object.values().any(holds_wide_integers)
        }
        Value::Array(items) => items.iter().any(holds_wide_integers),
        _ => false,
    }
}

/// The formats the full validator asserts: a string with one of these formats that does not
/// match it is a violation. They are the formats the `jsonschema` crate checks under draft
/// 2020-12 (the draft schemars writes) without its optional features; `idn-email` and
/// `idn-hostname` would need its `idna` feature. Every other format is an annotation.
pub(crate) const ASSERTED_FORMATS: &[&str] = &[
    "date",
    "date-time",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "iri",
    "iri-reference",
    "json-pointer",
    "regex",
    "relative-json-pointer",
    "time",
    "uri",
    "uri-reference",
    "uri-template",
    "uuid",
];

/// Compiles `schema` into the full validator. Draft 2020-12 only annotates with `format` unless
/// told otherwise; this one asserts [`ASSERTED_FORMATS`] and ignores formats it does not know.
pub(crate) fn validator_for(
    schema: &Value,
) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
    jsonschema::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(true)
        .build(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wide_integers_are_found_wherever_the_schema_holds_them() {
        use schemars::{schema_for, JsonSchema};
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Narrow {
            a: u32,
            b: i32,
            c: Vec<u8>,
            d: f64,
            e: String,
            big: orpc_protocol::BigInt<u64>,
        }
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        enum Wide {
            Row { rows: Vec<Option<Inner>> },
            Nothing,
        }
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Inner {
            id: i64,
        }
        let wide =
            |schema: schemars::Schema| holds_wide_integers(&serde_json::to_value(schema).unwrap());
        assert!(!wide(schema_for!(Narrow)));
        assert!(!wide(schema_for!(())));
        assert!(wide(schema_for!(Wide)));
        assert!(wide(schema_for!(u64)));
        assert!(wide(schema_for!(Option<usize>)));
        assert!(wide(schema_for!(std::collections::HashMap<String, i128>)));
        assert!(wide(
            schemars::json_schema!({ "type": ["integer", "null"] })
        ));
    }

    #[test]
    fn keywords_not_in_the_table_need_the_full_validator() {
        for key in [
            "pattern",
            "multipleOf",
            "uniqueItems",
            "not",
            "if",
            "x-custom",
        ] {
            assert_eq!(classify(key, &json!(1)), Keyword::Full, "{key}");
        }
        assert_eq!(
            classify("minLength", &json!(1)),
            Keyword::Bound(Bound::MinLength)
        );
        assert_eq!(classify("properties", &json!({})), Keyword::Parts);
        assert_eq!(classify("anyOf", &json!([])), Keyword::Branches);
    }

    /// The table and the validator agree on every format name: asserted ones are the ones the
    /// validator knows, and a name it does not know is ignored. This fails when a `jsonschema`
    /// upgrade or a feature changes what it checks.
    #[test]
    fn the_asserted_formats_are_the_ones_the_validator_checks() {
        let options = jsonschema::options().should_validate_formats(true);
        let schemars_formats = [
            "int8",
            "int16",
            "int32",
            "int64",
            "int128",
            "int",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "uint128",
            "uint",
            "float",
            "double",
            "ip",
            "partial-time",
            "partial-date-time",
            "zoned-date-time",
            "idn-email",
            "idn-hostname",
            "not-a-format",
        ];
        for format in ASSERTED_FORMATS.iter().chain(&schemars_formats) {
            let asserted = ASSERTED_FORMATS.contains(format);
            assert_eq!(
                options.is_known_format(jsonschema::Draft::Draft202012, format),
                asserted,
                "{format}"
            );
            let expected = if asserted {
                Keyword::Full
            } else {
                Keyword::Implied
            };
            assert_eq!(classify("format", &json!(format)), expected, "{format}");
        }
    }

    /// Each asserted format turns down a string that does not match it, and takes one that does.
    #[test]
    fn each_asserted_format_is_checked() {
        let cases = [
            ("date", "2024-02-29", "2024-02-30"),
            ("date-time", "2024-01-01T12:00:00Z", "2024-01-01 12:00"),
            ("duration", "P1DT2H", "1 day"),
            ("email", "ada@example.com", "not-an-email"),
            ("hostname", "example.com", "-bad-.com"),
            ("ipv4", "192.0.2.1", "192.0.2.256"),
            ("ipv6", "2001:db8::1", "2001:db8:::1"),
            ("iri", "https://example.com/ä", "no scheme"),
            ("iri-reference", "/ä?x=1", "\\bad"),
            ("json-pointer", "/a/0", "a/0"),
            ("regex", "^a+$", "(unclosed"),
            ("relative-json-pointer", "1/a", "/a"),
            ("time", "12:00:00Z", "12:00"),
            ("uri", "https://example.com/a", "no scheme"),
            ("uri-reference", "/a?x=1", "\\bad"),
            ("uri-template", "/users/{id}", "/users/{id"),
            (
                "uuid",
                "67e55044-10b1-426f-9247-bb680e5fe0c8",
                "67e5504410b1426f",
            ),
        ];
        let names: Vec<&str> = cases.iter().map(|(format, _, _)| *format).collect();
        assert_eq!(names, ASSERTED_FORMATS);
        for (format, good, bad) in cases {
            let validator = validator_for(&json!({ "type": "string", "format": format })).unwrap();
            assert!(validator.is_valid(&json!(good)), "{format}: {good}");
            assert!(!validator.is_valid(&json!(bad)), "{format}: {bad}");
        }
    }

    #[test]
    fn unknown_formats_are_ignored_and_apply_to_strings_only() {
        let unknown = validator_for(&json!({ "type": "string", "format": "not-a-format" }));
        assert!(unknown.unwrap().is_valid(&json!("anything")));
        let integer = validator_for(&json!({ "type": "integer", "format": "uint32" })).unwrap();
        assert!(integer.is_valid(&json!(7)));
        let untyped = validator_for(&json!({ "format": "email" })).unwrap();
        assert!(untyped.is_valid(&json!(7)));
        assert!(!untyped.is_valid(&json!("not-an-email")));
    }

    #[test]
    fn only_the_ranges_schemars_writes_for_a_type_are_implied() {
        let u8_schema = serde_json::to_value(schemars::schema_for!(u8)).unwrap();
        let u8_schema = u8_schema.as_object().unwrap();
        assert!(bound_is_implied(u8_schema, Bound::Minimum, &json!(0)));
        assert!(bound_is_implied(u8_schema, Bound::Maximum, &json!(255)));
        assert!(!bound_is_implied(u8_schema, Bound::Minimum, &json!(1)));
        assert!(!bound_is_implied(u8_schema, Bound::Maximum, &json!(100)));
        assert!(!bound_is_implied(
            u8_schema,
            Bound::ExclusiveMinimum,
            &json!(0)
        ));

        let pair = serde_json::to_value(schemars::schema_for!((u8, String))).unwrap();
        let pair = pair.as_object().unwrap();
        assert!(bound_is_implied(pair, Bound::MinItems, &json!(2)));
        assert!(bound_is_implied(pair, Bound::MaxItems, &json!(2)));
        assert!(!bound_is_implied(pair, Bound::MaxItems, &json!(1)));
    }
}
