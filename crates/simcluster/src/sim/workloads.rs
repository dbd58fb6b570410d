//! Pods for workloads: Deployments and ReplicaSets run `spec.replicas` pods, DaemonSets one pod per
//! matching node, Jobs `parallelism` pods at a time until `completions` succeeded. Pods carry the template's
//! labels (plus `pod-template-hash` for Deployments and ReplicaSets, `controller-revision-hash` for
//! DaemonSets, the `job-name`/`controller-uid` labels for Jobs) and a controller owner reference; their
//! names are deterministic, so a restart or a stale cache never makes duplicates. Surplus pods are deleted
//! (unscheduled, then not running, then not ready, then newest first, like kube); pods of a workload that is
//! gone (or was re-created under the same name) are deleted.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::{
    api::{
        apps::v1::{DaemonSet, Deployment, ReplicaSet},
        batch::v1::Job,
        core::v1::{
            Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec,
            PodTemplateSpec,
        },
    },
    apimachinery::pkg::{apis::meta::v1::OwnerReference, util::intstr::IntOrString},
};
use kube::{ResourceExt, api::ObjectMeta};

use super::{Item, Kind, Op, State, ops, pods};
use crate::{
    cache::{Change, Key, key_of},
    names,
};

/// The workload kinds the simulator runs pods for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum WorkloadKind {
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// batch/v1 Job.
    Job,
}

/// A workload: its kind and `(namespace, name)`.
pub(crate) type Owner = (WorkloadKind, Key);

impl WorkloadKind {
    /// The kind's name.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::ReplicaSet => "ReplicaSet",
            Self::DaemonSet => "DaemonSet",
            Self::Job => "Job",
        }
    }

    fn api_version(self) -> &'static str {
        match self {
            Self::Job => "batch/v1",
            _ => "apps/v1",
        }
    }

    /// The kind an owner reference names, when simulated.
    pub(crate) fn of_reference(api_version: &str, kind: &str) -> Option<Self> {
        let group = api_version.split_once('/').map_or("", |(g, _)| g);
        match (group, kind) {
            ("apps", "Deployment") => Some(Self::Deployment),
            ("apps", "ReplicaSet") => Some(Self::ReplicaSet),
            ("apps", "DaemonSet") => Some(Self::DaemonSet),
            ("batch", "Job") => Some(Self::Job),
            _ => None,
        }
    }

    /// Whether the simulator has listed this kind.
    fn synced(self, state: &State) -> bool {
        match self {
            Self::Deployment => state.deployments.synced(),
            Self::ReplicaSet => state.replicasets.synced(),
            Self::DaemonSet => state.daemonsets.synced(),
            Self::Job => state.jobs.synced(),
        }
    }
}

/// A simulated workload kind.
pub(crate) trait Workload: Kind {
    /// Which one.
    const KIND: WorkloadKind;
}

impl Workload for Deployment {
    const KIND: WorkloadKind = WorkloadKind::Deployment;
}
impl Workload for ReplicaSet {
    const KIND: WorkloadKind = WorkloadKind::ReplicaSet;
}
impl Workload for DaemonSet {
    const KIND: WorkloadKind = WorkloadKind::DaemonSet;
}
impl Workload for Job {
    const KIND: WorkloadKind = WorkloadKind::Job;
}

pub(super) fn changed<K: Workload>(state: &mut State, (old, new): &Change<K>) {
    if let Some(key) = new.as_ref().or(old.as_ref()).map(key_of) {
        state.dirty.workloads.insert((K::KIND, key.clone()));
        state.dirty.statuses.insert((K::KIND, key));
    }
}

/// `pod-template-hash` of a template.
pub(crate) fn template_hash(template: &PodTemplateSpec) -> String {
    names::template_hash(&serde_json::to_vec(template).unwrap_or_default())
}

/// The pods that claim `owner`: those whose controller reference has the workload's uid, and the others
/// (orphans of an earlier workload of the same name).
pub(crate) fn owned_pods(state: &State, owner: &Owner, uid: Option<&str>) -> (Vec<Pod>, Vec<Pod>) {
    let mut mine = Vec::new();
    let mut orphans = Vec::new();
    for key in state.index.by_owner.get(owner).into_iter().flatten() {
        let Some(pod) = state.pods.get(key) else {
            continue;
        };
        let claims = pod
            .owner_references()
            .iter()
            .any(|r| r.controller == Some(true) && Some(r.uid.as_str()) == uid);
        if claims {
            mine.push(pod.clone());
        } else {
            orphans.push(pod.clone());
        }
    }
    (mine, orphans)
}

/// A pod to create: the pod, and where it may go.
struct NewPod {
    pod: Pod,
}

/// What to do for one workload.
#[derive(Default)]
struct Changes {
    delete: Vec<Pod>,
    create: Vec<NewPod>,
}

/// How much capacity this pass may still hand out; `None` is unlimited.
struct Budget(Option<usize>);

impl Budget {
    fn take(&mut self) -> bool {
        match &mut self.0 {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }

    fn give(&mut self) {
        if let Some(n) = &mut self.0 {
            *n += 1;
        }
    }
}

/// Creates and deletes pods for the dirty workloads.
pub(super) fn plan(state: &mut State) -> Vec<Op> {
    if !state.pods.synced() || !state.nodes.synced() {
        return Vec::new();
    }
    let dirty = std::mem::take(&mut state.dirty.workloads);
    let (ready, waiting): (Vec<Owner>, Vec<Owner>) =
        dirty.into_iter().partition(|(kind, _)| kind.synced(state));
    state.dirty.workloads.extend(waiting);
    // Pods already waiting for a node go first: new pods only get what they leave.
    let mut budget = Budget(state.config.pod_capacity.map(|c| {
        c.saturating_sub(state.index.bound_count())
            .saturating_sub(state.index.pending_count())
    }));
    let mut ops = Vec::new();
    for owner in ready {
        let changes = match owner.0 {
            WorkloadKind::Deployment => deployment(state, &owner),
            WorkloadKind::ReplicaSet => replicaset(state, &owner),
            WorkloadKind::DaemonSet => daemonset(state, &owner),
            WorkloadKind::Job => job(state, &owner),
        };
        state.dirty.statuses.insert(owner.clone());
        let retry = Item::Workload(owner.clone());
        for pod in changes.delete {
            if pods::node_of(&pod).is_some() && !pods::is_terminal(&pod) {
                budget.give();
            }
            ops.push(ops::delete::<Pod>(
                &state.client,
                key_of(&pod),
                pod.uid(),
                retry.clone(),
            ));
        }
        for NewPod { mut pod } in changes.create {
            let spec = pod.spec.get_or_insert_with(PodSpec::default);
            let node = if budget.0 == Some(0) {
                None
            } else {
                let spec = spec.clone();
                pods::place(state, &spec)
            };
            if let Some(node) = node
                && budget.take()
                && let Some(spec) = pod.spec.as_mut()
            {
                spec.node_name = Some(node);
            }
            ops.push(ops::create(&state.client, pod, retry.clone()));
        }
    }
    ops
}

/// The owner reference pods of `workload` carry.
fn owner_reference<K: Workload>(workload: &K) -> OwnerReference {
    OwnerReference {
        api_version: K::KIND.api_version().to_owned(),
        kind: K::KIND.kind().to_owned(),
        name: workload.name_any(),
        uid: workload.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// A pod from `template`.
fn pod_from(
    template: &PodTemplateSpec,
    namespace: &str,
    name: String,
    extra_labels: &[(&str, String)],
    owner: OwnerReference,
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    for (key, value) in extra_labels {
        labels.entry((*key).to_owned()).or_insert_with(|| value.clone());
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace.to_owned()),
            labels: Some(labels),
            annotations: meta.annotations,
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(template.spec.clone().unwrap_or_default()),
        status: None,
    }
}

/// `count` names `<prefix>-<suffix>` not used by any pod of the namespace, the same for the same seed.
fn fresh_names(state: &State, namespace: &str, prefix: &str, seed: &str, count: usize) -> Vec<String> {
    let prefix = names::name_prefix(prefix);
    let mut chosen = Vec::with_capacity(count);
    let mut seen = HashSet::new();
    let mut ordinal = 0u64;
    while chosen.len() < count {
        let name = format!("{prefix}-{}", names::suffix(seed, ordinal));
        ordinal += 1;
        if state.pods.get(&(namespace.to_owned(), name.clone())).is_none() && seen.insert(name.clone()) {
            chosen.push(name);
        }
    }
    chosen
}

/// The order in which surplus pods go: unscheduled before scheduled, pending before running, not ready
/// before ready, newer before older.
fn deletion_order(pods: &mut [Pod]) {
    pods.sort_by_cached_key(|p| {
        (
            pods::node_of(p).is_some(),
            pods::phase(p) == "Running",
            pods::is_ready(p),
            std::cmp::Reverse(
                p.metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| t.0)
                    .unwrap_or_default(),
            ),
            std::cmp::Reverse(p.name_any()),
        )
    });
}

/// The first `n` pods in deletion order.
fn surplus(mut pods: Vec<Pod>, n: usize) -> Vec<Pod> {
    deletion_order(&mut pods);
    pods.truncate(n);
    pods
}

/// `value` (an absolute number or a percentage of `total`) as a count.
pub(crate) fn scaled(value: Option<&IntOrString>, total: i32, round_up: bool, default: &str) -> i32 {
    let value = value
        .cloned()
        .unwrap_or_else(|| IntOrString::String(default.to_owned()));
    match value {
        IntOrString::Int(n) => n.max(0),
        IntOrString::String(s) => {
            let percent: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
            let product = i64::from(total) * percent;
            let count = if round_up {
                (product + 99) / 100
            } else {
                product / 100
            };
            i32::try_from(count.max(0)).unwrap_or(i32::MAX)
        }
    }
}

/// A non-negative `i32` as a count.
fn count(n: i32) -> usize {
    usize::try_from(n.max(0)).unwrap_or(0)
}

/// Whether a workload is gone or going: its pods are deleted.
fn going<K: kube::Resource>(workload: Option<&K>) -> bool {
    workload.is_none_or(|w| w.meta().deletion_timestamp.is_some())
}

fn deployment(state: &mut State, owner: &Owner) -> Changes {
    let workload = state.deployments.get(&owner.1).cloned();
    let (mine, orphans) = owned_pods(
        state,
        owner,
        workload.as_ref().and_then(|w| w.metadata.uid.as_deref()),
    );
    let mut changes = Changes {
        delete: orphans,
        ..Changes::default()
    };
    let Some(deployment) = workload.filter(|w| !going(Some(w))) else {
        changes.delete.extend(mine);
        return changes;
    };
    let spec = deployment.spec.clone();
    let replicas = spec.replicas.unwrap_or(1).max(0);
    let hash = template_hash(&spec.template);
    let (new, old): (Vec<Pod>, Vec<Pod>) = mine
        .into_iter()
        .filter(pods::is_active)
        .partition(|p| p.labels().get("pod-template-hash") == Some(&hash));
    let ready_new = new.iter().filter(|p| pods::is_ready(p)).count();
    let strategy = spec.strategy.clone().unwrap_or_default();
    let recreate = strategy.type_.as_deref() == Some("Recreate");
    let (surge, unavailable) = if recreate {
        (0, replicas)
    } else {
        let rolling = strategy.rolling_update.unwrap_or_default();
        let surge = scaled(rolling.max_surge.as_ref(), replicas, true, "25%");
        let unavailable = scaled(rolling.max_unavailable.as_ref(), replicas, false, "25%");
        if surge == 0 && unavailable == 0 {
            (0, 1)
        } else {
            (surge, unavailable)
        }
    };
    let replicas = count(replicas);
    // Old pods: all at once for Recreate; for RollingUpdate, keep enough ready ones for availability.
    let old_keep = if recreate {
        0
    } else {
        let min_available = replicas.saturating_sub(count(unavailable));
        let ready_old = old.iter().filter(|p| pods::is_ready(p)).count();
        min_available.saturating_sub(ready_new).min(ready_old)
    };
    let old_count = old.len();
    if old_count > old_keep {
        // Unready old pods go first (they are not counted in old_keep).
        changes.delete.extend(surplus(old, old_count - old_keep));
    }
    let remaining_old = old_count.min(old_keep);
    if new.len() > replicas {
        changes.delete.extend(surplus(new.clone(), new.len() - replicas));
    } else if new.len() < replicas && !(recreate && remaining_old > 0) {
        let allowed_total = replicas + count(surge);
        let room = allowed_total.saturating_sub(new.len() + remaining_old);
        let wanted = (replicas - new.len()).min(room);
        let namespace = owner.1.0.clone();
        let prefix = format!("{}-{hash}", deployment.name_any());
        let seed = format!("{}/{hash}", deployment.uid().unwrap_or_default());
        let template = spec.template;
        let reference = owner_reference(&deployment);
        for name in fresh_names(state, &namespace, &prefix, &seed, wanted) {
            changes.create.push(NewPod {
                pod: pod_from(
                    &template,
                    &namespace,
                    name,
                    &[("pod-template-hash", hash.clone())],
                    reference.clone(),
                ),
            });
        }
    }
    changes
}

fn replicaset(state: &mut State, owner: &Owner) -> Changes {
    let workload = state.replicasets.get(&owner.1).cloned();
    let (mine, orphans) = owned_pods(
        state,
        owner,
        workload.as_ref().and_then(|w| w.metadata.uid.as_deref()),
    );
    let mut changes = Changes {
        delete: orphans,
        ..Changes::default()
    };
    let Some(rs) = workload.filter(|w| !going(Some(w))) else {
        changes.delete.extend(mine);
        return changes;
    };
    let spec = rs.spec.clone();
    let replicas = count(spec.replicas.unwrap_or(1));
    let template = spec.template.unwrap_or_default();
    let active: Vec<Pod> = mine.into_iter().filter(pods::is_active).collect();
    if active.len() > replicas {
        let n = active.len() - replicas;
        changes.delete.extend(surplus(active, n));
    } else if active.len() < replicas {
        let hash = template_hash(&template);
        let namespace = owner.1.0.clone();
        let reference = owner_reference(&rs);
        let seed = rs.uid().unwrap_or_default();
        for name in fresh_names(state, &namespace, &rs.name_any(), &seed, replicas - active.len()) {
            changes.create.push(NewPod {
                pod: pod_from(
                    &template,
                    &namespace,
                    name,
                    &[("pod-template-hash", hash.clone())],
                    reference.clone(),
                ),
            });
        }
    }
    changes
}

/// The nodes a daemon set runs on: every node that is not being deleted and matches the template's node
/// selector, by name.
pub(crate) fn daemon_nodes(state: &State, template: &PodTemplateSpec) -> Vec<String> {
    let spec = template.spec.clone().unwrap_or_default();
    let mut names: Vec<String> = state
        .nodes
        .values()
        .filter(|n| n.metadata.deletion_timestamp.is_none() && pods::fits(&spec, n))
        .map(ResourceExt::name_any)
        .collect();
    names.sort();
    names
}

/// The node a daemon pod is for: its node, or the node its affinity pins it to.
pub(crate) fn daemon_pod_node(pod: &Pod) -> Option<String> {
    pods::node_of(pod)
        .map(str::to_owned)
        .or_else(|| pod.spec.as_ref().and_then(pods::pinned_node).map(str::to_owned))
}

fn daemonset(state: &mut State, owner: &Owner) -> Changes {
    let workload = state.daemonsets.get(&owner.1).cloned();
    let (mine, orphans) = owned_pods(
        state,
        owner,
        workload.as_ref().and_then(|w| w.metadata.uid.as_deref()),
    );
    let mut changes = Changes {
        delete: orphans,
        ..Changes::default()
    };
    let Some(ds) = workload.filter(|w| !going(Some(w))) else {
        changes.delete.extend(mine);
        return changes;
    };
    let spec = ds.spec.clone();
    let template = spec.template.clone();
    let hash = template_hash(&template);
    let eligible = daemon_nodes(state, &template);
    let desired = i32::try_from(eligible.len()).unwrap_or(i32::MAX);
    let max_unavailable =
        if spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("OnDelete") {
            usize::MAX
        } else {
            let rolling = spec
                .update_strategy
                .as_ref()
                .and_then(|s| s.rolling_update.clone())
                .unwrap_or_default();
            count(scaled(rolling.max_unavailable.as_ref(), desired, true, "1").max(1))
        };
    let on_delete = max_unavailable == usize::MAX;
    let mut by_node: BTreeMap<String, Vec<Pod>> = BTreeMap::new();
    for pod in mine.into_iter().filter(pods::is_active) {
        match daemon_pod_node(&pod) {
            Some(node) if eligible.contains(&node) => by_node.entry(node).or_default().push(pod),
            _ => changes.delete.push(pod),
        }
    }
    // Nodes whose current pod is not ready yet are "unavailable" for the rolling update.
    let mut unavailable = eligible
        .iter()
        .filter(|node| {
            by_node.get(*node).is_none_or(|pods| {
                !pods
                    .iter()
                    .any(|p| p.labels().get("controller-revision-hash") == Some(&hash) && pods::is_ready(p))
            })
        })
        .filter(|node| {
            by_node.get(*node).is_some_and(|pods| {
                pods.iter()
                    .any(|p| p.labels().get("controller-revision-hash") == Some(&hash))
            })
        })
        .count();
    let namespace = owner.1.0.clone();
    let reference = owner_reference(&ds);
    let uid = ds.uid().unwrap_or_default();
    for node in &eligible {
        let pods = by_node.remove(node).unwrap_or_default();
        let (current, old): (Vec<Pod>, Vec<Pod>) = pods
            .into_iter()
            .partition(|p| p.labels().get("controller-revision-hash") == Some(&hash));
        let mut current = current;
        if current.len() > 1 {
            deletion_order(&mut current);
            let n = current.len() - 1;
            changes.delete.extend(current.drain(..n));
        }
        if !current.is_empty() {
            changes.delete.extend(old);
            continue;
        }
        if !old.is_empty() {
            if on_delete || unavailable >= max_unavailable {
                continue;
            }
            unavailable += 1;
            changes.delete.extend(old);
        }
        let seed = format!("{uid}/{hash}/{node}");
        let Some(name) = fresh_names(state, &namespace, &ds.name_any(), &seed, 1).pop() else {
            continue;
        };
        let mut pod = pod_from(
            &template,
            &namespace,
            name,
            &[("controller-revision-hash", hash.clone())],
            reference.clone(),
        );
        pin_to_node(&mut pod, node);
        changes.create.push(NewPod { pod });
    }
    changes
}

/// Pins a daemon pod to `node` with a required node affinity on `metadata.name`, as kube does.
fn pin_to_node(pod: &mut Pod, node: &str) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    let affinity = spec.affinity.get_or_insert_with(Affinity::default);
    let node_affinity = affinity.node_affinity.get_or_insert_with(NodeAffinity::default);
    node_affinity.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
        node_selector_terms: vec![NodeSelectorTerm {
            match_fields: Some(vec![NodeSelectorRequirement {
                key: "metadata.name".to_owned(),
                operator: "In".to_owned(),
                values: Some(vec![node.to_owned()]),
            }]),
            ..NodeSelectorTerm::default()
        }],
    });
}

/// A job's `(parallelism, completions)`: completions default to parallelism (every pod runs once); a
/// suspended job runs none.
pub(crate) fn job_counts(job: &Job) -> (usize, usize) {
    let spec = job.spec.clone().unwrap_or_default();
    let parallelism = count(spec.parallelism.unwrap_or(1));
    let completions = spec.completions.map_or(parallelism, count);
    let parallelism = if spec.suspend == Some(true) {
        0
    } else {
        parallelism
    };
    (parallelism, completions)
}

/// Whether the job has a `Complete=True` condition.
pub(crate) fn job_complete(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Complete" && c.status == "True"))
}

fn job(state: &mut State, owner: &Owner) -> Changes {
    let workload = state.jobs.get(&owner.1).cloned();
    let (mine, orphans) = owned_pods(
        state,
        owner,
        workload.as_ref().and_then(|w| w.metadata.uid.as_deref()),
    );
    let mut changes = Changes {
        delete: orphans,
        ..Changes::default()
    };
    let Some(job) = workload.filter(|w| !going(Some(w))) else {
        changes.delete.extend(mine);
        return changes;
    };
    let (parallelism, completions) = job_counts(&job);
    let succeeded = mine.iter().filter(|p| pods::phase(p) == "Succeeded").count();
    let active: Vec<Pod> = mine.into_iter().filter(pods::is_active).collect();
    let want = if job_complete(&job) {
        0
    } else {
        parallelism.min(completions.saturating_sub(succeeded))
    };
    if active.len() > want {
        let n = active.len() - want;
        changes.delete.extend(surplus(active, n));
    } else if active.len() < want {
        let spec = job.spec.clone().unwrap_or_default();
        let namespace = owner.1.0.clone();
        let uid = job.uid().unwrap_or_default();
        let name = job.name_any();
        let labels = [
            ("batch.kubernetes.io/controller-uid", uid.clone()),
            ("batch.kubernetes.io/job-name", name.clone()),
            ("controller-uid", uid.clone()),
            ("job-name", name.clone()),
        ];
        let reference = owner_reference(&job);
        for pod_name in fresh_names(state, &namespace, &name, &uid, want - active.len()) {
            changes.create.push(NewPod {
                pod: pod_from(&spec.template, &namespace, pod_name, &labels, reference.clone()),
            });
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_values_round_like_kube() {
        let pct = |s: &str| IntOrString::String(s.to_owned());
        assert_eq!(scaled(Some(&pct("25%")), 10, true, "25%"), 3);
        assert_eq!(scaled(Some(&pct("25%")), 10, false, "25%"), 2);
        assert_eq!(scaled(None, 1, false, "25%"), 0);
        assert_eq!(scaled(None, 1, true, "25%"), 1);
        assert_eq!(scaled(Some(&IntOrString::Int(2)), 10, true, "25%"), 2);
    }

    #[test]
    fn owner_references_are_recognised() {
        assert_eq!(
            WorkloadKind::of_reference("apps/v1", "Deployment"),
            Some(WorkloadKind::Deployment)
        );
        assert_eq!(
            WorkloadKind::of_reference("batch/v1", "Job"),
            Some(WorkloadKind::Job)
        );
        assert_eq!(WorkloadKind::of_reference("v1", "ReplicationController"), None);
    }
}
