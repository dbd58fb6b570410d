//! Replica scheduling of Deployments and ReplicaSets over the selected members, and the status roll-up to
//! the federated object (reference §3.6; v1's roll-up defects §7.3 #3 fixed).
//!
//! The planner itself is `fcp_api::replicas` (pure, bit-exact with v1); this module gathers its inputs from
//! the member copies (and, when a copy is not fully ready, its pods) and turns a plan into per-member
//! `spec.replicas`.

use std::collections::BTreeMap;

use fcp_api::{
    names::HPA_TARGET_CLUSTER_LIST_ANNOTATION,
    replicas::{
        ClusterReplicaState, ClusterSchedule, ClustersReplicaState, PreferencesError, analyze_pods, plan,
        preferences_from_annotations, schedule_for_clusters,
    },
};
use k8s_openapi::api::core::v1::Pod;
use kube::{
    Api,
    api::{DynamicObject, ListParams},
};
use serde_json::{Map, Value};
use tracing::debug;

use super::kinds::Scheduling;

/// `spec.replicas` of a workload (Kubernetes defaults it to 1).
#[must_use]
pub fn spec_replicas(object: &DynamicObject) -> i64 {
    object
        .data
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// Whether a member's copy runs every replica it asks for, ready: the planner's rule for reading the
/// copy's status instead of its pods.
pub fn fully_ready(copy: &DynamicObject) -> bool {
    ClusterReplicaState::from_ready_replicas(spec_replicas(copy), status_i64(copy, "readyReplicas")).is_some()
}

fn status_i64(object: &DynamicObject, field: &str) -> i64 {
    object
        .data
        .get("status")
        .and_then(|s| s.get(field))
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// A label selector's string form (`a=b,c in (d,e),!f`) from a workload's `spec.selector`.
#[must_use]
pub fn selector_string(object: &DynamicObject) -> String {
    let Some(selector) = object.data.pointer("/spec/selector") else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (key, value) in labels {
            parts.push(format!("{key}={}", value.as_str().unwrap_or_default()));
        }
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match expression
            .get("operator")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "In" => parts.push(format!("{key} in ({})", values.join(","))),
            "NotIn" => parts.push(format!("{key} notin ({})", values.join(","))),
            "Exists" => parts.push(key.to_owned()),
            "DoesNotExist" => parts.push(format!("!{key}")),
            _ => {}
        }
    }
    parts.join(",")
}

/// What one member runs of a workload now: from the copy's status when it is fully ready, else from its
/// pods (running-and-ready ones count; unschedulable ones bound the member's capacity).
pub async fn member_state(client: &kube::Client, copy: &DynamicObject) -> ClusterReplicaState {
    let spec = spec_replicas(copy);
    let ready = status_i64(copy, "readyReplicas");
    if let Some(state) = ClusterReplicaState::from_ready_replicas(spec, ready) {
        return state;
    }
    let namespace = copy.metadata.namespace.clone().unwrap_or_default();
    let pods = Api::<Pod>::namespaced(client.clone(), &namespace);
    let selector = selector_string(copy);
    match pods.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => {
            ClusterReplicaState::from_pod_analysis(spec, &analyze_pods(&list.items, jiff::Timestamp::now()))
        }
        Err(error) => {
            debug!(%error, "listing member pods failed; using the copy's ready replicas");
            ClusterReplicaState {
                current: ready,
                estimated_capacity: None,
            }
        }
    }
}

/// The members' schedule: `spec.replicas` for every selected member (possibly 0), or unselected.
///
/// `copies` holds each selected member's client and copy (if any). With the
/// `hpa-target-cluster-list` annotation the members it names keep their copies' replicas and the others
/// are unselected (HPAs decide); otherwise the planner splits `spec.replicas` by the preferences
/// annotation. An invalid annotation schedules by the default preferences and is returned for an event.
pub async fn schedule(
    object: &DynamicObject,
    scheduling: Scheduling,
    copies: &[(String, kube::Client, Option<std::sync::Arc<DynamicObject>>)],
    key: &str,
) -> (BTreeMap<String, ClusterSchedule>, Option<PreferencesError>) {
    let annotations = object.metadata.annotations.clone().unwrap_or_default();
    if let Some(list) = annotations.get(HPA_TARGET_CLUSTER_LIST_ANNOTATION) {
        let names: Vec<String> = serde_json::from_str::<Value>(list)
            .ok()
            .and_then(|v| v.get("Names").cloned())
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        let schedule = copies
            .iter()
            .map(|(cluster, _, copy)| {
                let selected = names.contains(cluster);
                let replicas = if selected {
                    copy.as_deref().map_or(0, spec_replicas)
                } else {
                    0
                };
                (cluster.clone(), ClusterSchedule { selected, replicas })
            })
            .collect();
        return (schedule, None);
    }
    let (preferences, error) = preferences_from_annotations(&annotations, scheduling.preferences_annotation);
    let mut state = ClustersReplicaState::default();
    let states = futures::future::join_all(copies.iter().filter_map(|(cluster, client, copy)| {
        let copy = copy.clone()?;
        Some(async move { (cluster.clone(), member_state(client, &copy).await) })
    }))
    .await;
    for (cluster, member) in states {
        state.insert(cluster, member);
    }
    let clusters: Vec<String> = copies.iter().map(|(cluster, _, _)| cluster.clone()).collect();
    let planned = plan(
        &preferences,
        spec_replicas(object),
        &clusters,
        &state.current_replicas,
        &state.estimated_capacity,
        key,
    );
    (schedule_for_clusters(&planned, &clusters), error)
}

/// The federated object's status fields from its members' copies: each of `scheduling.summed_status`
/// summed over the copies, and `observedGeneration` = the federated object's generation once every
/// selected member holds an up-to-date copy that its own controller has observed (`up_to_date`), else
/// the stored value. Returns the fields to merge into `status` when any differs from the stored ones.
#[must_use]
pub fn rolled_up_status(
    object: &DynamicObject,
    scheduling: Scheduling,
    copies: &[&DynamicObject],
    up_to_date: bool,
) -> Option<Map<String, Value>> {
    let mut status = Map::new();
    for field in scheduling.summed_status {
        let sum: i64 = copies.iter().map(|copy| status_i64(copy, field)).sum();
        status.insert((*field).to_owned(), Value::from(sum));
    }
    let observed_by_members = copies.iter().all(|copy| {
        let generation = copy.metadata.generation.unwrap_or(0);
        status_i64(copy, "observedGeneration") >= generation
    });
    if up_to_date
        && observed_by_members
        && let Some(generation) = object.metadata.generation
    {
        status.insert("observedGeneration".to_owned(), Value::from(generation));
    }
    let stored = object.data.get("status").and_then(Value::as_object);
    let changed = status.iter().any(|(field, value)| {
        let have = stored
            .and_then(|s| s.get(field))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        value.as_i64() != Some(have)
    });
    changed.then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::kinds::{Deployments, FederatedKind, ReplicaSets};
    use serde_json::json;

    fn object(value: Value) -> DynamicObject {
        serde_json::from_value(value).expect("valid object")
    }

    #[test]
    fn selectors_print_like_apimachinery() {
        let d = object(json!({"metadata": {"name": "d"}, "spec": {"selector": {
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                 {"key": "legacy", "operator": "DoesNotExist"}]}}}));
        assert_eq!(selector_string(&d), "app=web,tier in (a,b),!legacy");
    }

    #[test]
    fn roll_up_sums_every_field_and_sets_observed_generation_only_when_members_caught_up() {
        let scheduling = Deployments.scheduling().expect("deployments schedule");
        let fed = object(json!({"metadata": {"name": "d", "generation": 3}, "spec": {"replicas": 8}}));
        let copy = |replicas: i64, generation: i64, observed: i64| {
            object(json!({"metadata": {"name": "d", "generation": generation},
                "status": {"replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
                           "availableReplicas": replicas, "observedGeneration": observed}}))
        };
        let (a, b, c) = (copy(4, 1, 1), copy(2, 1, 1), copy(2, 2, 1));
        let status = rolled_up_status(&fed, scheduling, &[&a, &b, &c], true).expect("changed");
        assert_eq!(status["replicas"], json!(8));
        assert_eq!(status["readyReplicas"], json!(8));
        assert!(
            !status.contains_key("observedGeneration"),
            "cluster c has not observed its copy"
        );
        let c = copy(2, 2, 2);
        let status = rolled_up_status(&fed, scheduling, &[&a, &b, &c], true).expect("changed");
        assert_eq!(
            status["observedGeneration"],
            json!(3),
            "the federated generation, not a sum"
        );
        let mut fed = fed;
        fed.data["status"] = Value::Object(status);
        assert_eq!(
            rolled_up_status(&fed, scheduling, &[&a, &b, &c], true),
            None,
            "nothing to write"
        );
    }

    #[test]
    fn replica_sets_sum_fully_labeled_replicas_rather_than_copying_replicas() {
        let scheduling = ReplicaSets.scheduling().expect("replicasets schedule");
        let fed = object(json!({"metadata": {"name": "r", "generation": 1}}));
        let a =
            object(json!({"metadata": {"name": "r"}, "status": {"replicas": 3, "fullyLabeledReplicas": 1}}));
        let status = rolled_up_status(&fed, scheduling, &[&a], false).expect("changed");
        assert_eq!(
            (status["replicas"].clone(), status["fullyLabeledReplicas"].clone()),
            (json!(3), json!(1))
        );
    }
}
