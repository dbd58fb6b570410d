//! The type adapters: what each federated kind copies into members and how a member's copy is judged
//! equivalent (reference §3.3.5, §3.5).
//!
//! One generic reconciler ([`super::Propagator`]) serves every kind; a kind only declares its resource,
//! which top-level fields it owns in the member copy and how each is compared, annotations it neither
//! copies nor compares, and whether its replicas are scheduled. The defaults of [`FederatedKind::desired`]
//! and [`FederatedKind::equivalent`] implement v1's meta-subset copy; kinds with special rules (services,
//! ingresses, jobs in a later release) override them.

use std::collections::BTreeMap;

use fcp_api::names::{DEPLOYMENT_PREFERENCES_ANNOTATION, REPLICA_SET_PREFERENCES_ANNOTATION};
use kube::api::{ApiResource, DynamicObject, ObjectMeta};
use serde_json::Value;

/// How a copied field is compared with the member's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// Equal values (a missing field equals `null`, `{}` and `[]`). For `data`, `type`: fields a member
    /// never defaults.
    Exact,
    /// Every value set in the desired copy is set the same in the member's; fields only the member has
    /// (its defaults) are not compared. For `spec`, which each member defaults on its own.
    Subset,
}

/// Replica scheduling of a workload kind (reference §3.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scheduling {
    /// The preferences annotation.
    pub preferences_annotation: &'static str,
    /// Status fields summed into the federated object's status.
    pub summed_status: &'static [&'static str],
}

/// One federated kind.
pub trait FederatedKind: Send + Sync + 'static {
    /// Its `--controllers` name, e.g. `configmaps` (also the plural resource name).
    fn controller(&self) -> &'static str;

    /// Group, version, kind and plural.
    fn api_resource(&self) -> ApiResource;

    /// Whether objects live in namespaces.
    fn namespaced(&self) -> bool;

    /// Top-level fields the member copy takes from the federated object, and how each is compared.
    fn copied_fields(&self) -> &'static [(&'static str, Compare)];

    /// Annotations neither copied nor compared (e.g. a Deployment's `deployment.kubernetes.io/revision`,
    /// which each cluster keeps for itself).
    fn ignored_annotations(&self) -> &'static [&'static str] {
        &[]
    }

    /// Replica scheduling, for Deployments and ReplicaSets.
    fn scheduling(&self) -> Option<Scheduling> {
        None
    }

    /// The copy a member should hold: name, namespace, labels and annotations (minus the ignored ones)
    /// and the copied fields. Everything else (uid, resourceVersion, finalizers, owner references, status)
    /// stays behind.
    fn desired(&self, federated: &DynamicObject) -> DynamicObject {
        let ignored = self.ignored_annotations();
        let annotations = federated.metadata.annotations.as_ref().map(|annotations| {
            annotations
                .iter()
                .filter(|(key, _)| !ignored.contains(&key.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        });
        let mut data = serde_json::Map::new();
        for (field, _) in self.copied_fields() {
            if let Some(value) = federated.data.get(*field) {
                data.insert((*field).to_owned(), value.clone());
            }
        }
        DynamicObject {
            types: federated.types.clone(),
            metadata: ObjectMeta {
                name: federated.metadata.name.clone(),
                namespace: federated.metadata.namespace.clone(),
                labels: federated.metadata.labels.clone().filter(|l| !l.is_empty()),
                annotations: annotations.filter(|a| !a.is_empty()),
                ..ObjectMeta::default()
            },
            data: Value::Object(data),
        }
    }

    /// Whether the member's copy already matches `desired`: same labels and annotations (ignored ones
    /// aside; absent equals empty) and every copied field equal under its [`Compare`].
    fn equivalent(&self, desired: &DynamicObject, member: &DynamicObject) -> bool {
        let ignored = self.ignored_annotations();
        let strip = |annotations: &Option<BTreeMap<String, String>>| -> BTreeMap<String, String> {
            annotations
                .iter()
                .flatten()
                .filter(|(key, _)| !ignored.contains(&key.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let labels = |l: &Option<BTreeMap<String, String>>| l.clone().unwrap_or_default();
        if labels(&desired.metadata.labels) != labels(&member.metadata.labels)
            || strip(&desired.metadata.annotations) != strip(&member.metadata.annotations)
        {
            return false;
        }
        self.copied_fields().iter().all(|(field, compare)| {
            let want = desired.data.get(*field).unwrap_or(&Value::Null);
            let have = member.data.get(*field).unwrap_or(&Value::Null);
            match compare {
                Compare::Exact => exact_equal(want, have),
                Compare::Subset => subset_of(want, have),
            }
        })
    }
}

/// Whether `value` is what Go's `reflect.DeepEqual` after decoding would call empty-equivalent: `null`,
/// `{}` or `[]`.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Equal, with `null`, `{}` and `[]` equal to each other.
#[must_use]
pub fn exact_equal(a: &Value, b: &Value) -> bool {
    (is_empty(a) && is_empty(b)) || a == b
}

/// Whether everything set in `want` is set the same in `have`: objects key by key (keys only in `have`
/// ignored; an empty `want` value matches a missing one), arrays element by element with equal length,
/// scalars equal.
#[must_use]
pub fn subset_of(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (want, have) if is_empty(want) && is_empty(have) => true,
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .all(|(key, value)| subset_of(value, have.get(key).unwrap_or(&Value::Null))),
        (Value::Array(want), Value::Array(have)) => {
            want.len() == have.len() && want.iter().zip(have).all(|(w, h)| subset_of(w, h))
        }
        (Value::Null, _) => true,
        (want, have) => want == have,
    }
}

macro_rules! kind {
    ($type:ident, $controller:literal, $group:literal, $version:literal, $kind:literal, $namespaced:literal,
     [$($field:literal => $compare:ident),*] $(, ignored = [$($ignored:expr),*])? $(, scheduling = $scheduling:expr)?) => {
        #[doc = concat!("The `", $controller, "` adapter (", $kind, ").")]
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $type;

        impl FederatedKind for $type {
            fn controller(&self) -> &'static str {
                $controller
            }
            fn api_resource(&self) -> ApiResource {
                ApiResource {
                    group: $group.to_owned(),
                    version: $version.to_owned(),
                    api_version: if $group.is_empty() { $version.to_owned() } else { format!("{}/{}", $group, $version) },
                    kind: $kind.to_owned(),
                    plural: $controller.to_owned(),
                }
            }
            fn namespaced(&self) -> bool {
                $namespaced
            }
            fn copied_fields(&self) -> &'static [(&'static str, Compare)] {
                &[$(($field, Compare::$compare)),*]
            }
            $(fn ignored_annotations(&self) -> &'static [&'static str] {
                &[$($ignored),*]
            })?
            $(fn scheduling(&self) -> Option<Scheduling> {
                Some($scheduling)
            })?
        }
    };
}

kind!(ConfigMaps, "configmaps", "", "v1", "ConfigMap", true, ["data" => Exact]);
kind!(Secrets, "secrets", "", "v1", "Secret", true, ["data" => Exact, "type" => Exact]);
kind!(Namespaces, "namespaces", "", "v1", "Namespace", false, ["spec" => Subset]);
kind!(DaemonSets, "daemonsets", "apps", "v1", "DaemonSet", true, ["spec" => Subset]);
kind!(ReplicaSets, "replicasets", "apps", "v1", "ReplicaSet", true, ["spec" => Subset],
scheduling = Scheduling {
    preferences_annotation: REPLICA_SET_PREFERENCES_ANNOTATION,
    summed_status: &["replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
});
kind!(Deployments, "deployments", "apps", "v1", "Deployment", true, ["spec" => Subset],
ignored = [DEPLOYMENT_REVISION_ANNOTATION],
scheduling = Scheduling {
    preferences_annotation: DEPLOYMENT_PREFERENCES_ANNOTATION,
    summed_status: &["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"],
});

/// The annotation each cluster's deployment controller keeps for itself.
pub const DEPLOYMENT_REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// Every kind this release propagates, in the order controllers start.
#[must_use]
pub fn all() -> Vec<std::sync::Arc<dyn FederatedKind>> {
    vec![
        std::sync::Arc::new(Namespaces),
        std::sync::Arc::new(ConfigMaps),
        std::sync::Arc::new(Secrets),
        std::sync::Arc::new(DaemonSets),
        std::sync::Arc::new(ReplicaSets),
        std::sync::Arc::new(Deployments),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).expect("valid object")
    }

    #[test]
    fn the_copy_keeps_name_namespace_labels_annotations_and_owned_fields_only() {
        let federated = object(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns", "uid": "u", "resourceVersion": "7",
                         "finalizers": ["orphan"], "labels": {"a": "b"}, "annotations": {"x": "y"}},
            "data": {"k": "dg=="}, "type": "Opaque", "immutable": true
        }));
        let desired = Secrets.desired(&federated);
        assert_eq!(
            serde_json::to_value(&desired).expect("serializes"),
            json!({"apiVersion": "v1", "kind": "Secret",
                   "metadata": {"name": "s", "namespace": "ns", "labels": {"a": "b"}, "annotations": {"x": "y"}},
                   "data": {"k": "dg=="}, "type": "Opaque"})
        );
    }

    #[test]
    fn deployments_ignore_the_revision_annotation_and_member_defaults() {
        let federated = object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "ns", "annotations": {"deployment.kubernetes.io/revision": "3"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }));
        let desired = Deployments.desired(&federated);
        assert!(desired.metadata.annotations.is_none());
        let member = object(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": "ns", "uid": "m", "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": 2, "progressDeadlineSeconds": 600,
                     "template": {"spec": {"containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Always"}]}}},
            "status": {"replicas": 2}
        }));
        assert!(Deployments.equivalent(&desired, &member));
        let mut drifted = member.clone();
        drifted.data["spec"]["replicas"] = json!(5);
        assert!(!Deployments.equivalent(&desired, &drifted));
        let mut relabelled = member;
        relabelled.metadata.labels = Some([("extra".to_owned(), "1".to_owned())].into());
        assert!(
            !Deployments.equivalent(&desired, &relabelled),
            "labels are compared exactly"
        );
    }

    #[test]
    fn configmap_data_is_compared_exactly() {
        let desired = object(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "namespace": "ns"}, "data": {"a": "1"}}));
        let mut member = desired.clone();
        member.metadata.labels = Some(BTreeMap::new());
        assert!(
            ConfigMaps.equivalent(&desired, &member),
            "absent labels equal empty ones"
        );
        member.data["data"]["b"] = json!("2");
        assert!(
            !ConfigMaps.equivalent(&desired, &member),
            "an extra member key is drift"
        );
        let empty = object(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
        let mut member = empty.clone();
        member.data = json!({"data": {}});
        assert!(ConfigMaps.equivalent(&empty, &member));
    }

    #[test]
    fn subset_compares_arrays_by_length_and_position() {
        assert!(subset_of(
            &json!({"a": [1, {"b": 2}]}),
            &json!({"a": [1, {"b": 2, "c": 3}], "d": 4})
        ));
        assert!(!subset_of(&json!({"a": [1]}), &json!({"a": [1, 2]})));
        assert!(!subset_of(&json!({"a": "x"}), &json!({})));
        assert!(subset_of(&json!({"a": {}}), &json!({})));
    }
}
