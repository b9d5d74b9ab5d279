//! A fast path for the common event constraints: checked while the value is serialized, with no
//! JSON tree built and no allocation.
//!
//! Most event schemas constrain a few leaves: a number's range, a string's or an array's length.
//! For those, [`FastCheck`] walks the value through serde as it would be written and checks each
//! leaf against its bounds. A schema with anything else that constrains (patterns, formats,
//! `multipleOf`, constraints under `anyOf`/`oneOf`, ...) is not compiled here; the caller then uses
//! the full JSON Schema validator. The fast path only ever says "valid" or "look closer": when it
//! finds a violation, the caller runs the full validator for the report, so messages and paths
//! come from one place.

use serde::ser::{self, Serialize};
use serde_json::{Map, Value};

use super::implied::adds_constraints;
use super::keywords::{classify, Bound, Keyword};

/// The compiled constraints of one schema.
pub(crate) struct FastCheck {
    nodes: Vec<Node>,
    root: usize,
}

/// What one part of a value must satisfy. Indices point into [`FastCheck::nodes`], so that
/// recursive types compile to a graph.
#[derive(Default)]
struct Node {
    /// Object properties with constraints, by name.
    properties: Vec<(String, usize)>,
    /// Every other property (maps).
    additional: Option<usize>,
    /// Array items, after the `prefix` ones.
    items: Option<usize>,
    prefix: Vec<usize>,
    bounds: Bounds,
}

#[derive(Default)]
struct Bounds {
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    min_items: Option<u64>,
    max_items: Option<u64>,
}

impl Bounds {
    /// Sets one bound, or `None` when its value is not a number of the kind it takes.
    fn set(&mut self, bound: Bound, value: &Value) -> Option<()> {
        match bound {
            Bound::Minimum => self.minimum = Some(value.as_f64()?),
            Bound::Maximum => self.maximum = Some(value.as_f64()?),
            Bound::ExclusiveMinimum => self.exclusive_minimum = Some(value.as_f64()?),
            Bound::ExclusiveMaximum => self.exclusive_maximum = Some(value.as_f64()?),
            Bound::MinLength => self.min_length = Some(value.as_u64()?),
            Bound::MaxLength => self.max_length = Some(value.as_u64()?),
            Bound::MinItems => self.min_items = Some(value.as_u64()?),
            Bound::MaxItems => self.max_items = Some(value.as_u64()?),
        }
        Some(())
    }
}

impl FastCheck {
    /// Compiles `schema`, or `None` when it uses something the fast path does not check.
    pub(crate) fn compile(schema: &Value) -> Option<FastCheck> {
        let mut compiler = Compiler {
            root: schema,
            nodes: Vec::new(),
            refs: Vec::new(),
        };
        let root = compiler.node(schema, 0)?;
        Some(FastCheck {
            nodes: compiler.nodes,
            root,
        })
    }

    /// Whether `value` satisfies every compiled constraint. `false` can also mean the value does
    /// not serialize.
    pub(crate) fn is_valid<T: Serialize + ?Sized>(&self, value: &T) -> bool {
        value
            .serialize(Leaf {
                check: self,
                node: self.root,
            })
            .is_ok()
    }
}

struct Compiler<'a> {
    root: &'a Value,
    nodes: Vec<Node>,
    /// `$ref` targets compiled so far, for recursion.
    refs: Vec<(&'a str, usize)>,
}

impl<'a> Compiler<'a> {
    fn node(&mut self, schema: &'a Value, depth: usize) -> Option<usize> {
        if depth > 64 {
            return None;
        }
        let Value::Object(object) = schema else {
            // `true` allows anything; `false` is not a shape Rust types produce.
            return (schema == &Value::Bool(true)).then(|| self.push(Node::default()));
        };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            if object.len() > 1 {
                return None;
            }
            if let Some(&(_, index)) = self.refs.iter().find(|(r, _)| *r == reference) {
                return Some(index);
            }
            let target = self.root.pointer(reference.strip_prefix('#')?)?;
            let index = self.push(Node::default());
            self.refs.push((reference, index));
            let compiled = self.fill(target, depth + 1)?;
            self.nodes[index] = compiled;
            return Some(index);
        }
        let node = self.fill(schema, depth)?;
        Some(self.push(node))
    }

    fn fill(&mut self, schema: &'a Value, depth: usize) -> Option<Node> {
        let object: &'a Map<String, Value> = schema.as_object()?;
        let mut node = Node::default();
        for (key, value) in object {
            match classify(key, value) {
                Keyword::Implied => {}
                // Their schemas are reached through `$ref`, which `node` follows.
                Keyword::Definitions => {}
                // A `$ref` beside other keywords; `node` takes the ones that stand alone.
                Keyword::Reference => return None,
                Keyword::Branches => {
                    // Which branch applies is the full validator's business.
                    if adds_constraints(value) || mentions_ref(value) {
                        return None;
                    }
                }
                Keyword::Parts => match key.as_str() {
                    "properties" => {
                        for (name, property) in value.as_object()? {
                            if adds_constraints(property) || mentions_ref(property) {
                                let index = self.node(property, depth + 1)?;
                                node.properties.push((name.clone(), index));
                            }
                        }
                    }
                    "additionalProperties" => node.additional = Some(self.node(value, depth + 1)?),
                    "items" => node.items = Some(self.node(value, depth + 1)?),
                    "prefixItems" => {
                        for item in value.as_array()? {
                            let index = self.node(item, depth + 1)?;
                            node.prefix.push(index);
                        }
                    }
                    _ => return None,
                },
                Keyword::Bound(bound) => node.bounds.set(bound, value)?,
                Keyword::Full => return None,
            }
        }
        Some(node)
    }

    fn push(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }
}

/// Whether a `$ref` stands anywhere in `schema`: what it points at may constrain.
fn mentions_ref(schema: &Value) -> bool {
    match schema {
        Value::Object(object) => object.iter().any(|(k, v)| k == "$ref" || mentions_ref(v)),
        Value::Array(items) => items.iter().any(mentions_ref),
        _ => false,
    }
}

/// A violation, or a shape the fast path cannot follow: either way, "look closer".
#[derive(Debug)]
pub(crate) struct LookCloser;

impl std::fmt::Display for LookCloser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a constraint may be violated")
    }
}

impl std::error::Error for LookCloser {}

impl ser::Error for LookCloser {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        LookCloser
    }
}

/// Checks one value against one node.
#[derive(Clone, Copy)]
struct Leaf<'a> {
    check: &'a FastCheck,
    node: usize,
}

impl Leaf<'_> {
    fn node(&self) -> &Node {
        &self.check.nodes[self.node]
    }

    fn number(self, n: f64) -> Result<(), LookCloser> {
        let b = &self.node().bounds;
        let ok = b.minimum.is_none_or(|m| n >= m)
            && b.maximum.is_none_or(|m| n <= m)
            && b.exclusive_minimum.is_none_or(|m| n > m)
            && b.exclusive_maximum.is_none_or(|m| n < m);
        ok.then_some(()).ok_or(LookCloser)
    }

    fn string(self, s: &str) -> Result<(), LookCloser> {
        let b = &self.node().bounds;
        if b.min_length.is_none() && b.max_length.is_none() {
            return Ok(());
        }
        // JSON Schema counts characters, not bytes.
        let length = s.chars().count() as u64;
        let ok =
            b.min_length.is_none_or(|m| length >= m) && b.max_length.is_none_or(|m| length <= m);
        ok.then_some(()).ok_or(LookCloser)
    }
}

/// Walks a compound value: fields by name, items by position.
struct Compound<'a> {
    leaf: Leaf<'a>,
    count: u64,
}

impl<'a> Compound<'a> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LookCloser> {
        let node = self.leaf.node();
        let position = self.count as usize;
        self.count += 1;
        let child = node.prefix.get(position).copied().or(node.items);
        match child {
            Some(child) => value.serialize(Leaf {
                check: self.leaf.check,
                node: child,
            }),
            None => Ok(()),
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> Result<(), LookCloser> {
        let node = self.leaf.node();
        let child = node
            .properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, i)| i)
            .or(node.additional);
        match child {
            Some(child) => value.serialize(Leaf {
                check: self.leaf.check,
                node: child,
            }),
            None => Ok(()),
        }
    }

    fn end_items(self) -> Result<(), LookCloser> {
        let b = &self.leaf.node().bounds;
        let ok = b.min_items.is_none_or(|m| self.count >= m)
            && b.max_items.is_none_or(|m| self.count <= m);
        ok.then_some(()).ok_or(LookCloser)
    }
}

macro_rules! numbers {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<(), LookCloser> {
            self.number(v as f64)
        }
    )*};
}

impl<'a> ser::Serializer for Leaf<'a> {
    type Ok = ();
    type Error = LookCloser;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = ser::Impossible<(), LookCloser>;
    type SerializeMap = MapCompound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = ser::Impossible<(), LookCloser>;

    numbers!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128,
             serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128,
             serialize_f32: f32, serialize_f64: f64);

    fn serialize_bool(self, _: bool) -> Result<(), LookCloser> {
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), LookCloser> {
        self.string(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), LookCloser> {
        self.string(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), LookCloser> {
        // serde_json writes bytes as an array of numbers.
        let mut seq = ser::Serializer::serialize_seq(self, Some(v.len()))?;
        for byte in v {
            ser::SerializeSeq::serialize_element(&mut seq, byte)?;
        }
        ser::SerializeSeq::end(seq)
    }

    fn serialize_none(self) -> Result<(), LookCloser> {
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), LookCloser> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), LookCloser> {
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), LookCloser> {
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), LookCloser> {
        self.string(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), LookCloser> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), LookCloser> {
        // Data-carrying variants are `oneOf` schemas, which the fast path never compiles with
        // constraints; if one shows up anyway, defer to the full validator.
        Err(LookCloser)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>, LookCloser> {
        Ok(Compound {
            leaf: self,
            count: 0,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, LookCloser> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, LookCloser> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, LookCloser> {
        Err(LookCloser)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<MapCompound<'a>, LookCloser> {
        Ok(MapCompound {
            inner: Compound {
                leaf: self,
                count: 0,
            },
            key: None,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Compound<'a>, LookCloser> {
        Ok(Compound {
            leaf: self,
            count: 0,
        })
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, LookCloser> {
        Err(LookCloser)
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = LookCloser;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LookCloser> {
        self.item(value)
    }

    fn end(self) -> Result<(), LookCloser> {
        self.end_items()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = LookCloser;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LookCloser> {
        self.item(value)
    }

    fn end(self) -> Result<(), LookCloser> {
        self.end_items()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = LookCloser;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LookCloser> {
        self.item(value)
    }

    fn end(self) -> Result<(), LookCloser> {
        self.end_items()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = LookCloser;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), LookCloser> {
        self.field(name, value)
    }

    fn end(self) -> Result<(), LookCloser> {
        Ok(())
    }
}

/// A map: each key is captured as text, then its value is checked against that property.
pub(crate) struct MapCompound<'a> {
    inner: Compound<'a>,
    key: Option<String>,
}

impl ser::SerializeMap for MapCompound<'_> {
    type Ok = ();
    type Error = LookCloser;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), LookCloser> {
        let node = self.inner.leaf.node();
        // Only named properties need the key's text; `additionalProperties` applies to any key.
        if node.properties.is_empty() {
            self.key = None;
            return Ok(());
        }
        match serde_json::to_value(key) {
            Ok(Value::String(key)) => self.key = Some(key),
            _ => return Err(LookCloser),
        }
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LookCloser> {
        match self.key.take() {
            Some(key) => self.inner.field(&key, value),
            None => match self.inner.leaf.node().additional {
                Some(child) => value.serialize(Leaf {
                    check: self.inner.leaf.check,
                    node: child,
                }),
                None => Ok(()),
            },
        }
    }

    fn end(self) -> Result<(), LookCloser> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::{schema_for, JsonSchema};
    use serde::Serialize;
    use std::collections::HashMap;

    #[derive(Serialize, JsonSchema)]
    struct Inner {
        #[schemars(range(min = 0, max = 100))]
        value: i64,
        #[schemars(length(min = 1, max = 3))]
        name: String,
    }

    #[derive(Serialize, JsonSchema)]
    struct Outer {
        inner: Inner,
        #[schemars(length(max = 2))]
        list: Vec<Inner>,
        #[schemars(extend("exclusiveMinimum" = 0.0))]
        ratio: Option<f64>,
        by_key: HashMap<String, Inner>,
        plain: u8,
    }

    #[derive(Serialize, JsonSchema)]
    struct Optional {
        maybe: Option<Inner>,
    }

    #[derive(Serialize, JsonSchema)]
    struct Patterned {
        #[schemars(regex(pattern = "^a"))]
        name: String,
    }

    #[derive(Serialize, JsonSchema)]
    struct Emailed {
        #[schemars(length(max = 100))]
        #[schemars(email)]
        to: String,
    }

    fn inner(value: i64, name: &str) -> Inner {
        Inner {
            value,
            name: name.into(),
        }
    }

    fn outer(value: i64, name: &str, list: usize, ratio: Option<f64>) -> Outer {
        Outer {
            inner: inner(value, name),
            list: (0..list).map(|_| inner(1, "x")).collect(),
            ratio,
            by_key: [("k".to_owned(), inner(value, "y"))].into(),
            plain: 7,
        }
    }

    /// The fast path agrees with the full validator on valid values, and sends every invalid
    /// one to it.
    #[test]
    fn agrees_with_the_full_validator() {
        let schema = serde_json::to_value(schema_for!(Outer)).unwrap();
        let fast = FastCheck::compile(&schema).expect("ranges and lengths compile");
        let full = crate::schema::keywords::validator_for(&schema).unwrap();
        let cases = [
            outer(50, "ab", 2, Some(0.5)),
            outer(0, "a", 0, None),
            outer(100, "abc", 1, Some(1e9)),
            outer(101, "ab", 0, None),
            outer(-1, "ab", 0, None),
            outer(5, "", 0, None),
            outer(5, "abcd", 0, None),
            outer(5, "äöü", 0, None),
            outer(5, "ab", 3, None),
            outer(5, "ab", 0, Some(0.0)),
        ];
        for (i, case) in cases.iter().enumerate() {
            let expected = full.is_valid(&serde_json::to_value(case).unwrap());
            assert_eq!(fast.is_valid(case), expected, "case {i}");
        }
    }

    #[test]
    fn what_it_cannot_check_is_not_compiled() {
        let patterned = serde_json::to_value(schema_for!(Patterned)).unwrap();
        assert!(FastCheck::compile(&patterned).is_none());
        // `Option<Inner>` is an `anyOf` around a reference to a constrained type.
        let optional = serde_json::to_value(schema_for!(Optional)).unwrap();
        assert!(FastCheck::compile(&optional).is_none());
        // An asserted format is left to the full validator, which checks it.
        let emailed = serde_json::to_value(schema_for!(Emailed)).unwrap();
        assert!(FastCheck::compile(&emailed).is_none());
    }
}
