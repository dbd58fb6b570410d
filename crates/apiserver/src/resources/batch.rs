//! `batch/v1` kinds: jobs.

use fcp_api::validation::FieldError;
use jiff::Timestamp;
use k8s_openapi::{api::batch::v1::Job, apimachinery::pkg::apis::meta::v1::LabelSelector};
use serde_json::{Value, json};

use super::{
    Names, STATUS, def, int_at,
    pod_template::{
        NON_NEGATIVE, container_cells, default_pod_template, selector_string, set_if_empty,
        validate_label_selector, validate_pod_template, validate_selector_matches_template,
        validate_selector_unchanged,
    },
    printers::{age_cell, age_column, column, human_duration, name_column},
};
use crate::registry::{KindRules, ResourceDef, Scope};

/// Template label holding the Job's name (legacy and current key).
const JOB_NAME_LABELS: [&str; 2] = ["job-name", "batch.kubernetes.io/job-name"];
/// Template label holding the Job's uid (legacy and current key); the generated selector uses the current one.
const CONTROLLER_UID_LABELS: [&str; 2] = ["controller-uid", "batch.kubernetes.io/controller-uid"];
/// The selector key of a generated Job selector.
const CONTROLLER_UID_SELECTOR: &str = "batch.kubernetes.io/controller-uid";

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = Names {
        group: "batch",
        version: "v1",
        kind: "Job",
        plural: "jobs",
        singular: "job",
        scope: Scope::Namespaced,
        short_names: &[],
        categories: &["all"],
    };
    vec![def::<Job>(names, "jobs", STATUS, true)]
}

impl KindRules for Job {
    /// kube's `SetDefaults_Job`: `parallelism: 1` (and `completions: 1` when both are unset),
    /// `backoffLimit: 6` (2147483647 with `backoffLimitPerIndex`), `completionMode: NonIndexed`,
    /// `suspend: false`, `podReplacementPolicy` (`Failed` with a `podFailurePolicy`, else
    /// `TerminatingOrFailed`), pod-failure-policy condition patterns `status: "True"`, the Job's labels
    /// copied from the template when it has none, and the pod-template defaults (`restartPolicy` becomes
    /// `Always` when unset, which validation then rejects, as kube does).
    fn apply_defaults(&mut self) {
        let template_labels = self
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref()?.labels.clone());
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.completions.is_none() && spec.parallelism.is_none() {
            spec.completions = Some(1);
        }
        spec.parallelism.get_or_insert(1);
        if spec.backoff_limit.is_none() {
            spec.backoff_limit = Some(if spec.backoff_limit_per_index.is_some() {
                i32::MAX
            } else {
                6
            });
        }
        if let Some(labels) = template_labels
            && self.metadata.labels.as_ref().is_none_or(|l| l.is_empty())
        {
            self.metadata.labels = Some(labels);
        }
        set_if_empty(&mut spec.completion_mode, "NonIndexed");
        spec.suspend.get_or_insert(false);
        if let Some(policy) = &mut spec.pod_failure_policy {
            for rule in &mut policy.rules {
                for pattern in rule.on_pod_conditions.iter_mut().flatten() {
                    set_if_empty(&mut pattern.status, "True");
                }
            }
        }
        if spec.pod_replacement_policy.is_none() {
            let policy = if spec.pod_failure_policy.is_some() {
                "Failed"
            } else {
                "TerminatingOrFailed"
            };
            spec.pod_replacement_policy = Some(policy.to_owned());
        }
        default_pod_template(&mut spec.template);
    }

    /// kube's `generateSelector` (run in its Job `Validate`, once the uid exists): unless `manualSelector` is
    /// true, the template gets the `job-name`/`batch.kubernetes.io/job-name` and
    /// `controller-uid`/`batch.kubernetes.io/controller-uid` labels (those already set are kept) and the
    /// selector gets `matchLabels["batch.kubernetes.io/controller-uid"] = <uid>`.
    fn prepare_for_create(&mut self) {
        let (Some(name), Some(uid)) = (self.metadata.name.clone(), self.metadata.uid.clone()) else {
            return;
        };
        let Some(spec) = &mut self.spec else { return };
        if spec.manual_selector == Some(true) {
            return;
        }
        let labels = spec
            .template
            .metadata
            .get_or_insert_with(Default::default)
            .labels
            .get_or_insert_with(Default::default);
        for key in JOB_NAME_LABELS {
            labels.entry(key.to_owned()).or_insert_with(|| name.clone());
        }
        for key in CONTROLLER_UID_LABELS {
            labels.entry(key.to_owned()).or_insert_with(|| uid.clone());
        }
        spec.selector
            .get_or_insert_with(LabelSelector::default)
            .match_labels
            .get_or_insert_with(Default::default)
            .entry(CONTROLLER_UID_SELECTOR.to_owned())
            .or_insert(uid);
    }

    /// The core of kube's `ValidateJobSpec`: `restartPolicy` `OnFailure` or `Never`, non-negative counts,
    /// a supported completion mode, and a selector (required with `manualSelector`; generated otherwise)
    /// that matches the template labels.
    fn validate(&self) -> Vec<FieldError> {
        let Some(spec) = &self.spec else {
            return vec![FieldError::required("spec.template.spec.containers", "")];
        };
        let mut errs = Vec::new();
        for (path, value) in [
            ("spec.parallelism", spec.parallelism),
            ("spec.completions", spec.completions),
            ("spec.backoffLimit", spec.backoff_limit),
        ] {
            if let Some(v) = value.filter(|v| *v < 0) {
                errs.push(FieldError::invalid_value(path, v, NON_NEGATIVE));
            }
        }
        if let Some(deadline) = spec.active_deadline_seconds.filter(|d| *d < 0) {
            errs.push(FieldError::invalid_value(
                "spec.activeDeadlineSeconds",
                deadline,
                NON_NEGATIVE,
            ));
        }
        let mode = spec.completion_mode.as_deref().unwrap_or_default();
        if !["NonIndexed", "Indexed"].contains(&mode) {
            errs.push(FieldError::not_supported(
                "spec.completionMode",
                mode,
                &["NonIndexed", "Indexed"],
            ));
        }
        match &spec.selector {
            None if spec.manual_selector == Some(true) => {
                errs.push(FieldError::required("spec.selector", ""))
            }
            None => {}
            Some(selector) => {
                errs.extend(validate_label_selector(selector, "spec.selector"));
                errs.extend(validate_selector_matches_template(selector, &spec.template));
            }
        }
        errs.extend(validate_pod_template(
            &spec.template,
            "spec.template",
            &["OnFailure", "Never"],
        ));
        errs
    }

    /// Also: the selector and the pod template are immutable, and so are `completions` of a NonIndexed Job
    /// and `completionMode`.
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        let (Some(new), Some(old)) = (&self.spec, &old.spec) else {
            return errs;
        };
        let empty = LabelSelector::default();
        errs.extend(validate_selector_unchanged(
            new.selector.as_ref().unwrap_or(&empty),
            old.selector.as_ref().unwrap_or(&empty),
        ));
        if new.template != old.template {
            errs.push(FieldError::invalid("spec.template", None, "field is immutable"));
        }
        if new.completion_mode != old.completion_mode {
            errs.push(FieldError::invalid(
                "spec.completionMode",
                Some(new.completion_mode.as_deref().unwrap_or_default()),
                "field is immutable",
            ));
        }
        if new.completions != old.completions && new.completion_mode.as_deref() != Some("Indexed") {
            errs.push(FieldError::invalid_value(
                "spec.completions",
                new.completions.map_or(serde_json::Value::Null, |c| json!(c)),
                "field is immutable",
            ));
        }
        errs
    }

    /// batch/v1's field-label conversion: `status.successful` besides the metadata fields, with its own
    /// message.
    fn check_field_selector(field: &str) -> Result<(), String> {
        match field {
            "metadata.name" | "metadata.namespace" | "status.successful" => Ok(()),
            _ => Err(format!("field label {field:?} not supported for batchv1.Job")),
        }
    }

    /// `status.successful` is `status.succeeded` in decimal (`0` when unset).
    fn field_value(object: &Value, field: &str) -> Option<String> {
        match field {
            "status.successful" => Some(int_at(object, "/status/succeeded")),
            _ => crate::registry::Strategy::field_value(
                &crate::registry::Typed::<k8s_openapi::api::core::v1::ConfigMap>::new(),
                object,
                field,
            ),
        }
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column("Status", "string", 0, "Status of the job."),
            column(
                "Completions",
                "string",
                0,
                "The number of pods which reached phase Succeeded.",
            ),
            column("Duration", "string", 0, "Time required to complete the job."),
            age_column(),
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
                "A label query over pods that should match the pod count.",
            ),
        ]
    }

    /// kube's `printJob`.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = self.spec.clone().unwrap_or_default();
        let status = self.status.clone().unwrap_or_default();
        let succeeded = status.succeeded.unwrap_or_default();
        let completions = match spec.completions {
            Some(completions) => format!("{succeeded}/{completions}"),
            None => match spec.parallelism.unwrap_or_default() {
                parallelism if parallelism > 1 => format!("{succeeded}/1 of {parallelism}"),
                _ => format!("{succeeded}/1"),
            },
        };
        let duration = match (&status.start_time, &status.completion_time) {
            (None, _) => String::new(),
            (Some(start), None) => human_duration(now.as_second() - start.0.as_second()),
            (Some(start), Some(end)) => human_duration(end.0.as_second() - start.0.as_second()),
        };
        let has_condition = |type_: &str| {
            status
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == type_ && c.status == "True")
        };
        let state = if has_condition("Complete") {
            "Complete"
        } else if has_condition("Failed") {
            "Failed"
        } else if self.metadata.deletion_timestamp.is_some() {
            "Terminating"
        } else if has_condition("Suspended") {
            "Suspended"
        } else if has_condition("FailureTarget") {
            "FailureTarget"
        } else if has_condition("SuccessCriteriaMet") {
            "SuccessCriteriaMet"
        } else {
            "Running"
        };
        let (containers, images) = container_cells(Some(&spec.template));
        vec![
            object["metadata"]["name"].clone(),
            json!(state),
            json!(completions),
            json!(duration),
            age_cell(object, now),
            json!(containers),
            json!(images),
            json!(spec.selector.as_ref().map(selector_string).unwrap_or_default()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        registry::{Strategy, Typed},
        resources::test_support::{create_errors, messages, normalized, row, update_errors},
    };

    fn job() -> Value {
        json!({"metadata": {"name": "pi"}, "spec": {"template": {"spec": {"restartPolicy": "Never",
            "containers": [{"name": "pi", "image": "perl:5.34"}]}}}})
    }

    #[test]
    fn job_defaults_match_kube() {
        let j = normalized::<Job>(job());
        let spec = &j["spec"];
        assert_eq!(spec["parallelism"], 1);
        assert_eq!(spec["completions"], 1);
        assert_eq!(spec["backoffLimit"], 6);
        assert_eq!(spec["completionMode"], "NonIndexed");
        assert_eq!(spec["suspend"], false);
        assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
        assert!(spec.get("manualSelector").is_none());
        assert_eq!(spec["template"]["spec"]["restartPolicy"], "Never");
        // Only parallelism set: completions stay unset.
        let mut parallel = job();
        parallel["spec"]["parallelism"] = json!(3);
        assert!(normalized::<Job>(parallel)["spec"].get("completions").is_none());
    }

    #[test]
    fn job_selector_is_generated_from_the_uid() {
        let mut j = normalized::<Job>(job());
        j["metadata"]["uid"] = json!("1234");
        Typed::<Job>::new().prepare_for_create(&mut j);
        assert_eq!(
            j["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "1234"}})
        );
        assert_eq!(
            j["spec"]["template"]["metadata"]["labels"],
            json!({"batch.kubernetes.io/controller-uid": "1234", "batch.kubernetes.io/job-name": "pi",
                   "controller-uid": "1234", "job-name": "pi"})
        );
        assert!(messages(&Typed::<Job>::new().validate(&j)).is_empty());
        // A manual selector is left alone (and required).
        let mut manual = job();
        manual["spec"]["manualSelector"] = json!(true);
        let mut manual = normalized::<Job>(manual);
        manual["metadata"]["uid"] = json!("1234");
        Typed::<Job>::new().prepare_for_create(&mut manual);
        assert_eq!(
            messages(&Typed::<Job>::new().validate(&manual)),
            vec!["spec.selector: Required value"]
        );
    }

    #[test]
    fn job_validation() {
        let mut always = job();
        always["spec"]["template"]["spec"]
            .as_object_mut()
            .expect("object")
            .remove("restartPolicy");
        always["spec"]["parallelism"] = json!(-1);
        assert_eq!(
            create_errors::<Job>(always),
            vec![
                "spec.parallelism: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"",
            ]
        );
        let mut changed = job();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("perl:5.36");
        assert_eq!(
            update_errors::<Job>(changed, job()),
            vec!["spec.template: Invalid value: field is immutable"]
        );
    }

    #[test]
    fn job_field_selector_and_row() {
        let s = Typed::<Job>::new();
        assert_eq!(
            s.check_field_selector("status.failed").unwrap_err(),
            "field label \"status.failed\" not supported for batchv1.Job"
        );
        let mut j = normalized::<Job>(job());
        assert_eq!(s.field_value(&j, "status.successful").as_deref(), Some("0"));
        j["status"] = json!({"succeeded": 1, "startTime": "2024-01-01T00:00:00Z", "completionTime": "2024-01-01T00:00:42Z",
            "conditions": [{"type": "Complete", "status": "True"}]});
        assert_eq!(s.field_value(&j, "status.successful").as_deref(), Some("1"));
        let cells: Vec<Value> = row::<Job>(&j).into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            cells[..4],
            [json!("pi"), json!("Complete"), json!("1/1"), json!("42s")]
        );
    }
}
