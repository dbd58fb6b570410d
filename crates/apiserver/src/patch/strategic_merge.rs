//! Strategic merge patch, `application/strategic-merge-patch+json`, as `k8s.io/apimachinery`'s
//! `strategicpatch.StrategicMergeMapPatch` applies it on the server (with `MergeParallelList` and
//! `IgnoreUnmatchedNulls`):
//!
//! * maps merge key by key; `null` deletes a key;
//! * lists with a merge key ([`merge_keys`](super::merge_keys)) merge item by item, keyed by it; lists of
//!   scalars with `patchStrategy=merge` (finalizers) are unions; every other list is replaced;
//! * directives: `$patch: replace|delete` in a map, `{"$patch": "delete", <key>: …}` and
//!   `{"$patch": "replace"}` list items, `$retainKeys`, `$setElementOrder/<list>` and
//!   `$deleteFromPrimitiveList/<list>`. Directives never reach the result.
//!
//! Merged lists are ordered as kube orders them: items named in the patch (or in `$setElementOrder`) in that
//! order, interleaved with the server-only items in their live order.

use serde_json::{Map, Value};

use super::{
    json_patch::json_equal,
    merge_keys::{Field, List, Ty, field},
};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Why a strategic merge patch was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmpError {
    /// The patch is malformed: a bad directive, a list item without its merge key, … (kube: 400).
    BadRequest(String),
}

impl std::fmt::Display for SmpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadRequest(m) => f.write_str(m),
        }
    }
}

type Result<T> = std::result::Result<T, SmpError>;

fn bad(message: impl Into<String>) -> SmpError {
    SmpError::BadRequest(message.into())
}

/// Applies the strategic merge patch `patch` to `original`, an object of root type `ty`
/// ([`merge_keys::root`](super::merge_keys::root)), and returns the result.
///
/// # Errors
/// [`SmpError::BadRequest`] when the patch is not an object or misuses a directive.
pub fn apply(original: &Value, patch: &Value, ty: Ty) -> Result<Value> {
    let Value::Object(patch) = patch else {
        return Err(bad(format!(
            "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
            if patch.is_array() { "array" } else { "value" }
        )));
    };
    let original = original.as_object().cloned().unwrap_or_default();
    match merge_map(original, patch, ty)? {
        Some(map) => Ok(Value::Object(map)),
        None => Err(bad("a strategic merge patch cannot delete the whole object")),
    }
}

/// Merges a patch map into an original map. `None` means the map is deleted (`$patch: delete`).
fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    ty: Ty,
) -> Result<Option<Map<String, Value>>> {
    if let Some(directive) = patch.get(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => {
                let mut rest = patch.clone();
                rest.remove(DIRECTIVE);
                merge_map(Map::new(), &rest, ty)
            }
            Some("delete") => Ok(None),
            _ => Err(bad(format!(
                "Unknown patch type: {directive}: in map: {}",
                Value::Object(patch.clone())
            ))),
        };
    }
    apply_retain_keys(&mut original, patch)?;
    let ordered = apply_set_element_order(&mut original, patch, ty)?;
    for (key, value) in patch {
        if key == RETAIN_KEYS || key.starts_with(SET_ELEMENT_ORDER) || ordered.contains(key) {
            continue;
        }
        if let Some(name) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Array(doomed) = value else {
                return Err(bad(
                    "invalid patch format of $deleteFromPrimitiveList: it must be a list of primitives",
                ));
            };
            if let Some(Value::Array(list)) = original.get_mut(name) {
                list.retain(|item| !doomed.iter().any(|d| json_equal(d, item)));
            }
            continue;
        }
        if value.is_null() {
            original.remove(key);
            continue;
        }
        let spec = field(ty, key);
        let merged = match (original.remove(key), value) {
            (Some(Value::Object(live)), Value::Object(patch)) => {
                merge_map(live, patch, spec.ty)?.map(Value::Object)
            }
            (Some(Value::Array(live)), Value::Array(patch)) => {
                Some(Value::Array(merge_list(&live, patch, spec)?))
            }
            // Absent, or of another type: the patch value, with its directives processed.
            (_, value) => new_value(value, spec)?,
        };
        if let Some(merged) = merged {
            original.insert(key.clone(), merged);
        }
    }
    Ok(Some(original))
}

/// A patch value for a key the original does not have: directives are processed against nothing and nulls
/// dropped. `None` when the value deletes itself.
fn new_value(value: &Value, spec: Field) -> Result<Option<Value>> {
    Ok(match value {
        Value::Object(patch) => merge_map(Map::new(), patch, spec.ty)?.map(Value::Object),
        Value::Array(patch) => Some(Value::Array(merge_list(&[], patch, spec)?)),
        other => Some(other.clone()),
    })
}

/// `$retainKeys`: keys of the original not listed are cleared; every non-null key of the patch must be listed.
fn apply_retain_keys(original: &mut Map<String, Value>, patch: &Map<String, Value>) -> Result<()> {
    let Some(retain) = patch.get(RETAIN_KEYS) else {
        return Ok(());
    };
    let format_error = || {
        bad(
            "invalid patch format of retainKeys: the list of keys must be a list of strings and include every key of the patch",
        )
    };
    let keys: Vec<&str> = retain
        .as_array()
        .ok_or_else(format_error)?
        .iter()
        .map(|k| k.as_str().ok_or_else(format_error))
        .collect::<Result<_>>()?;
    for (key, value) in patch {
        let exempt = value.is_null()
            || key == RETAIN_KEYS
            || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            || key.starts_with(SET_ELEMENT_ORDER);
        if !exempt && !keys.contains(&key.as_str()) {
            return Err(format_error());
        }
    }
    original.retain(|key, _| keys.contains(&key.as_str()));
    Ok(())
}

/// `$setElementOrder/<list>`: merges `<list>` and orders the result by the directive. Returns the names of
/// the lists handled, which the caller must not merge again.
fn apply_set_element_order(
    original: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    ty: Ty,
) -> Result<Vec<String>> {
    let mut handled = Vec::new();
    for (key, order) in patch {
        let Some(name) = key.strip_prefix(SET_ELEMENT_ORDER) else {
            continue;
        };
        let Value::Array(order) = order else {
            return Err(bad(
                "invalid patch format of setElementOrder list: it must be a list",
            ));
        };
        let spec = field(ty, name);
        let merge_key = match spec.list {
            List::Map { smp_key, .. } => Some(smp_key),
            _ => None,
        };
        let live = match original.get(name) {
            Some(Value::Array(items)) => Some(items.clone()),
            _ => None,
        };
        let patch_list = match patch.get(name) {
            Some(Value::Array(items)) => Some(items.as_slice()),
            Some(Value::Null) | None => None,
            Some(_) => return Err(bad(format!("invalid patch: {name} must be a list"))),
        };
        if let Some(patch_list) = patch_list {
            validate_order(patch_list, order, merge_key)?;
        }
        let merged = match (&live, patch_list) {
            (Some(live), None) => live.clone(),
            (None, Some(patch_list)) => merge_list(&[], patch_list, spec)?,
            (Some(live), Some(patch_list)) => merge_list(live, patch_list, spec)?,
            (None, None) => continue,
        };
        let live = live.unwrap_or_default();
        let (in_order, server_only): (Vec<Value>, Vec<Value>) = merged
            .into_iter()
            .partition(|item| index_of(order, item, merge_key).is_some());
        let ordered = normalize_order(in_order, server_only, order, &live, merge_key);
        original.insert(name.to_owned(), Value::Array(ordered));
        handled.push(name.to_owned());
    }
    Ok(handled)
}

/// Each item of the patch list (directives aside) must appear in the `$setElementOrder` list, in order.
fn validate_order(patch_list: &[Value], order: &[Value], merge_key: Option<&str>) -> Result<()> {
    let items: Vec<&Value> = patch_list
        .iter()
        .filter(|item| item.get(DIRECTIVE).is_none())
        .collect();
    let (mut p, mut o) = (0, 0);
    while p < items.len() && o < order.len() {
        if same_item(items[p], &order[o], merge_key) {
            p += 1;
        }
        o += 1;
    }
    if p < items.len() {
        return Err(bad(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}",
            Value::Array(patch_list.to_vec()),
            Value::Array(order.to_vec())
        )));
    }
    Ok(())
}

/// Merges a patch list into a live list according to the field's strategy.
fn merge_list(live: &[Value], patch: &[Value], spec: Field) -> Result<Vec<Value>> {
    match spec.list {
        List::Atomic => Ok(patch.to_vec()),
        List::Set => {
            let mut merged: Vec<Value> = Vec::new();
            for item in live.iter().chain(patch) {
                if !merged.iter().any(|m| json_equal(m, item)) {
                    merged.push(item.clone());
                }
            }
            let (from_patch, server_only): (Vec<Value>, Vec<Value>) = merged
                .into_iter()
                .partition(|item| index_of(patch, item, None).is_some());
            Ok(normalize_order(from_patch, server_only, patch, live, None))
        }
        List::Map { smp_key, .. } => merge_keyed_list(live, patch, smp_key, spec.ty),
    }
}

fn merge_keyed_list(live: &[Value], patch: &[Value], key: &str, ty: Ty) -> Result<Vec<Value>> {
    let mut original: Vec<Value> = live.to_vec();
    let mut items: Vec<&Map<String, Value>> = Vec::new();
    let mut replace = false;
    for item in patch {
        let Value::Object(map) = item else {
            return Err(bad(format!(
                "invalid patch: the items of a list merged by {key:?} must be objects, got {item}"
            )));
        };
        match map.get(DIRECTIVE).map(|d| d.as_str()) {
            None => items.push(map),
            Some(Some("delete")) => {
                let value = map.get(key).ok_or_else(|| no_merge_key(item, key))?;
                original.retain(|o| !o.get(key).is_some_and(|v| json_equal(v, value)));
            }
            Some(Some("replace")) => replace = true,
            Some(Some("merge")) => return Err(bad("merging lists cannot yet be specified in the patch")),
            Some(_) => {
                return Err(bad(format!(
                    "Unknown patch type: {}: in map: {item}",
                    map[DIRECTIVE]
                )));
            }
        }
    }
    if replace {
        let mut replaced = Vec::new();
        for item in items {
            if let Some(map) = merge_map(Map::new(), item, ty)? {
                replaced.push(Value::Object(map));
            }
        }
        return Ok(replaced);
    }
    let patch_items: Vec<Value> = items.iter().map(|m| Value::Object((*m).clone())).collect();
    for item in items {
        let value = item
            .get(key)
            .ok_or_else(|| no_merge_key(&Value::Object(item.clone()), key))?;
        let position = original
            .iter()
            .position(|o| o.get(key).is_some_and(|v| json_equal(v, value)));
        match position {
            Some(i) => {
                let live = original[i].as_object().cloned().unwrap_or_default();
                match merge_map(live, item, ty)? {
                    Some(map) => original[i] = Value::Object(map),
                    None => {
                        original.remove(i);
                    }
                }
            }
            None => {
                if let Some(map) = merge_map(Map::new(), item, ty)? {
                    original.push(Value::Object(map));
                }
            }
        }
    }
    let server_order: Vec<Value> = live
        .iter()
        .filter(|l| original.iter().any(|o| same_item(o, l, Some(key))))
        .cloned()
        .collect();
    let (from_patch, server_only): (Vec<Value>, Vec<Value>) = original
        .into_iter()
        .partition(|item| index_of(&patch_items, item, Some(key)).is_some());
    Ok(normalize_order(
        from_patch,
        server_only,
        &patch_items,
        &server_order,
        Some(key),
    ))
}

fn no_merge_key(item: &Value, key: &str) -> SmpError {
    bad(format!("map: {item} does not contain declared merge key: {key}"))
}

/// Whether two list items are the same item: equal merge keys, or equal values for scalar lists.
fn same_item(a: &Value, b: &Value, merge_key: Option<&str>) -> bool {
    match merge_key {
        Some(key) => match (a.get(key), b.get(key)) {
            (Some(x), Some(y)) => json_equal(x, y),
            _ => false,
        },
        None => json_equal(a, b),
    }
}

fn index_of(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    list.iter()
        .position(|candidate| same_item(candidate, item, merge_key))
}

/// kube's `normalizeElementOrder`: patch items sorted by `patch_order`, server-only items by `server_order`,
/// then interleaved by their positions in `server_order` (patch items first when they cannot be compared).
fn normalize_order(
    mut from_patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    merge_key: Option<&str>,
) -> Vec<Value> {
    let rank = |order: &[Value], item: &Value| index_of(order, item, merge_key).unwrap_or(usize::MAX);
    from_patch.sort_by_key(|item| rank(patch_order, item));
    server_only.sort_by_key(|item| rank(server_order, item));
    let mut result = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => {
                let li = index_of(server_order, l, merge_key);
                let ri = index_of(server_order, r, merge_key);
                let take_left = matches!((li, ri), (Some(li), Some(ri)) if li < ri);
                let next = if take_left { left.next() } else { right.next() };
                result.extend(next);
            }
            (Some(_), None) => result.extend(left.by_ref()),
            (None, Some(_)) => result.extend(right.by_ref()),
            (None, None) => break,
        }
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::patch::merge_keys::{apply_root, root};

    fn deploy() -> Ty {
        apply_root("apps", "Deployment")
    }

    fn smp(original: Value, patch: Value, ty: Ty) -> Value {
        apply(&original, &patch, ty).unwrap()
    }

    fn pod_spec(spec: Value) -> Value {
        json!({"spec": {"template": {"spec": spec}}})
    }

    #[test]
    fn maps_merge_and_null_deletes() {
        let cm = root("", "ConfigMap").unwrap();
        assert_eq!(
            smp(
                json!({"data": {"a": "1", "b": "2"}, "metadata": {"labels": {"x": "1"}}}),
                json!({"data": {"a": null, "c": "3"}, "metadata": {"labels": {"y": "2"}}}),
                cm
            ),
            json!({"data": {"b": "2", "c": "3"}, "metadata": {"labels": {"x": "1", "y": "2"}}})
        );
    }

    #[test]
    fn containers_merge_by_name_and_unkeyed_lists_are_replaced() {
        let original = pod_spec(json!({
            "containers": [{"name": "a", "image": "a:1", "args": ["x"]}, {"name": "b", "image": "b:1"}],
            "tolerations": [{"key": "k1"}]
        }));
        let patch = pod_spec(json!({
            "containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}],
            "tolerations": [{"key": "k2"}]
        }));
        assert_eq!(
            smp(original, patch, deploy()),
            pod_spec(json!({
                "containers": [
                    {"name": "a", "image": "a:1", "args": ["x"]},
                    {"name": "b", "image": "b:2"},
                    {"name": "c", "image": "c:1"}
                ],
                "tolerations": [{"key": "k2"}]
            }))
        );
    }

    #[test]
    fn env_ports_and_volume_mounts_merge_by_their_keys() {
        let original = pod_spec(json!({"containers": [{
            "name": "a",
            "env": [{"name": "A", "value": "1"}],
            "ports": [{"containerPort": 80}],
            "volumeMounts": [{"mountPath": "/a", "name": "v"}]
        }]}));
        let patch = pod_spec(json!({"containers": [{
            "name": "a",
            "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "3"}],
            "ports": [{"containerPort": 443}],
            "volumeMounts": [{"mountPath": "/a", "readOnly": true}]
        }]}));
        assert_eq!(
            smp(original, patch, deploy()),
            pod_spec(json!({"containers": [{
                "name": "a",
                "env": [{"name": "B", "value": "2"}, {"name": "A", "value": "3"}],
                "ports": [{"containerPort": 443}, {"containerPort": 80}],
                "volumeMounts": [{"mountPath": "/a", "name": "v", "readOnly": true}]
            }]}))
        );
    }

    /// New items go before server-only ones (kube's `mergeSortedSlice` takes the patch item when the two
    /// cannot be compared); the Python e2e suite only counts the ports.
    #[test]
    fn service_ports_merge_by_port() {
        let svc = root("", "Service").unwrap();
        assert_eq!(
            smp(
                json!({"spec": {"ports": [{"port": 80, "targetPort": 80}], "selector": {"a": "b"}}}),
                json!({"spec": {"ports": [{"port": 8080, "targetPort": 8080}]}}),
                svc
            ),
            json!({"spec": {"ports": [{"port": 8080, "targetPort": 8080}, {"port": 80, "targetPort": 80}], "selector": {"a": "b"}}})
        );
    }

    #[test]
    fn delete_directive_in_a_list_removes_the_item() {
        let original = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
        let patch = pod_spec(json!({"containers": [{"$patch": "delete", "name": "a"}]}));
        assert_eq!(
            smp(original, patch, deploy()),
            pod_spec(json!({"containers": [{"name": "b"}]}))
        );
    }

    #[test]
    fn replace_directives() {
        let original = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
        let patch = pod_spec(json!({"containers": [{"name": "c"}, {"$patch": "replace"}]}));
        assert_eq!(
            smp(original, patch, deploy()),
            pod_spec(json!({"containers": [{"name": "c"}]}))
        );
        let cm = root("", "ConfigMap").unwrap();
        assert_eq!(
            smp(
                json!({"data": {"a": "1", "b": "2"}}),
                json!({"data": {"$patch": "replace", "c": "3"}}),
                cm
            ),
            json!({"data": {"c": "3"}})
        );
        assert_eq!(
            smp(
                json!({"data": {"a": "1"}, "binaryData": {}}),
                json!({"data": {"$patch": "delete"}}),
                cm
            ),
            json!({"binaryData": {}})
        );
    }

    #[test]
    fn finalizers_are_a_union_and_delete_from_primitive_list_removes() {
        let original = json!({"metadata": {"finalizers": ["a", "b"]}});
        assert_eq!(
            smp(
                original.clone(),
                json!({"metadata": {"finalizers": ["c", "a"]}}),
                deploy()
            ),
            json!({"metadata": {"finalizers": ["c", "a", "b"]}})
        );
        assert_eq!(
            smp(
                original,
                json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
                deploy()
            ),
            json!({"metadata": {"finalizers": ["b"]}})
        );
    }

    #[test]
    fn retain_keys_clears_unlisted_fields() {
        let original =
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(
            smp(original.clone(), patch, deploy()),
            json!({"spec": {"strategy": {"type": "Recreate"}}})
        );
        let bad_patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
        assert!(apply(&original, &bad_patch, deploy()).is_err());
    }

    #[test]
    fn set_element_order_orders_the_merged_list() {
        // kubectl client-side apply: reorder and change one container.
        let original =
            pod_spec(json!({"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}));
        let patch = pod_spec(json!({
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "a:2"}]
        }));
        assert_eq!(
            smp(original.clone(), patch, deploy()),
            pod_spec(json!({"containers": [{"name": "b", "image": "b:1"}, {"name": "a", "image": "a:2"}]}))
        );
        // The directive alone keeps the content and orders it.
        let patch = pod_spec(json!({"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}));
        assert_eq!(
            smp(original.clone(), patch, deploy()),
            pod_spec(json!({"containers": [{"name": "b", "image": "b:1"}, {"name": "a", "image": "a:1"}]}))
        );
        // A deletion plus an order; the server-only item stays in its place.
        let original3 = pod_spec(json!({"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}));
        let patch = pod_spec(json!({
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
            "containers": [{"$patch": "delete", "name": "x"}]
        }));
        assert_eq!(
            smp(original3, patch, deploy()),
            pod_spec(json!({"containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}]}))
        );
        // A patch item missing from the order list is an error.
        let patch = pod_spec(json!({
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{"name": "z"}]
        }));
        assert!(apply(&original, &patch, deploy()).is_err());
    }

    #[test]
    fn set_element_order_on_env_and_a_new_list() {
        let original = pod_spec(json!({"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}]}));
        let patch = pod_spec(json!({
            "$setElementOrder/containers": [{"name": "a"}],
            "containers": [{
                "name": "a",
                "$setElementOrder/env": [{"name": "Y"}, {"name": "X"}],
                "env": [{"name": "Y", "value": "2"}]
            }],
            "$setElementOrder/initContainers": [{"name": "i"}],
            "initContainers": [{"name": "i", "image": "busybox"}]
        }));
        assert_eq!(
            smp(original, patch, deploy()),
            pod_spec(json!({
                "containers": [{"name": "a", "env": [{"name": "Y", "value": "2"}, {"name": "X", "value": "1"}]}],
                "initContainers": [{"name": "i", "image": "busybox"}]
            }))
        );
    }

    #[test]
    fn directives_in_new_values_are_processed() {
        let original = json!({"spec": {}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        assert_eq!(
            smp(original, patch, deploy()),
            json!({"spec": {"strategy": {"type": "Recreate"}}})
        );
    }

    #[test]
    fn malformed_patches_are_rejected() {
        let original = pod_spec(json!({"containers": [{"name": "a"}]}));
        for patch in [
            json!([1]),
            pod_spec(json!({"containers": [{"image": "x"}]})),
            pod_spec(json!({"containers": [{"$patch": "delete"}]})),
            pod_spec(json!({"containers": [{"$patch": "merge", "name": "a"}]})),
            pod_spec(json!({"containers": ["a"]})),
            json!({"spec": {"$patch": "frob"}}),
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
        ] {
            assert!(apply(&original, &patch, deploy()).is_err(), "{patch}");
        }
    }

    #[test]
    fn owner_references_merge_by_uid_and_conditions_by_type() {
        assert_eq!(
            smp(
                json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
                json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
                deploy()
            ),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}, {"uid": "1", "name": "a"}]}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        );
    }
}
