//! Core (`v1`) kinds only a member cluster serves (`fcp sim-cluster`): pods, nodes, endpoints and
//! serviceaccounts. The federation never propagates them; the simulator and the controller-manager read
//! and write them in member clusters.

use fcp_api::validation::FieldError;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Endpoints, Node, Pod, PodTemplateSpec, ServiceAccount};
use serde_json::{Value, json};

use super::{
    NONE, Names, STATUS, check_field_label, def,
    pod_template::{default_pod_spec, validate_pod_template},
    printers::{age_cell, age_column, column, name_column},
    string_at,
};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let core = |kind, plural, singular, scope, short_names, categories| Names {
        group: "",
        version: "v1",
        kind,
        plural,
        singular,
        scope,
        short_names,
        categories,
    };
    vec![
        def::<Endpoints>(
            core(
                "Endpoints",
                "endpoints",
                "endpoints",
                Scope::Namespaced,
                &["ep"],
                &[],
            ),
            "services/endpoints",
            NONE,
            false,
        ),
        def::<Node>(
            core("Node", "nodes", "node", Scope::Cluster, &["no"], &[]),
            "minions",
            STATUS,
            false,
        ),
        def::<Pod>(
            core("Pod", "pods", "pod", Scope::Namespaced, &["po"], &["all"]),
            "pods",
            STATUS,
            false,
        ),
        def::<ServiceAccount>(
            core(
                "ServiceAccount",
                "serviceaccounts",
                "serviceaccount",
                Scope::Namespaced,
                &["sa"],
                &[],
            ),
            "serviceaccounts",
            NONE,
            false,
        ),
    ]
}

/// The pod field selectors kube supports, in its order.
const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

impl KindRules for Pod {
    fn apply_defaults(&mut self) {
        if let Some(spec) = &mut self.spec {
            default_pod_spec(spec);
        }
        let status = self.status.get_or_insert_with(Default::default);
        if status.phase.as_deref().is_none_or(str::is_empty) {
            status.phase = Some("Pending".to_owned());
        }
    }

    /// A spec with valid containers (the pod-template rules, any restart policy).
    fn validate(&self) -> Vec<FieldError> {
        let Some(spec) = &self.spec else {
            return vec![FieldError::required("spec", "")];
        };
        let template = PodTemplateSpec {
            metadata: None,
            spec: Some(spec.clone()),
        };
        validate_pod_template(&template, "", &["Always", "OnFailure", "Never"])
            .into_iter()
            .map(|mut e| {
                e.path = e.path.trim_start_matches('.').to_owned();
                e
            })
            .collect()
    }

    fn check_field_selector(field: &str) -> Result<(), String> {
        check_field_label(field, POD_FIELDS)
    }

    fn field_value(object: &Value, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(string_at(object, "/metadata/name")),
            "metadata.namespace" => Some(string_at(object, "/metadata/namespace")),
            "spec.nodeName" => Some(string_at(object, "/spec/nodeName")),
            "spec.restartPolicy" => Some(string_at(object, "/spec/restartPolicy")),
            "spec.schedulerName" => Some(string_at(object, "/spec/schedulerName")),
            "spec.serviceAccountName" => Some(string_at(object, "/spec/serviceAccountName")),
            "spec.hostNetwork" => Some(
                object
                    .pointer("/spec/hostNetwork")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string(),
            ),
            "status.phase" => Some(string_at(object, "/status/phase")),
            "status.podIP" => Some(string_at(object, "/status/podIP")),
            "status.nominatedNodeName" => Some(string_at(object, "/status/nominatedNodeName")),
            _ => None,
        }
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column(
                "Ready",
                "string",
                0,
                "The aggregate readiness state of this pod for accepting traffic.",
            ),
            column(
                "Status",
                "string",
                0,
                "The aggregate status of the containers in this pod.",
            ),
            column(
                "Restarts",
                "string",
                0,
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
            ),
            age_column(),
            column(
                "IP",
                "string",
                1,
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
            ),
            column(
                "Node",
                "string",
                1,
                "NodeName is a request to schedule this pod onto a specific node.",
            ),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let containers = self.spec.as_ref().map_or(0, |s| s.containers.len());
        let status = self.status.as_ref();
        let ready = status
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |c| c.iter().filter(|c| c.ready).count());
        let restarts: i32 = status
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |c| c.iter().map(|c| c.restart_count).sum());
        let mut phase = status
            .and_then(|s| s.reason.clone().or_else(|| s.phase.clone()))
            .unwrap_or_default();
        if self.metadata.deletion_timestamp.is_some() {
            phase = "Terminating".to_owned();
        }
        let none = || "<none>".to_owned();
        vec![
            object["metadata"]["name"].clone(),
            json!(format!("{ready}/{containers}")),
            json!(phase),
            json!(restarts.to_string()),
            age_cell(object, now),
            json!(status.and_then(|s| s.pod_ip.clone()).unwrap_or_else(none)),
            json!(
                self.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_else(none)
            ),
        ]
    }
}

impl KindRules for Node {
    fn check_field_selector(field: &str) -> Result<(), String> {
        check_field_label(field, &["metadata.name", "spec.unschedulable"])
    }

    fn field_value(object: &Value, field: &str) -> Option<String> {
        match field {
            "metadata.name" => Some(string_at(object, "/metadata/name")),
            "spec.unschedulable" => Some(
                object
                    .pointer("/spec/unschedulable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string(),
            ),
            _ => None,
        }
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column("Status", "string", 0, "The status of the node"),
            column("Roles", "string", 0, "The roles of the node"),
            age_column(),
            column("Version", "string", 0, "Kubelet Version reported by the node."),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let status = self.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map_or(
                "Unknown",
                |c| if c.status == "True" { "Ready" } else { "NotReady" },
            );
        let mut roles: Vec<String> = self
            .metadata
            .labels
            .iter()
            .flatten()
            .filter_map(|(k, _)| k.strip_prefix("node-role.kubernetes.io/").map(str::to_owned))
            .collect();
        if roles.is_empty() {
            roles.push("<none>".to_owned());
        }
        let version = status
            .and_then(|s| s.node_info.as_ref())
            .map(|i| i.kubelet_version.clone())
            .unwrap_or_default();
        vec![
            object["metadata"]["name"].clone(),
            json!(ready),
            json!(roles.join(",")),
            age_cell(object, now),
            json!(version),
        ]
    }
}

impl KindRules for Endpoints {
    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column(
                "Endpoints",
                "string",
                0,
                "Endpoints is the list of endpoints in the object.",
            ),
            age_column(),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let mut addresses = Vec::new();
        for subset in self.subsets.iter().flatten() {
            for address in subset.addresses.iter().flatten() {
                for port in subset.ports.iter().flatten() {
                    addresses.push(format!("{}:{}", address.ip, port.port));
                }
                if subset.ports.as_ref().is_none_or(Vec::is_empty) {
                    addresses.push(address.ip.clone());
                }
            }
        }
        let cell = match addresses.len() {
            0 => "<none>".to_owned(),
            n if n > 3 => format!("{} + {} more...", addresses[..3].join(","), n - 3),
            _ => addresses.join(","),
        };
        vec![
            object["metadata"]["name"].clone(),
            json!(cell),
            age_cell(object, now),
        ]
    }
}

impl KindRules for ServiceAccount {
    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column(
                "Secrets",
                "string",
                0,
                "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            age_column(),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let secrets = self.secrets.as_ref().map_or(0, Vec::len);
        vec![
            object["metadata"]["name"].clone(),
            json!(secrets),
            age_cell(object, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_default_to_pending_and_need_containers() {
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}
        }))
        .unwrap();
        pod.apply_defaults();
        assert_eq!(
            pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            Some("Pending")
        );
        assert!(pod.validate().is_empty(), "{:?}", pod.validate());
        let empty: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": []}})).unwrap();
        assert!(!empty.validate().is_empty());
        assert!(<Pod as KindRules>::check_field_selector("spec.nodeName").is_ok());
        assert!(<Pod as KindRules>::check_field_selector("spec.bogus").is_err());
    }

    #[test]
    fn node_row_reports_readiness_and_roles() {
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/worker": ""}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0", "architecture": "", "bootID": "", "containerRuntimeVersion": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "", "operatingSystem": "", "osImage": "", "systemUUID": ""}}
        }))
        .unwrap();
        let object = serde_json::to_value(&node).unwrap();
        let row = node.table_row(&object, Timestamp::now());
        assert_eq!(row[1], json!("Ready"));
        assert_eq!(row[2], json!("worker"));
        assert_eq!(row[4], json!("v1.33.0"));
    }
}
