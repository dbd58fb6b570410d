//! ClusterRole aggregation (kube's `clusterrole-aggregation-controller`).
//!
//! # Contract
//! Every ClusterRole with an `aggregationRule` gets as `rules` the union of the rules of the other
//! ClusterRoles matching any of its `clusterRoleSelectors` (label selectors: `matchLabels` and
//! `matchExpressions`; an empty selector matches every cluster role, as `LabelSelectorAsSelector` does):
//! selectors in order, matching roles by name within each, rules in their order, duplicates dropped (kube's
//! order). Aggregation is transitive (`edit` is itself a component of `admin`): a pass iterates in memory
//! until nothing changes, then writes. A role is written only when its rules differ (absent and empty lists
//! are equal). Writes are the
//! server's own (`user: None`), so they are not subject to escalation checks.
//!
//! [`aggregate_once`] does one pass; [`run_aggregation`] repeats it whenever cluster roles change (and
//! every [`RESYNC`] regardless) until shutdown.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use fcp_api::selector::LabelSelector;
use k8s_openapi::api::rbac::v1::ClusterRole;
use serde_json::{Value, json};
use tokio::sync::watch as notify;
use tokio_util::sync::CancellationToken;

use super::rules::Rule;
use crate::{
    error::{ApiError, ApiResult},
    registry::{
        ResourceDef,
        store::{ListOptions, Store, Target, UpdateMode},
    },
};

/// How often a pass runs even without a change notification.
pub const RESYNC: Duration = Duration::from_secs(60);

/// How long to wait before another pass after one failed.
const RETRY: Duration = Duration::from_secs(1);

/// The rules `role` aggregates from `all` (the cluster roles, any order), or why a selector is invalid.
/// Empty when `role` has no aggregation rule.
///
/// # Errors
/// The message of an invalid selector (an unknown operator, a bad label key or value).
pub fn aggregated_rules(role: &ClusterRole, all: &[ClusterRole]) -> Result<Vec<Rule>, String> {
    let mut sorted: Vec<&ClusterRole> = all.iter().collect();
    sorted.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut rules: Vec<Rule> = Vec::new();
    let selectors = role
        .aggregation_rule
        .iter()
        .flat_map(|a| a.cluster_role_selectors.iter().flatten());
    for selector in selectors {
        let selector = LabelSelector::from_k8s(selector)?;
        for other in &sorted {
            if other.metadata.name == role.metadata.name {
                continue;
            }
            let labels = other.metadata.labels.clone().unwrap_or_default();
            if !selector.matches(&labels) {
                continue;
            }
            for rule in other.rules.iter().flatten().map(Rule::from_policy) {
                if !rules.contains(&rule) {
                    rules.push(rule);
                }
            }
        }
    }
    Ok(rules)
}

/// Sets the rules of every aggregated role in `roles` to [`aggregated_rules`], repeating until nothing
/// changes (aggregated roles may aggregate each other: `edit` is a component of `admin`), at most once per
/// role. Returns the names of the roles whose rules changed. Roles with invalid selectors are left alone.
pub fn aggregate_in_memory(roles: &mut [ClusterRole]) -> BTreeSet<Option<String>> {
    let mut changed = BTreeSet::new();
    for _ in 0..=roles.len() {
        let mut any = false;
        for i in 0..roles.len() {
            if roles[i].aggregation_rule.is_none() {
                continue;
            }
            let rules = match aggregated_rules(&roles[i], roles) {
                Ok(rules) => rules,
                Err(e) => {
                    tracing::warn!(clusterrole = ?roles[i].metadata.name, error = %e, "cluster role aggregation: invalid selector");
                    continue;
                }
            };
            let current: Vec<Rule> = roles[i].rules.iter().flatten().map(Rule::from_policy).collect();
            if current != rules {
                roles[i].rules = Some(rules.iter().map(Rule::to_policy).collect());
                changed.insert(roles[i].metadata.name.clone());
                any = true;
            }
        }
        if !any {
            break;
        }
    }
    changed
}

/// One aggregation pass over the cluster roles in `store`; returns how many roles it rewrote.
///
/// # Errors
/// The list's error, or the first write error (other roles are still updated); roles deleted meanwhile are
/// skipped.
pub async fn aggregate_once(store: &Store, cluster_roles: &ResourceDef) -> ApiResult<usize> {
    let target = Target {
        resource: cluster_roles,
        namespace: None,
        user: None,
    };
    let list = store.list(target, &ListOptions::default()).await?;
    let mut roles: Vec<ClusterRole> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| match serde_json::from_value::<ClusterRole>(item.clone()) {
            Ok(role) => Some(role),
            Err(e) => {
                tracing::warn!(error = %e, "cluster role aggregation: cannot decode a cluster role; skipping it");
                None
            }
        })
        .collect();
    let changed = aggregate_in_memory(&mut roles);
    let mut updated = 0;
    let mut first_error = None;
    for role in roles.iter().filter(|r| changed.contains(&r.metadata.name)) {
        let name = role.metadata.name.clone().unwrap_or_default();
        let encoded: Vec<Value> = role
            .rules
            .iter()
            .flatten()
            .map(serde_json::to_value)
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::internal(format!("cannot encode aggregated rules: {e}")))?;
        let result = store
            .guaranteed_update(target, &name, UpdateMode::Main, false, |old| {
                let mut new = old.clone();
                if let Some(map) = new.as_object_mut() {
                    map.insert("rules".to_owned(), json!(encoded));
                }
                Ok(new)
            })
            .await;
        match result {
            Ok(_) => {
                updated += 1;
                tracing::info!(clusterrole = %name, rules = encoded.len(), "aggregated cluster role rules");
            }
            Err(e) if e.code == 404 => {}
            Err(e) => {
                tracing::warn!(clusterrole = %name, error = %e, "cluster role aggregation: update failed");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(updated),
    }
}

/// Runs aggregation until `shutdown`: a pass at once, then one after each notification on `changes` (the
/// index's cluster-role changes, [`super::RbacAuthorizer::cluster_role_changes`]), every [`RESYNC`], and
/// [`RETRY`] after a failed pass.
pub async fn run_aggregation(
    store: Arc<Store>,
    cluster_roles: Arc<ResourceDef>,
    changes: notify::Receiver<u64>,
    shutdown: CancellationToken,
) {
    let mut changes = Some(changes);
    loop {
        let wait = match aggregate_once(&store, &cluster_roles).await {
            Ok(_) => RESYNC,
            Err(e) => {
                tracing::warn!(error = %e, "cluster role aggregation pass failed; retrying");
                RETRY
            }
        };
        let changed = async {
            match changes.as_mut() {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let still_open = tokio::select! {
            still_open = changed => still_open,
            () = tokio::time::sleep(wait) => true,
            () = shutdown.cancelled() => return,
        };
        if !still_open {
            // The index is gone: fall back to periodic passes.
            changes = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn role(value: Value) -> ClusterRole {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn union_of_matching_roles_in_name_order_without_duplicates() {
        let all = vec![
            role(json!({"metadata": {"name": "agg"},
                "aggregationRule": {"clusterRoleSelectors": [
                    {"matchLabels": {"a": "true"}},
                    {"matchExpressions": [{"key": "b", "operator": "In", "values": ["x", "y"]}]}]}})),
            role(json!({"metadata": {"name": "z-comp", "labels": {"a": "true"}},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})),
            role(
                json!({"metadata": {"name": "a-comp", "labels": {"a": "true", "b": "y"}},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                          {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
            ),
            role(json!({"metadata": {"name": "m-comp", "labels": {"b": "x"}},
                "rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]}]})),
            role(json!({"metadata": {"name": "other", "labels": {"b": "z"}},
                "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]})),
        ];
        let rules = aggregated_rules(&all[0], &all).unwrap();
        assert_eq!(
            rules,
            vec![
                Rule::verbs(&["get"]).groups(&[""]).resources(&["configmaps"]),
                Rule::verbs(&["get"]).groups(&[""]).resources(&["pods"]),
                Rule::verbs(&["list"])
                    .groups(&["apps"])
                    .resources(&["deployments"]),
            ]
        );
        let bad = role(json!({"metadata": {"name": "bad"},
            "aggregationRule": {"clusterRoleSelectors": [{"matchExpressions": [{"key": "a", "operator": "Near"}]}]}}));
        assert!(aggregated_rules(&bad, &all).is_err());
    }

    #[test]
    fn aggregation_is_transitive_in_one_pass() {
        let mut roles = vec![
            role(json!({"metadata": {"name": "admin"},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-admin": "true"}}]}})),
            role(
                json!({"metadata": {"name": "edit", "labels": {"to-admin": "true"}},
                "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"to-edit": "true"}}]}}),
            ),
            role(
                json!({"metadata": {"name": "edit-part", "labels": {"to-edit": "true"}},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]}),
            ),
            role(
                json!({"metadata": {"name": "admin-part", "labels": {"to-admin": "true"}},
                "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["create"]}]}),
            ),
        ];
        let changed = aggregate_in_memory(&mut roles);
        assert_eq!(changed.len(), 2);
        let admin: Vec<Rule> = roles[0].rules.iter().flatten().map(Rule::from_policy).collect();
        assert_eq!(
            admin,
            vec![
                Rule::verbs(&["create"])
                    .groups(&["rbac.authorization.k8s.io"])
                    .resources(&["roles"]),
                Rule::verbs(&["create"]).groups(&[""]).resources(&["configmaps"]),
            ]
        );
        assert!(
            aggregate_in_memory(&mut roles).is_empty(),
            "a second pass changes nothing"
        );
    }

    #[test]
    fn a_role_does_not_aggregate_itself() {
        let all = vec![role(
            json!({"metadata": {"name": "self", "labels": {"a": "true"}},
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"a": "true"}}]},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]}),
        )];
        assert!(aggregated_rules(&all[0], &all).unwrap().is_empty());
    }
}
