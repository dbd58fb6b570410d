//! Workload status, computed from the workload's pods the way kube's controllers report it: replicas,
//! readyReplicas, availableReplicas (= ready: `minReadySeconds` is not simulated), updatedReplicas and
//! observedGeneration, with Deployment conditions Available and Progressing, DaemonSet scheduling counts,
//! and Job active/ready/succeeded counts with SuccessCriteriaMet and Complete at the end. Counts of zero
//! are omitted, as kube's `omitempty` does.

use k8s_openapi::{
    api::{
        apps::v1::{
            DaemonSet, DaemonSetStatus, Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet,
            ReplicaSetStatus,
        },
        batch::v1::{Job, JobCondition, JobStatus, UncountedTerminatedPods},
        core::v1::{Pod, PodCondition},
    },
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::Timestamp,
};
use kube::ResourceExt;
use serde_json::json;

use super::{
    Item, Kind, Op, State, ops, pods,
    workloads::{self, Owner, WorkloadKind},
};

/// Now, to the second (what the wire format keeps), so the cache and the server agree.
pub(crate) fn now() -> Time {
    Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now()))
}

/// A condition with a type, status, reason and message, and a transition time.
pub(crate) trait Condition: Clone {
    fn type_(&self) -> &str;
    fn status(&self) -> &str;
    fn reason(&self) -> Option<&str>;
    fn message(&self) -> Option<&str>;
    /// Carries the transition time (and update time, where there is one) over from `old`.
    fn keep_times(&mut self, old: &Self, same_reason: bool);
}

impl Condition for PodCondition {
    fn type_(&self) -> &str {
        &self.type_
    }
    fn status(&self) -> &str {
        &self.status
    }
    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
    fn keep_times(&mut self, old: &Self, _same_reason: bool) {
        self.last_transition_time.clone_from(&old.last_transition_time);
        self.last_probe_time.clone_from(&old.last_probe_time);
    }
}

impl Condition for JobCondition {
    fn type_(&self) -> &str {
        &self.type_
    }
    fn status(&self) -> &str {
        &self.status
    }
    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
    fn keep_times(&mut self, old: &Self, _same_reason: bool) {
        self.last_transition_time.clone_from(&old.last_transition_time);
        self.last_probe_time.clone_from(&old.last_probe_time);
    }
}

impl Condition for DeploymentCondition {
    fn type_(&self) -> &str {
        self.type_.as_deref().unwrap_or_default()
    }
    fn status(&self) -> &str {
        self.status.as_deref().unwrap_or_default()
    }
    fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }
    fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
    fn keep_times(&mut self, old: &Self, same_reason: bool) {
        self.last_transition_time.clone_from(&old.last_transition_time);
        if same_reason {
            self.last_update_time.clone_from(&old.last_update_time);
        }
    }
}

/// Sets `condition` in `conditions` (replacing the one of its type): the transition time stays when the
/// status does not change, and nothing changes at all when status, reason and message are the same.
pub(crate) fn set_condition<C: Condition>(conditions: &mut Vec<C>, mut condition: C) {
    match conditions.iter_mut().find(|c| c.type_() == condition.type_()) {
        Some(existing) => {
            let same_status = existing.status() == condition.status();
            let same_reason = same_status
                && existing.reason() == condition.reason()
                && existing.message() == condition.message();
            if same_reason {
                return;
            }
            if same_status {
                condition.keep_times(existing, false);
            }
            *existing = condition;
        }
        None => conditions.push(condition),
    }
}

/// `n` as a count, `None` when zero (kube's `omitempty`).
fn nz(n: usize) -> Option<i32> {
    (n > 0).then(|| i32::try_from(n).unwrap_or(i32::MAX))
}

/// `n` as an `i32`.
fn int(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Writes the status of the dirty workloads.
pub(super) fn plan(state: &mut State) -> Vec<Op> {
    if !state.pods.synced() {
        return Vec::new();
    }
    let dirty = std::mem::take(&mut state.dirty.statuses);
    let mut ops = Vec::new();
    for owner in dirty {
        let op = match owner.0 {
            WorkloadKind::Deployment => deployment(state, &owner),
            WorkloadKind::ReplicaSet => replicaset(state, &owner),
            WorkloadKind::DaemonSet => daemonset(state, &owner),
            WorkloadKind::Job => job(state, &owner),
        };
        ops.extend(op);
    }
    ops
}

/// A status patch of `key` turning `observed` into `desired`, when they differ.
fn status_op<K: Kind, S: serde::Serialize>(
    state: &mut State,
    owner: &Owner,
    rv: &str,
    observed: &Option<S>,
    desired: &S,
) -> Option<Op> {
    let diff = ops::merge_diff(&ops::to_json(observed), &ops::to_json(desired))?;
    state.patch_op::<K>(
        &owner.1,
        rv,
        true,
        json!({ "status": diff }),
        Item::WorkloadStatus(owner.clone()),
    )
}

/// The pods a workload's controller reference claims (active or finished).
fn claimed_pods(state: &State, owner: &Owner, uid: Option<&str>) -> Vec<Pod> {
    let (mine, _) = workloads::owned_pods(state, owner, uid);
    mine
}

fn deployment(state: &mut State, owner: &Owner) -> Option<Op> {
    let deployment: Deployment = state.deployments.get(&owner.1)?.clone();
    let all = claimed_pods(state, owner, deployment.metadata.uid.as_deref());
    let active: Vec<&Pod> = all.iter().filter(|p| pods::is_active(p)).collect();
    let spec = deployment.spec.clone();
    let replicas = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
    let hash = workloads::template_hash(&spec.template);
    let updated = active
        .iter()
        .filter(|p| p.labels().get("pod-template-hash") == Some(&hash))
        .count();
    let ready = active.iter().filter(|p| pods::is_ready(p)).count();
    let available = ready;
    let max_unavailable = match spec.strategy.as_ref().and_then(|s| s.type_.as_deref()) {
        Some("Recreate") => 0,
        _ => {
            let rolling = spec
                .strategy
                .as_ref()
                .and_then(|s| s.rolling_update.clone())
                .unwrap_or_default();
            let total = int(replicas);
            let surge = workloads::scaled(rolling.max_surge.as_ref(), total, true, "25%");
            let unavailable = workloads::scaled(rolling.max_unavailable.as_ref(), total, false, "25%");
            let unavailable = if surge == 0 && unavailable == 0 {
                1
            } else {
                unavailable
            };
            usize::try_from(unavailable.min(total)).unwrap_or(0)
        }
    };
    let observed = deployment.status.clone();
    let mut status = observed.clone().unwrap_or_default();
    status.replicas = nz(active.len());
    status.updated_replicas = nz(updated);
    status.ready_replicas = nz(ready);
    status.available_replicas = nz(available);
    status.unavailable_replicas = nz(replicas.saturating_sub(available));
    status.observed_generation = deployment.metadata.generation;
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let now = now();
    let condition = |type_: &str, status: &str, reason: &str, message: String| DeploymentCondition {
        type_: Some(type_.to_owned()),
        status: Some(status.to_owned()),
        reason: Some(reason.to_owned()),
        message: Some(message),
        last_transition_time: Some(now.clone()),
        last_update_time: Some(now.clone()),
    };
    if available >= replicas.saturating_sub(max_unavailable) {
        set_condition(
            conditions,
            condition(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".to_owned(),
            ),
        );
    } else {
        set_condition(
            conditions,
            condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".to_owned(),
            ),
        );
    }
    let rs_name = format!("{}-{hash}", deployment.name_any());
    let complete = updated == replicas && active.len() == replicas && available == replicas;
    if complete {
        set_condition(
            conditions,
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            ),
        );
    } else {
        set_condition(
            conditions,
            condition(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs_name}\" is progressing."),
            ),
        );
    }
    // kube lists Available before Progressing.
    conditions.sort_by_key(|c| match c.type_.as_deref() {
        Some("Available") => 0,
        Some("Progressing") => 1,
        _ => 2,
    });
    let rv = deployment.resource_version().unwrap_or_default();
    status_op::<Deployment, DeploymentStatus>(state, owner, &rv, &observed, &status)
}

fn replicaset(state: &mut State, owner: &Owner) -> Option<Op> {
    let rs: ReplicaSet = state.replicasets.get(&owner.1)?.clone();
    let all = claimed_pods(state, owner, rs.metadata.uid.as_deref());
    let active: Vec<&Pod> = all.iter().filter(|p| pods::is_active(p)).collect();
    let ready = active.iter().filter(|p| pods::is_ready(p)).count();
    let template_labels = rs
        .spec
        .template
        .as_ref()
        .and_then(|t| t.metadata.as_ref())
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let fully_labeled = active
        .iter()
        .filter(|p| template_labels.iter().all(|(k, v)| p.labels().get(k) == Some(v)))
        .count();
    let observed = rs.status.clone();
    let mut status = observed.clone().unwrap_or_default();
    status.replicas = int(active.len());
    status.fully_labeled_replicas = nz(fully_labeled);
    status.ready_replicas = nz(ready);
    status.available_replicas = nz(ready);
    status.observed_generation = rs.metadata.generation;
    let rv = rs.resource_version().unwrap_or_default();
    status_op::<ReplicaSet, ReplicaSetStatus>(state, owner, &rv, &observed, &status)
}

fn daemonset(state: &mut State, owner: &Owner) -> Option<Op> {
    if !state.nodes.synced() {
        state.dirty.statuses.insert(owner.clone());
        return None;
    }
    let ds: DaemonSet = state.daemonsets.get(&owner.1)?.clone();
    let all = claimed_pods(state, owner, ds.metadata.uid.as_deref());
    let active: Vec<&Pod> = all.iter().filter(|p| pods::is_active(p)).collect();
    let template = ds.spec.clone().template;
    let hash = workloads::template_hash(&template);
    let eligible = workloads::daemon_nodes(state, &template);
    let on_eligible = |p: &&&Pod| pods::node_of(p).is_some_and(|n| eligible.iter().any(|e| e == n));
    let scheduled: std::collections::BTreeSet<&str> = active
        .iter()
        .filter(on_eligible)
        .filter_map(|p| pods::node_of(p))
        .collect();
    let misscheduled = active
        .iter()
        .filter(|p| pods::node_of(p).is_some_and(|n| !eligible.iter().any(|e| e == n)))
        .count();
    let ready = active
        .iter()
        .filter(on_eligible)
        .filter(|p| pods::is_ready(p))
        .count();
    let updated = active
        .iter()
        .filter(on_eligible)
        .filter(|p| p.labels().get("controller-revision-hash") == Some(&hash))
        .count();
    let observed = ds.status.clone();
    let mut status = observed.clone().unwrap_or_default();
    status.desired_number_scheduled = int(eligible.len());
    status.current_number_scheduled = int(scheduled.len());
    status.number_misscheduled = int(misscheduled);
    status.number_ready = int(ready);
    status.number_available = nz(ready);
    status.number_unavailable = nz(eligible.len().saturating_sub(ready));
    status.updated_number_scheduled = nz(updated);
    status.observed_generation = ds.metadata.generation;
    let rv = ds.resource_version().unwrap_or_default();
    status_op::<DaemonSet, DaemonSetStatus>(state, owner, &rv, &observed, &status)
}

fn job(state: &mut State, owner: &Owner) -> Option<Op> {
    let job: Job = state.jobs.get(&owner.1)?.clone();
    let mine = claimed_pods(state, owner, job.metadata.uid.as_deref());
    let active = mine.iter().filter(|p| pods::is_active(p)).count();
    let ready = mine
        .iter()
        .filter(|p| pods::is_active(p) && pods::is_ready(p))
        .count();
    let succeeded = mine.iter().filter(|p| pods::phase(p) == "Succeeded").count();
    let (_, completions) = workloads::job_counts(&job);
    let suspended = job.spec.as_ref().and_then(|s| s.suspend) == Some(true);
    let observed = job.status.clone();
    let mut status: JobStatus = observed.clone().unwrap_or_default();
    status.active = nz(active);
    status.ready = Some(int(ready));
    status.succeeded = nz(succeeded);
    status
        .uncounted_terminated_pods
        .get_or_insert_with(UncountedTerminatedPods::default);
    if !suspended && status.start_time.is_none() {
        status.start_time = Some(now());
    }
    let complete =
        workloads::job_complete(&job) || (succeeded >= completions && active == 0 && completions > 0);
    if complete {
        let finished = status.completion_time.clone().unwrap_or_else(now);
        status.completion_time = Some(finished.clone());
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        for type_ in ["SuccessCriteriaMet", "Complete"] {
            set_condition(
                conditions,
                JobCondition {
                    type_: type_.to_owned(),
                    status: "True".to_owned(),
                    reason: Some("CompletionsReached".to_owned()),
                    message: Some("Reached expected number of succeeded pods".to_owned()),
                    last_probe_time: Some(finished.clone()),
                    last_transition_time: Some(finished.clone()),
                },
            );
        }
    }
    let rv = job.resource_version().unwrap_or_default();
    status_op::<Job, JobStatus>(state, owner, &rv, &observed, &status)
}
