//! The strategic-merge-patch and list-type extensions of kube's schemas, which `k8s-openapi` does not carry.
//!
//! kubectl (client-side `apply`, `diff`) computes strategic merge patches from the server's OpenAPI v3 when
//! the kind's schema is there; without `x-kubernetes-patch-merge-key` it would replace whole lists (every
//! container of a pod template) instead of merging them by key. The values are those of the Go struct tags
//! (`patchStrategy`, `patchMergeKey`) and `+listType`/`+listMapKey` markers of the Kubernetes API types,
//! for the lists reachable from the kinds fcp serves.

use serde_json::{Value, json};

/// How one list field merges.
struct ListMeta {
    /// `x-kubernetes-patch-strategy` (`merge`, `merge,retainKeys`, `retainKeys`).
    strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`.
    merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type` (`atomic`, `set`, `map`).
    list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys` (for `map`).
    map_keys: &'static [&'static str],
}

/// A list merged by `key` (`patchStrategy:"merge" patchMergeKey:"<key>"`, `+listType=map`).
const fn merge_by(key: &'static str, map_keys: &'static [&'static str]) -> ListMeta {
    ListMeta {
        strategy: Some("merge"),
        merge_key: Some(key),
        list_type: Some("map"),
        map_keys,
    }
}

/// A list merged by `key` without a declared list type.
const fn merge_by_untyped(key: &'static str) -> ListMeta {
    ListMeta {
        strategy: Some("merge"),
        merge_key: Some(key),
        list_type: None,
        map_keys: &[],
    }
}

/// A list replaced as a whole (`+listType=atomic`).
const ATOMIC: ListMeta = ListMeta {
    strategy: None,
    merge_key: None,
    list_type: Some("atomic"),
    map_keys: &[],
};

/// Conditions keyed by `type`, as most status types declare them.
const CONDITIONS: ListMeta = merge_by("type", &["type"]);

const POD_SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const CONTAINER: &str = "io.k8s.api.core.v1.Container";
const EPHEMERAL_CONTAINER: &str = "io.k8s.api.core.v1.EphemeralContainer";

/// `(schema, property)` → how the list merges.
const TABLE: &[(&str, &str, ListMeta)] = &[
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "finalizers",
        ListMeta {
            strategy: Some("merge"),
            merge_key: None,
            list_type: Some("set"),
            map_keys: &[],
        },
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "ownerReferences",
        merge_by("uid", &["uid"]),
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "managedFields",
        ATOMIC,
    ),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
        "matchExpressions",
        ATOMIC,
    ),
    (POD_SPEC, "containers", merge_by("name", &["name"])),
    (POD_SPEC, "initContainers", merge_by("name", &["name"])),
    (POD_SPEC, "ephemeralContainers", merge_by("name", &["name"])),
    (
        POD_SPEC,
        "volumes",
        ListMeta {
            strategy: Some("merge,retainKeys"),
            merge_key: Some("name"),
            list_type: Some("map"),
            map_keys: &["name"],
        },
    ),
    (POD_SPEC, "imagePullSecrets", merge_by("name", &["name"])),
    (POD_SPEC, "hostAliases", merge_by("ip", &["ip"])),
    (
        POD_SPEC,
        "topologySpreadConstraints",
        merge_by("topologyKey", &["topologyKey", "whenUnsatisfiable"]),
    ),
    (
        POD_SPEC,
        "resourceClaims",
        ListMeta {
            strategy: Some("merge,retainKeys"),
            merge_key: Some("name"),
            list_type: Some("map"),
            map_keys: &["name"],
        },
    ),
    (POD_SPEC, "schedulingGates", merge_by("name", &["name"])),
    (POD_SPEC, "tolerations", ATOMIC),
    (POD_SPEC, "readinessGates", ATOMIC),
    (
        CONTAINER,
        "ports",
        merge_by("containerPort", &["containerPort", "protocol"]),
    ),
    (CONTAINER, "env", merge_by_untyped("name")),
    (CONTAINER, "volumeMounts", merge_by_untyped("mountPath")),
    (CONTAINER, "volumeDevices", merge_by_untyped("devicePath")),
    (CONTAINER, "envFrom", ATOMIC),
    (CONTAINER, "resizePolicy", ATOMIC),
    (EPHEMERAL_CONTAINER, "ports", merge_by_untyped("containerPort")),
    (EPHEMERAL_CONTAINER, "env", merge_by_untyped("name")),
    (EPHEMERAL_CONTAINER, "volumeMounts", merge_by_untyped("mountPath")),
    (
        EPHEMERAL_CONTAINER,
        "volumeDevices",
        merge_by_untyped("devicePath"),
    ),
    (EPHEMERAL_CONTAINER, "envFrom", ATOMIC),
    (EPHEMERAL_CONTAINER, "resizePolicy", ATOMIC),
    (
        "io.k8s.api.core.v1.ServiceSpec",
        "ports",
        merge_by("port", &["port", "protocol"]),
    ),
    ("io.k8s.api.core.v1.ServiceSpec", "externalIPs", ATOMIC),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", CONDITIONS),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", CONDITIONS),
    ("io.k8s.api.core.v1.PodStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", CONDITIONS),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", CONDITIONS),
    (
        "io.k8s.api.batch.v1.JobStatus",
        "conditions",
        ListMeta {
            strategy: Some("merge"),
            merge_key: Some("type"),
            list_type: Some("atomic"),
            map_keys: &[],
        },
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerStatus",
        "conditions",
        CONDITIONS,
    ),
    (
        "io.k8s.api.autoscaling.v2.HorizontalPodAutoscalerSpec",
        "metrics",
        ATOMIC,
    ),
    ("io.k8s.api.networking.v1.IngressSpec", "rules", ATOMIC),
    ("io.k8s.api.networking.v1.IngressSpec", "tls", ATOMIC),
    ("io.k8s.api.rbac.v1.Role", "rules", ATOMIC),
    ("io.k8s.api.rbac.v1.ClusterRole", "rules", ATOMIC),
    ("io.k8s.api.rbac.v1.RoleBinding", "subjects", ATOMIC),
    ("io.k8s.api.rbac.v1.ClusterRoleBinding", "subjects", ATOMIC),
];

/// Extensions on whole fields that are not lists: `DeploymentSpec.strategy` keeps only the keys of the
/// chosen strategy type (`patchStrategy:"retainKeys"`).
const RETAIN_KEYS: &[(&str, &str)] = &[("io.k8s.api.apps.v1.DeploymentSpec", "strategy")];

/// Adds the extensions kube has on the properties of the schema `name`.
pub(crate) fn apply(name: &str, schema: &mut Value) {
    for (_, property, meta) in TABLE.iter().filter(|(schema_name, ..)| *schema_name == name) {
        let Some(Value::Object(field)) = schema.pointer_mut(&format!("/properties/{property}")) else {
            continue;
        };
        if let Some(strategy) = meta.strategy {
            field.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
        }
        if let Some(key) = meta.merge_key {
            field.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
        if let Some(list_type) = meta.list_type {
            field.insert("x-kubernetes-list-type".into(), json!(list_type));
        }
        if !meta.map_keys.is_empty() {
            field.insert("x-kubernetes-list-map-keys".into(), json!(meta.map_keys));
        }
    }
    for (_, property) in RETAIN_KEYS.iter().filter(|(schema_name, _)| *schema_name == name) {
        if let Some(Value::Object(field)) = schema.pointer_mut(&format!("/properties/{property}")) {
            field.insert("x-kubernetes-patch-strategy".into(), json!("retainKeys"));
        }
    }
}
