//! The default RBAC policy (kube's `bootstrappolicy`) and its reconciliation at start-up (kube's
//! `rbac/bootstrap-roles` post-start hook).
//!
//! # Contract
//! [`reconcile`] runs before the policy index loads. For each default ClusterRole and ClusterRoleBinding:
//! - missing: it is created, labelled `kubernetes.io/bootstrapping: rbac-defaults` and annotated
//!   `rbac.authorization.kubernetes.io/autoupdate: "true"`;
//! - present with autoupdate `"false"`: left alone;
//! - present otherwise: kube's additive reconcile. Missing labels and annotations are added (existing
//!   values win), rules the object does not cover are appended (broken down, as kube appends them), missing
//!   aggregation selectors are appended (and an aggregation rule the default does not have is removed);
//!   missing binding subjects are appended, and a binding whose roleRef differs is deleted and re-created.
//!
//! Writes go through the [`Store`] as the server itself (`user: None`), so validation and storage are the
//! normal ones.
//!
//! The aggregated roles' components (`system:aggregate-to-admin|edit|view`) carry kube's rules restricted
//! to what this server serves: a resource is kept when the registry serves it in that group (any version),
//! a `status` or `scale` subresource when the resource has it; rules left without resources are dropped.

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::{
    api::rbac::v1::{AggregationRule, ClusterRole, ClusterRoleBinding, RoleRef, Subject},
    apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{RBAC_GROUP, RbacResources, rules::Rule, rules::covers};
use crate::{
    auth::{SYSTEM_AUTHENTICATED, SYSTEM_MASTERS, SYSTEM_UNAUTHENTICATED},
    error::{ApiError, ApiResult},
    registry::{
        Registry,
        store::{DeleteOptions, Store, Target, UpdateMode},
    },
};

/// The label every default object carries.
pub const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
/// Its value.
pub const BOOTSTRAPPING_VALUE: &str = "rbac-defaults";
/// The annotation that says whether start-up may update the object (`"true"`), or must leave it
/// (`"false"`).
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
/// Label of cluster roles aggregated into `admin`.
pub const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
/// Label of cluster roles aggregated into `edit`.
pub const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
/// Label of cluster roles aggregated into `view`.
pub const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";

/// How many times start-up tries the whole reconciliation when storage errors or write races get in the way.
const ATTEMPTS: u32 = 5;

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn cluster_role(
    name: &str,
    labels: &[(&str, &str)],
    rules: Vec<Rule>,
    aggregate_label: Option<&str>,
) -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: (!labels.is_empty()).then(|| {
                labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect()
            }),
            ..ObjectMeta::default()
        },
        rules: (aggregate_label.is_none()).then(|| rules.iter().map(Rule::to_policy).collect()),
        aggregation_rule: aggregate_label.map(|label| AggregationRule {
            cluster_role_selectors: Some(vec![LabelSelector {
                match_labels: Some(BTreeMap::from([(label.to_owned(), "true".to_owned())])),
                match_expressions: None,
            }]),
        }),
    }
}

/// kube's rules of `system:aggregate-to-admin`, `-edit` and `-view` (1.33), before restriction to the
/// served resources.
fn aggregate_admin_rules() -> Vec<Rule> {
    vec![
        Rule::verbs(&["create"])
            .groups(&["authorization.k8s.io"])
            .resources(&["localsubjectaccessreviews"]),
        Rule::verbs(READ_WRITE)
            .groups(&[RBAC_GROUP])
            .resources(&["roles", "rolebindings"]),
    ]
}

fn aggregate_edit_rules() -> Vec<Rule> {
    vec![
        Rule::verbs(READ).groups(&[""]).resources(&[
            "pods/attach",
            "pods/proxy",
            "pods/exec",
            "pods/portforward",
            "secrets",
            "services/proxy",
        ]),
        Rule::verbs(&["impersonate"])
            .groups(&[""])
            .resources(&["serviceaccounts"]),
        Rule::verbs(WRITE).groups(&[""]).resources(&[
            "pods",
            "pods/attach",
            "pods/proxy",
            "pods/exec",
            "pods/portforward",
        ]),
        Rule::verbs(&["create"])
            .groups(&[""])
            .resources(&["pods/eviction"]),
        Rule::verbs(WRITE).groups(&[""]).resources(&[
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/proxy",
            "persistentvolumeclaims",
            "configmaps",
            "secrets",
            "events",
        ]),
        Rule::verbs(&["create"])
            .groups(&[""])
            .resources(&["serviceaccounts/token"]),
        Rule::verbs(WRITE).groups(&["apps"]).resources(&[
            "statefulsets",
            "statefulsets/scale",
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "replicasets",
            "replicasets/scale",
        ]),
        Rule::verbs(WRITE)
            .groups(&["autoscaling"])
            .resources(&["horizontalpodautoscalers"]),
        Rule::verbs(WRITE)
            .groups(&["batch"])
            .resources(&["jobs", "cronjobs"]),
        Rule::verbs(WRITE).groups(&["extensions"]).resources(&[
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "ingresses",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
            "networkpolicies",
        ]),
        Rule::verbs(WRITE)
            .groups(&["policy"])
            .resources(&["poddisruptionbudgets"]),
        Rule::verbs(WRITE)
            .groups(&["networking.k8s.io"])
            .resources(&["networkpolicies", "ingresses"]),
        Rule::verbs(READ_WRITE)
            .groups(&["coordination.k8s.io"])
            .resources(&["leases"]),
    ]
}

fn aggregate_view_rules() -> Vec<Rule> {
    vec![
        Rule::verbs(READ).groups(&[""]).resources(&[
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "configmaps",
        ]),
        Rule::verbs(READ).groups(&[""]).resources(&[
            "limitranges",
            "resourcequotas",
            "bindings",
            "events",
            "pods/status",
            "resourcequotas/status",
            "namespaces/status",
            "replicationcontrollers/status",
            "pods/log",
        ]),
        Rule::verbs(READ).groups(&[""]).resources(&["namespaces"]),
        Rule::verbs(READ)
            .groups(&["discovery.k8s.io"])
            .resources(&["endpointslices"]),
        Rule::verbs(READ).groups(&["apps"]).resources(&[
            "controllerrevisions",
            "statefulsets",
            "statefulsets/status",
            "statefulsets/scale",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/status",
            "deployments/scale",
            "replicasets",
            "replicasets/status",
            "replicasets/scale",
        ]),
        Rule::verbs(READ)
            .groups(&["autoscaling"])
            .resources(&["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
        Rule::verbs(READ).groups(&["batch"]).resources(&[
            "jobs",
            "cronjobs",
            "cronjobs/status",
            "jobs/status",
        ]),
        Rule::verbs(READ).groups(&["extensions"]).resources(&[
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
            "networkpolicies",
        ]),
        Rule::verbs(READ)
            .groups(&["policy"])
            .resources(&["poddisruptionbudgets", "poddisruptionbudgets/status"]),
        Rule::verbs(READ).groups(&["networking.k8s.io"]).resources(&[
            "networkpolicies",
            "ingresses",
            "ingresses/status",
        ]),
    ]
}

/// Whether `registry` serves `resource` (`plural` or `plural/subresource`) in `group`, in any version.
#[must_use]
pub fn serves(registry: &Registry, group: &str, resource: &str) -> bool {
    let (plural, subresource) = match resource.split_once('/') {
        Some((plural, sub)) => (plural, Some(sub)),
        None => (resource, None),
    };
    registry.all().any(|r| {
        r.group == group
            && r.plural == plural
            && match subresource {
                None => true,
                Some("status") => r.subresources.status,
                Some("scale") => r.subresources.scale,
                Some(_) => false,
            }
    })
}

/// `rules` with only the resources `served` accepts (group, resource); rules left without any are dropped.
fn restrict(rules: Vec<Rule>, served: &dyn Fn(&str, &str) -> bool) -> Vec<Rule> {
    rules
        .into_iter()
        .filter_map(|mut rule| {
            let groups = rule.api_groups.clone();
            rule.resources
                .retain(|resource| groups.iter().any(|group| served(group, resource)));
            (!rule.resources.is_empty()).then_some(rule)
        })
        .collect()
}

/// The default cluster roles, with their bootstrap label and annotation; the aggregate components keep
/// only what `served(group, resource)` accepts.
#[must_use]
pub fn cluster_roles(served: &dyn Fn(&str, &str) -> bool) -> Vec<ClusterRole> {
    let mut roles = vec![
        cluster_role(
            "cluster-admin",
            &[],
            vec![
                Rule::verbs(&["*"]).groups(&["*"]).resources(&["*"]),
                Rule::verbs(&["*"]).urls(&["*"]),
            ],
            None,
        ),
        cluster_role(
            "system:discovery",
            &[],
            vec![Rule::verbs(&["get"]).urls(&[
                "/livez",
                "/readyz",
                "/healthz",
                "/version",
                "/version/",
                "/openapi",
                "/openapi/*",
                "/api",
                "/api/*",
                "/apis",
                "/apis/*",
            ])],
            None,
        ),
        cluster_role(
            "system:basic-user",
            &[],
            vec![
                Rule::verbs(&["create"])
                    .groups(&["authorization.k8s.io"])
                    .resources(&["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
                Rule::verbs(&["create"])
                    .groups(&["authentication.k8s.io"])
                    .resources(&["selfsubjectreviews"]),
            ],
            None,
        ),
        cluster_role(
            "system:public-info-viewer",
            &[],
            vec![Rule::verbs(&["get"]).urls(&["/livez", "/readyz", "/healthz", "/version", "/version/"])],
            None,
        ),
        cluster_role("admin", &[], Vec::new(), Some(AGGREGATE_TO_ADMIN)),
        cluster_role(
            "edit",
            &[(AGGREGATE_TO_ADMIN, "true")],
            Vec::new(),
            Some(AGGREGATE_TO_EDIT),
        ),
        cluster_role(
            "view",
            &[(AGGREGATE_TO_EDIT, "true")],
            Vec::new(),
            Some(AGGREGATE_TO_VIEW),
        ),
        cluster_role(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            restrict(aggregate_admin_rules(), served),
            None,
        ),
        cluster_role(
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            restrict(aggregate_edit_rules(), served),
            None,
        ),
        cluster_role(
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            restrict(aggregate_view_rules(), served),
            None,
        ),
    ];
    for role in &mut roles {
        add_default_metadata(&mut role.metadata);
    }
    roles
}

fn group_subject(name: &str) -> Subject {
    Subject {
        kind: "Group".to_owned(),
        api_group: Some(RBAC_GROUP.to_owned()),
        name: name.to_owned(),
        namespace: None,
    }
}

/// The default cluster role bindings (each named as its role), with their bootstrap label and annotation.
#[must_use]
pub fn cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    let binding = |role: &str, groups: &[&str]| {
        let mut metadata = ObjectMeta {
            name: Some(role.to_owned()),
            ..ObjectMeta::default()
        };
        add_default_metadata(&mut metadata);
        ClusterRoleBinding {
            metadata,
            role_ref: RoleRef {
                api_group: Some(RBAC_GROUP.to_owned()),
                kind: "ClusterRole".to_owned(),
                name: role.to_owned(),
            },
            subjects: Some(groups.iter().map(|g| group_subject(g)).collect()),
        }
    };
    vec![
        binding("cluster-admin", &[SYSTEM_MASTERS]),
        binding("system:discovery", &[SYSTEM_AUTHENTICATED]),
        binding("system:basic-user", &[SYSTEM_AUTHENTICATED]),
        binding(
            "system:public-info-viewer",
            &[SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED],
        ),
    ]
}

/// kube's `addDefaultMetadata`: the bootstrapping label and the autoupdate annotation.
fn add_default_metadata(metadata: &mut ObjectMeta) {
    metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(BOOTSTRAPPING_LABEL.to_owned(), BOOTSTRAPPING_VALUE.to_owned());
    metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(AUTOUPDATE_ANNOTATION.to_owned(), "true".to_owned());
}

/// Whether the object says start-up must leave it alone.
fn is_protected(metadata: &ObjectMeta) -> bool {
    metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(AUTOUPDATE_ANNOTATION))
        .is_some_and(|v| v == "false")
}

/// `expected` entries added to `existing` where missing (existing values win); whether anything changed.
fn merge_map(
    existing: &mut Option<BTreeMap<String, String>>,
    expected: Option<&BTreeMap<String, String>>,
) -> bool {
    let mut changed = false;
    for (key, value) in expected.into_iter().flatten() {
        let map = existing.get_or_insert_with(BTreeMap::new);
        if !map.contains_key(key) {
            map.insert(key.clone(), value.clone());
            changed = true;
        }
    }
    changed
}

/// Selectors equal up to absent-vs-empty lists (kube's semantic equality).
fn same_selector(a: &LabelSelector, b: &LabelSelector) -> bool {
    let labels = |s: &LabelSelector| s.match_labels.clone().unwrap_or_default();
    let expressions = |s: &LabelSelector| s.match_expressions.clone().unwrap_or_default();
    labels(a) == labels(b) && expressions(a) == expressions(b)
}

/// kube's `computeReconciledRole` without removal of extra permissions: the updated role, or `None` when
/// nothing is missing or the role is protected (autoupdate `"false"`).
#[must_use]
pub fn reconcile_cluster_role(existing: &ClusterRole, expected: &ClusterRole) -> Option<ClusterRole> {
    if is_protected(&existing.metadata) {
        return None;
    }
    let mut role = existing.clone();
    let mut changed = merge_map(
        &mut role.metadata.annotations,
        expected.metadata.annotations.as_ref(),
    );
    changed |= merge_map(&mut role.metadata.labels, expected.metadata.labels.as_ref());
    let existing_rules: Vec<Rule> = existing.rules.iter().flatten().map(Rule::from_policy).collect();
    let expected_rules: Vec<Rule> = expected.rules.iter().flatten().map(Rule::from_policy).collect();
    let (_, missing) = covers(&existing_rules, &expected_rules);
    if !missing.is_empty() {
        role.rules
            .get_or_insert_with(Vec::new)
            .extend(missing.iter().map(Rule::to_policy));
        changed = true;
    }
    match (&expected.aggregation_rule, &existing.aggregation_rule) {
        (None, Some(_)) => {
            role.aggregation_rule = None;
            changed = true;
        }
        (Some(want), have) => {
            let have_selectors = have
                .as_ref()
                .and_then(|h| h.cluster_role_selectors.clone())
                .unwrap_or_default();
            let missing: Vec<LabelSelector> = want
                .cluster_role_selectors
                .iter()
                .flatten()
                .filter(|w| !have_selectors.iter().any(|h| same_selector(h, w)))
                .cloned()
                .collect();
            if !missing.is_empty() || have.is_none() {
                let rule = role.aggregation_rule.get_or_insert_with(AggregationRule::default);
                rule.cluster_role_selectors
                    .get_or_insert_with(Vec::new)
                    .extend(missing);
                changed = true;
            }
        }
        (None, None) => {}
    }
    changed.then_some(role)
}

/// What reconciling a binding needs.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingReconcile {
    /// Nothing to do (up to date, or protected).
    None,
    /// Write this binding.
    Update(Box<ClusterRoleBinding>),
    /// The roleRef differs (it cannot be changed): delete and create the expected binding.
    Recreate,
}

/// kube's `computeReconciledRoleBinding` without removal of extra subjects.
#[must_use]
pub fn reconcile_cluster_role_binding(
    existing: &ClusterRoleBinding,
    expected: &ClusterRoleBinding,
) -> BindingReconcile {
    if is_protected(&existing.metadata) {
        return BindingReconcile::None;
    }
    if existing.role_ref != expected.role_ref {
        return BindingReconcile::Recreate;
    }
    let mut binding = existing.clone();
    let mut changed = merge_map(
        &mut binding.metadata.annotations,
        expected.metadata.annotations.as_ref(),
    );
    changed |= merge_map(&mut binding.metadata.labels, expected.metadata.labels.as_ref());
    let have = existing.subjects.clone().unwrap_or_default();
    let missing: Vec<Subject> = expected
        .subjects
        .iter()
        .flatten()
        .filter(|s| !have.contains(s))
        .cloned()
        .collect();
    if !missing.is_empty() {
        binding.subjects.get_or_insert_with(Vec::new).extend(missing);
        changed = true;
    }
    if changed {
        BindingReconcile::Update(Box::new(binding))
    } else {
        BindingReconcile::None
    }
}

fn to_json<T: Serialize>(object: &T) -> ApiResult<Value> {
    serde_json::to_value(object)
        .map_err(|e| ApiError::internal(format!("cannot encode a default RBAC object: {e}")))
}

fn from_json<T: DeserializeOwned>(object: &Value) -> ApiResult<T> {
    serde_json::from_value(object.clone())
        .map_err(|e| ApiError::internal(format!("cannot decode a stored RBAC object: {e}")))
}

/// Whether an error is worth another attempt (storage trouble, lost races).
fn transient(e: &ApiError) -> bool {
    e.code == 409 || e.code >= 500
}

/// Creates the missing default cluster roles and bindings and reconciles the existing ones (see the module
/// docs). Retries a few times, with a short pause, when storage errors or races get in the way.
///
/// # Errors
/// The last error when every attempt failed; a non-transient error (a default object that does not
/// validate) at once.
pub async fn reconcile(store: &Store, registry: &Registry, resources: &RbacResources) -> ApiResult<()> {
    let served = |group: &str, resource: &str| serves(registry, group, resource);
    let roles = cluster_roles(&served);
    let bindings = cluster_role_bindings();
    let mut attempt = 0;
    loop {
        attempt += 1;
        match reconcile_once(store, resources, &roles, &bindings).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                tracing::warn!(error = %e, attempt, "RBAC bootstrap failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn reconcile_once(
    store: &Store,
    resources: &RbacResources,
    roles: &[ClusterRole],
    bindings: &[ClusterRoleBinding],
) -> ApiResult<()> {
    let role_target = Target {
        resource: &resources.cluster_roles,
        namespace: None,
        user: None,
    };
    for expected in roles {
        let name = expected.metadata.name.clone().unwrap_or_default();
        match store.get(role_target, &name).await {
            Err(e) if e.code == 404 => {
                store.create(role_target, to_json(expected)?, false).await?;
                tracing::info!(clusterrole = %name, "created default RBAC cluster role");
            }
            Err(e) => return Err(e),
            Ok(current) => {
                let existing: ClusterRole = from_json(&current)?;
                if reconcile_cluster_role(&existing, expected).is_none() {
                    continue;
                }
                store
                    .guaranteed_update(role_target, &name, UpdateMode::Main, false, |old| {
                        let existing: ClusterRole = from_json(old)?;
                        match reconcile_cluster_role(&existing, expected) {
                            Some(updated) => to_json(&updated),
                            None => Ok(old.clone()),
                        }
                    })
                    .await?;
                tracing::info!(clusterrole = %name, "reconciled default RBAC cluster role");
            }
        }
    }
    let binding_target = Target {
        resource: &resources.cluster_role_bindings,
        namespace: None,
        user: None,
    };
    for expected in bindings {
        let name = expected.metadata.name.clone().unwrap_or_default();
        match store.get(binding_target, &name).await {
            Err(e) if e.code == 404 => {
                store.create(binding_target, to_json(expected)?, false).await?;
                tracing::info!(clusterrolebinding = %name, "created default RBAC cluster role binding");
            }
            Err(e) => return Err(e),
            Ok(current) => {
                let existing: ClusterRoleBinding = from_json(&current)?;
                match reconcile_cluster_role_binding(&existing, expected) {
                    BindingReconcile::None => {}
                    BindingReconcile::Recreate => {
                        match store
                            .delete(binding_target, &name, &DeleteOptions::default())
                            .await
                        {
                            Ok(_) => {}
                            Err(e) if e.code == 404 => {}
                            Err(e) => return Err(e),
                        }
                        store.create(binding_target, to_json(expected)?, false).await?;
                        tracing::info!(clusterrolebinding = %name, "re-created default RBAC cluster role binding");
                    }
                    BindingReconcile::Update(_) => {
                        store
                            .guaranteed_update(binding_target, &name, UpdateMode::Main, false, |old| {
                                let existing: ClusterRoleBinding = from_json(old)?;
                                match reconcile_cluster_role_binding(&existing, expected) {
                                    BindingReconcile::Update(updated) => to_json(&*updated),
                                    // A concurrent roleRef change: the next start re-creates it.
                                    BindingReconcile::None | BindingReconcile::Recreate => Ok(old.clone()),
                                }
                            })
                            .await?;
                        tracing::info!(clusterrolebinding = %name, "reconciled default RBAC cluster role binding");
                    }
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::federation_profile;

    fn defaults() -> Vec<ClusterRole> {
        let registry = Registry::new(federation_profile());
        cluster_roles(&|group, resource| serves(&registry, group, resource))
    }

    fn role<'a>(roles: &'a [ClusterRole], name: &str) -> &'a ClusterRole {
        roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no role {name}"))
    }

    fn rules(role: &ClusterRole) -> Vec<Rule> {
        role.rules.iter().flatten().map(Rule::from_policy).collect()
    }

    #[test]
    fn defaults_carry_the_bootstrap_metadata() {
        for role in defaults() {
            let labels = role.metadata.labels.clone().unwrap_or_default();
            assert_eq!(
                labels.get(BOOTSTRAPPING_LABEL).map(String::as_str),
                Some(BOOTSTRAPPING_VALUE)
            );
            let annotations = role.metadata.annotations.clone().unwrap_or_default();
            assert_eq!(
                annotations.get(AUTOUPDATE_ANNOTATION).map(String::as_str),
                Some("true")
            );
        }
        for binding in cluster_role_bindings() {
            assert!(
                binding
                    .metadata
                    .labels
                    .unwrap_or_default()
                    .contains_key(BOOTSTRAPPING_LABEL)
            );
        }
    }

    #[test]
    fn aggregate_components_keep_only_served_resources() {
        let roles = defaults();
        let view = rules(role(&roles, "system:aggregate-to-view"));
        let all: Vec<(String, String)> = view
            .iter()
            .flat_map(|r| {
                r.api_groups
                    .iter()
                    .flat_map(move |g| r.resources.iter().map(move |res| (g.clone(), res.clone())))
            })
            .collect();
        let has = |g: &str, r: &str| all.contains(&(g.to_owned(), r.to_owned()));
        assert!(has("", "configmaps"));
        assert!(has("", "namespaces"));
        assert!(has("apps", "deployments/scale"));
        assert!(has("apps", "deployments/status"));
        assert!(has("networking.k8s.io", "ingresses"));
        assert!(!has("", "secrets"), "view never reads secrets");
        assert!(!has("", "pods"), "pods are not served");
        assert!(!has("apps", "statefulsets"));
        assert!(all.iter().all(|(g, _)| g != "extensions" && g != "policy"));
        let edit = rules(role(&roles, "system:aggregate-to-edit"));
        let secrets = RequestAttribute::new("create", "", "secrets");
        assert!(edit.iter().any(|r| secrets.allowed_by(r)));
        assert!(
            edit.iter()
                .any(|r| RequestAttribute::new("update", "apps", "deployments/scale").allowed_by(r))
        );
        assert!(
            edit.iter()
                .any(|r| RequestAttribute::new("delete", "coordination.k8s.io", "leases").allowed_by(r))
        );
        assert!(
            !edit
                .iter()
                .any(|r| RequestAttribute::new("create", "federation", "clusters").allowed_by(r))
        );
        let admin = rules(role(&roles, "system:aggregate-to-admin"));
        assert_eq!(
            admin,
            vec![
                Rule::verbs(READ_WRITE)
                    .groups(&[RBAC_GROUP])
                    .resources(&["roles", "rolebindings"])
            ]
        );
        // The aggregated roles start without rules, with their selector.
        let admin = role(&roles, "admin");
        assert!(admin.rules.is_none());
        assert!(admin.aggregation_rule.is_some());
    }

    /// A (verb, group, resource[/sub]) triple for table checks.
    struct RequestAttribute(crate::auth::authz::RequestAttributes);

    impl RequestAttribute {
        fn new(verb: &str, group: &str, resource: &str) -> Self {
            let (plural, sub) = resource.split_once('/').unwrap_or((resource, ""));
            let mut attributes =
                crate::auth::authz::RequestAttributes::resource(verb, group, plural, "ns", "x");
            attributes.subresource = sub.to_owned();
            Self(attributes)
        }

        fn allowed_by(&self, rule: &Rule) -> bool {
            rule.allows(&self.0)
        }
    }

    #[test]
    fn reconcile_is_additive_and_respects_autoupdate_false() {
        let roles = defaults();
        let expected = role(&roles, "system:discovery");
        // Up to date: nothing.
        assert!(reconcile_cluster_role(expected, expected).is_none());
        // A URL removed and an extra rule added: the URL comes back, the extra rule stays.
        let mut edited = expected.clone();
        edited.rules = Some(vec![
            Rule::verbs(&["get"]).urls(&["/api", "/apis"]).to_policy(),
            Rule::verbs(&["get"]).urls(&["/metrics"]).to_policy(),
        ]);
        edited.metadata.labels = None;
        let updated = reconcile_cluster_role(&edited, expected).unwrap();
        let updated_rules: Vec<Rule> = updated.rules.iter().flatten().map(Rule::from_policy).collect();
        assert!(updated_rules.contains(&Rule::verbs(&["get"]).urls(&["/metrics"])));
        assert!(updated_rules.contains(&Rule::verbs(&["get"]).urls(&["/healthz"])));
        assert!(covers(&updated_rules, &rules(expected)).0);
        assert!(updated.metadata.labels.unwrap().contains_key(BOOTSTRAPPING_LABEL));
        // autoupdate "false": left alone.
        let mut protected = edited;
        protected
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(AUTOUPDATE_ANNOTATION.to_owned(), "false".to_owned());
        assert!(reconcile_cluster_role(&protected, expected).is_none());
        // Aggregation selectors come back too.
        let admin = role(&roles, "admin");
        let mut no_selector = admin.clone();
        no_selector.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(Vec::new()),
        });
        let fixed = reconcile_cluster_role(&no_selector, admin).unwrap();
        assert_eq!(fixed.aggregation_rule, admin.aggregation_rule);
    }

    #[test]
    fn binding_reconcile_adds_subjects_and_recreates_on_role_change() {
        let bindings = cluster_role_bindings();
        let expected = &bindings[3];
        assert_eq!(
            reconcile_cluster_role_binding(expected, expected),
            BindingReconcile::None
        );
        let mut fewer = expected.clone();
        fewer.subjects = Some(vec![group_subject(SYSTEM_AUTHENTICATED), group_subject("extra")]);
        let BindingReconcile::Update(updated) = reconcile_cluster_role_binding(&fewer, expected) else {
            panic!("expected an update");
        };
        assert_eq!(
            updated.subjects.unwrap(),
            vec![
                group_subject(SYSTEM_AUTHENTICATED),
                group_subject("extra"),
                group_subject(SYSTEM_UNAUTHENTICATED)
            ]
        );
        let mut other_role = expected.clone();
        other_role.role_ref.name = "view".to_owned();
        assert_eq!(
            reconcile_cluster_role_binding(&other_role, expected),
            BindingReconcile::Recreate
        );
        other_role
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(AUTOUPDATE_ANNOTATION.to_owned(), "false".to_owned());
        assert_eq!(
            reconcile_cluster_role_binding(&other_role, expected),
            BindingReconcile::None
        );
    }
}
