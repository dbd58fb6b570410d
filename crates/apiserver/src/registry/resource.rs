//! What the server knows about one served resource: its names, scope, storage location and strategy.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Conversion, Strategy};

/// Whether objects live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/namespaces/<ns>/<resource>/<name>`.
    Namespaced,
    /// `/<resource>/<name>`.
    Cluster,
}

/// The subresources a resource serves besides the main one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subresources {
    /// `<resource>/status`: status is written there and ignored on the main resource.
    pub status: bool,
    /// `<resource>/scale` (autoscaling/v1 Scale).
    pub scale: bool,
}

/// One served resource (a group/version/resource), as discovery lists it and the store handles it.
pub struct ResourceDef {
    /// API group (`""` for core).
    pub group: &'static str,
    /// API version (`v1`, `v1beta1`).
    pub version: &'static str,
    /// Kind (`ConfigMap`).
    pub kind: &'static str,
    /// Plural resource name used in URLs (`configmaps`).
    pub plural: &'static str,
    /// Singular name (`configmap`).
    pub singular: &'static str,
    /// Namespaced or cluster-scoped.
    pub scope: Scope,
    /// kubectl short names (`cm`).
    pub short_names: &'static [&'static str],
    /// Categories (`all`).
    pub categories: &'static [&'static str],
    /// Subresources served.
    pub subresources: Subresources,
    /// The path under the storage prefix where objects live, as kube-apiserver lays them out
    /// (`configmaps`, `services/specs`, `ingress`). Two versions of one resource share it.
    pub storage_path: &'static str,
    /// Whether `metadata.generation` is maintained (starts at 1, bumps on spec changes).
    pub tracks_generation: bool,
    /// Per-kind behaviour.
    pub strategy: Arc<dyn Strategy>,
    /// For a resource stored in another version (`autoscaling/v1` HPAs are stored as `autoscaling/v2`): the
    /// conversion to and from the storage version. `None` when objects are stored as served.
    pub conversion: Option<Arc<dyn Conversion>>,
}

impl std::fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDef")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("plural", &self.plural)
            .finish_non_exhaustive()
    }
}

impl ResourceDef {
    /// `apiVersion` of objects served from this resource (`v1`, `apps/v1`).
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Whether objects live in namespaces.
    #[must_use]
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// `resource.group` as kube names it in messages (`deployments.apps`, `configmaps`).
    #[must_use]
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Kind.group` as kube names it in validation messages (`Deployment.apps`, `ConfigMap`).
    #[must_use]
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// `Status.details` for an error about object `name`.
    #[must_use]
    pub fn status_details(&self, name: &str) -> Value {
        json!({"name": name, "group": self.group, "kind": self.plural})
    }

    /// The verbs of the main resource, for discovery.
    #[must_use]
    pub fn verbs(&self) -> &'static [&'static str] {
        &[
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }
}
