//! Swagger 2.0 `definitions` from the OpenAPI 3 `components.schemas`, in kube-apiserver's v2 shape.
//!
//! The differences: references point at `#/definitions/`, a `$ref` with siblings is written directly
//! (v2 has no `allOf` convention for that; kube emits `$ref` plus `description`), `IntOrString` and
//! `Quantity` are plain strings (`format: int-or-string` for the former), and `nullable` does not exist.

use serde_json::{Map, Value};

use super::schemas::REF_PREFIX;

const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

/// Adds the v2 form of every schema of `schemas` to `definitions`. A schema already there (shared between
/// group/versions) keeps its content and gains any new `x-kubernetes-group-version-kind` entries.
pub(crate) fn merge_definitions(definitions: &mut Map<String, Value>, schemas: &Map<String, Value>) {
    for (name, schema) in schemas {
        let converted = match name.as_str() {
            INT_OR_STRING => serde_json::json!({
                "description": schema.get("description").cloned().unwrap_or_default(),
                "format": "int-or-string",
                "type": "string",
            }),
            QUANTITY => serde_json::json!({
                "description": schema.get("description").cloned().unwrap_or_default(),
                "type": "string",
            }),
            _ => to_v2(schema),
        };
        match definitions.get_mut(name) {
            None => {
                definitions.insert(name.clone(), converted);
            }
            Some(existing) => merge_gvks(existing, &converted),
        }
    }
}

fn merge_gvks(existing: &mut Value, new: &Value) {
    const KEY: &str = "x-kubernetes-group-version-kind";
    let Some(Value::Array(new_gvks)) = new.get(KEY) else {
        return;
    };
    let Some(object) = existing.as_object_mut() else {
        return;
    };
    if let Value::Array(gvks) = object.entry(KEY).or_insert_with(|| Value::Array(Vec::new())) {
        for gvk in new_gvks {
            if !gvks.contains(gvk) {
                gvks.push(gvk.clone());
            }
        }
    }
}

/// One schema (recursively) in v2 form. Only schema positions are descended into: property names,
/// `default`s, `enum`s and extensions are copied verbatim.
fn to_v2(schema: &Value) -> Value {
    let Value::Object(object) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    // `{"allOf": [{"$ref": X}], …siblings}` → `{"$ref": X, …siblings}`.
    let single_ref = object
        .get("allOf")
        .and_then(Value::as_array)
        .filter(|all| all.len() == 1)
        .and_then(|all| all.first())
        .and_then(|only| only.get("$ref"))
        .cloned();
    for (key, value) in object {
        let converted = match key.as_str() {
            "nullable" => continue,
            "allOf" if single_ref.is_some() => continue,
            "$ref" => rewrite_ref(value),
            "properties" | "patternProperties" => match value {
                Value::Object(fields) => Value::Object(
                    fields
                        .iter()
                        .map(|(name, field)| (name.clone(), to_v2(field)))
                        .collect(),
                ),
                other => other.clone(),
            },
            "items" | "additionalProperties" | "not" => to_v2(value),
            "allOf" | "anyOf" | "oneOf" => match value {
                Value::Array(all) => Value::Array(all.iter().map(to_v2).collect()),
                other => other.clone(),
            },
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    if let Some(reference) = single_ref {
        out.insert("$ref".into(), rewrite_ref(&reference));
    }
    Value::Object(out)
}

fn rewrite_ref(reference: &Value) -> Value {
    match reference.as_str().and_then(|r| r.strip_prefix(REF_PREFIX)) {
        Some(name) => Value::String(format!("#/definitions/{name}")),
        None => reference.clone(),
    }
}
