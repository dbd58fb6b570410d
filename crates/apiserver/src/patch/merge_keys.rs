//! How the lists and maps of the served built-in kinds merge, taken from the `patchStrategy`/`patchMergeKey`
//! struct tags (strategic merge patch) and the `listType`/`listMapKey`/`structType`/`mapType` markers
//! (server-side apply) of `k8s.io/api`.
//!
//! The schema is a small type graph: a [`Ty`] names a Go struct (or a shape), and [`field`] says what a field
//! of that struct holds. Fields not listed are plain: maps merge key by key, lists are atomic (replaced).

/// A node type of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// Nothing known: maps merge key by key, lists are atomic.
    Plain,
    /// A value that server-side apply treats as one unit (`+structType=atomic`, `+mapType=atomic`):
    /// `LabelSelector`, a Service's `selector`, a pod's `nodeSelector`. Strategic merge still merges its maps.
    Atomic,
    /// The top level of an object of the given kind.
    Root(Kind),
    /// `ObjectMeta`.
    ObjectMeta,
    /// The `spec` of a Deployment, ReplicaSet, DaemonSet or Job: `selector` and `template`.
    WorkloadSpec,
    /// `PodTemplateSpec`.
    PodTemplateSpec,
    /// `PodSpec`.
    PodSpec,
    /// `Container` and `EphemeralContainer`.
    Container,
    /// `ServiceSpec`.
    ServiceSpec,
    /// A status whose `conditions` are a list keyed by `type` (both SMP and SSA).
    ConditionsStatus,
    /// `JobStatus`: conditions merge by `type` in SMP but are atomic in SSA.
    JobStatus,
}

/// The served kinds whose schema is known. Everything else is [`Kind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Namespace: `status.conditions` by type.
    Namespace,
    /// Service.
    Service,
    /// Deployment, ReplicaSet, DaemonSet.
    Workload,
    /// Job.
    Job,
    /// HorizontalPodAutoscaler (v1 and v2).
    Hpa,
    /// Any other built-in kind (ConfigMap, Secret, Event, Ingress, Lease, RBAC kinds) or a custom kind.
    Other,
}

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// Replaced as a whole (no `patchStrategy`; `listType=atomic`).
    Atomic,
    /// A set of scalars merged by value (`patchStrategy=merge` on `[]string`; `listType=set`).
    Set,
    /// A list of objects keyed by fields.
    Map {
        /// The strategic-merge `patchMergeKey`.
        smp_key: &'static str,
        /// The server-side apply `listMapKey`s; empty when SSA treats the list as atomic.
        ssa_keys: &'static [&'static str],
        /// Whether the field also carries `patchStrategy=retainKeys` (volumes).
        retain_keys: bool,
    },
}

/// What a field of a [`Ty`] holds: the type of its value (of its items, for lists) and, for lists, how they
/// merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The type of the value, or of each item of a list.
    pub ty: Ty,
    /// How the field merges when it is a list.
    pub list: List,
}

const PLAIN: Field = Field {
    ty: Ty::Plain,
    list: List::Atomic,
};

const fn of(ty: Ty) -> Field {
    Field {
        ty,
        list: List::Atomic,
    }
}

const fn keyed(ty: Ty, smp_key: &'static str, ssa_keys: &'static [&'static str]) -> Field {
    Field {
        ty,
        list: List::Map {
            smp_key,
            ssa_keys,
            retain_keys: false,
        },
    }
}

const CONDITIONS: Field = keyed(Ty::Plain, "type", &["type"]);

/// The root type of objects of `group`/`kind`, or `None` for kinds strategic merge patch does not know
/// (kube answers 415 for SMP on custom resources; the federation `Cluster` is one).
#[must_use]
pub fn root(group: &str, kind: &str) -> Option<Ty> {
    let kind = match (group, kind) {
        ("federation", _) => return None,
        ("", "Namespace") => Kind::Namespace,
        ("", "Service") => Kind::Service,
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => Kind::Workload,
        ("batch", "Job") => Kind::Job,
        ("autoscaling", "HorizontalPodAutoscaler") => Kind::Hpa,
        _ => Kind::Other,
    };
    Some(Ty::Root(kind))
}

/// The root type used by server-side apply, which works on every kind (custom kinds with the plain schema).
#[must_use]
pub fn apply_root(group: &str, kind: &str) -> Ty {
    root(group, kind).unwrap_or(Ty::Root(Kind::Other))
}

/// What field `name` of a value of type `ty` holds.
#[must_use]
pub fn field(ty: Ty, name: &str) -> Field {
    match (ty, name) {
        (Ty::Atomic, _) => of(Ty::Atomic),
        (Ty::Root(_), "metadata") => of(Ty::ObjectMeta),
        (Ty::Root(Kind::Service), "spec") => of(Ty::ServiceSpec),
        (Ty::Root(Kind::Workload | Kind::Job), "spec") => of(Ty::WorkloadSpec),
        (Ty::Root(Kind::Job), "status") => of(Ty::JobStatus),
        (Ty::Root(Kind::Namespace | Kind::Service | Kind::Workload | Kind::Hpa), "status") => {
            of(Ty::ConditionsStatus)
        }
        (Ty::ObjectMeta, "finalizers") => Field {
            ty: Ty::Plain,
            list: List::Set,
        },
        (Ty::ObjectMeta, "ownerReferences") => keyed(Ty::Plain, "uid", &["uid"]),
        (Ty::WorkloadSpec, "selector") => of(Ty::Atomic),
        (Ty::WorkloadSpec, "template") => of(Ty::PodTemplateSpec),
        (Ty::PodTemplateSpec, "metadata") => of(Ty::ObjectMeta),
        (Ty::PodTemplateSpec, "spec") => of(Ty::PodSpec),
        (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
            keyed(Ty::Container, "name", &["name"])
        }
        (Ty::PodSpec, "volumes" | "resourceClaims") => Field {
            ty: Ty::Plain,
            list: List::Map {
                smp_key: "name",
                ssa_keys: &["name"],
                retain_keys: true,
            },
        },
        (Ty::PodSpec, "imagePullSecrets" | "schedulingGates") => keyed(Ty::Plain, "name", &["name"]),
        (Ty::PodSpec, "hostAliases") => keyed(Ty::Plain, "ip", &["ip"]),
        (Ty::PodSpec, "topologySpreadConstraints") => {
            keyed(Ty::Plain, "topologyKey", &["topologyKey", "whenUnsatisfiable"])
        }
        (Ty::PodSpec, "nodeSelector") => of(Ty::Atomic),
        (Ty::Container, "ports") => keyed(Ty::Plain, "containerPort", &["containerPort", "protocol"]),
        (Ty::Container, "env") => keyed(Ty::Plain, "name", &["name"]),
        (Ty::Container, "volumeMounts") => keyed(Ty::Plain, "mountPath", &["mountPath"]),
        (Ty::Container, "volumeDevices") => keyed(Ty::Plain, "devicePath", &["devicePath"]),
        (Ty::ServiceSpec, "ports") => keyed(Ty::Plain, "port", &["port", "protocol"]),
        (Ty::ServiceSpec, "selector") => of(Ty::Atomic),
        (Ty::ConditionsStatus, "conditions") => CONDITIONS,
        (Ty::JobStatus, "conditions") => keyed(Ty::Plain, "type", &[]),
        _ => PLAIN,
    }
}

/// The default of a list-map key field that objects may omit (`protocol` of ports is `TCP`), as the
/// `+default` markers give it to server-side apply.
#[must_use]
pub fn key_default(name: &str) -> Option<serde_json::Value> {
    (name == "protocol").then(|| serde_json::Value::String("TCP".to_owned()))
}

/// Whether `group` (and its kinds) accepts strategic merge patches.
#[must_use]
pub fn supports_strategic_merge(group: &str, kind: &str) -> bool {
    root(group, kind).is_some()
}

/// Resolves a path of field names (list items are transparent) from `ty`.
#[must_use]
pub fn resolve(ty: Ty, path: &[&str]) -> Field {
    let mut current = of(ty);
    for name in path {
        current = field(current.ty, name);
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keys_follow_the_struct_tags() {
        let deploy = apply_root("apps", "Deployment");
        let containers = resolve(deploy, &["spec", "template", "spec", "containers"]);
        assert_eq!(containers.ty, Ty::Container);
        assert!(matches!(containers.list, List::Map { smp_key: "name", .. }));
        assert!(matches!(
            field(Ty::Container, "ports").list,
            List::Map {
                smp_key: "containerPort",
                ssa_keys: ["containerPort", "protocol"],
                ..
            }
        ));
        assert!(matches!(
            resolve(apply_root("", "Service"), &["spec", "ports"]).list,
            List::Map { smp_key: "port", .. }
        ));
        assert_eq!(resolve(deploy, &["metadata", "finalizers"]).list, List::Set);
        assert_eq!(
            resolve(deploy, &["spec", "template", "spec", "tolerations"]).list,
            List::Atomic
        );
        assert_eq!(resolve(deploy, &["spec", "selector"]).ty, Ty::Atomic);
        assert_eq!(
            resolve(deploy, &["spec", "selector", "matchLabels"]).ty,
            Ty::Atomic
        );
        assert!(matches!(
            resolve(deploy, &["spec", "template", "spec", "volumes"]).list,
            List::Map {
                retain_keys: true,
                ..
            }
        ));
        assert_eq!(
            resolve(apply_root("", "ConfigMap"), &["data"]),
            Field {
                ty: Ty::Plain,
                list: List::Atomic
            }
        );
    }

    #[test]
    fn the_federation_group_has_no_strategic_merge() {
        assert!(!supports_strategic_merge("federation", "Cluster"));
        assert!(supports_strategic_merge("", "ConfigMap"));
        assert_eq!(apply_root("federation", "Cluster"), Ty::Root(Kind::Other));
    }
}
