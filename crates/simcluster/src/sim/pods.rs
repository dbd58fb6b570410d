//! Pods: what the scheduler and the kubelet would do. A pod without a node stays Pending with
//! `PodScheduled=False, reason=Unschedulable` (lastTransitionTime = when it became unschedulable) until a
//! node and capacity are free; a scheduled pod becomes Running and Ready `--ready-after` after the
//! simulator first saw it scheduled; a Job's running pod succeeds `--ready-after` later; a pod someone
//! deleted gracefully is removed at once (there is no kubelet to wait for).

use std::collections::{BTreeSet, HashMap, HashSet};

use futures::FutureExt;
use k8s_openapi::api::core::v1::{
    Binding, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus, HostIP, Node,
    ObjectReference, Pod, PodCondition, PodIP, PodSpec, PodStatus,
};
use kube::{
    ResourceExt,
    api::{ObjectMeta, PostParams},
};
use serde_json::json;
use tokio::time::Instant;

use super::{
    Item, Op, State, nodes, ops,
    status::{now, set_condition},
    workloads::{Owner, WorkloadKind},
};
use crate::{
    cache::{Change, Key, key_of},
    names,
};

/// Pods by what the simulator needs to find quickly.
#[derive(Debug, Default)]
pub(crate) struct PodIndex {
    /// Pods by the workload that controls them (by its kind and name; the uid is checked by the
    /// workload's reconcile).
    pub(crate) by_owner: HashMap<Owner, BTreeSet<Key>>,
    /// Scheduled pods that are not finished: what counts against `--pod-capacity`.
    bound: HashSet<Key>,
    /// Pods waiting for a node, by creation time.
    pending: BTreeSet<(String, Key)>,
    /// Pod IPs in use.
    pub(crate) ips: HashSet<String>,
    /// When the simulator first saw each pod scheduled (and not yet running).
    bound_since: HashMap<Key, Instant>,
    /// When the simulator first saw each pod running.
    running_since: HashMap<Key, Instant>,
}

/// The pod's phase (`Pending` when unset).
pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Whether the pod has finished (Succeeded or Failed).
pub(crate) fn is_terminal(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Whether the pod counts as a workload replica: not finished and not being deleted.
pub(crate) fn is_active(pod: &Pod) -> bool {
    !is_terminal(pod) && pod.metadata.deletion_timestamp.is_none()
}

/// Whether the pod is Running with `Ready=True`.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    phase(pod) == "Running"
        && pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The node the pod is bound to.
pub(crate) fn node_of(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// The workload controlling the pod (a controller owner reference to a simulated kind).
pub(crate) fn owner_of(pod: &Pod) -> Option<Owner> {
    let reference = pod
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true))?;
    let kind = WorkloadKind::of_reference(&reference.api_version, &reference.kind)?;
    Some((
        kind,
        (pod.namespace().unwrap_or_default(), reference.name.clone()),
    ))
}

impl PodIndex {
    fn add(&mut self, key: &Key, pod: &Pod, now: Instant) {
        if let Some(owner) = owner_of(pod) {
            self.by_owner.entry(owner).or_default().insert(key.clone());
        }
        if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_ref())
            && !pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false)
        {
            self.ips.insert(ip.clone());
        }
        if is_terminal(pod) {
            return;
        }
        if node_of(pod).is_some() {
            self.bound.insert(key.clone());
            if phase(pod) == "Running" {
                self.running_since.entry(key.clone()).or_insert(now);
            } else {
                self.bound_since.entry(key.clone()).or_insert(now);
            }
        } else if pod.metadata.deletion_timestamp.is_none() {
            self.pending.insert((creation(pod), key.clone()));
        }
    }

    fn remove(&mut self, key: &Key, pod: &Pod) {
        if let Some(owner) = owner_of(pod)
            && let Some(keys) = self.by_owner.get_mut(&owner)
        {
            keys.remove(key);
            if keys.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
        if let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_ref())
            && !pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false)
        {
            self.ips.remove(ip);
        }
        self.bound.remove(key);
        self.pending.remove(&(creation(pod), key.clone()));
    }

    /// Forgets the timing of a pod that is gone.
    fn gone(&mut self, key: &Key) {
        self.bound_since.remove(key);
        self.running_since.remove(key);
    }

    /// Scheduled, unfinished pods.
    pub(crate) fn bound_count(&self) -> usize {
        self.bound.len()
    }

    /// Pods waiting for a node.
    pub(crate) fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

fn creation(pod: &Pod) -> String {
    pod.metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0.to_string())
        .unwrap_or_default()
}

pub(super) fn changed(state: &mut State, (old, new): &Change<Pod>) {
    let Some(key) = new.as_ref().or(old.as_ref()).map(key_of) else {
        return;
    };
    if let Some(old) = old {
        state.index.remove(&key, old);
    }
    match new {
        Some(new) => {
            state.index.add(&key, new, Instant::now());
            state.dirty.pods.insert(key.clone());
        }
        None => state.index.gone(&key),
    }
    for pod in [old, new].into_iter().flatten() {
        if let Some(owner) = owner_of(pod) {
            state.dirty.workloads.insert(owner.clone());
            state.dirty.statuses.insert(owner);
        }
        let labels = pod.labels();
        let selecting: Vec<Key> = state
            .services
            .in_namespace(&key.0)
            .filter(|s| super::services::selects(s, labels))
            .map(key_of)
            .collect();
        state.dirty.services.extend(selecting);
    }
    state.dirty.scheduler = true;
}

/// Why a pod cannot be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unschedulable {
    /// No node matches its node selector (or its daemon set's node).
    NoMatchingNode,
    /// The cluster is at `--pod-capacity`.
    Capacity,
}

/// The daemon set node a pod is pinned to (`matchFields metadata.name In [node]` in its required node
/// affinity, as kube's daemon set controller writes).
pub(crate) fn pinned_node(spec: &PodSpec) -> Option<&str> {
    let terms = &spec
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    terms.iter().find_map(|term| {
        term.match_fields.as_ref()?.iter().find_map(|field| {
            (field.key == "metadata.name" && field.operator == "In")
                .then(|| field.values.as_ref()?.first().map(String::as_str))
                .flatten()
        })
    })
}

/// Whether `node` satisfies the pod's node selector.
pub(crate) fn fits(spec: &PodSpec, node: &Node) -> bool {
    let labels = node.labels();
    spec.node_selector
        .as_ref()
        .is_none_or(|selector| selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

/// The nodes the pod could go to.
fn candidates<'a>(state: &'a State, spec: &PodSpec) -> Vec<&'a Node> {
    match pinned_node(spec) {
        Some(pinned) => state
            .nodes
            .get(&(String::new(), pinned.to_owned()))
            .filter(|n| n.metadata.deletion_timestamp.is_none() && fits(spec, n))
            .into_iter()
            .collect(),
        None => nodes::schedulable(state)
            .into_iter()
            .filter(|n| fits(spec, n))
            .collect(),
    }
}

/// A node for a pod with `spec`, round-robin over the candidates.
pub(crate) fn place(state: &mut State, spec: &PodSpec) -> Option<String> {
    let nodes = candidates(state, spec);
    if nodes.is_empty() {
        return None;
    }
    let node = nodes[state.next_node % nodes.len()].name_any();
    state.next_node = state.next_node.wrapping_add(1);
    Some(node)
}

/// The scheduler's message for a pod that could not be placed.
fn unschedulable_message(state: &State, reason: Unschedulable) -> String {
    let total = state.nodes.values().count();
    match reason {
        Unschedulable::NoMatchingNode if total == 0 => "no nodes available to schedule pods".to_owned(),
        Unschedulable::NoMatchingNode => format!(
            "0/{total} nodes are available: {total} node(s) didn't match Pod's node affinity/selector."
        ),
        Unschedulable::Capacity => format!(
            "0/{total} nodes are available: {total} Too many pods (the simulated cluster is at --pod-capacity)."
        ),
    }
}

/// Places pending pods in creation order while capacity lasts. A pod owned by a simulated workload is
/// re-created under the same name with its node set; another pod is bound through `pods/binding`.
pub(super) fn plan_scheduler(state: &mut State) -> Vec<Op> {
    if !state.dirty.scheduler || !state.pods.synced() || !state.nodes.synced() {
        return Vec::new();
    }
    state.dirty.scheduler = false;
    let mut free = state
        .config
        .pod_capacity
        .map(|c| c.saturating_sub(state.index.bound_count()));
    let pending: Vec<Key> = state.index.pending.iter().map(|(_, k)| k.clone()).collect();
    let mut ops = Vec::new();
    for key in pending {
        if free == Some(0) {
            break;
        }
        let Some(pod) = state.pods.get(&key).cloned() else {
            continue;
        };
        let spec = pod.spec.clone().unwrap_or_default();
        let Some(node) = place(state, &spec) else {
            continue;
        };
        free = free.map(|f| f - 1);
        let client = state.client.clone();
        let retry = Item::Pod(key.clone());
        if owner_of(&pod).is_some() {
            let uid = pod.uid();
            let fresh = Pod {
                metadata: ObjectMeta {
                    name: pod.metadata.name.clone(),
                    namespace: pod.metadata.namespace.clone(),
                    labels: pod.metadata.labels.clone(),
                    annotations: pod.metadata.annotations.clone(),
                    owner_references: pod.metadata.owner_references.clone(),
                    ..ObjectMeta::default()
                },
                spec: Some(PodSpec {
                    node_name: Some(node),
                    ..spec
                }),
                status: None,
            };
            ops.push(
                async move {
                    let mut applies = ops::delete_now::<Pod>(&client, key, uid, retry.clone()).await;
                    applies.extend(ops::create_now(&client, fresh, retry).await);
                    applies
                }
                .boxed(),
            );
        } else {
            ops.push(bind(client, key, pod.uid(), node));
        }
    }
    ops
}

/// Binds a pod to `node` through the `binding` subresource (kube's way); logs when the server refuses.
fn bind(client: kube::Client, key: Key, uid: Option<String>, node: String) -> Op {
    async move {
        let api = <Pod as super::Kind>::api(&client, &key.0);
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(key.1.clone()),
                namespace: Some(key.0.clone()),
                uid,
                ..ObjectMeta::default()
            },
            target: ObjectReference {
                kind: Some("Node".to_owned()),
                name: Some(node),
                api_version: Some("v1".to_owned()),
                ..ObjectReference::default()
            },
        };
        let result: kube::Result<serde_json::Value> = api
            .create_subresource("binding", &key.1, &PostParams::default(), &binding)
            .await;
        match result {
            Ok(_) => match api.get_opt(&key.1).await {
                Ok(Some(pod)) => vec![ops::stored(pod)],
                _ => Vec::new(),
            },
            Err(e) => {
                tracing::debug!(namespace = %key.0, name = %key.1, error = %e, "cannot bind a pending pod that no simulated workload owns");
                Vec::new()
            }
        }
    }
    .boxed()
}

/// Writes pod statuses: Unschedulable for pending pods, Running when due, Succeeded for Job pods when due;
/// removes pods being deleted.
pub(super) fn plan(state: &mut State) -> Vec<Op> {
    if !state.pods.synced() || !state.nodes.synced() {
        return Vec::new();
    }
    let keys = std::mem::take(&mut state.dirty.pods);
    let ready_after = state.config.ready_after;
    let now_instant = Instant::now();
    let mut ops = Vec::new();
    for key in keys {
        let Some(pod) = state.pods.get(&key).cloned() else {
            continue;
        };
        let rv = pod.resource_version().unwrap_or_default();
        if pod.metadata.deletion_timestamp.is_some() {
            if pod.finalizers().is_empty() {
                ops.push(ops::delete::<Pod>(
                    &state.client,
                    key,
                    pod.uid(),
                    Item::Pod(pod_key(&pod)),
                ));
            }
            continue;
        }
        if is_terminal(&pod) {
            continue;
        }
        let desired = match node_of(&pod) {
            None => {
                let spec = pod.spec.clone().unwrap_or_default();
                let reason = if candidates(state, &spec).is_empty() {
                    Unschedulable::NoMatchingNode
                } else {
                    Unschedulable::Capacity
                };
                Some(unschedulable_status(&pod, &unschedulable_message(state, reason)))
            }
            Some(_) if phase(&pod) == "Running" => {
                if !runs_to_completion(&pod) {
                    continue;
                }
                let since = state
                    .index
                    .running_since
                    .get(&key)
                    .copied()
                    .unwrap_or(now_instant);
                if since + ready_after > now_instant {
                    state.at(since + ready_after, Item::Pod(key));
                    continue;
                }
                Some(succeeded_status(&pod))
            }
            Some(node) => {
                let since = state.index.bound_since.get(&key).copied().unwrap_or(now_instant);
                if since + ready_after > now_instant {
                    state.at(since + ready_after, Item::Pod(key));
                    continue;
                }
                let host_ip = state
                    .nodes
                    .get(&(String::new(), node.to_owned()))
                    .and_then(nodes::internal_ip)
                    .unwrap_or_else(|| state.config.plan.node_ip(0).to_string());
                let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
                let pod_ip = if host_network {
                    Some(host_ip.clone())
                } else {
                    pod.status
                        .as_ref()
                        .and_then(|s| s.pod_ip.clone())
                        .or_else(|| allocate_ip(state))
                };
                match pod_ip {
                    Some(pod_ip) => Some(running_status(&pod, &host_ip, &pod_ip)),
                    None => {
                        tracing::warn!(namespace = %key.0, name = %key.1, "the simulated cluster's pod IP range is exhausted");
                        None
                    }
                }
            }
        };
        let Some(desired) = desired else {
            continue;
        };
        if let Some(diff) = ops::merge_diff(&ops::to_json(&pod.status), &ops::to_json(&desired))
            && let Some(op) =
                state.patch_op::<Pod>(&key, &rv, true, json!({ "status": diff }), Item::Pod(key.clone()))
        {
            ops.push(op);
        }
    }
    ops
}

fn pod_key(pod: &Pod) -> Key {
    key_of(pod)
}

/// Whether the pod's containers exit on their own (a Job's pods: restartPolicy Never or OnFailure).
fn runs_to_completion(pod: &Pod) -> bool {
    let owned_by_job = owner_of(pod).is_some_and(|(kind, _)| kind == WorkloadKind::Job);
    let policy = pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always");
    owned_by_job && policy != "Always"
}

/// The next free pod IP of the cluster's range.
fn allocate_ip(state: &mut State) -> Option<String> {
    let total = state.config.plan.pod_ips();
    for _ in 0..total {
        let n = state.next_ip % total;
        state.next_ip = (n + 1) % total;
        let ip = state.config.plan.pod_ip(n)?.to_string();
        if !state.index.ips.contains(&ip) {
            state.index.ips.insert(ip.clone());
            return Some(ip);
        }
    }
    None
}

/// kube's QoS class of a pod: BestEffort without requests or limits, Guaranteed when every container's
/// requests equal its limits for cpu and memory, Burstable otherwise.
fn qos_class(spec: Option<&PodSpec>) -> String {
    let Some(spec) = spec else {
        return "BestEffort".to_owned();
    };
    let mut any = false;
    let mut guaranteed = true;
    for container in &spec.containers {
        let resources = container.resources.clone().unwrap_or_default();
        let requests = resources.requests.unwrap_or_default();
        let limits = resources.limits.unwrap_or_default();
        if !requests.is_empty() || !limits.is_empty() {
            any = true;
        }
        for resource in ["cpu", "memory"] {
            let limit = limits.get(resource);
            let request = requests.get(resource).or(limit);
            if limit.is_none() || request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
    .to_owned()
}

fn base_status(pod: &Pod) -> PodStatus {
    let mut status = pod.status.clone().unwrap_or_default();
    if status.qos_class.is_none() {
        status.qos_class = Some(qos_class(pod.spec.as_ref()));
    }
    status
}

fn pod_condition(type_: &str, status: &str, reason: Option<&str>, message: Option<String>) -> PodCondition {
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        message,
        last_transition_time: Some(now()),
        ..PodCondition::default()
    }
}

/// Pending, with `PodScheduled=False, reason=Unschedulable`.
fn unschedulable_status(pod: &Pod, message: &str) -> PodStatus {
    let mut status = base_status(pod);
    status.phase = Some("Pending".to_owned());
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    set_condition(
        conditions,
        pod_condition(
            "PodScheduled",
            "False",
            Some("Unschedulable"),
            Some(message.to_owned()),
        ),
    );
    status
}

/// Running and Ready on its node.
fn running_status(pod: &Pod, host_ip: &str, pod_ip: &str) -> PodStatus {
    let mut status = base_status(pod);
    let started = now();
    status.phase = Some("Running".to_owned());
    status.host_ip = Some(host_ip.to_owned());
    status.host_ips = Some(vec![HostIP {
        ip: host_ip.to_owned(),
    }]);
    status.pod_ip = Some(pod_ip.to_owned());
    status.pod_ips = Some(vec![PodIP {
        ip: pod_ip.to_owned(),
    }]);
    status.start_time.get_or_insert_with(|| started.clone());
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    for type_ in [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
    ] {
        set_condition(conditions, pod_condition(type_, "True", None, None));
    }
    let spec = pod.spec.clone().unwrap_or_default();
    let uid = pod.uid().unwrap_or_default();
    status.container_statuses = Some(
        spec.containers
            .iter()
            .map(|c| ContainerStatus {
                name: c.name.clone(),
                image: c.image.clone().unwrap_or_default(),
                image_id: format!("sim://{}", c.image.clone().unwrap_or_default()),
                container_id: Some(container_id(&uid, &c.name)),
                ready: true,
                started: Some(true),
                restart_count: 0,
                state: Some(ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(started.clone()),
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            })
            .collect(),
    );
    let init: Vec<ContainerStatus> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            image_id: format!("sim://{}", c.image.clone().unwrap_or_default()),
            container_id: Some(container_id(&uid, &c.name)),
            ready: true,
            started: Some(false),
            restart_count: 0,
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".to_owned()),
                    started_at: Some(started.clone()),
                    finished_at: Some(started.clone()),
                    container_id: Some(container_id(&uid, &c.name)),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            }),
            ..ContainerStatus::default()
        })
        .collect();
    if !init.is_empty() {
        status.init_container_statuses = Some(init);
    }
    status
}

/// Succeeded: every container exited 0.
fn succeeded_status(pod: &Pod) -> PodStatus {
    let mut status = base_status(pod);
    let finished = now();
    status.phase = Some("Succeeded".to_owned());
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    set_condition(
        conditions,
        pod_condition("PodReadyToStartContainers", "False", None, None),
    );
    set_condition(
        conditions,
        pod_condition("Ready", "False", Some("PodCompleted"), None),
    );
    set_condition(
        conditions,
        pod_condition("ContainersReady", "False", Some("PodCompleted"), None),
    );
    let uid = pod.uid().unwrap_or_default();
    if let Some(containers) = &mut status.container_statuses {
        for c in containers.iter_mut() {
            let started_at = c
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .and_then(|r| r.started_at.clone())
                .or_else(|| Some(finished.clone()));
            c.ready = false;
            c.started = Some(false);
            c.state = Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".to_owned()),
                    started_at,
                    finished_at: Some(finished.clone()),
                    container_id: Some(container_id(&uid, &c.name)),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            });
        }
    }
    status
}

/// A made-up container ID.
fn container_id(pod_uid: &str, container: &str) -> String {
    format!(
        "sim://{:016x}",
        names::fnv1a64(&[pod_uid.as_bytes(), container.as_bytes()])
    )
}
