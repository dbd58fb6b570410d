//! What a member cluster is actually running of a workload, as input to the planner (v1's
//! `clustersReplicaState` and `podanalyzer.AnalyzePods`, reference §3.6).
//!
//! For each cluster holding a copy: if the copy's `spec.replicas` equals its `status.readyReplicas`, the
//! current count is `readyReplicas` and no pods are needed ([`pods_needed`] is false). Otherwise the
//! caller lists the copy's pods (its namespace, its `spec.selector`) and [`analyze_pods`] counts them: the
//! current count is the running-and-ready pods, and if some pods have been unschedulable for longer than
//! [`UNSCHEDULABLE_THRESHOLD`], the cluster's estimated capacity is `spec.replicas − unschedulable`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

/// How long a pod must have been unschedulable before it lowers the cluster's estimated capacity
/// (v1's `UnschedulableThreshold`, 60 s).
pub const UNSCHEDULABLE_THRESHOLD: SignedDuration = SignedDuration::from_secs(60);

/// Counts over one workload's pods in one cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PodAnalysis {
    /// Pods in phase `Running` whose `Ready` condition has status `"True"`.
    pub running_ready: i64,
    /// Pods not in phase `Running` with condition `PodScheduled` = `"False"`, reason `Unschedulable`,
    /// whose `lastTransitionTime` is more than [`UNSCHEDULABLE_THRESHOLD`] before `now`.
    pub unschedulable: i64,
}

/// Counts `pods` (one workload's pods in one cluster) at time `now`.
///
/// Differences from v1's `AnalyzePods`:
/// * v1 counts a Running pod as ready when it has a `Ready` condition **whatever its status** (defect
///   §7.3 item 4); here the condition's status must be `"True"`.
/// * v1 counts once per matching condition; here each pod counts at most once (they only differ for a pod
///   listing the same condition type twice, which the apiserver does not produce).
///
/// As in v1, an unschedulable condition without `lastTransitionTime` is treated as long past (Go's zero
/// time) and counts.
#[must_use]
pub fn analyze_pods<'a>(pods: impl IntoIterator<Item = &'a Pod>, now: Timestamp) -> PodAnalysis {
    let mut analysis = PodAnalysis::default();
    for pod in pods {
        let Some(status) = pod.status.as_ref() else {
            continue;
        };
        let conditions = status.conditions.as_deref().unwrap_or_default();
        if status.phase.as_deref() == Some("Running") {
            if conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
            {
                analysis.running_ready += 1;
            }
        } else if conditions.iter().any(|c| {
            c.type_ == "PodScheduled"
                && c.status == "False"
                && c.reason.as_deref() == Some("Unschedulable")
                && c.last_transition_time
                    .as_ref()
                    .is_none_or(|since| unschedulable_long_enough(since.0, now))
        }) {
            analysis.unschedulable += 1;
        }
    }
    analysis
}

/// `since + threshold < now` (Go: `LastTransitionTime.Add(threshold).Before(now)`).
fn unschedulable_long_enough(since: Timestamp, now: Timestamp) -> bool {
    since
        .checked_add(UNSCHEDULABLE_THRESHOLD)
        .is_ok_and(|deadline| deadline < now)
}

/// Whether the copy's pods must be listed to know its current replicas: when `spec.replicas` differs from
/// `status.readyReplicas`. Pass `spec.replicas` as defaulted by the apiserver (1 when absent) and
/// `status.readyReplicas` as 0 when absent.
#[must_use]
pub fn pods_needed(spec_replicas: i64, ready_replicas: i64) -> bool {
    spec_replicas != ready_replicas
}

/// One cluster's contribution to the planner's inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClusterReplicaState {
    /// The replicas the cluster runs now (the planner's `current_replicas` entry).
    pub current: i64,
    /// The cluster's estimated capacity, when pods are unschedulable (the planner's
    /// `estimated_capacity` entry).
    pub estimated_capacity: Option<i64>,
}

impl ClusterReplicaState {
    /// The state from the copy's own status when that suffices (`spec.replicas == status.readyReplicas`:
    /// current = readyReplicas, no capacity estimate); `None` when [`pods_needed`].
    #[must_use]
    pub fn from_ready_replicas(spec_replicas: i64, ready_replicas: i64) -> Option<Self> {
        (!pods_needed(spec_replicas, ready_replicas)).then_some(Self {
            current: ready_replicas,
            estimated_capacity: None,
        })
    }

    /// The state from a pod analysis: current = the replicas the member runs or is still starting,
    /// `spec_replicas − unschedulable` (at least the running-and-ready pods, at most `spec_replicas`);
    /// capacity = `spec_replicas − unschedulable` when any pod is unschedulable (it can be 0 or
    /// negative, as in v1).
    ///
    /// v1 took only the running-and-ready pods as current. A member that was just given more replicas
    /// and is starting them then looked short, and without rebalancing the planner handed its starting
    /// replicas back to another member, which is how v1 flapped after moving replicas off a full member.
    /// Pods that are merely starting are no reason to move anything; only the unschedulable ones are.
    #[must_use]
    pub fn from_pod_analysis(spec_replicas: i64, analysis: &PodAnalysis) -> Self {
        let starting_or_running = spec_replicas.saturating_sub(analysis.unschedulable);
        Self {
            current: starting_or_running
                .max(analysis.running_ready.min(spec_replicas))
                .max(0),
            estimated_capacity: (analysis.unschedulable > 0)
                .then(|| spec_replicas.saturating_sub(analysis.unschedulable)),
        }
    }
}

/// The planner's `current_replicas` and `estimated_capacity` inputs, collected cluster by cluster.
/// Clusters without a copy are simply not recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClustersReplicaState {
    /// Current replicas per cluster with a copy.
    pub current_replicas: BTreeMap<String, i64>,
    /// Estimated capacity per cluster with unschedulable pods.
    pub estimated_capacity: BTreeMap<String, i64>,
}

impl ClustersReplicaState {
    /// Records one cluster's state.
    pub fn insert(&mut self, cluster: impl Into<String>, state: ClusterReplicaState) {
        let cluster = cluster.into();
        if let Some(capacity) = state.estimated_capacity {
            self.estimated_capacity.insert(cluster.clone(), capacity);
        }
        self.current_replicas.insert(cluster, state.current);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).expect("valid timestamp")
    }

    fn seconds_ago(seconds: i64) -> Option<Time> {
        Some(Time(now() - SignedDuration::from_secs(seconds)))
    }

    fn condition(type_: &str, status: &str, reason: Option<&str>, since: Option<Time>) -> PodCondition {
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
            last_transition_time: since,
            ..PodCondition::default()
        }
    }

    fn pod(phase: &str, conditions: Vec<PodCondition>) -> Pod {
        Pod {
            status: Some(PodStatus {
                phase: Some(phase.to_owned()),
                conditions: Some(conditions),
                ..PodStatus::default()
            }),
            ..Pod::default()
        }
    }

    fn ready(status: &str) -> PodCondition {
        condition("Ready", status, None, seconds_ago(5))
    }

    fn unschedulable_for(seconds: i64) -> PodCondition {
        condition(
            "PodScheduled",
            "False",
            Some("Unschedulable"),
            seconds_ago(seconds),
        )
    }

    #[test]
    fn running_pods_count_only_when_their_ready_condition_is_true() {
        let pods = [
            pod("Running", vec![ready("True")]),
            pod("Running", vec![ready("False")]),
            pod("Running", vec![ready("Unknown")]),
            pod("Running", vec![]),
            pod("Pending", vec![ready("True")]),
        ];
        assert_eq!(analyze_pods(&pods, now()).running_ready, 1);
    }

    #[test]
    fn pods_unschedulable_for_more_than_sixty_seconds_count() {
        let pods = [
            pod("Pending", vec![unschedulable_for(61)]),
            pod("Pending", vec![unschedulable_for(3600)]),
            pod("Pending", vec![unschedulable_for(60)]),
            pod("Pending", vec![unschedulable_for(10)]),
        ];
        assert_eq!(analyze_pods(&pods, now()).unschedulable, 2);
        assert_eq!(UNSCHEDULABLE_THRESHOLD, SignedDuration::from_secs(60));
    }

    #[test]
    fn only_false_unschedulable_pod_scheduled_conditions_of_non_running_pods_count() {
        let pods = [
            pod(
                "Pending",
                vec![condition(
                    "PodScheduled",
                    "True",
                    Some("Unschedulable"),
                    seconds_ago(99),
                )],
            ),
            pod(
                "Pending",
                vec![condition(
                    "PodScheduled",
                    "False",
                    Some("SchedulerError"),
                    seconds_ago(99),
                )],
            ),
            pod(
                "Pending",
                vec![condition(
                    "Ready",
                    "False",
                    Some("Unschedulable"),
                    seconds_ago(99),
                )],
            ),
            pod("Running", vec![unschedulable_for(99)]),
            pod(
                "Pending",
                vec![condition("PodScheduled", "False", Some("Unschedulable"), None)],
            ),
        ];
        let analysis = analyze_pods(&pods, now());
        assert_eq!(
            analysis.unschedulable, 1,
            "only the one without a transition time (Go's zero time)"
        );
        assert_eq!(analysis.running_ready, 0);
    }

    #[test]
    fn a_pod_counts_once_and_pods_without_status_are_ignored() {
        let pods = [
            pod("Pending", vec![unschedulable_for(99), unschedulable_for(100)]),
            pod("Running", vec![ready("True"), ready("True")]),
            Pod::default(),
        ];
        assert_eq!(
            analyze_pods(&pods, now()),
            PodAnalysis {
                running_ready: 1,
                unschedulable: 1
            }
        );
    }

    #[test]
    fn pods_are_needed_only_when_spec_and_ready_replicas_differ() {
        assert!(!pods_needed(3, 3));
        assert!(pods_needed(3, 2));
        assert!(pods_needed(0, 1));
    }

    #[test]
    fn a_fully_ready_copy_reports_its_ready_replicas() {
        assert_eq!(
            ClusterReplicaState::from_ready_replicas(4, 4),
            Some(ClusterReplicaState {
                current: 4,
                estimated_capacity: None
            })
        );
        assert_eq!(ClusterReplicaState::from_ready_replicas(4, 3), None);
    }

    #[test]
    fn unschedulable_pods_lower_the_estimated_capacity() {
        let analysis = PodAnalysis {
            running_ready: 3,
            unschedulable: 2,
        };
        assert_eq!(
            ClusterReplicaState::from_pod_analysis(5, &analysis),
            ClusterReplicaState {
                current: 3,
                estimated_capacity: Some(3)
            }
        );
        let fine = PodAnalysis {
            running_ready: 2,
            unschedulable: 0,
        };
        assert_eq!(
            ClusterReplicaState::from_pod_analysis(5, &fine),
            ClusterReplicaState {
                current: 5,
                estimated_capacity: None
            },
            "pods still starting count as current"
        );
        let stuck = PodAnalysis {
            running_ready: 1,
            unschedulable: 4,
        };
        assert_eq!(
            ClusterReplicaState::from_pod_analysis(3, &stuck),
            ClusterReplicaState {
                current: 1,
                estimated_capacity: Some(-1)
            },
            "never fewer than the ready pods, never more than asked for"
        );
    }

    #[test]
    fn collected_states_feed_the_planner_maps() {
        let mut state = ClustersReplicaState::default();
        state.insert(
            "a",
            ClusterReplicaState {
                current: 3,
                estimated_capacity: None,
            },
        );
        state.insert(
            "b",
            ClusterReplicaState {
                current: 1,
                estimated_capacity: Some(2),
            },
        );
        assert_eq!(state.current_replicas.len(), 2);
        assert_eq!(state.current_replicas["b"], 1);
        assert_eq!(state.estimated_capacity, BTreeMap::from([("b".to_owned(), 2)]));
    }
}
