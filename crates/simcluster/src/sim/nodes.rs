//! The simulated nodes: `<name>-node-<i>`, labelled with hostname, zone and region (both the
//! `topology.kubernetes.io` and the legacy `failure-domain.beta.kubernetes.io` keys), Ready, with capacity
//! and node info. Created when missing, corrected when changed, removed when beyond `--nodes`.

use std::collections::BTreeMap;

use futures::FutureExt;
use k8s_openapi::{
    api::core::v1::{Node, NodeAddress, NodeCondition, NodeSpec, NodeStatus, NodeSystemInfo},
    apimachinery::pkg::api::resource::Quantity,
};
use kube::{ResourceExt, api::ObjectMeta};
use serde_json::json;

use super::{Item, Op, State, ops, status::now};
use crate::cache::{Change, Key};

/// The kubelet version nodes report.
pub const KUBELET_VERSION: &str = "v1.33.0-sim";
/// The OS image nodes report.
pub const OS_IMAGE: &str = "fcp simulated node";
/// CPUs per node.
const CPU: &str = "8";
/// Memory per node.
const MEMORY: &str = "32Gi";
/// Pods per node when the cluster's capacity is unlimited (informational, as kubelet's default).
const DEFAULT_PODS: usize = 110;

/// The name of node `index`.
pub fn node_name(cluster: &str, index: usize) -> String {
    format!("{cluster}-node-{index}")
}

/// The index of a node named by [`node_name`] for `cluster`.
fn node_index(cluster: &str, name: &str) -> Option<usize> {
    name.strip_prefix(cluster)?.strip_prefix("-node-")?.parse().ok()
}

pub(super) fn changed(state: &mut State, _change: &Change<Node>) {
    state.dirty.nodes = true;
    state.dirty.scheduler = true;
    // Daemon sets run one pod per node.
    let daemonsets: Vec<Key> = state.daemonsets.values().map(crate::cache::key_of).collect();
    for key in daemonsets {
        state
            .dirty
            .workloads
            .insert((super::WorkloadKind::DaemonSet, key));
    }
}

/// The labels node `index` carries.
fn labels(state: &State, index: usize) -> BTreeMap<String, String> {
    let config = &state.config;
    let zone = &config.zones[index % config.zones.len()];
    let name = node_name(&config.name, index);
    BTreeMap::from([
        ("kubernetes.io/hostname".to_owned(), name),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("kubernetes.io/arch".to_owned(), "amd64".to_owned()),
        ("topology.kubernetes.io/zone".to_owned(), zone.clone()),
        ("topology.kubernetes.io/region".to_owned(), config.region.clone()),
        ("failure-domain.beta.kubernetes.io/zone".to_owned(), zone.clone()),
        (
            "failure-domain.beta.kubernetes.io/region".to_owned(),
            config.region.clone(),
        ),
        ("type".to_owned(), "fcp-sim".to_owned()),
    ])
}

/// Pods per node.
fn pods_per_node(state: &State) -> usize {
    match state.config.pod_capacity {
        Some(capacity) => capacity.div_ceil(state.config.nodes.max(1)),
        None => DEFAULT_PODS,
    }
}

/// A condition, keeping the times of the `observed` one when it says the same.
fn condition(
    observed: Option<&NodeStatus>,
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> NodeCondition {
    let same = observed
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status && c.reason.as_deref() == Some(reason));
    if let Some(same) = same {
        return NodeCondition {
            message: Some(message.to_owned()),
            ..same.clone()
        };
    }
    NodeCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_heartbeat_time: Some(now()),
        last_transition_time: Some(now()),
    }
}

/// The status node `index` should have, given what it has.
fn desired_status(state: &State, index: usize, observed: Option<&NodeStatus>) -> NodeStatus {
    let config = &state.config;
    let resources = BTreeMap::from([
        ("cpu".to_owned(), Quantity(CPU.to_owned())),
        ("memory".to_owned(), Quantity(MEMORY.to_owned())),
        ("pods".to_owned(), Quantity(pods_per_node(state).to_string())),
        ("ephemeral-storage".to_owned(), Quantity("100Gi".to_owned())),
    ]);
    let name = node_name(&config.name, index);
    let mut status = observed.cloned().unwrap_or_default();
    status.capacity = Some(resources.clone());
    status.allocatable = Some(resources);
    status.conditions = Some(vec![
        condition(
            observed,
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        condition(
            observed,
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        condition(
            observed,
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        condition(
            observed,
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status (simulated by fcp sim-cluster)",
        ),
    ]);
    status.addresses = Some(vec![
        NodeAddress {
            type_: "InternalIP".to_owned(),
            address: config.plan.node_ip(index).to_string(),
        },
        NodeAddress {
            type_: "Hostname".to_owned(),
            address: name.clone(),
        },
    ]);
    status.node_info = Some(NodeSystemInfo {
        architecture: "amd64".to_owned(),
        boot_id: String::new(),
        container_runtime_version: "sim://1.0".to_owned(),
        kernel_version: "sim".to_owned(),
        kube_proxy_version: String::new(),
        kubelet_version: KUBELET_VERSION.to_owned(),
        machine_id: name.clone(),
        operating_system: "linux".to_owned(),
        os_image: OS_IMAGE.to_owned(),
        system_uuid: name,
        ..NodeSystemInfo::default()
    });
    status.phase = None;
    status
}

/// Creates missing nodes, corrects changed ones, deletes surplus ones.
pub(super) fn plan(state: &mut State) -> Vec<Op> {
    if !state.dirty.nodes || !state.nodes.synced() {
        return Vec::new();
    }
    state.dirty.nodes = false;
    let mut ops = Vec::new();
    let config = state.config.clone();
    for index in 0..config.nodes {
        let name = node_name(&config.name, index);
        let key: Key = (String::new(), name.clone());
        let labels = labels(state, index);
        let Some(node) = state.nodes.get(&key).cloned() else {
            let node = Node {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    labels: Some(labels),
                    annotations: Some(BTreeMap::from([(
                        "node.alpha.kubernetes.io/ttl".to_owned(),
                        "0".to_owned(),
                    )])),
                    ..ObjectMeta::default()
                },
                spec: Some(NodeSpec {
                    provider_id: Some(format!("fcp-sim://{}/{name}", config.name)),
                    ..NodeSpec::default()
                }),
                status: Some(desired_status(state, index, None)),
            };
            ops.push(ops::create(&state.client, node, Item::Nodes));
            continue;
        };
        let observed_labels = node.labels();
        let wrong: BTreeMap<&String, &String> = labels
            .iter()
            .filter(|(k, v)| observed_labels.get(*k) != Some(*v))
            .collect();
        let rv = node.resource_version().unwrap_or_default();
        if !wrong.is_empty()
            && let Some(op) = state.patch_op::<Node>(
                &key,
                &rv,
                false,
                json!({"metadata": {"labels": wrong}}),
                Item::Nodes,
            )
        {
            ops.push(op);
            continue;
        }
        let desired = desired_status(state, index, node.status.as_ref());
        if let Some(diff) = ops::merge_diff(&ops::to_json(&node.status), &ops::to_json(&desired))
            && let Some(op) = state.patch_op::<Node>(&key, &rv, true, json!({ "status": diff }), Item::Nodes)
        {
            ops.push(op);
        }
    }
    let surplus: Vec<(Key, Option<String>)> = state
        .nodes
        .values()
        .filter(|n| node_index(&config.name, &n.name_any()).is_some_and(|i| i >= config.nodes))
        .map(|n| ((String::new(), n.name_any()), n.uid()))
        .collect();
    for (key, uid) in surplus {
        ops.push(ops::delete::<Node>(&state.client, key, uid, Item::Nodes));
    }
    state.nodes_converged = ops.is_empty();
    if !ops.is_empty() {
        // Look again after these writes: a created node gets its status in a second write.
        ops.push(
            async { vec![Box::new(|state: &mut State| state.dirty.nodes = true) as super::Apply] }.boxed(),
        );
    }
    ops
}

/// The nodes pods may be placed on, in index order: the simulated ones that exist and are not cordoned.
pub(super) fn schedulable(state: &State) -> Vec<&Node> {
    let mut nodes: Vec<&Node> = state
        .nodes
        .values()
        .filter(|n| !n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false))
        .filter(|n| n.metadata.deletion_timestamp.is_none())
        .collect();
    nodes.sort_by_key(|n| node_index(&state.config.name, &n.name_any()).unwrap_or(usize::MAX));
    nodes
}

/// The InternalIP of `node`.
pub(super) fn internal_ip(node: &Node) -> Option<String> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_round_trip() {
        assert_eq!(node_index("c1", &node_name("c1", 7)), Some(7));
        assert_eq!(node_index("c1", "c10-node-1"), None);
        assert_eq!(node_index("c1", "c1-node-x"), None);
    }
}
