//! Discovery documents (`/api`, `/api/v1`, `/apis`, `/apis/{group}`, `/apis/{group}/{version}`) and
//! `/version`.

use serde_json::{Value, json};

use crate::{
    auth::reviews::{REVIEW_RESOURCES, ReviewResource},
    registry::{GroupVersions, Registry, ResourceDef},
};

/// The groups of the review APIs ([`crate::auth::reviews`]): served by handlers, not by the registry.
fn review_groups() -> Vec<GroupVersions> {
    let mut groups: Vec<GroupVersions> = Vec::new();
    for review in &REVIEW_RESOURCES {
        if !groups.iter().any(|g| g.group == review.group) {
            groups.push(GroupVersions {
                group: review.group,
                versions: vec![review.version],
            });
        }
    }
    groups
}

fn reviews_of<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static ReviewResource> + 'a {
    REVIEW_RESOURCES
        .iter()
        .filter(move |r| r.group == group && r.version == version)
}

/// Every group: the registry's, then the review APIs'.
fn all_groups(registry: &Registry) -> Vec<GroupVersions> {
    let mut groups = registry.groups();
    groups.extend(review_groups());
    groups
}

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
    let groups: Vec<Value> = all_groups(registry)
        .iter()
        .filter(|g| !g.group.is_empty())
        .map(api_group)
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`: `APIGroup`, or `None` when the group is not served.
#[must_use]
pub fn api_group_doc(registry: &Registry, name: &str) -> Option<Value> {
    let group = all_groups(registry)
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
    let mut resources: Vec<Value> = reviews_of(group, version)
        .map(|r| {
            json!({
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": false,
                "kind": r.kind,
                "verbs": ["create"],
            })
        })
        .collect();
    if !registry.serves(group, version) && resources.is_empty() {
        return None;
    }
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

/// Which aggregated discovery version a client accepts (`apidiscovery.k8s.io` `v2` or `v2beta1`), by the
/// order of its `Accept` header; `None` when it wants the legacy documents.
#[must_use]
pub fn aggregated_version(accept: &str) -> Option<&'static str> {
    accept.split(',').find_map(|entry| {
        let params: Vec<String> = entry
            .split(';')
            .skip(1)
            .map(|p| p.trim().replace(' ', ""))
            .collect();
        let has = |wanted: &str| params.iter().any(|p| p == wanted);
        if !(has("g=apidiscovery.k8s.io") && has("as=APIGroupDiscoveryList")) {
            return None;
        }
        if has("v=v2") {
            Some("v2")
        } else if has("v=v2beta1") {
            Some("v2beta1")
        } else {
            None
        }
    })
}

/// The Content-Type of an aggregated discovery document of `version`.
#[must_use]
pub fn aggregated_content_type(version: &str) -> String {
    format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList")
}

/// Aggregated discovery (`APIGroupDiscoveryList`): for `/api` (`core = true`, one item with an empty name)
/// or `/apis` (every named group, versions in preference order).
#[must_use]
pub fn aggregated(registry: &Registry, core: bool, version: &str) -> Value {
    let items: Vec<Value> = all_groups(registry)
        .iter()
        .filter(|g| g.group.is_empty() == core)
        .map(|group| {
            let versions: Vec<Value> = group
                .versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = registry
                        .resources_of(group.group, v)
                        .map(aggregated_resource)
                        .chain(reviews_of(group.group, v).map(|r| {
                            json!({
                                "resource": r.plural,
                                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                                "scope": "Cluster",
                                "singularResource": r.singular,
                                "verbs": ["create"],
                            })
                        }))
                        .collect();
                    json!({"version": v, "freshness": "Current", "resources": resources})
                })
                .collect();
            let metadata = if core {
                json!({})
            } else {
                json!({"name": group.group})
            };
            json!({"metadata": metadata, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    })
}

fn aggregated_resource(resource: &std::sync::Arc<ResourceDef>) -> Value {
    let kind = json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
    let mut subresources = Vec::new();
    if resource.subresources.status {
        subresources.push(
            json!({"subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]}),
        );
    }
    if resource.subresources.scale {
        subresources.push(json!({
            "subresource": "scale",
            "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
            "verbs": ["get", "patch", "update"],
        }));
    }
    if resource.group.is_empty() && resource.plural == "namespaces" {
        subresources.push(json!({"subresource": "finalize", "responseKind": kind, "verbs": ["update"]}));
    }
    let mut doc = json!({
        "resource": resource.plural,
        "responseKind": kind,
        "scope": if resource.namespaced() { "Namespaced" } else { "Cluster" },
        "singularResource": resource.singular,
        "verbs": resource.verbs(),
    });
    if !resource.short_names.is_empty() {
        doc["shortNames"] = json!(resource.short_names);
    }
    if !resource.categories.is_empty() {
        doc["categories"] = json!(resource.categories);
    }
    if !subresources.is_empty() {
        doc["subresources"] = json!(subresources);
    }
    doc
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
    fn aggregated_discovery_is_chosen_by_accept_order() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(kubectl), Some("v2"));
        assert_eq!(
            aggregated_version("application/json;as=APIGroupDiscoveryList;v=v2beta1;g=apidiscovery.k8s.io"),
            Some("v2beta1")
        );
        assert_eq!(aggregated_version("application/json"), None);
        assert_eq!(
            aggregated_version("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList"),
            None
        );
    }

    #[test]
    fn aggregated_documents_list_resources_with_subresources() {
        let registry = Registry::new(federation_profile());
        let apis = aggregated(&registry, false, "v2");
        let apps = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == "apps")
            .unwrap();
        let deployments = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        assert_eq!(deployments["scope"], "Namespaced");
        assert_eq!(deployments["subresources"][1]["responseKind"]["kind"], "Scale");
        let core = aggregated(&registry, true, "v2");
        assert_eq!(core["items"].as_array().unwrap().len(), 1);
        assert_eq!(core["items"][0]["metadata"], json!({}));
        let autoscaling = apis["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["metadata"]["name"] == "autoscaling")
            .unwrap();
        assert_eq!(
            autoscaling["versions"][0]["version"], "v2",
            "preferred version first"
        );
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
