//! The Arrow schema of the records, derived from their JSON Schema
//! (`schema/handshake.schema.json`): objects become structs, arrays lists, strings,
//! integers, numbers and booleans their Arrow types, every field nullable (a JSON field
//! that is absent or null is a null).
//!
//! JSON Schema can say more than Arrow: a field of the verdict's details that is a
//! number for one kind of detail and a list for another, a map with free keys. Such a
//! field becomes a string column holding the value's JSON text (object keys sorted),
//! marked with the
//! metadata key [`JSON_TEXT`] (the columns listed by [`json_text_columns`]).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use serde_json::{Map, Value};

/// The records' JSON Schema.
pub const JSON_SCHEMA: &str = include_str!("../../../schema/handshake.schema.json");

/// Field metadata key of the columns that hold a value's JSON text (value `"true"`).
pub const JSON_TEXT: &str = "tlswhy.json_text";

/// The Arrow schema of the records (derived once).
pub fn record_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        let root: Value =
            serde_json::from_str(JSON_SCHEMA).expect("the bundled JSON Schema is JSON");
        Arc::new(arrow_schema_of(&root))
    }))
}

/// Derives an Arrow schema from a JSON Schema whose root is an object.
pub fn arrow_schema_of(root: &Value) -> Schema {
    let defs = root
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let cx = Context { defs: &defs };
    match cx.shape(root, 0) {
        Shape::Struct(fields) => Schema::new(fields),
        _ => Schema::empty(),
    }
}

/// The dotted paths of the columns that hold JSON text (`verdict.details.suites`, …).
pub fn json_text_columns(schema: &Schema) -> Vec<String> {
    fn walk(field: &Field, path: &str, out: &mut Vec<String>) {
        let path = if path.is_empty() {
            field.name().clone()
        } else {
            format!("{path}.{}", field.name())
        };
        if field.metadata().contains_key(JSON_TEXT) {
            out.push(path);
            return;
        }
        match field.data_type() {
            DataType::Struct(fields) => fields.iter().for_each(|f| walk(f, &path, out)),
            DataType::List(item) => walk_children(item, &path, out),
            _ => {}
        }
    }
    fn walk_children(item: &Field, path: &str, out: &mut Vec<String>) {
        match item.data_type() {
            DataType::Struct(fields) => fields.iter().for_each(|f| walk(f, path, out)),
            DataType::List(inner) => walk_children(inner, path, out),
            _ => {}
        }
    }
    let mut out = Vec::new();
    schema.fields().iter().for_each(|f| walk(f, "", &mut out));
    out
}

/// What a JSON Schema node is, as Arrow sees it.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    Type(DataType),
    Struct(Vec<Field>),
    List(Box<Shape>),
    /// Not one Arrow type: the value's JSON text.
    JsonText,
}

struct Context<'a> {
    defs: &'a Map<String, Value>,
}

/// Deeper than any record nests: a recursive `$ref` stops here as JSON text.
const MAX_DEPTH: usize = 32;

impl Context<'_> {
    fn shape(&self, node: &Value, depth: usize) -> Shape {
        if depth > MAX_DEPTH {
            return Shape::JsonText;
        }
        let Some(obj) = node.as_object() else {
            return Shape::JsonText;
        };
        if let Some(target) = obj.get("$ref").and_then(Value::as_str) {
            let name = target.rsplit('/').next().unwrap_or_default();
            return match self.defs.get(name) {
                Some(def) => self.shape(def, depth + 1),
                None => Shape::JsonText,
            };
        }
        if let Some(alternatives) = obj
            .get("anyOf")
            .or_else(|| obj.get("oneOf"))
            .and_then(Value::as_array)
        {
            // Alternatives inherit what the node itself says (`"type": "string"` beside
            // `anyOf` of formats); `null` alternatives only make the field nullable,
            // which every field is.
            let mut shapes = alternatives
                .iter()
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("null"))
                .map(|a| {
                    let mut merged = obj.clone();
                    merged.remove("anyOf");
                    merged.remove("oneOf");
                    if let Some(a) = a.as_object() {
                        merged.extend(a.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                    self.shape(&Value::Object(merged), depth + 1)
                });
            let Some(first) = shapes.next() else {
                return Shape::JsonText;
            };
            return if shapes.all(|s| s == first) {
                first
            } else {
                Shape::JsonText
            };
        }
        if let Some(value) = obj.get("const") {
            return shape_of_values(std::slice::from_ref(value));
        }
        if let Some(values) = obj.get("enum").and_then(Value::as_array) {
            return shape_of_values(values);
        }
        let types: Vec<&str> = match obj.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null")
                .collect(),
            _ if obj.contains_key("properties") || obj.contains_key("allOf") => vec!["object"],
            _ => Vec::new(),
        };
        match types.as_slice() {
            ["string"] => Shape::Type(DataType::Utf8),
            ["integer"] => Shape::Type(DataType::Int64),
            ["number"] => Shape::Type(DataType::Float64),
            ["boolean"] => Shape::Type(DataType::Boolean),
            ["array"] => match obj.get("items") {
                Some(items) if !obj.contains_key("prefixItems") => {
                    Shape::List(Box::new(self.shape(items, depth + 1)))
                }
                _ => Shape::JsonText,
            },
            ["object"] => self.object(obj, depth),
            _ => Shape::JsonText,
        }
    }

    /// An object's properties, with those its `allOf`/`if`/`then` variants add (the
    /// verdict's details: one variant per kind). A property two variants type apart
    /// is JSON text.
    fn object(&self, obj: &Map<String, Value>, depth: usize) -> Shape {
        let mut order: Vec<String> = Vec::new();
        let mut shapes: HashMap<String, Shape> = HashMap::new();
        let mut add = |props: &Map<String, Value>| {
            for (name, node) in props {
                let shape = self.shape(node, depth + 1);
                match shapes.get(name) {
                    None => {
                        order.push(name.clone());
                        shapes.insert(name.clone(), shape);
                    }
                    Some(known) if *known != shape => {
                        shapes.insert(name.clone(), Shape::JsonText);
                    }
                    Some(_) => {}
                }
            }
        };
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            add(props);
        }
        for variant in obj
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for branch in ["then", "else"] {
                if let Some(props) = variant
                    .get(branch)
                    .and_then(|b| b.get("properties"))
                    .and_then(Value::as_object)
                {
                    add(props);
                }
            }
            if let Some(props) = variant.get("properties").and_then(Value::as_object) {
                add(props);
            }
        }
        if order.is_empty() {
            // A map with free keys.
            return Shape::JsonText;
        }
        Shape::Struct(
            order
                .iter()
                .map(|name| field(name, shapes[name].clone()))
                .collect(),
        )
    }
}

/// The shape of `const`/`enum` values: strings, integers or booleans alike.
fn shape_of_values(values: &[Value]) -> Shape {
    let values: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    if values.iter().all(|v| v.is_string()) {
        Shape::Type(DataType::Utf8)
    } else if values.iter().all(|v| v.is_i64() || v.is_u64()) {
        Shape::Type(DataType::Int64)
    } else if values.iter().all(|v| v.is_boolean()) {
        Shape::Type(DataType::Boolean)
    } else {
        Shape::JsonText
    }
}

fn data_type(shape: Shape) -> (DataType, bool) {
    match shape {
        Shape::Type(t) => (t, false),
        Shape::Struct(fields) => (DataType::Struct(Fields::from(fields)), false),
        Shape::List(item) => (DataType::List(Arc::new(field("item", *item))), false),
        Shape::JsonText => (DataType::Utf8, true),
    }
}

fn field(name: &str, shape: Shape) -> Field {
    let (t, json_text) = data_type(shape);
    let f = Field::new(name, t, true);
    if json_text {
        f.with_metadata(HashMap::from([(JSON_TEXT.to_string(), "true".to_string())]))
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_schema_has_the_stable_fields_nested_as_json_nests() {
        let schema = record_schema();
        for name in [
            "capture",
            "ts",
            "client",
            "server",
            "sni",
            "version",
            "cipher",
            "established",
            "verdict",
        ] {
            assert!(schema.field_with_name(name).is_ok(), "{name}");
        }
        assert_eq!(
            schema.field_with_name("ts").unwrap().data_type(),
            &DataType::Float64
        );
        assert_eq!(
            schema.field_with_name("client_port").unwrap().data_type(),
            &DataType::Int64
        );
        assert_eq!(
            schema.field_with_name("established").unwrap().data_type(),
            &DataType::Boolean
        );
        let DataType::Struct(verdict) = schema.field_with_name("verdict").unwrap().data_type()
        else {
            panic!("the verdict is a struct");
        };
        let details = verdict
            .iter()
            .find(|f| f.name() == "details")
            .expect("details");
        let DataType::List(item) = details.data_type() else {
            panic!("details are a list");
        };
        let DataType::Struct(kinds) = item.data_type() else {
            panic!("of structs");
        };
        assert!(kinds.iter().any(|f| f.name() == "kind"));
        assert!(
            kinds.iter().any(|f| f.name() == "at"),
            "fields of every kind of detail"
        );
    }

    #[test]
    fn fields_typed_apart_by_variants_are_json_text() {
        let columns = json_text_columns(&record_schema());
        assert!(
            columns.contains(&"verdict.details.suites".to_string()),
            "{columns:?}"
        );
        assert!(
            columns.contains(&"verdict.remedy.client".to_string()),
            "{columns:?}"
        );
        // Only those: every other field has an Arrow type of its own.
        assert!(columns.len() < 12, "{columns:?}");
    }

    #[test]
    fn types_follow_the_json_schema() {
        let root: Value = serde_json::json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"]},
                "b": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "c": {"type": "array", "items": {"$ref": "#/$defs/pair"}},
                "d": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
                "e": {"type": "object", "additionalProperties": {"type": "integer"}},
                "f": {"enum": [1, 2, null]}
            },
            "$defs": {"pair": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "boolean"}}}}
        });
        let schema = arrow_schema_of(&root);
        let t = |n: &str| schema.field_with_name(n).unwrap().data_type().clone();
        assert_eq!(t("a"), DataType::Utf8);
        assert_eq!(t("b"), DataType::Int64);
        let DataType::List(item) = t("c") else {
            panic!()
        };
        assert_eq!(
            item.data_type(),
            &DataType::Struct(Fields::from(vec![
                Field::new("x", DataType::Float64, true),
                Field::new("y", DataType::Boolean, true)
            ]))
        );
        assert_eq!(t("f"), DataType::Int64);
        assert_eq!(
            json_text_columns(&schema),
            vec!["d".to_string(), "e".to_string()]
        );
    }
}
