//! Validating JSON values against a type's schema, with one issue per violation.

use std::fmt;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use serde_json::Value;

use super::fast::FastCheck;
use super::implied::adds_constraints;
use super::keywords::validator_for;

/// One violation: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// The path from the root of the value to the offending part: keys and array indices,
    /// e.g. `["items", 3, "name"]`.
    pub path: Vec<PathSegment>,
    /// What is wrong, for a human.
    pub message: String,
}

/// One step of an [`Issue`]'s path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSegment {
    /// An object key.
    Key(String),
    /// An array index.
    Index(usize),
}

impl Serialize for PathSegment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PathSegment::Key(key) => serializer.serialize_str(key),
            PathSegment::Index(index) => serializer.serialize_u64(*index as u64),
        }
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("at ")?;
        if self.path.is_empty() {
            f.write_str("the root")?;
        }
        for segment in &self.path {
            match segment {
                PathSegment::Key(key) => write!(f, "/{key}")?,
                PathSegment::Index(index) => write!(f, "/{index}")?,
            }
        }
        write!(f, ": {}", self.message)
    }
}

/// A type's compiled validator, or nothing when the check would be redundant.
pub(crate) struct SchemaCheck<T: ?Sized> {
    /// The type's schema as JSON.
    pub(crate) schema: Value,
    validator: Option<jsonschema::Validator>,
    /// The allocation-free check, when the schema's constraints are all ones it handles.
    fast: Option<FastCheck>,
    _type: PhantomData<fn(&T)>,
}

impl<T: JsonSchema + ?Sized> SchemaCheck<T> {
    /// Compiles `T`'s schema. With `always`, the check runs even when the schema only restates
    /// the type (for inputs, whose shape is not guaranteed); otherwise it is skipped then.
    pub(crate) fn new(always: bool) -> Self {
        let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
        let validator = if always || adds_constraints(&schema) {
            validator_for(&schema)
                .map_err(|error| {
                    tracing::error!(%error, schema = std::any::type_name::<T>(), "schema does not compile; not validating")
                })
                .ok()
        } else {
            None
        };
        let fast = validator.as_ref().and_then(|_| FastCheck::compile(&schema));
        SchemaCheck {
            schema,
            validator,
            fast,
            _type: PhantomData,
        }
    }

    /// Whether values are checked at all.
    #[cfg(test)]
    pub(crate) fn is_active(&self) -> bool {
        self.validator.is_some()
    }

    /// Checks a JSON value.
    pub(crate) fn check_value(&self, value: &Value) -> Result<(), Vec<Issue>> {
        let Some(validator) = &self.validator else {
            return Ok(());
        };
        if validator.is_valid(value) {
            return Ok(());
        }
        Err(validator
            .iter_errors(value)
            .map(|error| issue(&error, value))
            .collect())
    }
}

impl<T: JsonSchema + Serialize + ?Sized> SchemaCheck<T> {
    /// Checks a Rust value, converting it to JSON only when there is something to check.
    pub(crate) fn check(&self, value: &T) -> Result<(), Vec<Issue>> {
        if self.validator.is_none() || self.fast.as_ref().is_some_and(|fast| fast.is_valid(value)) {
            return Ok(());
        }
        match serde_json::to_value(value) {
            Ok(json) => self.check_value(&json),
            Err(error) => Err(vec![Issue {
                path: Vec::new(),
                message: format!("does not serialize: {error}"),
            }]),
        }
    }
}

fn issue(error: &jsonschema::ValidationError<'_>, root: &Value) -> Issue {
    let mut path = pointer_path(error.instance_path().as_str(), root);
    if let jsonschema::error::ValidationErrorKind::Required { property } = error.kind() {
        if let Some(name) = property.as_str() {
            path.push(PathSegment::Key(name.to_owned()));
        }
    }
    Issue {
        path,
        message: error.to_string(),
    }
}

/// Splits a JSON pointer, telling indices from keys by what the value holds at each step.
pub(crate) fn pointer_path(pointer: &str, root: &Value) -> Vec<PathSegment> {
    let mut at = Some(root);
    let mut path = Vec::new();
    for raw in pointer.split('/').skip(1) {
        let key = raw.replace("~1", "/").replace("~0", "~");
        let index = match at {
            Some(Value::Array(_)) => key.parse::<usize>().ok(),
            _ => None,
        };
        at = match (at, index) {
            (Some(Value::Array(items)), Some(i)) => items.get(i),
            (Some(Value::Object(fields)), _) => fields.get(&key),
            _ => None,
        };
        path.push(index.map_or(PathSegment::Key(key), PathSegment::Index));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[allow(dead_code)]
    #[derive(Deserialize, Serialize, JsonSchema)]
    struct Item {
        #[schemars(length(min = 1))]
        name: String,
    }

    #[allow(dead_code)]
    #[derive(Deserialize, Serialize, JsonSchema)]
    struct Order {
        items: Vec<Item>,
        #[schemars(range(min = 1, max = 10))]
        quantity: u32,
    }

    #[derive(Deserialize, Serialize, JsonSchema)]
    struct Contact {
        #[schemars(email)]
        to: String,
        #[schemars(extend("format" = "not-a-format"))]
        note: String,
        count: u32,
    }

    fn contact(to: &str) -> Contact {
        Contact {
            to: to.into(),
            note: "anything".into(),
            count: 3,
        }
    }

    fn paths(issues: &[Issue]) -> Vec<Value> {
        issues
            .iter()
            .map(|i| serde_json::to_value(&i.path).unwrap())
            .collect()
    }

    #[test]
    fn an_input_format_is_asserted_at_its_path() {
        let check = SchemaCheck::<Contact>::new(true);
        let issues = check
            .check_value(&json!({ "to": "not-an-email", "note": "x", "count": 3 }))
            .unwrap_err();
        assert_eq!(paths(&issues), [json!(["to"])]);
        assert!(issues[0].message.contains("email"), "{}", issues[0].message);
        let valid = json!({ "to": "ada@example.com", "note": "x", "count": 3 });
        assert_eq!(check.check_value(&valid), Ok(()));
    }

    #[test]
    fn an_event_format_is_asserted() {
        let check = SchemaCheck::<Contact>::new(false);
        assert!(check.is_active());
        assert!(check.fast.is_none(), "formats are the full validator's");
        let issues = check.check(&contact("not-an-email")).unwrap_err();
        assert_eq!(paths(&issues), [json!(["to"])]);
        assert_eq!(check.check(&contact("ada@example.com")), Ok(()));
    }

    #[test]
    fn one_issue_per_violation_with_a_path_to_it() {
        let check = SchemaCheck::<Order>::new(true);
        let value = json!({ "items": [{ "name": "a" }, {}, { "name": "" }], "quantity": 11 });
        let mut issues = check.check_value(&value).unwrap_err();
        issues.sort_by_key(|i| format!("{:?}", i.path));
        let paths: Vec<_> = issues
            .iter()
            .map(|i| serde_json::to_value(&i.path).unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                json!(["items", 1, "name"]),
                json!(["items", 2, "name"]),
                json!(["quantity"])
            ]
        );
        assert!(issues.iter().all(|i| !i.message.is_empty()));
    }

    #[test]
    fn unconstrained_types_are_not_checked_unless_asked() {
        assert!(!SchemaCheck::<Vec<String>>::new(false).is_active());
        assert!(SchemaCheck::<Vec<String>>::new(true).is_active());
        assert!(SchemaCheck::<Order>::new(false).is_active());
        // `uint32` restates `u32`; an unknown format is ignored.
        assert!(!SchemaCheck::<Vec<u32>>::new(false).is_active());
        assert!(!SchemaCheck::<std::net::IpAddr>::new(false).is_active());
    }
}
