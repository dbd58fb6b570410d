//! The `components.schemas` of one group/version document: the served kinds, their lists, and everything they
//! reference, named and shaped as kube-apiserver names and shapes them.
//!
//! Built-in kinds come from `k8s-openapi`'s `schemars` implementations (which already use kube's names,
//! `io.k8s.api.apps.v1.Deployment`); they are then adjusted to what kube-apiserver serves: `allOf` around
//! `$ref`s with siblings, no `required` for `metadata`/`spec`/`status` of top-level kinds, kube's forms of
//! `IntOrString` and `Quantity`, and the strategic-merge-patch extensions of [`super::patch_meta`]. The
//! federation `Cluster` is written out here by hand, after Federation v1's `types.go`.

use k8s_openapi::{
    api::{apps, autoscaling, batch, coordination, core, discovery, events, networking, policy, rbac},
    apimachinery::pkg::apis::meta::v1::{
        DeleteOptions, ListMeta, ObjectMeta, Patch, ServerAddressByClientCIDR, Status, Time,
    },
};
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::patch_meta;

/// `#/components/schemas/` (OpenAPI 3); the v2 document rewrites it to `#/definitions/`.
pub(crate) const REF_PREFIX: &str = "#/components/schemas/";

/// Schema name of `ObjectMeta`.
const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// Schema name of `ListMeta`.
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
/// Schema name of `IntOrString`.
const INT_OR_STRING: &str = "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
/// Schema name of `Quantity`.
const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
/// Schema name of `Status`.
pub(crate) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// Schema name of `DeleteOptions`.
pub(crate) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// Schema name of the PATCH request body.
pub(crate) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/// Schema name of a watch event.
pub(crate) const WATCH_EVENT: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent";
/// Schema name of the `autoscaling/v1` `Scale` served by `/scale` subresources.
pub(crate) const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";
/// The prefix of federation schema names (Federation v1's Go package path, reversed like kube's).
pub(crate) const FEDERATION_PREFIX: &str = "io.k8s.federation.apis.federation.v1beta1.";

/// Description of `apiVersion`, as every kube schema words it.
const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
/// Description of `kind`, as every kube schema words it.
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
/// Description of object `metadata`.
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
/// Description of list `metadata`.
const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// A group/version/kind, as `x-kubernetes-group-version-kind` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Gvk {
    /// API group (`""` for core).
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
}

impl Gvk {
    /// `{"group": …, "kind": …, "version": …}`.
    pub(crate) fn to_json(&self) -> Value {
        json!({"group": self.group, "kind": self.kind, "version": self.version})
    }
}

/// The schema names of one served kind and of its list kind.
#[derive(Debug, Clone)]
pub(crate) struct KindNames {
    /// `io.k8s.api.apps.v1.Deployment`.
    pub kind: String,
    /// `io.k8s.api.apps.v1.DeploymentList`.
    pub list: String,
    /// Whether the schema is the real one (`false`: a placeholder that accepts any object).
    pub known: bool,
}

/// Collects the schemas of one group/version document.
pub(crate) struct SchemaSet {
    generator: SchemaGenerator,
    /// Hand-written schemas (Cluster, lists, placeholders), already in their final form.
    extra: Map<String, Value>,
    /// The top-level kinds (with their GVKs) whose schemas get `x-kubernetes-group-version-kind`.
    gvks: Vec<(String, Gvk)>,
}

impl SchemaSet {
    /// An empty set; every document also carries `Status`, `DeleteOptions`, `Patch` and `WatchEvent`, which
    /// its operations reference.
    pub(crate) fn new() -> Self {
        let mut set = Self {
            generator: SchemaSettings::openapi3()
                .with(|s| s.meta_schema = None)
                .into_generator(),
            extra: Map::new(),
            gvks: Vec::new(),
        };
        set.generator.subschema_for::<Status>();
        set.generator.subschema_for::<DeleteOptions>();
        set.generator.subschema_for::<Patch>();
        set.extra.insert(WATCH_EVENT.to_owned(), watch_event_schema());
        set.gvks.push((STATUS.to_owned(), gvk("", "v1", "Status")));
        set.gvks
            .push((DELETE_OPTIONS.to_owned(), gvk("", "v1", "DeleteOptions")));
        set
    }

    /// Adds the schema of the served kind `group/version/kind` and of its list kind, and returns their names.
    /// A kind without a known schema gets a placeholder that accepts any object (and `known: false`).
    pub(crate) fn add_kind(&mut self, group: &str, version: &str, kind: &str) -> KindNames {
        let (name, known) = match self.typed_kind(group, version, kind) {
            Some(name) => (name, true),
            None => {
                let name = placeholder_name(group, version, kind);
                let meta = self.generator.subschema_for::<ObjectMeta>();
                self.extra
                    .insert(name.clone(), placeholder_schema(kind, meta.to_value()));
                (name, false)
            }
        };
        let list = format!("{name}List");
        if !self.extra.contains_key(&list) {
            self.generator.subschema_for::<ListMeta>();
            self.extra.insert(list.clone(), list_schema(&name, kind));
        }
        self.gvks.push((name.clone(), gvk(group, version, kind)));
        self.gvks
            .push((list.clone(), gvk(group, version, &format!("{kind}List"))));
        KindNames {
            kind: name,
            list,
            known,
        }
    }

    /// Adds `autoscaling/v1` `Scale` (for `/scale` subresources).
    pub(crate) fn add_scale(&mut self) {
        self.generator.subschema_for::<autoscaling::v1::Scale>();
        let scale = gvk("autoscaling", "v1", "Scale");
        if !self.gvks.iter().any(|(name, _)| name == SCALE) {
            self.gvks.push((SCALE.to_owned(), scale));
        }
    }

    /// The schema name of a kind with a typed schema, after adding it (and what it references).
    fn typed_kind(&mut self, group: &str, version: &str, kind: &str) -> Option<String> {
        fn add<T: JsonSchema>(generator: &mut SchemaGenerator) -> Option<String> {
            generator.subschema_for::<T>();
            Some(T::schema_name().into_owned())
        }
        let g = &mut self.generator;
        match (group, version, kind) {
            ("", "v1", "ConfigMap") => add::<core::v1::ConfigMap>(g),
            ("", "v1", "Endpoints") => add::<core::v1::Endpoints>(g),
            ("", "v1", "Event") => add::<core::v1::Event>(g),
            ("", "v1", "LimitRange") => add::<core::v1::LimitRange>(g),
            ("", "v1", "Namespace") => add::<core::v1::Namespace>(g),
            ("", "v1", "Node") => add::<core::v1::Node>(g),
            ("", "v1", "PersistentVolumeClaim") => add::<core::v1::PersistentVolumeClaim>(g),
            ("", "v1", "Pod") => add::<core::v1::Pod>(g),
            ("", "v1", "PodTemplate") => add::<core::v1::PodTemplate>(g),
            ("", "v1", "ReplicationController") => add::<core::v1::ReplicationController>(g),
            ("", "v1", "ResourceQuota") => add::<core::v1::ResourceQuota>(g),
            ("", "v1", "Secret") => add::<core::v1::Secret>(g),
            ("", "v1", "Service") => add::<core::v1::Service>(g),
            ("", "v1", "ServiceAccount") => add::<core::v1::ServiceAccount>(g),
            ("apps", "v1", "ControllerRevision") => add::<apps::v1::ControllerRevision>(g),
            ("apps", "v1", "DaemonSet") => add::<apps::v1::DaemonSet>(g),
            ("apps", "v1", "Deployment") => add::<apps::v1::Deployment>(g),
            ("apps", "v1", "ReplicaSet") => add::<apps::v1::ReplicaSet>(g),
            ("apps", "v1", "StatefulSet") => add::<apps::v1::StatefulSet>(g),
            ("autoscaling", "v1", "HorizontalPodAutoscaler") => {
                add::<autoscaling::v1::HorizontalPodAutoscaler>(g)
            }
            ("autoscaling", "v2", "HorizontalPodAutoscaler") => {
                add::<autoscaling::v2::HorizontalPodAutoscaler>(g)
            }
            ("batch", "v1", "CronJob") => add::<batch::v1::CronJob>(g),
            ("batch", "v1", "Job") => add::<batch::v1::Job>(g),
            ("coordination.k8s.io", "v1", "Lease") => add::<coordination::v1::Lease>(g),
            ("discovery.k8s.io", "v1", "EndpointSlice") => add::<discovery::v1::EndpointSlice>(g),
            ("events.k8s.io", "v1", "Event") => add::<events::v1::Event>(g),
            ("networking.k8s.io", "v1", "Ingress") => add::<networking::v1::Ingress>(g),
            ("networking.k8s.io", "v1", "IngressClass") => add::<networking::v1::IngressClass>(g),
            ("networking.k8s.io", "v1", "NetworkPolicy") => add::<networking::v1::NetworkPolicy>(g),
            ("policy", "v1", "PodDisruptionBudget") => add::<policy::v1::PodDisruptionBudget>(g),
            ("rbac.authorization.k8s.io", "v1", "ClusterRole") => add::<rbac::v1::ClusterRole>(g),
            ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding") => {
                add::<rbac::v1::ClusterRoleBinding>(g)
            }
            ("rbac.authorization.k8s.io", "v1", "Role") => add::<rbac::v1::Role>(g),
            ("rbac.authorization.k8s.io", "v1", "RoleBinding") => add::<rbac::v1::RoleBinding>(g),
            (fcp_api::cluster::GROUP, fcp_api::cluster::VERSION, "Cluster") => {
                let name = format!("{FEDERATION_PREFIX}Cluster");
                if !self.extra.contains_key(&name) {
                    self.add_cluster();
                }
                Some(name)
            }
            _ => None,
        }
    }

    /// Federation v1's `Cluster`, `ClusterSpec`, `ClusterStatus` and `ClusterCondition`
    /// (`federation/apis/federation/v1beta1/types.go`), matching `fcp_api::cluster`'s wire format.
    fn add_cluster(&mut self) {
        let object_meta = self.generator.subschema_for::<ObjectMeta>();
        let cidr = self.generator.subschema_for::<ServerAddressByClientCIDR>();
        let secret_ref = self.generator.subschema_for::<core::v1::LocalObjectReference>();
        let time = self.generator.subschema_for::<Time>();
        let local = |name: &str| json!({"$ref": format!("{REF_PREFIX}{FEDERATION_PREFIX}{name}")});
        self.extra.insert(
            format!("{FEDERATION_PREFIX}Cluster"),
            json!({
                "description": "Information about a registered cluster in a federated kubernetes setup. Clusters are not namespaced and have unique names in the federation.",
                "type": "object",
                "properties": {
                    "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
                    "kind": {"description": KIND_DESCRIPTION, "type": "string"},
                    "metadata": {"allOf": [object_meta], "default": {}, "description": METADATA_DESCRIPTION},
                    "spec": {
                        "allOf": [local("ClusterSpec")],
                        "default": {},
                        "description": "Spec defines the behavior of the Cluster.",
                    },
                    "status": {
                        "allOf": [local("ClusterStatus")],
                        "default": {},
                        "description": "Status describes the current status of a Cluster",
                    },
                },
            }),
        );
        self.extra.insert(
            format!("{FEDERATION_PREFIX}ClusterSpec"),
            json!({
                "description": "ClusterSpec describes the attributes of a kubernetes cluster.",
                "type": "object",
                "properties": {
                    "serverAddressByClientCIDRs": {
                        "description": "A map of client CIDR to server address. This is to help clients reach servers in the most network-efficient way possible. Clients can use the appropriate server address as per the CIDR that they match. In case of multiple matches, clients should use the longest matching CIDR.",
                        "type": "array",
                        "items": {"allOf": [cidr], "default": {}},
                        "x-kubernetes-patch-merge-key": "clientCIDR",
                        "x-kubernetes-patch-strategy": "merge",
                    },
                    "secretRef": {
                        "allOf": [secret_ref],
                        "description": "Name of the secret containing kubeconfig to access this cluster. The secret is read from the kubernetes cluster that is hosting federation control plane. Admin needs to ensure that the required secret exists. Secret should be in the same namespace where federation control plane is hosted and it should have kubeconfig in its data with key \"kubeconfig\". This can be left empty if the cluster allows insecure access.",
                    },
                },
                "required": ["serverAddressByClientCIDRs"],
            }),
        );
        self.extra.insert(
            format!("{FEDERATION_PREFIX}ClusterStatus"),
            json!({
                "description": "ClusterStatus is information about the current status of a cluster updated by cluster controller periodically.",
                "type": "object",
                "properties": {
                    "conditions": {
                        "description": "Conditions is an array of current cluster conditions.",
                        "type": "array",
                        "items": {"allOf": [local("ClusterCondition")], "default": {}},
                    },
                    "zones": {
                        "description": "Zones is the list of availability zones in which the nodes of the cluster exist, e.g. 'us-east1-a'. These will always be in the same region.",
                        "type": "array",
                        "items": {"type": "string", "default": ""},
                    },
                    "region": {
                        "description": "Region is the name of the region in which all of the nodes in the cluster exist.  e.g. 'us-east1'.",
                        "type": "string",
                    },
                },
            }),
        );
        self.extra.insert(
            format!("{FEDERATION_PREFIX}ClusterCondition"),
            json!({
                "description": "ClusterCondition describes current state of a cluster.",
                "type": "object",
                "properties": {
                    "type": {
                        "description": "Type of cluster condition, Complete or Failed.",
                        "type": "string",
                        "default": "",
                    },
                    "status": {
                        "description": "Status of the condition, one of True, False, Unknown.",
                        "type": "string",
                        "default": "",
                    },
                    "lastProbeTime": {"allOf": [time], "description": "Last time the condition was checked."},
                    "lastTransitionTime": {
                        "allOf": [time],
                        "description": "Last time the condition transit from one status to another.",
                    },
                    "reason": {"description": "(brief) reason for the condition's last transition.", "type": "string"},
                    "message": {"description": "Human readable message indicating details about last transition.", "type": "string"},
                },
                "required": ["type", "status"],
            }),
        );
    }

    /// Every schema of the set, in kube's shape, keyed by name.
    pub(crate) fn finish(mut self) -> Map<String, Value> {
        let mut schemas = self.generator.take_definitions(true);
        schemas.extend(std::mem::take(&mut self.extra));
        let top_level: Vec<&str> = self.gvks.iter().map(|(name, _)| name.as_str()).collect();
        for (name, schema) in &mut schemas {
            if name == INT_OR_STRING {
                *schema = int_or_string_schema(schema);
                continue;
            }
            if name == QUANTITY {
                *schema = quantity_schema(schema);
                continue;
            }
            relax_required(schema, top_level.contains(&name.as_str()));
            if DEFAULTED_NAME.contains(&name.as_str()) {
                drop_required(schema, "name");
            }
            patch_meta::apply(name, schema);
        }
        for (name, gvk) in &self.gvks {
            if let Some(Value::Object(schema)) = schemas.get_mut(name) {
                let list = schema
                    .entry("x-kubernetes-group-version-kind")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    let entry = gvk.to_json();
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                }
            }
        }
        schemas
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Gvk {
    Gvk {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: kind.to_owned(),
    }
}

/// The name of the placeholder schema of a kind without a typed schema.
fn placeholder_name(group: &str, version: &str, kind: &str) -> String {
    if group == fcp_api::cluster::GROUP {
        return format!("{FEDERATION_PREFIX}{kind}");
    }
    let group = if group.is_empty() { "core" } else { group };
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!("{}.{version}.{kind}", reversed.join("."))
}

/// An object schema that accepts anything besides the standard fields.
fn placeholder_schema(kind: &str, object_meta: Value) -> Value {
    json!({
        "description": format!("{kind} (its schema is not published by this server)."),
        "type": "object",
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": {"allOf": [object_meta], "default": {}, "description": METADATA_DESCRIPTION},
        },
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// `<Kind>List`: `items` of the kind plus list metadata, as kube serves every list kind.
fn list_schema(item: &str, kind: &str) -> Value {
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": {"description": API_VERSION_DESCRIPTION, "type": "string"},
            "items": {
                "description": format!("Items is the list of {kind} objects."),
                "type": "array",
                "items": {"allOf": [{"$ref": format!("{REF_PREFIX}{item}")}], "default": {}},
            },
            "kind": {"description": KIND_DESCRIPTION, "type": "string"},
            "metadata": {
                "allOf": [{"$ref": format!("{REF_PREFIX}{LIST_META}")}],
                "default": {},
                "description": LIST_METADATA_DESCRIPTION,
            },
        },
        "required": ["items"],
    })
}

/// `WatchEvent`, which `k8s-openapi` models as a Rust enum rather than kube's object.
fn watch_event_schema() -> Value {
    json!({
        "description": "Event represents a single event to a watched resource.",
        "type": "object",
        "properties": {
            "object": {
                "description": "Object is:\n * If Type is Added or Modified: the new state of the object.\n * If Type is Deleted: the state of the object immediately before deletion.\n * If Type is Error: *Status is recommended; other types may make sense\n   depending on context.",
                "type": "object",
                "x-kubernetes-embedded-resource": true,
                "x-kubernetes-preserve-unknown-fields": true,
            },
            "type": {"type": "string", "default": ""},
        },
        "required": ["type", "object"],
    })
}

/// kube's OpenAPI v3 form of `IntOrString`.
fn int_or_string_schema(schema: &Value) -> Value {
    json!({
        "description": schema.get("description").cloned().unwrap_or_default(),
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    })
}

/// kube's OpenAPI v3 form of `Quantity`.
fn quantity_schema(schema: &Value) -> Value {
    json!({
        "description": schema.get("description").cloned().unwrap_or_default(),
        "oneOf": [{"type": "string"}, {"type": "number"}],
    })
}

/// Schemas whose `name` `k8s-openapi` marks required (it is a plain `String` there, because kube gives it
/// `default: ""`) but kube does not.
const DEFAULTED_NAME: &[&str] = &[
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.ConfigMapEnvSource",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.ConfigMapProjection",
    "io.k8s.api.core.v1.ConfigMapVolumeSource",
    "io.k8s.api.core.v1.SecretEnvSource",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.SecretProjection",
];

/// Removes `field` from the `required` list of `schema`.
fn drop_required(schema: &mut Value, field: &str) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(required)) = object.get_mut("required") {
        required.retain(|f| f.as_str() != Some(field));
        if required.is_empty() {
            object.remove("required");
        }
    }
}

/// `k8s-openapi` marks as required every field its Rust type does not wrap in `Option`, which includes
/// `metadata` everywhere and `spec` of some kinds; kube requires neither. Top-level kinds require none of
/// `metadata`, `spec` and `status`; nested types do not require `metadata`.
fn relax_required(schema: &mut Value, top_level: bool) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    let metadata_is_meta = object
        .get("properties")
        .and_then(|p| p.get("metadata"))
        .is_some_and(|m| refs_any(m, &[OBJECT_META, LIST_META]));
    let Some(Value::Array(required)) = object.get_mut("required") else {
        return;
    };
    required.retain(|field| match field.as_str() {
        Some("metadata") => !(top_level || metadata_is_meta),
        Some("spec" | "status") => !top_level,
        _ => true,
    });
    if required.is_empty() {
        object.remove("required");
    }
}

/// Whether `schema` is a `$ref` (directly or through `allOf`) to one of `names`.
fn refs_any(schema: &Value, names: &[&str]) -> bool {
    let target = |r: &Value| {
        r.as_str()
            .and_then(|r| r.strip_prefix(REF_PREFIX))
            .is_some_and(|name| names.contains(&name))
    };
    if schema.get("$ref").is_some_and(target) {
        return true;
    }
    schema
        .get("allOf")
        .and_then(Value::as_array)
        .is_some_and(|all| all.iter().any(|s| s.get("$ref").is_some_and(target)))
}
