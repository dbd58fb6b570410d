//! Services: a `type: LoadBalancer` service gets `status.loadBalancer.ingress` with a deterministic IP of
//! the cluster; every service with a selector gets an Endpoints object of the same name listing its
//! selected pods that have an IP (ready ones as addresses, others as notReadyAddresses) with the service's
//! ports resolved against each pod's container ports, as kube's endpoints controller does.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{
        EndpointAddress, EndpointPort, EndpointSubset, Endpoints, LoadBalancerIngress, LoadBalancerStatus,
        ObjectReference, Pod, Service, ServicePort,
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use kube::{ResourceExt, api::ObjectMeta};
use serde_json::json;

use super::{Item, Op, State, ops, pods};
use crate::{
    cache::{Change, Key, key_of},
    names::AddressPlan,
};

/// Whether `service` has a selector that matches `labels`.
pub(crate) fn selects(service: &Service, labels: &BTreeMap<String, String>) -> bool {
    service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|selector| {
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        })
}

pub(super) fn service_changed(state: &mut State, (old, new): &Change<Service>) {
    let Some(key) = new.as_ref().or(old.as_ref()).map(key_of) else {
        return;
    };
    if new.is_none() {
        state.dirty.deleted_services.insert(key.clone());
    }
    state.dirty.services.insert(key);
}

pub(super) fn endpoints_changed(state: &mut State, (old, new): &Change<Endpoints>) {
    if let Some(key) = new.as_ref().or(old.as_ref()).map(key_of) {
        state.dirty.services.insert(key);
    }
}

/// Load-balancer status and endpoints of the dirty services; endpoints of deleted services go.
pub(super) fn plan(state: &mut State) -> Vec<Op> {
    if !state.services.synced() || !state.endpoints.synced() || !state.pods.synced() {
        return Vec::new();
    }
    let mut ops = Vec::new();
    for key in std::mem::take(&mut state.dirty.deleted_services) {
        if state.services.get(&key).is_none()
            && let Some(endpoints) = state.endpoints.get(&key)
        {
            let uid = endpoints.uid();
            ops.push(ops::delete::<Endpoints>(
                &state.client,
                key.clone(),
                uid,
                Item::Service(key),
            ));
        }
    }
    for key in std::mem::take(&mut state.dirty.services) {
        let Some(service) = state.services.get(&key).cloned() else {
            continue;
        };
        if service.metadata.deletion_timestamp.is_some() {
            continue;
        }
        ops.extend(load_balancer(state, &key, &service));
        ops.extend(endpoints(state, &key, &service));
    }
    ops
}

fn load_balancer(state: &mut State, key: &Key, service: &Service) -> Option<Op> {
    let is_lb = service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer");
    let observed = service.status.clone();
    let mut desired = observed.clone().unwrap_or_default();
    let ingress = is_lb.then(|| {
        vec![LoadBalancerIngress {
            ip: Some(AddressPlan::load_balancer_ip(&state.config.name, &key.0, &key.1).to_string()),
            ip_mode: Some("VIP".to_owned()),
            ..LoadBalancerIngress::default()
        }]
    });
    desired.load_balancer = match (desired.load_balancer.take(), ingress) {
        (_, Some(ingress)) => Some(LoadBalancerStatus {
            ingress: Some(ingress),
        }),
        (Some(lb), None) if lb.ingress.as_ref().is_some_and(|i| !i.is_empty()) => {
            Some(LoadBalancerStatus::default())
        }
        (lb, None) => lb,
    };
    let diff = ops::merge_diff(&ops::to_json(&observed), &ops::to_json(&desired))?;
    let rv = service.resource_version().unwrap_or_default();
    state.patch_op::<Service>(
        key,
        &rv,
        true,
        json!({ "status": diff }),
        Item::Service(key.clone()),
    )
}

/// The port a service port targets on `pod`: the target port number, or the container port of that name.
fn resolve(port: &ServicePort, pod: &Pod) -> Option<i32> {
    match &port.target_port {
        None => Some(port.port),
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) => match name.parse::<i32>() {
            Ok(n) => Some(n),
            Err(_) => pod.spec.as_ref()?.containers.iter().find_map(|c| {
                c.ports
                    .as_ref()?
                    .iter()
                    .find(|p| p.name.as_deref() == Some(name.as_str()))
                    .map(|p| p.container_port)
            }),
        },
    }
}

/// One subset in the making: its ports, ready addresses and not-ready addresses.
type Group = (Vec<EndpointPort>, Vec<EndpointAddress>, Vec<EndpointAddress>);

/// The endpoint subsets of `service`: its selected pods with an IP, grouped by their resolved ports.
fn subsets(state: &State, key: &Key, service: &Service) -> Vec<EndpointSubset> {
    let spec = service.spec.clone().unwrap_or_default();
    let ports = spec.ports.clone().unwrap_or_default();
    let publish_not_ready = spec.publish_not_ready_addresses.unwrap_or(false);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for pod in state.pods.in_namespace(&key.0) {
        if !selects(service, pod.labels())
            || pods::is_terminal(pod)
            || pod.metadata.deletion_timestamp.is_some()
        {
            continue;
        }
        let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.clone()) else {
            continue;
        };
        let resolved: Vec<EndpointPort> = ports
            .iter()
            .filter_map(|port| {
                resolve(port, pod).map(|number| EndpointPort {
                    name: port.name.clone(),
                    port: number,
                    protocol: Some(port.protocol.clone().unwrap_or_else(|| "TCP".to_owned())),
                    app_protocol: port.app_protocol.clone(),
                })
            })
            .collect();
        if !ports.is_empty() && resolved.is_empty() {
            continue;
        }
        let address = EndpointAddress {
            ip,
            node_name: pods::node_of(pod).map(str::to_owned),
            target_ref: Some(ObjectReference {
                kind: Some("Pod".to_owned()),
                namespace: Some(key.0.clone()),
                name: Some(pod.name_any()),
                uid: pod.uid(),
                ..ObjectReference::default()
            }),
            hostname: None,
        };
        let group_key = serde_json::to_string(&resolved).unwrap_or_default();
        let group = groups
            .entry(group_key)
            .or_insert_with(|| (resolved, Vec::new(), Vec::new()));
        if pods::is_ready(pod) || publish_not_ready {
            group.1.push(address);
        } else {
            group.2.push(address);
        }
    }
    groups
        .into_values()
        .map(|(ports, mut ready, mut not_ready)| {
            ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            not_ready.sort_by(|a, b| a.ip.cmp(&b.ip));
            EndpointSubset {
                addresses: (!ready.is_empty()).then_some(ready),
                not_ready_addresses: (!not_ready.is_empty()).then_some(not_ready),
                ports: (!ports.is_empty()).then_some(ports),
            }
        })
        .collect()
}

fn endpoints(state: &mut State, key: &Key, service: &Service) -> Option<Op> {
    let has_selector = service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_some_and(|s| !s.is_empty());
    if !has_selector {
        return None;
    }
    let mut labels = service.labels().clone();
    if service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None") {
        labels.insert("service.kubernetes.io/headless".to_owned(), String::new());
    }
    let subsets = subsets(state, key, service);
    let subsets = (!subsets.is_empty()).then_some(subsets);
    let retry = Item::Service(key.clone());
    let Some(existing) = state.endpoints.get(key).cloned() else {
        let endpoints = Endpoints {
            metadata: ObjectMeta {
                name: Some(key.1.clone()),
                namespace: Some(key.0.clone()),
                labels: (!labels.is_empty()).then_some(labels),
                ..ObjectMeta::default()
            },
            subsets,
        };
        return Some(ops::create(&state.client, endpoints, retry));
    };
    let observed_subsets = existing.subsets.clone().filter(|s| !s.is_empty());
    let old = json!({"metadata": {"labels": existing.labels()}, "subsets": ops::to_json(&observed_subsets)});
    let new = json!({"metadata": {"labels": labels}, "subsets": ops::to_json(&subsets)});
    let diff = ops::merge_diff(&old, &new)?;
    let rv = existing.resource_version().unwrap_or_default();
    state.patch_op::<Endpoints>(key, &rv, false, diff, retry)
}
