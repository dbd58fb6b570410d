//! Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`) and
//! `/version`.

use serde_json::{Value, json};

use crate::registry::{GroupVersions, Registry, ResourceDef};

/// `GET /api`: `APIVersions`.
#[must_use]
pub fn api_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// One `APIGroup`.
fn api_group(group: &GroupVersions) -> Value {
    let versions: Vec<Value> = group
        .versions
        .iter()
        .map(|v| json!({"groupVersion": group_version(group.group, v), "version": v}))
        .collect();
    json!({
        "name": group.group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`: `APIGroupList` of every named group, in registration order.
#[must_use]
pub fn api_group_list(registry: &Registry) -> Value {
    let groups: Vec<Value> = registry
        .groups()
        .iter()
        .filter(|g| !g.group.is_empty())
        .map(api_group)
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`: `APIGroup`, or `None` when the group is not served.
#[must_use]
pub fn api_group_doc(registry: &Registry, name: &str) -> Option<Value> {
    let group = registry
        .groups()
        .into_iter()
        .find(|g| g.group == name && !name.is_empty())?;
    let mut doc = api_group(&group);
    doc["kind"] = json!("APIGroup");
    doc["apiVersion"] = json!("v1");
    Some(doc)
}

/// `GET /api/v1` or `/apis/{group}/{version}`: `APIResourceList`, or `None` when not served.
#[must_use]
pub fn api_resource_list(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    if !registry.serves(group, version) {
        return None;
    }
    let mut resources = Vec::new();
    for resource in registry.resources_of(group, version) {
        resources.push(main_resource(resource));
        if resource.subresources.status {
            resources.push(json!({
                "name": format!("{}/status", resource.plural),
                "singularName": "",
                "namespaced": resource.namespaced(),
                "kind": resource.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if resource.subresources.scale {
            resources.push(json!({
                "name": format!("{}/scale", resource.plural),
                "singularName": "",
                "namespaced": resource.namespaced(),
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        if resource.group.is_empty() && resource.plural == "namespaces" {
            resources.push(json!({
                "name": "namespaces/finalize",
                "singularName": "",
                "namespaced": false,
                "kind": "Namespace",
                "verbs": ["update"],
            }));
        }
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version(group, version),
        "resources": resources,
    }))
}

fn main_resource(resource: &ResourceDef) -> Value {
    let mut doc = json!({
        "name": resource.plural,
        "singularName": resource.singular,
        "namespaced": resource.namespaced(),
        "kind": resource.kind,
        "verbs": resource.verbs(),
    });
    if !resource.short_names.is_empty() {
        doc["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        doc["categories"] = json!(resource.categories);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::federation_profile;

    #[test]
    fn apps_comes_before_other_groups_and_core_is_not_a_named_group() {
        let registry = Registry::new(federation_profile());
        let list = api_group_list(&registry);
        let names: Vec<&str> = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.first(), Some(&"apps"));
        assert!(names.contains(&"federation"));
        assert!(!names.contains(&""));
    }

    #[test]
    fn resource_lists_carry_subresources_and_short_names() {
        let registry = Registry::new(federation_profile());
        let list = api_resource_list(&registry, "apps", "v1").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"deployments/scale"));
        assert!(names.contains(&"deployments/status"));
        let deployments = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "deployments")
            .unwrap();
        assert_eq!(deployments["shortNames"], json!(["deploy"]));
        assert!(api_resource_list(&registry, "apps", "v2").is_none());
    }
}
