//! `autoscaling` kinds: horizontalpodautoscalers, stored as `autoscaling/v2` and also served as
//! `autoscaling/v1` through a conversion (v2 is the preferred version, as in kube-apiserver).

use fcp_api::validation::{FieldError, is_valid_path_segment_name};
use jiff::Timestamp;
use k8s_openapi::api::autoscaling::{v1, v2};
use serde_json::{Value, json};

use super::{
    Names, STATUS,
    conversion::{HpaV1, METRIC_SPECS_ANNOTATION},
    converted, def,
    printers::{age_cell, age_column, column, name_column},
};
use crate::registry::{KindRules, ResourceDef, Scope};

/// kube's default CPU utilization target (`autoscaling.DefaultCPUUtilization`).
const DEFAULT_CPU_UTILIZATION: i32 = 80;

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = |version| Names {
        group: "autoscaling",
        version,
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        scope: Scope::Namespaced,
        short_names: &["hpa"],
        categories: &["all"],
    };
    vec![
        def::<v2::HorizontalPodAutoscaler>(names("v2"), "horizontalpodautoscalers", STATUS, true),
        converted::<v1::HorizontalPodAutoscaler>(
            names("v1"),
            "horizontalpodautoscalers",
            STATUS,
            true,
            HpaV1,
        ),
    ]
}

/// kube's default scale-up rules (`GenerateHPAScaleUpRules`): no stabilization window, `Max` of 4 pods or
/// 100% per 15 s.
fn default_scale_up() -> v2::HPAScalingRules {
    v2::HPAScalingRules {
        stabilization_window_seconds: Some(0),
        select_policy: Some("Max".to_owned()),
        policies: Some(vec![
            v2::HPAScalingPolicy {
                type_: "Pods".to_owned(),
                value: 4,
                period_seconds: 15,
            },
            v2::HPAScalingPolicy {
                type_: "Percent".to_owned(),
                value: 100,
                period_seconds: 15,
            },
        ]),
        tolerance: None,
    }
}

/// kube's default scale-down rules (`GenerateHPAScaleDownRules`): `Max` of 100% per 15 s, no window (the
/// controller's flag decides it).
fn default_scale_down() -> v2::HPAScalingRules {
    v2::HPAScalingRules {
        stabilization_window_seconds: None,
        select_policy: Some("Max".to_owned()),
        policies: Some(vec![v2::HPAScalingPolicy {
            type_: "Percent".to_owned(),
            value: 100,
            period_seconds: 15,
        }]),
        tolerance: None,
    }
}

/// kube's `copyHPAScalingRules`: the defaults, overridden by every field `given` sets.
fn fill_scaling_rules(
    given: Option<v2::HPAScalingRules>,
    mut rules: v2::HPAScalingRules,
) -> v2::HPAScalingRules {
    if let Some(given) = given {
        if given.select_policy.is_some() {
            rules.select_policy = given.select_policy;
        }
        if given.stabilization_window_seconds.is_some() {
            rules.stabilization_window_seconds = given.stabilization_window_seconds;
        }
        if given.policies.is_some() {
            rules.policies = given.policies;
        }
        if given.tolerance.is_some() {
            rules.tolerance = given.tolerance;
        }
    }
    rules
}

/// The `minReplicas`/`maxReplicas`/`scaleTargetRef` checks of kube's `ValidateHorizontalPodAutoscalerSpec`.
fn validate_hpa_bounds(
    min_replicas: Option<i32>,
    max_replicas: i32,
    kind: &str,
    name: &str,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(min) = min_replicas.filter(|m| *m < 1) {
        errs.push(FieldError::invalid_value(
            "spec.minReplicas",
            min,
            "must be greater than or equal to 1",
        ));
    }
    if max_replicas < 1 {
        errs.push(FieldError::invalid_value(
            "spec.maxReplicas",
            max_replicas,
            "must be greater than 0",
        ));
    }
    if let Some(min) = min_replicas
        && max_replicas < min
    {
        errs.push(FieldError::invalid_value(
            "spec.maxReplicas",
            max_replicas,
            "must be greater than or equal to `minReplicas`",
        ));
    }
    for (field, value) in [("kind", kind), ("name", name)] {
        let path = format!("spec.scaleTargetRef.{field}");
        if value.is_empty() {
            errs.push(FieldError::required(path, ""));
        } else {
            for msg in is_valid_path_segment_name(value) {
                errs.push(FieldError::invalid(&path, Some(value), msg));
            }
        }
    }
    errs
}

/// kube's HPA columns: Name, Reference, Targets, MinPods, MaxPods, Replicas, Age.
fn hpa_table_columns() -> Vec<Value> {
    vec![
        name_column(),
        column(
            "Reference",
            "string",
            0,
            "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
        ),
        column(
            "Targets",
            "string",
            0,
            "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).",
        ),
        column(
            "MinPods",
            "string",
            0,
            "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
        ),
        column(
            "MaxPods",
            "string",
            0,
            "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
        ),
        column(
            "Replicas",
            "string",
            0,
            "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
        ),
        age_column(),
    ]
}

/// kube's `formatHPAMetrics`: `<current>/<target>` per metric (resources as `cpu: 50%/80%`), at most two then
/// `+ N more...`; `<none>` without metrics.
fn format_hpa_metrics(specs: &[v2::MetricSpec], statuses: &[v2::MetricStatus]) -> String {
    if specs.is_empty() {
        return "<none>".to_owned();
    }
    let quantity = |q: &Option<k8s_openapi::apimachinery::pkg::api::resource::Quantity>| {
        q.as_ref().map(|q| q.0.clone()).unwrap_or_else(|| "0".to_owned())
    };
    let unknown = || "<unknown>".to_owned();
    let mut list = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i);
        let text = match spec.type_.as_str() {
            "External" => spec.external.as_ref().map_or_else(unknown, |external| {
                let current = status.and_then(|s| s.external.as_ref()).map(|s| &s.current);
                if external.target.average_value.is_some() {
                    let current = current
                        .filter(|c| c.average_value.is_some())
                        .map_or_else(unknown, |c| quantity(&c.average_value));
                    format!("{current}/{} (avg)", quantity(&external.target.average_value))
                } else {
                    let current = current.map_or_else(unknown, |c| quantity(&c.value));
                    format!("{current}/{}", quantity(&external.target.value))
                }
            }),
            "Pods" => spec.pods.as_ref().map_or_else(unknown, |pods| {
                let current = status
                    .and_then(|s| s.pods.as_ref())
                    .map_or_else(unknown, |s| quantity(&s.current.average_value));
                format!("{current}/{}", quantity(&pods.target.average_value))
            }),
            "Object" => spec.object.as_ref().map_or_else(unknown, |object| {
                let current = status.and_then(|s| s.object.as_ref()).map(|s| &s.current);
                if object.target.average_value.is_some() {
                    let current = current
                        .filter(|c| c.average_value.is_some())
                        .map_or_else(unknown, |c| quantity(&c.average_value));
                    format!("{current}/{} (avg)", quantity(&object.target.average_value))
                } else {
                    let current = current.map_or_else(unknown, |c| quantity(&c.value));
                    format!("{current}/{}", quantity(&object.target.value))
                }
            }),
            "Resource" | "ContainerResource" => {
                let (name, target, current) = if spec.type_ == "Resource" {
                    match &spec.resource {
                        Some(r) => (
                            &r.name,
                            &r.target,
                            status.and_then(|s| s.resource.as_ref()).map(|s| &s.current),
                        ),
                        None => {
                            list.push(unknown());
                            continue;
                        }
                    }
                } else {
                    match &spec.container_resource {
                        Some(r) => (
                            &r.name,
                            &r.target,
                            status
                                .and_then(|s| s.container_resource.as_ref())
                                .map(|s| &s.current),
                        ),
                        None => {
                            list.push(unknown());
                            continue;
                        }
                    }
                };
                if target.average_value.is_some() {
                    let current = current.map_or_else(unknown, |c| quantity(&c.average_value));
                    format!("{name}: {current}/{}", quantity(&target.average_value))
                } else {
                    let current = current
                        .and_then(|c| c.average_utilization)
                        .map_or_else(unknown, |u| format!("{u}%"));
                    let goal = target
                        .average_utilization
                        .map_or_else(|| "<auto>".to_owned(), |u| format!("{u}%"));
                    format!("{name}: {current}/{goal}")
                }
            }
            _ => "<unknown type>".to_owned(),
        };
        list.push(text);
    }
    let count = list.len();
    if count > 2 {
        list.truncate(2);
        return format!("{} + {} more...", list.join(", "), count - 2);
    }
    list.join(", ")
}

impl KindRules for v2::HorizontalPodAutoscaler {
    /// kube's `SetDefaults_HorizontalPodAutoscaler` (autoscaling/v2): `minReplicas: 1`, an 80% CPU
    /// utilization metric when there are no metrics, and — only when `behavior` is given — every unset part
    /// of its `scaleUp`/`scaleDown` rules from kube's defaults.
    fn apply_defaults(&mut self) {
        let spec = &mut self.spec;
        spec.min_replicas.get_or_insert(1);
        if spec.metrics.as_ref().is_none_or(Vec::is_empty) {
            spec.metrics = Some(vec![v2::MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(v2::ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: v2::MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(DEFAULT_CPU_UTILIZATION),
                        ..Default::default()
                    },
                }),
                ..Default::default()
            }]);
        }
        if let Some(behavior) = &mut spec.behavior {
            behavior.scale_up = Some(fill_scaling_rules(behavior.scale_up.take(), default_scale_up()));
            behavior.scale_down = Some(fill_scaling_rules(
                behavior.scale_down.take(),
                default_scale_down(),
            ));
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = validate_hpa_bounds(
            spec.min_replicas,
            spec.max_replicas,
            &spec.scale_target_ref.kind,
            &spec.scale_target_ref.name,
        );
        let supported = ["ContainerResource", "External", "Object", "Pods", "Resource"];
        for (i, metric) in spec.metrics.iter().flatten().enumerate() {
            if !supported.contains(&metric.type_.as_str()) {
                errs.push(FieldError::not_supported(
                    format!("spec.metrics[{i}].type"),
                    &metric.type_,
                    &supported,
                ));
            }
        }
        errs
    }

    fn table_columns() -> Vec<Value> {
        hpa_table_columns()
    }

    /// kube's `printHorizontalPodAutoscaler`.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = &self.spec;
        let status = self.status.clone().unwrap_or_default();
        vec![
            object["metadata"]["name"].clone(),
            json!(format!(
                "{}/{}",
                spec.scale_target_ref.kind, spec.scale_target_ref.name
            )),
            json!(format_hpa_metrics(
                spec.metrics.as_deref().unwrap_or_default(),
                status.current_metrics.as_deref().unwrap_or_default()
            )),
            json!(
                spec.min_replicas
                    .map_or_else(|| "<unset>".to_owned(), |m| m.to_string())
            ),
            json!(spec.max_replicas),
            json!(status.current_replicas.unwrap_or_default()),
            age_cell(object, now),
        ]
    }
}

impl KindRules for v1::HorizontalPodAutoscaler {
    /// kube's autoscaling/v1 defaults (`minReplicas: 1`) plus the CPU target the v2 storage defaulting gives
    /// a v1 object without one: 80%, unless other metrics ride in the round-trip annotation (then v2 has
    /// metrics and kube adds no CPU target).
    fn apply_defaults(&mut self) {
        self.spec.min_replicas.get_or_insert(1);
        let has_other_metrics = self
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(METRIC_SPECS_ANNOTATION))
            .and_then(|m| serde_json::from_str::<Vec<Value>>(m).ok())
            .is_some_and(|m| !m.is_empty());
        if self.spec.target_cpu_utilization_percentage.is_none() && !has_other_metrics {
            self.spec.target_cpu_utilization_percentage = Some(DEFAULT_CPU_UTILIZATION);
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let spec = &self.spec;
        let mut errs = validate_hpa_bounds(
            spec.min_replicas,
            spec.max_replicas,
            &spec.scale_target_ref.kind,
            &spec.scale_target_ref.name,
        );
        if let Some(target) = spec.target_cpu_utilization_percentage.filter(|t| *t < 1) {
            errs.push(FieldError::invalid_value(
                "spec.targetCPUUtilizationPercentage",
                target,
                "must be greater than 0",
            ));
        }
        errs
    }

    fn table_columns() -> Vec<Value> {
        hpa_table_columns()
    }

    /// The v2 row of the same object: the CPU target is its only metric here.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = &self.spec;
        let status = self.status.clone().unwrap_or_default();
        let targets = match spec.target_cpu_utilization_percentage {
            None => "<none>".to_owned(),
            Some(target) => {
                let current = status
                    .current_cpu_utilization_percentage
                    .map_or_else(|| "<unknown>".to_owned(), |c| format!("{c}%"));
                format!("cpu: {current}/{target}%")
            }
        };
        vec![
            object["metadata"]["name"].clone(),
            json!(format!(
                "{}/{}",
                spec.scale_target_ref.kind, spec.scale_target_ref.name
            )),
            json!(targets),
            json!(
                spec.min_replicas
                    .map_or_else(|| "<unset>".to_owned(), |m| m.to_string())
            ),
            json!(spec.max_replicas),
            json!(status.current_replicas),
            age_cell(object, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::test_support::{create_errors, normalized, row};

    fn hpa(version: &str) -> Value {
        json!({"apiVersion": format!("autoscaling/{version}"), "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"maxReplicas": 5, "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}})
    }

    #[test]
    fn v2_defaults_min_replicas_and_cpu_metric_not_behavior() {
        let h = normalized::<v2::HorizontalPodAutoscaler>(hpa("v2"));
        assert_eq!(h["spec"]["minReplicas"], 1);
        assert_eq!(
            h["spec"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );
        assert!(h["spec"].get("behavior").is_none());
    }

    #[test]
    fn v2_fills_a_given_behavior() {
        let mut body = hpa("v2");
        body["spec"]["behavior"] = json!({"scaleDown": {"stabilizationWindowSeconds": 60}});
        let h = normalized::<v2::HorizontalPodAutoscaler>(body);
        assert_eq!(
            h["spec"]["behavior"],
            json!({
                "scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
                    {"type": "Pods", "value": 4, "periodSeconds": 15}, {"type": "Percent", "value": 100, "periodSeconds": 15}]},
                "scaleDown": {"stabilizationWindowSeconds": 60, "selectPolicy": "Max", "policies": [
                    {"type": "Percent", "value": 100, "periodSeconds": 15}]}})
        );
    }

    #[test]
    fn v1_defaults_cpu_target() {
        let h = normalized::<v1::HorizontalPodAutoscaler>(hpa("v1"));
        assert_eq!(h["spec"]["minReplicas"], 1);
        assert_eq!(h["spec"]["targetCPUUtilizationPercentage"], 80);
        let mut with_metrics = hpa("v1");
        with_metrics["metadata"]["annotations"] = json!({METRIC_SPECS_ANNOTATION: "[{\"type\":\"Pods\"}]"});
        assert!(
            normalized::<v1::HorizontalPodAutoscaler>(with_metrics)["spec"]
                .get("targetCPUUtilizationPercentage")
                .is_none()
        );
    }

    #[test]
    fn hpa_validation() {
        let mut body = hpa("v2");
        body["spec"]["minReplicas"] = json!(6);
        body["spec"]["scaleTargetRef"]["name"] = json!("");
        assert_eq!(
            create_errors::<v2::HorizontalPodAutoscaler>(body),
            vec![
                "spec.maxReplicas: Invalid value: 5: must be greater than or equal to `minReplicas`",
                "spec.scaleTargetRef.name: Required value",
            ]
        );
        let mut zero = hpa("v1");
        zero["spec"]["minReplicas"] = json!(0);
        assert_eq!(
            create_errors::<v1::HorizontalPodAutoscaler>(zero),
            vec!["spec.minReplicas: Invalid value: 0: must be greater than or equal to 1"]
        );
    }

    #[test]
    fn hpa_rows() {
        let mut h = normalized::<v2::HorizontalPodAutoscaler>(hpa("v2"));
        h["status"] = json!({"currentReplicas": 2, "desiredReplicas": 2, "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 42}}}]});
        let cells: Vec<Value> = row::<v2::HorizontalPodAutoscaler>(&h)
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(
            cells[..6],
            [
                json!("web"),
                json!("Deployment/web"),
                json!("cpu: 42%/80%"),
                json!("1"),
                json!(5),
                json!(2)
            ]
        );
        let v1h = normalized::<v1::HorizontalPodAutoscaler>(hpa("v1"));
        assert_eq!(
            row::<v1::HorizontalPodAutoscaler>(&v1h)[2].1,
            json!("cpu: <unknown>/80%")
        );
        let many: Vec<v2::MetricSpec> = serde_json::from_value(json!([
            {"type": "Pods", "pods": {"metric": {"name": "a"}, "target": {"type": "AverageValue", "averageValue": "1"}}},
            {"type": "Pods", "pods": {"metric": {"name": "b"}, "target": {"type": "AverageValue", "averageValue": "2"}}},
            {"type": "Pods", "pods": {"metric": {"name": "c"}, "target": {"type": "AverageValue", "averageValue": "3"}}}]))
        .expect("metrics");
        assert_eq!(
            format_hpa_metrics(&many, &[]),
            "<unknown>/1, <unknown>/2 + 1 more..."
        );
    }
}
