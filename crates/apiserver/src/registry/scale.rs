//! The `/scale` subresource of deployments and replicasets: an `autoscaling/v1` `Scale` view of
//! `spec.replicas`, `status.replicas` and the selector. Reads build the view; writes change only
//! `spec.replicas` of the object.

use serde_json::{Value, json};

use super::{
    meta,
    store::{Store, Target, UpdateMode, parse_resource_version},
};
use crate::error::{ApiError, ApiResult};

/// The `Scale` of an object.
#[must_use]
pub fn scale_of(object: &Value) -> Value {
    let mut metadata = serde_json::Map::new();
    for field in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(value) = meta::metadata(object).and_then(|m| m.get(field)) {
            metadata.insert(field.to_owned(), value.clone());
        }
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": object["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {
            "replicas": object["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector_string(&object["spec"]["selector"]),
        },
    })
}

/// A label selector (`matchLabels` + `matchExpressions`) in its string form, as `Scale.status.selector`
/// carries it.
fn selector_string(selector: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(labels) = selector["matchLabels"].as_object() {
        for (key, value) in labels {
            parts.push(format!("{key}={}", value.as_str().unwrap_or_default()));
        }
    }
    for expression in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = expression["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = expression["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match expression["operator"].as_str().unwrap_or_default() {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_owned()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// Reads the `Scale` of object `name`.
///
/// # Errors
/// As [`Store::get`].
pub async fn get(store: &Store, target: Target<'_>, name: &str) -> ApiResult<Value> {
    Ok(scale_of(&store.get(target, name).await?))
}

/// Writes a new `Scale` computed by `transform` from the current one: `spec.replicas` of the object takes
/// the new value. A `resourceVersion` in the new Scale is a precondition on the object.
///
/// # Errors
/// 400/422 for a Scale without a valid `spec.replicas`, 409 on a failed precondition, others as
/// [`Store::guaranteed_update`].
pub async fn update(
    store: &Store,
    target: Target<'_>,
    name: &str,
    dry_run: bool,
    transform: impl Fn(&Value) -> ApiResult<Value>,
) -> ApiResult<Value> {
    let updated = store
        .guaranteed_update(target, name, UpdateMode::Main, dry_run, |current| {
            let scale = transform(&scale_of(current))?;
            if scale["kind"].as_str().is_some_and(|k| k != "Scale") {
                return Err(ApiError::bad_request(format!(
                    "expected a Scale, got {}",
                    scale["kind"]
                )));
            }
            let replicas = scale["spec"]["replicas"].as_i64().unwrap_or(0);
            if replicas < 0 {
                return Err(ApiError::invalid_scale(name, replicas));
            }
            let mut object = current.clone();
            object["spec"]["replicas"] = json!(replicas);
            let precondition = meta::string_field(&scale, "resourceVersion").map(str::to_owned);
            if let Some(rv) = &precondition {
                parse_resource_version(rv)?;
            }
            meta::set_field(&mut object, "resourceVersion", precondition.map(Value::String));
            Ok(object)
        })
        .await?;
    Ok(scale_of(&updated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_view_of_a_deployment() {
        let deployment = json!({
            "metadata": {"name": "web", "namespace": "ns", "uid": "u", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                     "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}},
            "status": {"replicas": 2}
        });
        let scale = scale_of(&deployment);
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"]["replicas"], 2);
        assert_eq!(scale["status"]["selector"], "app=web,tier in (a,b)");
        assert_eq!(scale["metadata"]["resourceVersion"], "7");
        assert!(scale["metadata"].get("labels").is_none());
    }
}
