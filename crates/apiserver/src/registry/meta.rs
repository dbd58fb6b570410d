//! Reading and writing `metadata` fields of objects held as JSON values.

use serde_json::{Map, Value};

/// `object.metadata`, if the object has one.
#[must_use]
pub fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

/// `object.metadata`, created when absent. Returns `None` only when `object` is not a JSON object.
pub fn metadata_mut(object: &mut Value) -> Option<&mut Map<String, Value>> {
    let object = object.as_object_mut()?;
    let meta = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut()
}

/// A string field of `metadata` (`name`, `namespace`, `uid`, `resourceVersion`, ...); empty strings count as
/// absent.
#[must_use]
pub fn string_field<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Sets (or, with `None`, removes) a field of `metadata`.
pub fn set_field(object: &mut Value, field: &str, value: Option<Value>) {
    if let Some(meta) = metadata_mut(object) {
        match value {
            Some(value) => {
                meta.insert(field.to_owned(), value);
            }
            None => {
                meta.remove(field);
            }
        }
    }
}

/// `metadata.generation`, 0 when absent.
#[must_use]
pub fn generation(object: &Value) -> i64 {
    metadata(object)
        .and_then(|m| m.get("generation"))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Whether `metadata.finalizers` is non-empty.
#[must_use]
pub fn has_finalizers(object: &Value) -> bool {
    metadata(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty())
}

/// Removes empty lists and maps from `metadata`, as Go's `omitempty` leaves them out: clients test for
/// absence (kube-rs's finalizer helper tests `/metadata/finalizers` against null).
pub fn drop_empty_fields(object: &mut Value) {
    if let Some(meta) = metadata_mut(object) {
        meta.retain(|_, v| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        });
    }
}

/// The current time as kube's `metav1.Time` (`2006-01-02T15:04:05Z`, second precision, UTC).
#[must_use]
pub fn now_timestamp() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Everything but `status` (and the metadata the server owns): the part whose change bumps the generation.
#[must_use]
pub fn spec_part(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("status");
        map.remove("metadata");
    }
    copy
}
