//! Server-side apply (`application/apply-patch+yaml`), as kube's field manager does it:
//!
//! 1. the applied configuration is merged into the live object: maps key by key, keyed lists item by item
//!    ([`merge_keys`](super::merge_keys) `listMapKey`s), sets by value, atomic values (`LabelSelector`, lists
//!    without keys) replaced;
//! 2. every field that changes and is owned by another manager is a conflict: 409 with one
//!    `FieldManagerConflict` cause per field, unless `force`, which takes the fields from their owners;
//! 3. the manager's `Apply` entry becomes exactly the applied field set;
//! 4. fields the manager applied last time and omits now are removed, unless another manager owns them (or
//!    something below them);
//! 5. removed fields leave every other entry.
//!
//! An object without any `managedFields` that is applied to for the first time has its current fields
//! attributed to an `Update` manager called `before-first-apply`, as kube does.

use serde_json::{Map, Value, json};

use super::{
    managed_fields::{
        self, Entry, FieldSet, Part, compare, entries, field_set, key_element, path_string, remove_at,
        set_entries,
    },
    merge_keys::{Field, List, Ty, field},
};
use crate::error::ApiError;

/// The manager kube credits with the fields of an object that had no managed fields before its first apply.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// One server-side apply request.
#[derive(Debug, Clone, Copy)]
pub struct ApplyRequest<'a> {
    /// The `fieldManager` query parameter (validated non-empty).
    pub manager: &'a str,
    /// `force=true`: take conflicting fields instead of failing.
    pub force: bool,
    /// `apiVersion` of the endpoint (`apps/v1`).
    pub api_version: &'a str,
    /// Root schema type of the kind.
    pub ty: Ty,
    /// Which part of the object the endpoint writes.
    pub part: Part,
}

/// Applies `config` to `live` (`None` when the object does not exist yet) and returns the new object with its
/// `managedFields` updated. The result still needs the store's normalization, validation and system fields.
///
/// # Errors
/// 400 when the configuration is not an object or carries `metadata.managedFields`; 409 `Conflict` with
/// `FieldManagerConflict` causes when fields owned by other managers would change and `force` is off.
pub fn apply(live: Option<&Value>, config: &Value, request: &ApplyRequest<'_>) -> Result<Value, ApiError> {
    let Value::Object(config_map) = config else {
        return Err(ApiError::bad_request(
            "error decoding YAML: the applied configuration must be an object",
        ));
    };
    if config["metadata"]
        .get("managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(ApiError::bad_request("metadata.managedFields must be nil"));
    }
    let empty = json!({});
    let live_object = live.unwrap_or(&empty);
    let mut list = entries(live_object);
    if live.is_some() && list.is_empty() {
        let fields = field_set(live_object, request.ty, request.part);
        if !fields.is_empty() {
            list.push(Entry {
                manager: BEFORE_FIRST_APPLY.to_owned(),
                operation: "Update".to_owned(),
                api_version: live_object["apiVersion"]
                    .as_str()
                    .unwrap_or(request.api_version)
                    .to_owned(),
                time: Some(managed_fields::now()),
                subresource: None,
                fields,
            });
        }
    }
    let subresource = request.part.subresource();
    let mine = |e: &Entry| e.is(request.manager, "Apply", request.api_version, subresource);
    let previous = list
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let applied = field_set(config, request.ty, request.part);

    let mut merged = merge_object(live_object, config_map, request.ty);
    // Conflicts: fields other managers own whose values this apply changes.
    let comparison = compare(live_object, &merged, request.ty, request.part);
    let changed = comparison.modified.union(&comparison.added);
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for entry in list.iter_mut().filter(|e| !mine(e)) {
        let owned = entry.fields.intersection(&changed);
        if owned.is_empty() {
            continue;
        }
        if request.force {
            entry.fields = entry.fields.difference(&owned);
        } else {
            conflicts.extend(owned.members().iter().map(|p| (entry.describe(), path_string(p))));
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict_error(conflicts));
    }

    // Fields this manager applied before and omits now go, unless someone else owns them.
    let others = list
        .iter()
        .filter(|e| !mine(e))
        .fold(FieldSet::default(), |acc, e| acc.union(&e.fields));
    let mut dropped = previous.difference(&applied).members();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for path in dropped {
        if !others.has_at_or_under(&path) && !applied.has_at_or_under(&path) {
            remove_at(&mut merged, &path);
        }
    }

    // Removed fields leave every entry; this manager owns exactly what it applied.
    let removed = compare(live_object, &merged, request.ty, request.part).removed;
    for entry in &mut list {
        entry.fields = entry.fields.difference(&removed);
    }
    let now = Some(managed_fields::now());
    match list.iter_mut().find(|e| mine(e)) {
        Some(entry) => {
            if entry.fields != applied || entry.api_version != request.api_version {
                entry.time = now;
            }
            entry.fields = applied;
            request.api_version.clone_into(&mut entry.api_version);
        }
        None => list.push(Entry {
            manager: request.manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: request.api_version.to_owned(),
            time: now,
            subresource: subresource.map(str::to_owned),
            fields: applied,
        }),
    }
    set_entries(&mut merged, &list);
    Ok(merged)
}

/// 409 as kube's `NewApplyConflict` words it.
fn conflict_error(mut conflicts: Vec<(String, String)>) -> ApiError {
    conflicts.sort();
    let message = if let [(manager, path)] = conflicts.as_slice() {
        format!("Apply failed with 1 conflict: conflict with {manager}: {path}")
    } else {
        let mut lines = Vec::new();
        let mut current: Option<&str> = None;
        for (manager, path) in &conflicts {
            if current != Some(manager.as_str()) {
                lines.push(format!("conflicts with {manager}:"));
                current = Some(manager);
            }
            lines.push(format!("- {path}"));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(manager, path)| {
            json!({"reason": "FieldManagerConflict", "message": format!("conflict with {manager}"), "field": path})
        })
        .collect();
    ApiError {
        code: 409,
        reason: "Conflict",
        message,
        details: Some(json!({"causes": causes})),
        retry_after_seconds: None,
    }
}

/// The live object with the applied configuration merged in.
fn merge_object(live: &Value, config: &Map<String, Value>, ty: Ty) -> Value {
    let live_map = live.as_object().cloned().unwrap_or_default();
    Value::Object(merge_map(live_map, config, ty))
}

fn merge_map(mut live: Map<String, Value>, config: &Map<String, Value>, ty: Ty) -> Map<String, Value> {
    for (key, value) in config {
        if value.is_null() {
            live.remove(key);
            continue;
        }
        let merged = merge_value(live.remove(key), value, field(ty, key));
        live.insert(key.clone(), merged);
    }
    live
}

fn merge_value(live: Option<Value>, config: &Value, spec: Field) -> Value {
    match (live, config) {
        (Some(Value::Object(live)), Value::Object(config)) if spec.ty != Ty::Atomic => {
            Value::Object(merge_map(live, config, spec.ty))
        }
        (Some(Value::Array(live)), Value::Array(config)) => match spec.list {
            List::Map { ssa_keys, .. } if !ssa_keys.is_empty() => {
                let key = |item: &Value| key_element(item, ssa_keys);
                if live.iter().chain(config).any(|i| key(i).is_none()) {
                    return Value::Array(config.clone());
                }
                Value::Array(merge_items(live, config, key, |l, c| {
                    merge_value(
                        Some(l),
                        c,
                        Field {
                            ty: spec.ty,
                            list: List::Atomic,
                        },
                    )
                }))
            }
            List::Set => Value::Array(merge_items(
                live,
                config,
                |i| Some(i.to_string()),
                |_, c| c.clone(),
            )),
            _ => Value::Array(config.clone()),
        },
        (_, config) => config.clone(),
    }
}

/// Merges two keyed lists: applied items in their order (merged with their live counterparts), live-only
/// items kept in their live order, each before the first applied item that follows it live.
fn merge_items(
    live: Vec<Value>,
    config: &[Value],
    key: impl Fn(&Value) -> Option<String>,
    merge: impl Fn(Value, &Value) -> Value,
) -> Vec<Value> {
    let live_keys: Vec<Option<String>> = live.iter().map(&key).collect();
    let config_keys: Vec<Option<String>> = config.iter().map(&key).collect();
    let mut live: Vec<Option<Value>> = live.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(live.len() + config.len());
    let mut next_live = 0;
    for (item, item_key) in config.iter().zip(&config_keys) {
        match live_keys.iter().position(|k| k == item_key) {
            Some(at) => {
                // Live-only items before this one keep their place.
                while next_live < at {
                    if !config_keys.contains(&live_keys[next_live]) {
                        out.extend(live[next_live].take());
                    }
                    next_live += 1;
                }
                match live[at].take() {
                    Some(existing) => out.push(merge(existing, item)),
                    None => out.push(item.clone()),
                }
            }
            None => out.push(item.clone()),
        }
    }
    for (slot, slot_key) in live.iter_mut().zip(&live_keys) {
        if !config_keys.contains(slot_key) {
            out.extend(slot.take());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::patch::merge_keys::apply_root;

    fn request(manager: &str, force: bool) -> ApplyRequest<'_> {
        ApplyRequest {
            manager,
            force,
            api_version: "apps/v1",
            ty: apply_root("apps", "Deployment"),
            part: Part::Main {
                status_subresource: true,
            },
        }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "c", "image": image}]}
                }
            }
        })
    }

    #[test]
    fn create_records_an_apply_entry() {
        let created = apply(None, &deployment(1, "nginx"), &request("mgr", false)).unwrap();
        let list = entries(&created);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].manager, "mgr");
        assert_eq!(list[0].operation, "Apply");
        assert!(
            list[0]
                .fields
                .contains(&["f:spec".to_owned(), "f:replicas".to_owned()])
        );
        assert_eq!(created["spec"]["replicas"], 1);
    }

    #[test]
    fn the_same_manager_may_change_its_fields_and_other_managers_conflict() {
        let live = apply(None, &deployment(1, "nginx"), &request("mgr", false)).unwrap();
        let again = apply(Some(&live), &deployment(2, "nginx"), &request("mgr", false)).unwrap();
        assert_eq!(again["spec"]["replicas"], 2);

        let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3}});
        let err = apply(Some(&again), &other, &request("other", false)).unwrap_err();
        assert_eq!(err.code, 409);
        assert_eq!(err.reason, "Conflict");
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"mgr\": .spec.replicas"
        );
        assert_eq!(
            err.details.unwrap()["causes"],
            json!([{"reason": "FieldManagerConflict", "message": "conflict with \"mgr\"", "field": ".spec.replicas"}])
        );

        // The same value is no conflict: both own it.
        other["spec"]["replicas"] = json!(2);
        let shared = apply(Some(&again), &other, &request("other", false)).unwrap();
        let list = entries(&shared);
        let path = ["f:spec".to_owned(), "f:replicas".to_owned()];
        assert!(list.iter().all(|e| e.fields.contains(&path)));

        // Force moves ownership.
        other["spec"]["replicas"] = json!(5);
        let forced = apply(Some(&again), &other, &request("other", true)).unwrap();
        assert_eq!(forced["spec"]["replicas"], 5);
        let list = entries(&forced);
        let mgr = list.iter().find(|e| e.manager == "mgr").unwrap();
        assert!(!mgr.fields.contains(&path));
        let other_entry = list.iter().find(|e| e.manager == "other").unwrap();
        assert!(other_entry.fields.contains(&path));
    }

    #[test]
    fn fields_no_longer_applied_are_removed_unless_owned_by_others() {
        let mut config = deployment(1, "nginx");
        config["metadata"]["labels"] = json!({"a": "1", "b": "2"});
        let live = apply(None, &config, &request("mgr", false)).unwrap();
        // Another manager co-owns label b.
        let co = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"b": "2"}}});
        let live = apply(Some(&live), &co, &request("other", false)).unwrap();
        let mut next = deployment(1, "nginx");
        next["spec"].as_object_mut().unwrap().remove("replicas");
        let after = apply(Some(&live), &next, &request("mgr", false)).unwrap();
        assert_eq!(after["metadata"]["labels"], json!({"b": "2"}));
        assert!(after["spec"].get("replicas").is_none());
    }

    #[test]
    fn keyed_lists_merge_and_atomic_values_replace() {
        let mut config = deployment(1, "nginx");
        config["spec"]["template"]["spec"]["containers"] =
            json!([{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]);
        let live = apply(None, &config, &request("mgr", false)).unwrap();
        let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"x": "y"}}, "template": {"spec": {"containers": [{"name": "s", "image": "s"}]}}}});
        let merged = apply(Some(&live), &sidecar, &request("other", true)).unwrap();
        let names: Vec<&str> = merged["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["s", "a", "b"]);
        assert_eq!(merged["spec"]["selector"], json!({"matchLabels": {"x": "y"}}));
    }

    #[test]
    fn objects_without_managed_fields_belong_to_before_first_apply() {
        let live = deployment(1, "nginx");
        let err = apply(Some(&live), &deployment(2, "nginx"), &request("mgr", false)).unwrap_err();
        assert_eq!(err.code, 409);
        assert!(
            err.message.contains("\"before-first-apply\" using apps/v1"),
            "{}",
            err.message
        );
    }

    #[test]
    fn bad_configurations() {
        assert_eq!(
            apply(None, &json!([1]), &request("m", false)).unwrap_err().code,
            400
        );
        let mut config = deployment(1, "x");
        config["metadata"]["managedFields"] = json!([]);
        assert_eq!(apply(None, &config, &request("m", false)).unwrap_err().code, 400);
    }

    #[test]
    fn multiple_conflicts_are_grouped_by_manager() {
        let err = conflict_error(vec![
            ("\"a\"".to_owned(), ".spec.x".to_owned()),
            ("\"a\"".to_owned(), ".spec.y".to_owned()),
        ]);
        assert_eq!(
            err.message,
            "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.x\n- .spec.y"
        );
    }
}
