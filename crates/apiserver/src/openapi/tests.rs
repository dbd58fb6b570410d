//! Unit tests of the generated documents, over the federation profile.

#![allow(clippy::unwrap_used)] // Test code: a panic is a failed assertion.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::*;
use crate::resources::federation_profile;

fn registry() -> Registry {
    Registry::new(federation_profile())
}

fn parse(document: &Document) -> Value {
    serde_json::from_slice(&document.body).unwrap()
}

/// Every `$ref` string anywhere in `value`.
fn refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                match (key.as_str(), value) {
                    ("$ref", Value::String(r)) => {
                        out.insert(r.clone());
                    }
                    _ => refs(value, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The schema named by a `$ref`, or reached through a single-entry `allOf`; `schema` itself otherwise.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let target = schema.get("$ref").or_else(|| {
        schema
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|all| all.first())
            .and_then(|first| first.get("$ref"))
    });
    match target.and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap();
            let found = doc["components"]["schemas"]
                .get(name)
                .unwrap_or_else(|| panic!("{r} unresolved"));
            resolve(doc, found)
        }
        None => schema,
    }
}

/// The schema of `path` (`["spec", "replicas"]`) under the schema named `root`.
fn field<'a>(doc: &'a Value, root: &str, path: &[&str]) -> &'a Value {
    let mut schema = &doc["components"]["schemas"][root];
    for (i, name) in path.iter().enumerate() {
        let parent = resolve(doc, schema);
        schema = parent["properties"]
            .get(*name)
            .unwrap_or_else(|| panic!("{root}: no field {}", path[..=i].join(".")));
    }
    schema
}

/// Fields of `value` that the schema does not declare (kube's Strict validation would reject them).
fn unknown_fields(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true)) {
        return;
    }
    match value {
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            for (key, child) in object {
                let at = format!("{at}.{key}");
                match (properties.and_then(|p| p.get(key)), additional) {
                    (Some(sub), _) => unknown_fields(doc, sub, child, &at, out),
                    (None, Some(sub)) if sub.is_object() => unknown_fields(doc, sub, child, &at, out),
                    (None, Some(Value::Bool(true))) => {}
                    (None, _) if properties.is_none() && schema.get("type") == Some(&json!("object")) => {}
                    (None, _) => out.push(at),
                }
            }
        }
        Value::Array(items) => {
            if let Some(sub) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    unknown_fields(doc, sub, item, &format!("{at}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[test]
fn every_served_group_version_is_in_the_index_with_its_hash() {
    let registry = registry();
    let specs = build(&registry);
    let index = parse(specs.index());
    let paths = index["paths"].as_object().unwrap();
    let mut expected = BTreeSet::new();
    for group in registry.groups() {
        for version in group.versions {
            expected.insert(gv_path(group.group, version));
        }
    }
    assert_eq!(paths.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (key, entry) in paths {
        let document = specs.document(key).unwrap();
        assert_eq!(
            entry["serverRelativeURL"],
            json!(format!("/openapi/v3/{key}?hash={}", document.hash))
        );
        assert_eq!(document.hash.len(), 128);
        assert!(
            document
                .hash
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }
    assert!(specs.untyped_kinds().is_empty(), "{:?}", specs.untyped_kinds());
}

#[test]
fn documents_are_deterministic() {
    let registry = registry();
    let (a, b) = (build(&registry), build(&registry));
    assert_eq!(a.index().body, b.index().body);
    assert_eq!(a.v2().hash, b.v2().hash);
}

#[test]
fn every_ref_resolves_inside_its_document() {
    let specs = build(&registry());
    for (key, document) in specs.documents() {
        let doc = parse(document);
        assert_eq!(doc["openapi"], "3.0.0");
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut all = BTreeSet::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{key}: foreign ref {r}"));
            assert!(schemas.contains_key(name), "{key}: {r} does not resolve");
        }
    }
    let v2 = parse(specs.v2());
    assert_eq!(v2["swagger"], "2.0");
    let mut all = BTreeSet::new();
    refs(&v2, &mut all);
    for r in all {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("v2: foreign ref {r}"));
        assert!(v2["definitions"].get(name).is_some(), "v2: {r} does not resolve");
    }
}

#[test]
fn every_served_kind_and_list_has_a_schema_with_its_gvk_and_a_patch_with_field_validation() {
    let registry = registry();
    let specs = build(&registry);
    for resource in registry.all() {
        let doc = parse(
            specs
                .document(&gv_path(resource.group, resource.version))
                .unwrap(),
        );
        let gvk = json!({"group": resource.group, "version": resource.version, "kind": resource.kind});
        let list_gvk = json!({"group": resource.group, "version": resource.version, "kind": format!("{}List", resource.kind)});
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let with_gvk = |gvk: &Value| {
            schemas
                .iter()
                .filter(|(_, s)| {
                    s["x-kubernetes-group-version-kind"]
                        .as_array()
                        .is_some_and(|l| l.contains(gvk))
                })
                .count()
        };
        assert_eq!(with_gvk(&gvk), 1, "{gvk}");
        assert_eq!(with_gvk(&list_gvk), 1, "{list_gvk}");
        let patches: Vec<&Value> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .filter_map(|item| item.get("patch"))
            .filter(|op| op["x-kubernetes-group-version-kind"] == gvk)
            .collect();
        assert!(!patches.is_empty(), "no PATCH for {gvk}");
        for op in patches {
            assert_eq!(op["x-kubernetes-action"], "patch");
            let params = op["parameters"].as_array().unwrap();
            for name in ["fieldValidation", "fieldManager", "dryRun"] {
                assert!(
                    params.iter().any(|p| p["name"] == name && p["in"] == "query"),
                    "{gvk}: PATCH lacks {name}"
                );
            }
        }
    }
}

#[test]
fn configmap_paths_are_kubes() {
    let specs = build(&registry());
    let doc = parse(specs.document("api/v1").unwrap());
    let paths = &doc["paths"];
    let item = &paths["/api/v1/namespaces/{namespace}/configmaps/{name}"];
    for (method, action) in [
        ("get", "get"),
        ("put", "put"),
        ("patch", "patch"),
        ("delete", "delete"),
    ] {
        assert_eq!(item[method]["x-kubernetes-action"], action);
    }
    assert_eq!(
        item["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.ConfigMap"
    );
    let collection = &paths["/api/v1/namespaces/{namespace}/configmaps"];
    assert_eq!(collection["get"]["x-kubernetes-action"], "list");
    assert_eq!(collection["post"]["x-kubernetes-action"], "post");
    assert_eq!(collection["delete"]["x-kubernetes-action"], "deletecollection");
    assert_eq!(
        collection["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/io.k8s.api.core.v1.ConfigMapList"
    );
    assert_eq!(paths["/api/v1/configmaps"]["get"]["x-kubernetes-action"], "list");
    assert!(paths["/api/v1/namespaces/{name}/finalize"]["put"].is_object());
    assert!(paths["/api/v1/namespaces/{name}/status"]["patch"].is_object());
}

#[test]
fn deployment_schema_is_complete_and_described() {
    let specs = build(&registry());
    let doc = parse(specs.document("apis/apps/v1").unwrap());
    let deployment = "io.k8s.api.apps.v1.Deployment";
    let replicas = field(&doc, deployment, &["spec", "replicas"]);
    assert_eq!(replicas["type"], "integer");
    assert!(
        replicas["description"]
            .as_str()
            .unwrap()
            .contains("Number of desired pods")
    );
    let image = field(&doc, deployment, &["spec", "template", "spec", "containers"]);
    assert_eq!(image["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(image["x-kubernetes-patch-strategy"], "merge");
    let ports = field(&doc, deployment, &["spec", "template", "spec", "containers"]);
    let container = resolve(&doc, &ports["items"]);
    assert_eq!(
        container["properties"]["ports"]["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    assert_eq!(
        field(&doc, deployment, &["spec", "strategy"])["x-kubernetes-patch-strategy"],
        "retainKeys"
    );
    assert!(field(&doc, deployment, &["metadata", "labels"])["description"].is_string());
    // kube requires neither metadata nor spec of a top-level kind.
    assert!(doc["components"]["schemas"][deployment].get("required").is_none());
    // Scale for /scale, with its GVK.
    assert_eq!(
        doc["components"]["schemas"][schemas::SCALE]["x-kubernetes-group-version-kind"],
        json!([{"group": "autoscaling", "version": "v1", "kind": "Scale"}])
    );
    assert_eq!(
        doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]["x-kubernetes-group-version-kind"],
        json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
    );
}

#[test]
fn a_full_deployment_has_no_field_the_schema_lacks() {
    let specs = build(&registry());
    let doc = parse(specs.document("apis/apps/v1").unwrap());
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "n", "labels": {"a": "b"}, "finalizers": ["x"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "o", "uid": "u", "controller": true}]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"a": "b"}, "matchExpressions": [{"key": "k", "operator": "In", "values": ["v"]}]},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [{
                        "name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "env": [{"name": "E", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                        "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                        "volumeMounts": [{"name": "v", "mountPath": "/v"}]
                    }],
                    "volumes": [{"name": "v", "configMap": {"name": "cm"}}],
                    "tolerations": [{"key": "k", "operator": "Exists"}]
                }
            }
        },
        "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}
    });
    let mut unknown = Vec::new();
    let root = json!({"$ref": "#/components/schemas/io.k8s.api.apps.v1.Deployment"});
    unknown_fields(&doc, &root, &deployment, "", &mut unknown);
    assert!(unknown.is_empty(), "{unknown:?}");
    let mut unknown = Vec::new();
    unknown_fields(
        &doc,
        &root,
        &json!({"spec": {"replicas": 1, "bogus": 1}}),
        "",
        &mut unknown,
    );
    assert_eq!(unknown, vec![".spec.bogus"]);
}

#[test]
fn the_cluster_schema_matches_the_cluster_type() {
    use fcp_api::cluster::{
        Cluster, ClusterCondition, ClusterSpec, ClusterStatus, ServerAddressByClientCIDR,
    };
    use k8s_openapi::{api::core::v1::LocalObjectReference, apimachinery::pkg::apis::meta::v1::Time};

    let specs = build(&registry());
    let doc = parse(specs.document("apis/federation/v1beta1").unwrap());
    let name = format!("{}Cluster", schemas::FEDERATION_PREFIX);
    let schema = &doc["components"]["schemas"][&name];
    assert_eq!(
        schema["x-kubernetes-group-version-kind"],
        json!([{"group": "federation", "version": "v1beta1", "kind": "Cluster"}])
    );
    let now = Time(jiff::Timestamp::UNIX_EPOCH);
    let mut cluster = Cluster::new(
        "c1",
        ClusterSpec {
            server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
                client_cidr: "0.0.0.0/0".into(),
                server_address: "https://1.2.3.4".into(),
            }],
            secret_ref: Some(LocalObjectReference { name: "s".into() }),
        },
    );
    cluster.status = Some(ClusterStatus {
        conditions: vec![ClusterCondition {
            type_: "Ready".into(),
            status: "True".into(),
            last_probe_time: Some(now.clone()),
            last_transition_time: Some(now),
            reason: Some("ClusterReady".into()),
            message: Some("/healthz responded with ok".into()),
        }],
        zones: vec!["z1".into()],
        region: Some("r1".into()),
    });
    let value = serde_json::to_value(&cluster).unwrap();
    let mut unknown = Vec::new();
    unknown_fields(
        &doc,
        &json!({"$ref": format!("#/components/schemas/{name}")}),
        &value,
        "",
        &mut unknown,
    );
    assert!(unknown.is_empty(), "{unknown:?}");
    let cidrs = field(&doc, &name, &["spec", "serverAddressByClientCIDRs"]);
    assert_eq!(cidrs["x-kubernetes-patch-merge-key"], "clientCIDR");
    assert!(doc["paths"]["/apis/federation/v1beta1/clusters/{name}"]["patch"].is_object());
    assert!(doc["paths"]["/apis/federation/v1beta1/clusters/{name}/status"]["put"].is_object());
}

#[test]
fn v2_uses_definitions_and_plain_refs() {
    let specs = build(&registry());
    let v2 = parse(specs.v2());
    let body = specs.v2().body.clone();
    assert!(!String::from_utf8_lossy(&body).contains("#/components/"));
    let spec = &v2["definitions"]["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"];
    assert_eq!(spec["$ref"], "#/definitions/io.k8s.api.apps.v1.DeploymentSpec");
    assert!(spec.get("allOf").is_none());
    let patch = &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert!(
        patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["type"] == "string")
    );
    assert_eq!(
        v2["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["format"],
        "int-or-string"
    );
}

#[test]
fn specs_are_cached_per_registry_contents() {
    let a = specs_blocking(&registry());
    let b = specs_blocking(&registry());
    assert!(Arc::ptr_eq(&a, &b));
}

/// Prints what each document costs; run with `--nocapture` to see it.
#[test]
fn report_sizes_and_build_time() {
    let specs = build(&registry());
    for (key, document) in specs.documents() {
        eprintln!("openapi v3 {key}: {} bytes", document.body.len());
    }
    eprintln!("openapi v2 (JSON): {} bytes", specs.v2().body.len());
    eprintln!("built in {:?}", specs.build_time());
    if let Ok(dir) = std::env::var("FCP_OPENAPI_DUMP") {
        for (key, document) in specs.documents() {
            std::fs::write(format!("{dir}/{}.json", key.replace('/', "__")), &document.body).unwrap();
        }
        std::fs::write(format!("{dir}/v2.json"), &specs.v2().body).unwrap();
    }
}
