//! `metadata.managedFields` bookkeeping: field sets in the `FieldsV1` format, the entries of the managers
//! that own them, and the `Update` tracking every non-apply write does (kube's `FieldManager.Update`).
//!
//! A field set is a tree of path elements, each encoded as `FieldsV1` encodes it: `f:<field>`,
//! `k:{"name":"c"}` (an item of a keyed list, its key fields as compact JSON sorted by name), `v:<json>`
//! (an item of a set). A node is a *member* when the path itself is owned: leaves always, maps and list items
//! too when they carry `"."`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    json_patch::json_equal,
    merge_keys::{Field, List, Ty, field, key_default},
};

/// A set of field paths (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    /// Whether the path of this node is itself in the set.
    pub member: bool,
    /// Child path elements, encoded (`f:spec`).
    pub children: BTreeMap<String, FieldSet>,
}

/// A path: encoded path elements from the root.
pub type Path = Vec<String>;

impl FieldSet {
    /// Whether the set has no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.member && self.children.values().all(FieldSet::is_empty)
    }

    /// Adds `path` as a member.
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for element in path {
            node = node.children.entry(element.clone()).or_default();
        }
        node.member = true;
    }

    fn node(&self, path: &[String]) -> Option<&FieldSet> {
        let mut node = self;
        for element in path {
            node = node.children.get(element)?;
        }
        Some(node)
    }

    /// Whether `path` is a member.
    #[must_use]
    pub fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether `path` or anything below it is a member.
    #[must_use]
    pub fn has_at_or_under(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    /// Every member path, parents before children.
    #[must_use]
    pub fn members(&self) -> Vec<Path> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Path, out: &mut Vec<Path>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (element, child) in &self.children {
            prefix.push(element.clone());
            child.collect(prefix, out);
            prefix.pop();
        }
    }

    /// The members of `self` that are not members of `other`.
    #[must_use]
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for path in self.members() {
            if !other.contains(&path) {
                out.insert(&path);
            }
        }
        out
    }

    /// The members of both.
    #[must_use]
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet::default();
        for path in self.members() {
            if other.contains(&path) {
                out.insert(&path);
            }
        }
        out
    }

    /// The members of either.
    #[must_use]
    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        for path in other.members() {
            out.insert(&path);
        }
        out
    }

    /// The `FieldsV1` JSON of this set.
    #[must_use]
    pub fn to_fields_v1(&self) -> Value {
        let mut map = Map::new();
        if self.member && !self.children.is_empty() {
            map.insert(".".to_owned(), json!({}));
        }
        for (element, child) in &self.children {
            if !child.is_empty() {
                map.insert(element.clone(), child.to_fields_v1());
            }
        }
        Value::Object(map)
    }

    /// Parses `FieldsV1` JSON (the root is never a member). Anything that is not an object is empty.
    #[must_use]
    pub fn from_fields_v1(value: &Value) -> FieldSet {
        let mut set = Self::parse_node(value);
        set.member = false;
        set
    }

    fn parse_node(value: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(map) = value {
            if map.is_empty() {
                set.member = true;
            }
            for (key, child) in map {
                if key == "." {
                    set.member = true;
                } else {
                    set.children.insert(key.clone(), Self::parse_node(child));
                }
            }
        }
        set
    }
}

/// The `f:` element of a field.
#[must_use]
pub fn field_element(name: &str) -> String {
    format!("f:{name}")
}

/// The `k:` element of a keyed list item, or `None` when the item lacks a key without a default.
#[must_use]
pub fn key_element(item: &Value, keys: &[&str]) -> Option<String> {
    let mut key = BTreeMap::new();
    for name in keys {
        let value = item.get(*name).cloned().or_else(|| key_default(name))?;
        key.insert((*name).to_owned(), value);
    }
    serde_json::to_string(&key).ok().map(|k| format!("k:{k}"))
}

/// The `v:` element of a set item.
#[must_use]
pub fn value_element(item: &Value) -> String {
    format!("v:{item}")
}

/// A path in kube's conflict notation: `.spec.replicas`, `.spec.containers[name="c"].image`,
/// `.metadata.finalizers[="x"]`.
#[must_use]
pub fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(name) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = element.strip_prefix("k:") {
            let parts: Vec<String> = serde_json::from_str::<BTreeMap<String, Value>>(key)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(value) = element.strip_prefix("v:") {
            out.push_str(&format!("[={value}]"));
        } else {
            out.push_str(element);
        }
    }
    out
}

/// Which top-level parts of an object a write may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource; `status` is excluded when the resource has a status subresource.
    Main {
        /// Whether `status` belongs to the `/status` subresource.
        status_subresource: bool,
    },
    /// A subresource that owns only `status` (`/status`).
    Status,
    /// A namespace's `/finalize`: only `spec.finalizers`.
    Finalize,
}

impl Part {
    /// `subresource` of the managedFields entries written through this part.
    #[must_use]
    pub fn subresource(self) -> Option<&'static str> {
        match self {
            Self::Main { .. } => None,
            Self::Status => Some("status"),
            Self::Finalize => Some("finalize"),
        }
    }

    fn includes(self, key: &str) -> bool {
        match self {
            Self::Main { status_subresource } => !(status_subresource && key == "status"),
            Self::Status => key == "status",
            Self::Finalize => key == "spec",
        }
    }
}

/// Metadata fields the server owns; they never appear in field sets.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// Map-valued fields (as opposed to structs): their node is a member (`"."`) when present, as kube records.
const MAP_FIELDS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "binaryData",
    "stringData",
    "limits",
    "requests",
    "matchLabels",
    "nodeSelector",
    "capacity",
    "allocatable",
];

/// The field set of an object of root type `ty`: every leaf it sets, within `part`.
#[must_use]
pub fn field_set(object: &Value, ty: Ty, part: Part) -> FieldSet {
    let mut set = FieldSet::default();
    let Value::Object(map) = object else {
        return set;
    };
    for (key, value) in map {
        if key == "apiVersion" || key == "kind" || !part.includes(key) {
            continue;
        }
        let mut path = vec![field_element(key)];
        if part == Part::Finalize {
            // A namespace's `spec.finalizers` is an atomic list.
            if value.get("finalizers").is_some() {
                path.push(field_element("finalizers"));
                set.insert(&path);
            }
            continue;
        }
        if key == "metadata" {
            if let Value::Object(meta) = value {
                for (k, v) in meta {
                    if SERVER_METADATA.contains(&k.as_str()) {
                        continue;
                    }
                    path.push(field_element(k));
                    walk(
                        v,
                        field(Ty::ObjectMeta, k),
                        &mut path,
                        &mut set,
                        MAP_FIELDS.contains(&k.as_str()),
                    );
                    path.pop();
                }
            }
            continue;
        }
        walk(
            value,
            field(ty, key),
            &mut path,
            &mut set,
            MAP_FIELDS.contains(&key.as_str()),
        );
    }
    set
}

/// Adds the members of `value` (at `path`, described by `spec`) to `set`.
fn walk(value: &Value, spec: Field, path: &mut Path, set: &mut FieldSet, is_map: bool) {
    match value {
        Value::Object(map) if spec.ty != Ty::Atomic && !map.is_empty() => {
            if is_map {
                set.insert(path);
            }
            for (key, child) in map {
                path.push(field_element(key));
                walk(
                    child,
                    field(spec.ty, key),
                    path,
                    set,
                    MAP_FIELDS.contains(&key.as_str()),
                );
                path.pop();
            }
        }
        Value::Array(items) => match spec.list {
            List::Set if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
                for item in items {
                    path.push(value_element(item));
                    set.insert(path);
                    path.pop();
                }
            }
            List::Map { ssa_keys, .. } if !ssa_keys.is_empty() => {
                let elements: Option<Vec<String>> = items.iter().map(|i| key_element(i, ssa_keys)).collect();
                let Some(elements) = elements else {
                    set.insert(path);
                    return;
                };
                for (item, element) in items.iter().zip(elements) {
                    path.push(element);
                    set.insert(path);
                    if let Value::Object(map) = item {
                        for (key, child) in map {
                            path.push(field_element(key));
                            walk(
                                child,
                                field(spec.ty, key),
                                path,
                                set,
                                MAP_FIELDS.contains(&key.as_str()),
                            );
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            _ => set.insert(path),
        },
        _ => set.insert(path),
    }
}

/// The value at `path` in `object`, if present.
#[must_use]
pub fn value_at<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut current = object;
    for element in path {
        current = step(current, element)?;
    }
    Some(current)
}

fn step<'a>(value: &'a Value, element: &str) -> Option<&'a Value> {
    if let Some(name) = element.strip_prefix("f:") {
        return value.as_object()?.get(name);
    }
    let items = value.as_array()?;
    if let Some(key) = element.strip_prefix("k:") {
        let key: BTreeMap<String, Value> = serde_json::from_str(key).ok()?;
        return items.iter().find(|item| item_matches(item, &key));
    }
    if let Some(raw) = element.strip_prefix("v:") {
        let wanted: Value = serde_json::from_str(raw).ok()?;
        return items.iter().find(|item| json_equal(item, &wanted));
    }
    None
}

fn item_matches(item: &Value, key: &BTreeMap<String, Value>) -> bool {
    key.iter().all(|(name, wanted)| {
        let actual = item.get(name).cloned().or_else(|| key_default(name));
        actual.is_some_and(|a| json_equal(&a, wanted))
    })
}

/// Removes the value at `path` from `object` (a field, a keyed item or a set item). Missing paths are fine.
pub fn remove_at(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = object;
    for element in parents {
        let next = match (element.strip_prefix("f:"), &mut *current) {
            (Some(name), Value::Object(map)) => map.get_mut(name),
            (None, Value::Array(items)) => {
                let position = items.iter().position(|item| element_matches(item, element));
                position.and_then(|p| items.get_mut(p))
            }
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return,
        }
    }
    match (last.strip_prefix("f:"), current) {
        (Some(name), Value::Object(map)) => {
            map.remove(name);
        }
        (None, Value::Array(items)) => items.retain(|item| !element_matches(item, last)),
        _ => {}
    }
}

fn element_matches(item: &Value, element: &str) -> bool {
    if let Some(key) = element.strip_prefix("k:") {
        return serde_json::from_str::<BTreeMap<String, Value>>(key)
            .is_ok_and(|key| item_matches(item, &key));
    }
    if let Some(raw) = element.strip_prefix("v:") {
        return serde_json::from_str::<Value>(raw).is_ok_and(|wanted| json_equal(item, &wanted));
    }
    false
}

/// What changed between two versions of an object, as member paths.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    /// In both, with different values.
    pub modified: FieldSet,
    /// Only in the new object.
    pub added: FieldSet,
    /// Only in the old object.
    pub removed: FieldSet,
}

/// Compares `old` and `new` (objects of root type `ty`) within `part`. Maps and list items that exist in both
/// are not themselves modified; their leaves are compared.
#[must_use]
pub fn compare(old: &Value, new: &Value, ty: Ty, part: Part) -> Comparison {
    let old_set = field_set(old, ty, part);
    let new_set = field_set(new, ty, part);
    let mut comparison = Comparison {
        added: new_set.difference(&old_set),
        removed: old_set.difference(&new_set),
        ..Comparison::default()
    };
    for path in new_set.intersection(&old_set).members() {
        let container = new_set.node(&path).is_some_and(|n| !n.children.is_empty())
            || old_set.node(&path).is_some_and(|n| !n.children.is_empty());
        if container {
            continue;
        }
        let changed = match (value_at(old, &path), value_at(new, &path)) {
            (Some(a), Some(b)) => !json_equal(a, b),
            (a, b) => a.is_some() != b.is_some(),
        };
        if changed {
            comparison.modified.insert(&path);
        }
    }
    comparison
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `manager`.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// `apiVersion` the manager used.
    pub api_version: String,
    /// `time` as given (`metav1.Time`).
    pub time: Option<String>,
    /// `subresource`, when the writes went through one.
    pub subresource: Option<String>,
    /// The fields owned.
    pub fields: FieldSet,
}

impl Entry {
    /// Whether this entry is the one an `operation` by `manager` at `api_version` through `subresource`
    /// writes to (`Apply` entries are not per version).
    #[must_use]
    pub fn is(&self, manager: &str, operation: &str, api_version: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
            && (operation == "Apply" || self.api_version == api_version)
    }

    /// How kube names this manager in conflict messages: `"m"`, `"m" using apps/v1`, plus the subresource.
    #[must_use]
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }

    fn to_json(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_fields_v1(),
        });
        if let Some(time) = &self.time {
            entry["time"] = json!(time);
        }
        if let Some(sub) = &self.subresource {
            entry["subresource"] = json!(sub);
        }
        entry
    }
}

/// The entries of `object`'s `metadata.managedFields` (entries that are not objects are skipped).
#[must_use]
pub fn entries(object: &Value) -> Vec<Entry> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
            Some(Entry {
                manager: s("manager").unwrap_or_default(),
                operation: s("operation")?,
                api_version: s("apiVersion").unwrap_or_default(),
                time: s("time"),
                subresource: s("subresource").filter(|s| !s.is_empty()),
                fields: e
                    .get("fieldsV1")
                    .map(FieldSet::from_fields_v1)
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Writes `entries` as `object`'s `metadata.managedFields` (removing the field when there are none).
pub fn set_entries(object: &mut Value, entries: &[Entry]) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let meta = object.entry("metadata").or_insert_with(|| json!({}));
    let Some(meta) = meta.as_object_mut() else {
        return;
    };
    let kept: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(Entry::to_json)
        .collect();
    if kept.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".to_owned(), Value::Array(kept));
    }
}

/// The current time as `metav1.Time`.
#[must_use]
pub fn now() -> String {
    k8s_openapi::jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Who a non-apply write is recorded as: the `fieldManager` query parameter, else the User-Agent up to its
/// first `/` (kube's `managerOrUserAgent`), at most 128 characters.
#[must_use]
pub fn manager_or_user_agent(field_manager: Option<&str>, user_agent: Option<&str>) -> String {
    match field_manager.filter(|m| !m.is_empty()) {
        Some(manager) => manager.to_owned(),
        None => user_agent
            .unwrap_or_default()
            .split('/')
            .next()
            .unwrap_or_default()
            .chars()
            .take(128)
            .collect(),
    }
}

/// Whether a request body's `managedFields` asks to clear them: `[]` or `[{}]` (kube's
/// `isResetManagedFields`).
fn is_reset(object: &Value) -> bool {
    match object["metadata"].get("managedFields") {
        Some(Value::Array(items)) => {
            items.is_empty() || (items.len() == 1 && items[0].as_object().is_some_and(Map::is_empty))
        }
        _ => false,
    }
}

/// The entries a write starts from (kube's `decodeLiveOrNew`): the live ones for subresources and when the
/// request carries none; none when the request resets them; else the request's.
fn starting_entries(live: Option<&Value>, new: &Value, part: Part) -> Vec<Entry> {
    let live_entries = live.map(entries).unwrap_or_default();
    if !matches!(part, Part::Main { .. }) {
        return live_entries;
    }
    if is_reset(new) {
        return Vec::new();
    }
    let requested = entries(new);
    if requested.is_empty() {
        live_entries
    } else {
        requested
    }
}

/// Records a non-apply write (create, update, patch) by `manager` in `new`'s `managedFields`, as kube's
/// `FieldManager.Update` does: the manager's `Update` entry gains every field the write added or changed,
/// other managers lose those fields, and removed fields leave every entry. `live` is the object before the
/// write (`None` for a create); both objects should be normalized (defaulted) already. `ty` is the root type
/// ([`merge_keys::apply_root`](super::merge_keys::apply_root)).
pub fn track_update(
    live: Option<&Value>,
    new: &mut Value,
    manager: &str,
    api_version: &str,
    ty: Ty,
    part: Part,
) {
    let mut list = starting_entries(live, new, part);
    let empty = json!({});
    let comparison = compare(live.unwrap_or(&empty), new, ty, part);
    let changed = comparison.modified.union(&comparison.added);
    let subresource = part.subresource();
    for entry in &mut list {
        if entry.is(manager, "Update", api_version, subresource) {
            continue;
        }
        entry.fields = entry.fields.difference(&changed).difference(&comparison.removed);
    }
    let position = list
        .iter()
        .position(|e| e.is(manager, "Update", api_version, subresource));
    match position {
        Some(i) => {
            let before = list[i].fields.clone();
            let after = before.union(&changed).difference(&comparison.removed);
            if after != before {
                list[i].fields = after;
                list[i].time = Some(now());
            }
        }
        None if !changed.is_empty() => list.push(Entry {
            manager: manager.to_owned(),
            operation: "Update".to_owned(),
            api_version: api_version.to_owned(),
            time: Some(now()),
            subresource: subresource.map(str::to_owned),
            fields: changed,
        }),
        None => {}
    }
    list.retain(|e| !e.fields.is_empty());
    set_entries(new, &list);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::patch::merge_keys::apply_root;

    const MAIN: Part = Part::Main {
        status_subresource: true,
    };

    #[test]
    fn field_sets_of_a_deployment_in_fields_v1() {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"app": "web"}, "finalizers": ["x"]},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80}]}]}}
            },
            "status": {"replicas": 2}
        });
        let set = field_set(&deploy, apply_root("apps", "Deployment"), MAIN);
        assert_eq!(
            set.to_fields_v1(),
            json!({
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}, "f:finalizers": {"v:\"x\"": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                        ".": {}, "f:name": {}, "f:image": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}}
                }
            })
        );
        let round = FieldSet::from_fields_v1(&set.to_fields_v1());
        assert_eq!(round, set);
        let path = vec![
            "f:spec".to_owned(),
            "f:template".to_owned(),
            "f:spec".to_owned(),
            "f:containers".to_owned(),
            "k:{\"name\":\"c\"}".to_owned(),
            "f:image".to_owned(),
        ];
        assert!(set.contains(&path));
        assert_eq!(value_at(&deploy, &path), Some(&json!("nginx")));
        assert_eq!(
            path_string(&path),
            ".spec.template.spec.containers[name=\"c\"].image"
        );
        assert_eq!(
            path_string(&[
                "f:metadata".to_owned(),
                "f:finalizers".to_owned(),
                "v:\"x\"".to_owned()
            ]),
            ".metadata.finalizers[=\"x\"]"
        );
    }

    #[test]
    fn remove_at_removes_fields_and_items() {
        let mut object = json!({"spec": {"a": 1, "list": [{"name": "x"}, {"name": "y"}]}, "metadata": {"finalizers": ["f", "g"]}});
        remove_at(&mut object, &["f:spec".to_owned(), "f:a".to_owned()]);
        remove_at(
            &mut object,
            &[
                "f:spec".to_owned(),
                "f:list".to_owned(),
                "k:{\"name\":\"x\"}".to_owned(),
            ],
        );
        remove_at(
            &mut object,
            &[
                "f:metadata".to_owned(),
                "f:finalizers".to_owned(),
                "v:\"g\"".to_owned(),
            ],
        );
        remove_at(&mut object, &["f:nope".to_owned(), "f:x".to_owned()]);
        assert_eq!(
            object,
            json!({"spec": {"list": [{"name": "y"}]}, "metadata": {"finalizers": ["f"]}})
        );
    }

    #[test]
    fn updates_move_ownership_to_the_writer() {
        let ty = apply_root("", "ConfigMap");
        let part = Part::Main {
            status_subresource: false,
        };
        let mut created = json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
        track_update(None, &mut created, "creator", "v1", ty, part);
        let owned = &entries(&created)[0];
        assert_eq!(owned.manager, "creator");
        assert_eq!(owned.operation, "Update");
        assert_eq!(
            owned.fields.to_fields_v1(),
            json!({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
        );
        let mut updated = created.clone();
        updated["data"] = json!({"a": "9", "b": "2"});
        track_update(Some(&created), &mut updated, "editor", "v1", ty, part);
        let list = entries(&updated);
        assert_eq!(list.len(), 2);
        assert_eq!(
            list[0].fields.to_fields_v1(),
            json!({"f:data": {".": {}, "f:b": {}}})
        );
        assert_eq!(list[1].manager, "editor");
        assert_eq!(list[1].fields.to_fields_v1(), json!({"f:data": {"f:a": {}}}));
        // A no-op write changes nothing, not even times.
        let mut same = updated.clone();
        track_update(Some(&updated), &mut same, "editor", "v1", ty, part);
        assert_eq!(same, updated);
        // `[]` resets them.
        let mut reset = updated.clone();
        reset["metadata"]["managedFields"] = json!([]);
        track_update(Some(&updated), &mut reset, "x", "v1", ty, part);
        assert!(reset["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn manager_names() {
        assert_eq!(manager_or_user_agent(Some("m"), Some("kubectl/v1.32")), "m");
        assert_eq!(
            manager_or_user_agent(None, Some("kubectl/v1.32 (linux)")),
            "kubectl"
        );
        assert_eq!(manager_or_user_agent(Some(""), None), "");
    }
}
