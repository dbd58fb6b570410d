//! `apps/v1` kinds: deployments, replicasets, daemonsets.

use fcp_api::validation::{FieldError, FieldErrorKind};
use jiff::Timestamp;
use k8s_openapi::{
    api::apps::v1::{DaemonSet, Deployment, ReplicaSet, RollingUpdateDaemonSet, RollingUpdateDeployment},
    apimachinery::pkg::util::intstr::IntOrString,
};
use serde_json::{Value, json};

use super::{
    Names, STATUS, STATUS_SCALE, def,
    pod_template::{
        NON_NEGATIVE, container_cells, default_pod_template, selector_string, set_if_empty,
        validate_pod_template, validate_selector_unchanged, validate_workload_selector,
    },
    printers::{age_cell, age_column, column, format_labels, name_column},
};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let apps = |kind, plural, singular, short_names| Names {
        group: "apps",
        version: "v1",
        kind,
        plural,
        singular,
        scope: Scope::Namespaced,
        short_names,
        categories: &["all"],
    };
    vec![
        def::<DaemonSet>(
            apps("DaemonSet", "daemonsets", "daemonset", &["ds"]),
            "daemonsets",
            STATUS,
            true,
        ),
        def::<Deployment>(
            apps("Deployment", "deployments", "deployment", &["deploy"]),
            "deployments",
            STATUS_SCALE,
            true,
        ),
        def::<ReplicaSet>(
            apps("ReplicaSet", "replicasets", "replicaset", &["rs"]),
            "replicasets",
            STATUS_SCALE,
            true,
        ),
    ]
}

/// `<field>: Invalid value: <n>: must be greater than or equal to 0` when `value` is negative.
fn non_negative(path: &str, value: Option<i32>) -> Option<FieldError> {
    value
        .filter(|v| *v < 0)
        .map(|v| FieldError::invalid_value(path, v, NON_NEGATIVE))
}

/// The priority-1 columns every workload printer ends with: Containers, Images, Selector.
fn workload_wide_columns() -> [Value; 3] {
    [
        column(
            "Containers",
            "string",
            1,
            "Names of each container in the template.",
        ),
        column(
            "Images",
            "string",
            1,
            "Images referenced by each container in the template.",
        ),
        column(
            "Selector",
            "string",
            1,
            "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
        ),
    ]
}

/// The cells of [`workload_wide_columns`].
fn workload_wide_cells(
    template: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>,
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> [Value; 3] {
    let (containers, images) = container_cells(template);
    [json!(containers), json!(images), json!(selector_string(selector))]
}

/// An int-or-percent (`maxSurge`, `maxUnavailable`) as kube validates it: a non-negative integer or
/// `N%`; `Some(percent or value)` for the zero check.
fn validate_int_or_percent(value: &IntOrString, path: &str, errs: &mut Vec<FieldError>) -> bool {
    match value {
        IntOrString::Int(i) => {
            if *i < 0 {
                errs.push(FieldError::invalid_value(path, *i, NON_NEGATIVE));
            }
            *i == 0
        }
        IntOrString::String(s) => match s.strip_suffix('%').and_then(|n| n.parse::<i64>().ok()) {
            Some(percent) => {
                if percent < 0 {
                    errs.push(FieldError::invalid(path, Some(s), NON_NEGATIVE));
                } else if percent > 100 {
                    errs.push(FieldError::invalid(
                        path,
                        Some(s),
                        "must not be greater than 100%",
                    ));
                }
                percent == 0
            }
            None => {
                errs.push(FieldError::invalid(
                    path,
                    Some(s),
                    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or \
                     '93%', regex used for validation is '[0-9]+%')",
                ));
                false
            }
        },
    }
}

impl KindRules for Deployment {
    /// kube's `SetDefaults_Deployment`: `replicas: 1`, strategy `RollingUpdate` with `maxUnavailable` and
    /// `maxSurge` of `25%`, `revisionHistoryLimit: 10`, `progressDeadlineSeconds: 600`, and the pod-template
    /// defaults. The selector is left as given (apps/v1 never defaults it).
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        spec.replicas.get_or_insert(1);
        let strategy = spec.strategy.get_or_insert_with(Default::default);
        set_if_empty(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy
                .rolling_update
                .get_or_insert_with(RollingUpdateDeployment::default);
            rolling
                .max_unavailable
                .get_or_insert_with(|| IntOrString::String("25%".to_owned()));
            rolling
                .max_surge
                .get_or_insert_with(|| IntOrString::String("25%".to_owned()));
        }
        spec.revision_history_limit.get_or_insert(10);
        spec.progress_deadline_seconds.get_or_insert(600);
        default_pod_template(&mut spec.template);
    }

    /// kube's `ValidateDeploymentSpec`: selector (non-empty, matching the template), template (containers,
    /// `restartPolicy: Always`), non-negative counts, strategy, and a progress deadline above
    /// `minReadySeconds`.
    fn validate(&self) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = validate_workload_selector(&spec.selector, &spec.template);
        errs.extend(validate_pod_template(
            &spec.template,
            "spec.template",
            &["Always"],
        ));
        errs.extend(non_negative("spec.replicas", spec.replicas));
        errs.extend(non_negative("spec.minReadySeconds", spec.min_ready_seconds));
        errs.extend(non_negative(
            "spec.revisionHistoryLimit",
            spec.revision_history_limit,
        ));
        errs.extend(non_negative(
            "spec.progressDeadlineSeconds",
            spec.progress_deadline_seconds,
        ));
        if let (Some(deadline), Some(min_ready)) = (spec.progress_deadline_seconds, spec.min_ready_seconds)
            && deadline <= min_ready
        {
            errs.push(FieldError::invalid_value(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
        if let Some(strategy) = &spec.strategy {
            let strategy_type = strategy.type_.as_deref().unwrap_or_default();
            match strategy_type {
                "Recreate" if strategy.rolling_update.is_some() => errs.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                )),
                "Recreate" => {}
                "RollingUpdate" => {
                    if let Some(rolling) = &strategy.rolling_update {
                        let default = IntOrString::Int(0);
                        let unavailable_path = "spec.strategy.rollingUpdate.maxUnavailable";
                        let surge_zero = validate_int_or_percent(
                            rolling.max_surge.as_ref().unwrap_or(&default),
                            "spec.strategy.rollingUpdate.maxSurge",
                            &mut errs,
                        );
                        let unavailable = rolling.max_unavailable.as_ref().unwrap_or(&default);
                        let unavailable_zero =
                            validate_int_or_percent(unavailable, unavailable_path, &mut errs);
                        if surge_zero && unavailable_zero {
                            errs.push(FieldError {
                                path: unavailable_path.to_owned(),
                                kind: FieldErrorKind::Invalid,
                                value: Some(match unavailable {
                                    IntOrString::Int(i) => i.to_string(),
                                    IntOrString::String(s) => fcp_api::validation::go_quote(s.as_str()),
                                }),
                                detail: "may not be 0 when `maxSurge` is 0".to_owned(),
                            });
                        }
                    }
                }
                other => errs.push(FieldError::not_supported(
                    "spec.strategy.type",
                    other,
                    &["Recreate", "RollingUpdate"],
                )),
            }
        }
        errs
    }

    /// Also: the selector is immutable (apps/v1).
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        errs.extend(validate_selector_unchanged(
            &self.spec.selector,
            &old.spec.selector,
        ));
        errs
    }

    fn table_columns() -> Vec<Value> {
        let mut columns = vec![
            name_column(),
            column("Ready", "string", 0, "Number of the pod with ready state"),
            column(
                "Up-to-date",
                "string",
                0,
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
            ),
            column(
                "Available",
                "string",
                0,
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
            ),
            age_column(),
        ];
        columns.extend(workload_wide_columns());
        columns
    }

    /// kube's `printDeployment`: `ready/desired`, up-to-date, available, age, then containers, images and
    /// selector.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = &self.spec;
        let status = self.status.clone().unwrap_or_default();
        let mut row = vec![
            object["metadata"]["name"].clone(),
            json!(format!(
                "{}/{}",
                status.ready_replicas.unwrap_or_default(),
                spec.replicas.unwrap_or_default()
            )),
            json!(status.updated_replicas.unwrap_or_default()),
            json!(status.available_replicas.unwrap_or_default()),
            age_cell(object, now),
        ];
        row.extend(workload_wide_cells(Some(&spec.template), &spec.selector));
        row
    }
}

impl KindRules for ReplicaSet {
    /// kube's `SetDefaults_ReplicaSet` (`replicas: 1`) and the pod-template defaults.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        spec.replicas.get_or_insert(1);
        if let Some(template) = &mut spec.template {
            default_pod_template(template);
        }
    }

    /// kube's `ValidateReplicaSetSpec`: selector, template (required), non-negative counts.
    fn validate(&self) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = non_negative("spec.replicas", spec.replicas)
            .into_iter()
            .collect::<Vec<_>>();
        errs.extend(non_negative("spec.minReadySeconds", spec.min_ready_seconds));
        match &spec.template {
            None => errs.push(FieldError::required("spec.template", "")),
            Some(template) => {
                errs.extend(validate_workload_selector(&spec.selector, template));
                errs.extend(validate_pod_template(template, "spec.template", &["Always"]));
            }
        }
        errs
    }

    /// Also: the selector is immutable (apps/v1).
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        errs.extend(validate_selector_unchanged(
            &self.spec.selector,
            &old.spec.selector,
        ));
        errs
    }

    fn table_columns() -> Vec<Value> {
        let mut columns = vec![
            name_column(),
            column("Desired", "integer", 0, "Replicas is the number of desired pods."),
            column(
                "Current",
                "integer",
                0,
                "Replicas is the most recently observed number of non-terminating pods.",
            ),
            column(
                "Ready",
                "integer",
                0,
                "The number of ready replicas for this replica set.",
            ),
            age_column(),
        ];
        columns.extend(workload_wide_columns());
        columns
    }

    /// kube's `printReplicaSet`.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = &self.spec;
        let status = self.status.clone().unwrap_or_default();
        let mut row = vec![
            object["metadata"]["name"].clone(),
            json!(spec.replicas.unwrap_or_default()),
            json!(status.replicas),
            json!(status.ready_replicas.unwrap_or_default()),
            age_cell(object, now),
        ];
        row.extend(workload_wide_cells(spec.template.as_ref(), &spec.selector));
        row
    }
}

impl KindRules for DaemonSet {
    /// kube's `SetDefaults_DaemonSet`: update strategy `RollingUpdate` with `maxUnavailable: 1` and
    /// `maxSurge: 0`, `revisionHistoryLimit: 10`, and the pod-template defaults.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        let strategy = spec.update_strategy.get_or_insert_with(Default::default);
        set_if_empty(&mut strategy.type_, "RollingUpdate");
        if strategy.type_.as_deref() == Some("RollingUpdate") {
            let rolling = strategy
                .rolling_update
                .get_or_insert_with(RollingUpdateDaemonSet::default);
            rolling.max_unavailable.get_or_insert(IntOrString::Int(1));
            rolling.max_surge.get_or_insert(IntOrString::Int(0));
        }
        spec.revision_history_limit.get_or_insert(10);
        default_pod_template(&mut spec.template);
    }

    /// kube's `ValidateDaemonSetSpec`: selector, template, update strategy.
    fn validate(&self) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = validate_workload_selector(&spec.selector, &spec.template);
        errs.extend(validate_pod_template(
            &spec.template,
            "spec.template",
            &["Always"],
        ));
        errs.extend(non_negative("spec.minReadySeconds", spec.min_ready_seconds));
        errs.extend(non_negative(
            "spec.revisionHistoryLimit",
            spec.revision_history_limit,
        ));
        if let Some(strategy) = &spec.update_strategy {
            let strategy_type = strategy.type_.as_deref().unwrap_or_default();
            if !["OnDelete", "RollingUpdate"].contains(&strategy_type) {
                errs.push(FieldError::not_supported(
                    "spec.updateStrategy.type",
                    strategy_type,
                    &["OnDelete", "RollingUpdate"],
                ));
            }
        }
        errs
    }

    /// Also: the selector is immutable (apps/v1).
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        errs.extend(validate_selector_unchanged(
            &self.spec.selector,
            &old.spec.selector,
        ));
        errs
    }

    fn table_columns() -> Vec<Value> {
        let mut columns = vec![
            name_column(),
            column(
                "Desired",
                "integer",
                0,
                "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
            ),
            column(
                "Current",
                "integer",
                0,
                "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
            ),
            column(
                "Ready",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.",
            ),
            column(
                "Up-to-date",
                "integer",
                0,
                "The total number of nodes that are running updated daemon pod",
            ),
            column(
                "Available",
                "integer",
                0,
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
            ),
            column(
                "Node Selector",
                "string",
                0,
                "NodeSelector is a selector which must be true for the pod to fit on a node.",
            ),
            age_column(),
        ];
        columns.extend(workload_wide_columns());
        columns
    }

    /// kube's `printDaemonSet`.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = &self.spec;
        let status = self.status.clone().unwrap_or_default();
        let node_selector = spec.template.spec.as_ref().and_then(|s| s.node_selector.as_ref());
        let mut row = vec![
            object["metadata"]["name"].clone(),
            json!(status.desired_number_scheduled),
            json!(status.current_number_scheduled),
            json!(status.number_ready),
            json!(status.updated_number_scheduled.unwrap_or_default()),
            json!(status.number_available.unwrap_or_default()),
            json!(format_labels(node_selector)),
            age_cell(object, now),
        ];
        row.extend(workload_wide_cells(Some(&spec.template), &spec.selector));
        row
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::test_support::{create_errors, normalized, row, update_errors};

    fn deployment(selector: Value, labels: Value) -> Value {
        json!({"metadata": {"name": "web"}, "spec": {"selector": selector,
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    }

    #[test]
    fn deployment_defaults_make_describe_safe() {
        let d = normalized::<Deployment>(deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        ));
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(spec["selector"], json!({"matchLabels": {"app": "web"}}));
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "Always");
        // What `kubectl describe deployment` dereferences without nil checks.
        let typed: Deployment = serde_json::from_value(d).expect("decodes");
        assert!(typed.spec.replicas.is_some());
        assert!(
            typed
                .spec
                .strategy
                .as_ref()
                .and_then(|s| s.rolling_update.as_ref())
                .is_some()
        );
        // Recreate gets no rollingUpdate.
        let mut recreate = deployment(json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
        recreate["spec"]["strategy"] = json!({"type": "Recreate"});
        assert_eq!(
            normalized::<Deployment>(recreate)["spec"]["strategy"],
            json!({"type": "Recreate"})
        );
    }

    #[test]
    fn deployment_validation() {
        assert!(
            create_errors::<Deployment>(deployment(
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "web"})
            ))
            .is_empty()
        );
        assert_eq!(
            create_errors::<Deployment>(deployment(
                json!({"matchLabels": {"app": "a"}}),
                json!({"app": "web"})
            )),
            vec![
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`"
            ]
        );
        let mut bad = deployment(json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}));
        bad["spec"]["replicas"] = json!(-1);
        bad["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
        bad["spec"]["strategy"] = json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
        assert_eq!(
            create_errors::<Deployment>(bad),
            vec![
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
            ]
        );
        assert_eq!(
            update_errors::<Deployment>(
                deployment(
                    json!({"matchLabels": {"app": "web", "v": "2"}}),
                    json!({"app": "web", "v": "2"})
                ),
                deployment(json!({"matchLabels": {"app": "web"}}), json!({"app": "web"}))
            ),
            vec![
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"v\":\"2\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
            ]
        );
    }

    #[test]
    fn deployment_row() {
        let mut d = normalized::<Deployment>(deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        ));
        d["status"] = json!({"readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1});
        let cells: Vec<(String, Value)> = row::<Deployment>(&d);
        let names: Vec<&str> = cells.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Ready",
                "Up-to-date",
                "Available",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        assert_eq!(cells[1].1, json!("1/1"));
        assert_eq!(cells[5].1, json!("web"));
        assert_eq!(cells[6].1, json!("nginx"));
        assert_eq!(cells[7].1, json!("app=web"));
    }

    #[test]
    fn replicaset_defaults_validation_and_row() {
        let rs = normalized::<ReplicaSet>(deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        ));
        assert_eq!(rs["spec"]["replicas"], 1);
        assert_eq!(rs["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
        let typed: ReplicaSet = serde_json::from_value(rs.clone()).expect("decodes");
        assert!(typed.spec.replicas.is_some());
        assert_eq!(
            create_errors::<ReplicaSet>(
                json!({"metadata": {"name": "r"}, "spec": {"selector": {"matchLabels": {"a": "b"}}}})
            ),
            vec!["spec.template: Required value"]
        );
        let cells = row::<ReplicaSet>(&rs);
        assert_eq!((cells[1].1.clone(), cells[2].1.clone()), (json!(1), json!(0)));
    }

    #[test]
    fn daemonset_defaults_validation_and_row() {
        let ds = normalized::<DaemonSet>(deployment(
            json!({"matchLabels": {"app": "web"}}),
            json!({"app": "web"}),
        ));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
        let mut missing = deployment(json!({}), json!({"app": "web"}));
        missing["spec"]
            .as_object_mut()
            .expect("object")
            .remove("selector");
        assert_eq!(
            create_errors::<DaemonSet>(missing),
            vec![
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"web\"}: `selector` does not match template `labels`",
            ]
        );
        let names: Vec<String> = row::<DaemonSet>(&ds).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names[..8],
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age"
            ]
        );
        assert_eq!(row::<DaemonSet>(&ds)[6].1, json!("<none>"));
    }

    #[test]
    fn workloads_select_only_metadata_fields() {
        use crate::registry::{Strategy, Typed};
        // apps/v1 registers no field-label conversion: even `status.replicas` is rejected for ReplicaSets
        // (kubernetes/kubernetes#135136).
        assert_eq!(
            Typed::<ReplicaSet>::new()
                .check_field_selector("status.replicas")
                .unwrap_err(),
            "\"status.replicas\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        assert!(
            Typed::<Deployment>::new()
                .check_field_selector("metadata.name")
                .is_ok()
        );
    }
}
