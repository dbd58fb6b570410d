//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore`): which fields of a request body the
//! kind's schema does not know.
//!
//! A body is decoded against the kind's schema by its [`Strategy`](super::Strategy), which drops unknown
//! fields; the fields present in the body but missing from the decoded object are the unknown ones. Keys
//! starting with `$` are strategic-merge-patch directives, not fields.

use serde_json::Value;

/// What to do with unknown fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (`Warning` headers); kube's default.
    Warn,
    /// Reject the request (400).
    Strict,
}

impl FieldValidation {
    /// Parses the `fieldValidation` query parameter (absent = `Warn`).
    ///
    /// # Errors
    /// A message for values other than `Ignore`, `Warn`, `Strict`.
    pub fn parse(value: Option<&str>) -> Result<Self, String> {
        match value {
            None | Some("" | "Warn") => Ok(Self::Warn),
            Some("Ignore") => Ok(Self::Ignore),
            Some("Strict") => Ok(Self::Strict),
            Some(other) => Err(format!(
                "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
            )),
        }
    }
}

/// The paths (`spec.template.spec.containers[0].foo`) present in `body` but not in `decoded`.
#[must_use]
pub fn unknown_fields(body: &Value, decoded: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    collect(body, decoded, "", &mut unknown);
    unknown
}

fn collect(body: &Value, decoded: &Value, path: &str, unknown: &mut Vec<String>) {
    match (body, decoded) {
        (Value::Object(body), Value::Object(decoded)) => {
            for (key, value) in body {
                if key.starts_with('$') || value.is_null() {
                    continue;
                }
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match decoded.get(key) {
                    Some(decoded_value) => collect(value, decoded_value, &child, unknown),
                    None => unknown.push(child),
                }
            }
        }
        (Value::Array(body), Value::Array(decoded)) if body.len() == decoded.len() => {
            for (index, (item, decoded_item)) in body.iter().zip(decoded).enumerate() {
                collect(item, decoded_item, &format!("{path}[{index}]"), unknown);
            }
        }
        _ => {}
    }
}

/// Applies `mode` to `body` (a whole object or a merge/apply patch of one) sent to `resource`: the warnings
/// to send (`Warn`), nothing (`Ignore`), or an error (`Strict`).
///
/// # Errors
/// 400 `strict decoding error: unknown field "..."` under `Strict` when the body has unknown fields.
pub fn check(
    resource: &super::ResourceDef,
    body: &Value,
    mode: FieldValidation,
) -> Result<Vec<String>, crate::error::ApiError> {
    if mode == FieldValidation::Ignore || !body.is_object() {
        return Ok(Vec::new());
    }
    // Nulls (deletions in a merge patch) and `$` directives are not fields to decode.
    let mut fields = body.clone();
    strip_nulls_and_directives(&mut fields);
    let Ok(decoded) = resource.strategy.normalize(fields.clone()) else {
        // A body that does not decode is rejected, with a better message, where it is stored.
        return Ok(Vec::new());
    };
    let unknown = unknown_fields(&fields, &decoded);
    let messages: Vec<String> = unknown
        .iter()
        .map(|path| format!("unknown field {path:?}"))
        .collect();
    match mode {
        FieldValidation::Strict if !messages.is_empty() => Err(crate::error::ApiError::bad_request(format!(
            "strict decoding error: {}",
            messages.join(", ")
        ))),
        FieldValidation::Strict | FieldValidation::Ignore => Ok(Vec::new()),
        FieldValidation::Warn => Ok(messages),
    }
}

fn strip_nulls_and_directives(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, v| !v.is_null() && !key.starts_with('$'));
            map.values_mut().for_each(strip_nulls_and_directives);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls_and_directives),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_unknown_fields_are_named_by_path() {
        let body = json!({"metadata": {"name": "x", "bogus": 1}, "spec": {"containers": [{"name": "c", "imagee": "n"}]}, "$patch": "merge"});
        let decoded = json!({"metadata": {"name": "x"}, "spec": {"containers": [{"name": "c"}]}});
        assert_eq!(
            unknown_fields(&body, &decoded),
            ["metadata.bogus", "spec.containers[0].imagee"]
        );
    }

    #[test]
    fn maps_and_nulls_are_not_unknown() {
        let body = json!({"data": {"any-key": "v"}, "spec": null});
        let decoded = json!({"data": {"any-key": "v"}});
        assert!(unknown_fields(&body, &decoded).is_empty());
    }

    #[test]
    fn the_parameter_defaults_to_warn() {
        assert_eq!(FieldValidation::parse(None), Ok(FieldValidation::Warn));
        assert_eq!(
            FieldValidation::parse(Some("Strict")),
            Ok(FieldValidation::Strict)
        );
        assert!(FieldValidation::parse(Some("strict")).is_err());
    }
}
