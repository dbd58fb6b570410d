//! What every workload kind shares: defaulting and validation of its pod template (kube's `SetDefaults_PodSpec`,
//! `SetDefaults_Container`, ... from `pkg/apis/core/v1/defaults.go`, and the relevant part of
//! `ValidatePodTemplateSpec`), and the checks of a workload's label selector against its template.
//!
//! Pod-only defaults (`enableServiceLinks`, requests copied from limits, host-network ports) are *not* applied:
//! kube applies them to Pods only, never to the templates in Deployments, Jobs and the like.

use std::collections::{BTreeMap, HashSet};

use fcp_api::validation::{FieldError, go_quote, is_dns1123_label};
use k8s_openapi::{
    api::core::v1::{Container, PodSpec, PodTemplateSpec, Probe, Volume},
    apimachinery::pkg::apis::meta::v1::LabelSelector,
};

/// Message of kube's `InclusiveRangeError(1, 65535)`.
pub(super) const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
/// Message of kube's `ValidateNonnegativeField`.
pub(super) const NON_NEGATIVE: &str = "must be greater than or equal to 0";
/// Default mode of secret, configMap, projected and downwardAPI volumes (0644).
const DEFAULT_VOLUME_MODE: i32 = 0o644;

/// Applies kube's pod-spec defaults to a template: `restartPolicy: Always` (when unset),
/// `terminationGracePeriodSeconds: 30`, `dnsPolicy: ClusterFirst`, `schedulerName: default-scheduler`,
/// `securityContext: {}`, and the container, probe, port, env and volume defaults. A template without a
/// `spec` gets one, as the Go struct (a value, not a pointer) always has it.
pub(super) fn default_pod_template(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(Default::default));
}

/// See [`default_pod_template`].
pub(super) fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    set_if_empty(&mut spec.scheduler_name, "default-scheduler");
    for container in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        default_container(container);
    }
    for container in spec.ephemeral_containers.iter_mut().flatten() {
        set_if_empty(
            &mut container.image_pull_policy,
            image_pull_policy(container.image.as_deref().unwrap_or_default()),
        );
        set_if_empty(&mut container.termination_message_path, "/dev/termination-log");
        set_if_empty(&mut container.termination_message_policy, "File");
    }
    for volume in spec.volumes.iter_mut().flatten() {
        default_volume(volume);
    }
}

/// Sets `field` to `value` when it is unset or empty (Go's zero string).
pub(super) fn set_if_empty(field: &mut Option<String>, value: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value.to_owned());
    }
}

/// kube's `SetDefaults_Container` plus the defaults of what a container holds.
fn default_container(container: &mut Container) {
    set_if_empty(
        &mut container.image_pull_policy,
        image_pull_policy(container.image.as_deref().unwrap_or_default()),
    );
    set_if_empty(&mut container.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut container.termination_message_policy, "File");
    for port in container.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
    }
    for env in container.env.iter_mut().flatten() {
        if let Some(field_ref) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            set_if_empty(&mut field_ref.api_version, "v1");
        }
    }
    for probe in [
        &mut container.liveness_probe,
        &mut container.readiness_probe,
        &mut container.startup_probe,
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = &mut container.lifecycle {
        for handler in [&mut lifecycle.post_start, &mut lifecycle.pre_stop]
            .into_iter()
            .flatten()
        {
            if let Some(http) = &mut handler.http_get {
                set_if_empty(&mut http.path, "/");
                set_if_empty(&mut http.scheme, "HTTP");
            }
        }
    }
}

/// `Always` for an image whose tag is `latest` or that has neither tag nor digest, else `IfNotPresent`
/// (kube parses the reference; an unparsable one, e.g. empty, counts as `IfNotPresent`).
pub(super) fn image_pull_policy(image: &str) -> &'static str {
    let invalid = image.is_empty() || image.chars().any(|c| c.is_whitespace() || c.is_ascii_uppercase());
    if invalid {
        return "IfNotPresent";
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    // A tag is what follows the last ':' after the last '/' (a ':' before it is a registry port).
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    let tag = last_segment.rsplit_once(':').map(|(_, tag)| tag);
    match (tag, digest) {
        (Some("latest"), _) | (None, None) => "Always",
        _ => "IfNotPresent",
    }
}

/// kube's `SetDefaults_Probe` and the defaults of its handler.
fn default_probe(probe: &mut Probe) {
    probe.timeout_seconds.get_or_insert(1);
    probe.period_seconds.get_or_insert(10);
    probe.success_threshold.get_or_insert(1);
    probe.failure_threshold.get_or_insert(3);
    if let Some(http) = &mut probe.http_get {
        set_if_empty(&mut http.path, "/");
        set_if_empty(&mut http.scheme, "HTTP");
    }
    if let Some(grpc) = &mut probe.grpc {
        grpc.service.get_or_insert_with(String::new);
    }
}

/// kube's volume defaults: a volume without a source is an `emptyDir`; secret, configMap, projected and
/// downwardAPI volumes get `defaultMode: 420`; hostPath gets `type: ""`; token projections expire in 3600 s.
fn default_volume(volume: &mut Volume) {
    let has_source = {
        let v = serde_json::to_value(&*volume).unwrap_or_default();
        v.as_object().is_some_and(|m| m.keys().any(|k| k != "name"))
    };
    if !has_source {
        volume.empty_dir = Some(Default::default());
    }
    if let Some(secret) = &mut volume.secret {
        secret.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(config_map) = &mut volume.config_map {
        config_map.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
    }
    if let Some(host_path) = &mut volume.host_path {
        host_path.type_.get_or_insert_with(String::new);
    }
    if let Some(downward) = &mut volume.downward_api {
        downward.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = &mut item.field_ref {
                set_if_empty(&mut field_ref.api_version, "v1");
            }
        }
    }
    if let Some(projected) = &mut volume.projected {
        projected.default_mode.get_or_insert(DEFAULT_VOLUME_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = &mut source.service_account_token {
                token.expiration_seconds.get_or_insert(3600);
            }
            if let Some(downward) = &mut source.downward_api {
                for item in downward.items.iter_mut().flatten() {
                    if let Some(field_ref) = &mut item.field_ref {
                        set_if_empty(&mut field_ref.api_version, "v1");
                    }
                }
            }
        }
    }
}

/// Validates a workload's pod template at `path` (e.g. `spec.template`): containers present, container names
/// DNS-1123 labels and unique (init containers included), images set, ports in range with supported
/// protocols, and `restartPolicy` among `allowed_restart_policies` (kube: `Always` for Deployments,
/// ReplicaSets and DaemonSets; `OnFailure`/`Never` for Jobs).
pub(super) fn validate_pod_template(
    template: &PodTemplateSpec,
    path: &str,
    allowed_restart_policies: &[&str],
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(labels) = &template.metadata.as_ref().and_then(|m| m.labels.clone()) {
        errs.extend(fcp_api::validation::validate_labels(
            labels,
            &format!("{path}.metadata.labels"),
        ));
    }
    let spec_path = format!("{path}.spec");
    let Some(spec) = &template.spec else {
        errs.push(FieldError::required(format!("{spec_path}.containers"), ""));
        return errs;
    };
    let mut names = HashSet::new();
    for (i, container) in spec.init_containers.iter().flatten().enumerate() {
        errs.extend(validate_container(
            container,
            &format!("{spec_path}.initContainers[{i}]"),
            &mut names,
        ));
    }
    if spec.containers.is_empty() {
        errs.push(FieldError::required(format!("{spec_path}.containers"), ""));
    }
    for (i, container) in spec.containers.iter().enumerate() {
        errs.extend(validate_container(
            container,
            &format!("{spec_path}.containers[{i}]"),
            &mut names,
        ));
    }
    let restart_policy = spec.restart_policy.as_deref().unwrap_or_default();
    if !allowed_restart_policies.contains(&restart_policy) {
        errs.push(FieldError::not_supported(
            format!("{spec_path}.restartPolicy"),
            restart_policy,
            allowed_restart_policies,
        ));
    }
    if let Some(dns_policy) = spec.dns_policy.as_deref() {
        let supported = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
        if !supported.contains(&dns_policy) {
            errs.push(FieldError::not_supported(
                format!("{spec_path}.dnsPolicy"),
                dns_policy,
                &supported,
            ));
        }
    }
    if let Some(grace) = spec.termination_grace_period_seconds
        && grace < 0
    {
        errs.push(FieldError::invalid_value(
            format!("{spec_path}.terminationGracePeriodSeconds"),
            grace,
            NON_NEGATIVE,
        ));
    }
    errs
}

/// One container: name (required, DNS-1123 label, unique in `names`), image (required), ports.
fn validate_container(container: &Container, path: &str, names: &mut HashSet<String>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name_path = format!("{path}.name");
    if container.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        for msg in is_dns1123_label(&container.name) {
            errs.push(FieldError::invalid(&name_path, Some(&container.name), msg));
        }
        if !names.insert(container.name.clone()) {
            errs.push(FieldError::duplicate(&name_path, &container.name));
        }
    }
    if container.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    }
    for (i, port) in container.ports.iter().flatten().enumerate() {
        let port_path = format!("{path}.ports[{i}]");
        if !(1..=65535).contains(&port.container_port) {
            errs.push(FieldError::invalid_value(
                format!("{port_path}.containerPort"),
                port.container_port,
                PORT_RANGE,
            ));
        }
        if let Some(host_port) = port.host_port
            && host_port != 0
            && !(1..=65535).contains(&host_port)
        {
            errs.push(FieldError::invalid_value(
                format!("{port_path}.hostPort"),
                host_port,
                PORT_RANGE,
            ));
        }
        errs.extend(validate_protocol(
            port.protocol.as_deref(),
            &format!("{port_path}.protocol"),
        ));
    }
    let policy = container.image_pull_policy.as_deref().unwrap_or_default();
    let policies = ["Always", "IfNotPresent", "Never"];
    if !policies.contains(&policy) {
        errs.push(FieldError::not_supported(
            format!("{path}.imagePullPolicy"),
            policy,
            &policies,
        ));
    }
    errs
}

/// A port protocol: `TCP`, `UDP` or `SCTP` (required once defaulted).
pub(super) fn validate_protocol(protocol: Option<&str>, path: &str) -> Vec<FieldError> {
    let supported = ["SCTP", "TCP", "UDP"];
    match protocol.unwrap_or_default() {
        "" => vec![FieldError::required(path, "")],
        p if supported.contains(&p) => Vec::new(),
        p => vec![FieldError::not_supported(path, p, &supported)],
    }
}

/// Whether a label selector matches `labels` (kube's `LabelSelectorAsSelector(...).Matches`). An empty
/// selector matches everything; an invalid operator matches nothing.
pub(super) fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_match = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}

/// Whether a selector has no requirement at all.
pub(super) fn selector_is_empty(selector: &LabelSelector) -> bool {
    selector.match_labels.as_ref().is_none_or(BTreeMap::is_empty)
        && selector.match_expressions.as_ref().is_none_or(Vec::is_empty)
}

/// kube's `ValidateLabelSelector` (strict): label keys and values, operators, values present for
/// `In`/`NotIn` and absent for `Exists`/`DoesNotExist`.
pub(super) fn validate_label_selector(selector: &LabelSelector, path: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, expression) in selector.match_expressions.iter().flatten().enumerate() {
        let expression_path = format!("{path}.matchExpressions[{i}]");
        let has_values = expression.values.as_ref().is_some_and(|v| !v.is_empty());
        match expression.operator.as_str() {
            "In" | "NotIn" if !has_values => errs.push(FieldError::required(
                format!("{expression_path}.values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if has_values => errs.push(FieldError::forbidden(
                format!("{expression_path}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                format!("{expression_path}.operator"),
                Some(other),
                "not a valid selector operator",
            )),
        }
        for msg in fcp_api::validation::is_qualified_name(&expression.key) {
            errs.push(FieldError::invalid(
                format!("{expression_path}.key"),
                Some(&expression.key),
                msg,
            ));
        }
    }
    if let Some(match_labels) = &selector.match_labels {
        errs.extend(fcp_api::validation::validate_labels(
            match_labels,
            &format!("{path}.matchLabels"),
        ));
    }
    errs
}

/// The checks of `spec.selector` against `spec.template` that Deployments, ReplicaSets and DaemonSets share:
/// a valid selector that matches the template labels.
///
/// k8s-openapi decodes a missing selector as the empty one, so the empty selector is reported as kube reports
/// a missing one (`spec.selector: Required value`, plus the template-labels mismatch, since kube's nil
/// selector selects nothing) rather than kube's `empty selector is invalid` for an explicit `{}`.
pub(super) fn validate_workload_selector(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
) -> Vec<FieldError> {
    let mut errs = validate_label_selector(selector, "spec.selector");
    if selector_is_empty(selector) {
        errs.push(FieldError::required("spec.selector", ""));
        errs.push(selector_mismatch(template));
    } else {
        errs.extend(validate_selector_matches_template(selector, template));
    }
    errs
}

/// `spec.template.metadata.labels: Invalid value: map[string]string{...}: `selector` does not match template
/// `labels`` when a non-empty selector does not select the template's labels.
pub(super) fn validate_selector_matches_template(
    selector: &LabelSelector,
    template: &PodTemplateSpec,
) -> Vec<FieldError> {
    let labels = template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    if selector_is_empty(selector) || selector_matches(selector, &labels) {
        return Vec::new();
    }
    vec![selector_mismatch(template)]
}

/// ``spec.template.metadata.labels: Invalid value: map[string]string{...}: `selector` does not match template
/// `labels` ``.
fn selector_mismatch(template: &PodTemplateSpec) -> FieldError {
    let labels_value = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    FieldError {
        path: "spec.template.metadata.labels".to_owned(),
        kind: fcp_api::validation::FieldErrorKind::Invalid,
        value: Some(go_string_map(labels_value)),
        detail: "`selector` does not match template `labels`".to_owned(),
    }
}

/// `spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable` when the selector changed.
pub(super) fn validate_selector_unchanged(new: &LabelSelector, old: &LabelSelector) -> Vec<FieldError> {
    if normalized_selector(new) == normalized_selector(old) {
        return Vec::new();
    }
    vec![FieldError {
        path: "spec.selector".to_owned(),
        kind: fcp_api::validation::FieldErrorKind::Invalid,
        value: Some(go_label_selector(new)),
        detail: "field is immutable".to_owned(),
    }]
}

/// A selector with empty collections treated as absent (kube compares them semantically).
fn normalized_selector(selector: &LabelSelector) -> LabelSelector {
    LabelSelector {
        match_labels: selector.match_labels.clone().filter(|m| !m.is_empty()),
        match_expressions: selector.match_expressions.clone().filter(|e| !e.is_empty()),
    }
}

/// Go's `%#v` of a `map[string]string`, as kube prints a bad labels value:
/// `map[string]string{"a":"b", "c":"d"}`, or `map[string]string(nil)`.
pub(super) fn go_string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_owned(),
        Some(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// Go's `%#v` of a `metav1.LabelSelector`, as kube prints a bad selector value.
pub(super) fn go_label_selector(selector: &LabelSelector) -> String {
    let expressions = match &selector.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_owned(),
        Some(expressions) => {
            let items: Vec<String> = expressions
                .iter()
                .map(|e| {
                    let values = match &e.values {
                        None => "[]string(nil)".to_owned(),
                        Some(values) => {
                            let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
                            format!("[]string{{{}}}", quoted.join(", "))
                        }
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        go_quote(&e.key),
                        go_quote(&e.operator)
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        go_string_map(selector.match_labels.as_ref())
    )
}

/// A selector in kube's `labels.Selector.String()` form: requirements sorted by key, `k=v`, `k in (a,b)`,
/// `k notin (a,b)`, `k`, `!k`, joined by `,`; empty for the empty selector.
pub(super) fn selector_string(selector: &LabelSelector) -> String {
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (k, v) in selector.match_labels.iter().flatten() {
        requirements.push((k.clone(), format!("{k}={v}")));
    }
    for e in selector.match_expressions.iter().flatten() {
        let mut values = e.values.clone().unwrap_or_default();
        values.sort();
        values.dedup();
        let text = match e.operator.as_str() {
            "In" => format!("{} in ({})", e.key, values.join(",")),
            "NotIn" => format!("{} notin ({})", e.key, values.join(",")),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            _ => return "<invalid>".to_owned(),
        };
        requirements.push((e.key.clone(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

/// The names and images of a template's containers, each joined by `,` (kubectl's `layoutContainerCells`).
pub(super) fn container_cells(template: Option<&PodTemplateSpec>) -> (String, String) {
    let containers = template
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.as_slice())
        .unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c.image.as_deref().unwrap_or_default())
        .collect();
    (names.join(","), images.join(","))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{ContainerPort, EnvVar, EnvVarSource, ObjectFieldSelector};
    use serde_json::json;

    use super::*;

    fn template(value: serde_json::Value) -> PodTemplateSpec {
        serde_json::from_value(value).expect("valid template")
    }

    #[test]
    fn pod_spec_defaults_match_kube() {
        let mut t = template(
            json!({"spec": {"containers": [{"name": "web", "image": "nginx:1.25",
            "ports": [{"containerPort": 80}],
            "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "livenessProbe": {"httpGet": {"port": 80}},
            "readinessProbe": {"grpc": {"port": 9000}}}],
            "volumes": [{"name": "a"}, {"name": "b", "secret": {"secretName": "s"}},
                        {"name": "c", "configMap": {"name": "cm"}}]}}),
        );
        default_pod_template(&mut t);
        let v = serde_json::to_value(&t).expect("serializes");
        let spec = &v["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert!(spec.get("enableServiceLinks").is_none(), "pod-only default");
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["env"][0]["valueFrom"]["fieldRef"]["apiVersion"], "v1");
        assert_eq!(
            c["livenessProbe"],
            json!({"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(c["readinessProbe"]["grpc"], json!({"port": 9000, "service": ""}));
        assert_eq!(spec["volumes"][0], json!({"name": "a", "emptyDir": {}}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][2]["configMap"]["defaultMode"], 420);
    }

    #[test]
    fn defaults_keep_what_is_set() {
        let mut spec = PodSpec {
            restart_policy: Some("Never".into()),
            termination_grace_period_seconds: Some(5),
            containers: vec![Container {
                name: "c".into(),
                image: Some("busybox".into()),
                image_pull_policy: Some("Never".into()),
                ports: Some(vec![ContainerPort {
                    container_port: 53,
                    protocol: Some("UDP".into()),
                    ..Default::default()
                }]),
                env: Some(vec![EnvVar {
                    name: "X".into(),
                    value_from: Some(EnvVarSource {
                        field_ref: Some(ObjectFieldSelector {
                            api_version: Some("v2".into()),
                            field_path: "x".into(),
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ..Default::default()
            }],
            ..Default::default()
        };
        default_pod_spec(&mut spec);
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.termination_grace_period_seconds, Some(5));
        let c = &spec.containers[0];
        assert_eq!(c.image_pull_policy.as_deref(), Some("Never"));
        assert_eq!(c.ports.as_ref().unwrap()[0].protocol.as_deref(), Some("UDP"));
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("registry:5000/nginx"), "Always");
        assert_eq!(image_pull_policy("registry:5000/nginx:1.2"), "IfNotPresent");
        assert_eq!(image_pull_policy("nginx@sha256:abcd"), "IfNotPresent");
        assert_eq!(image_pull_policy("nginx:latest@sha256:abcd"), "Always");
        assert_eq!(image_pull_policy(""), "IfNotPresent");
        assert_eq!(image_pull_policy("Nginx"), "IfNotPresent");
    }

    #[test]
    fn template_validation_reports_kube_paths() {
        let t = template(json!({"spec": {"restartPolicy": "Always", "containers": [
            {"name": "Web", "image": "", "imagePullPolicy": "Always", "ports": [{"containerPort": 0, "protocol": "TCP"}]},
            {"name": "db", "image": "x", "imagePullPolicy": "Always"},
            {"name": "db", "image": "x", "imagePullPolicy": "Always"}]}}));
        let messages: Vec<String> = validate_pod_template(&t, "spec.template", &["Always"])
            .iter()
            .map(FieldError::message)
            .collect();
        assert!(messages.iter().any(|m| m.starts_with(
            "spec.template.spec.containers[0].name: Invalid value: \"Web\": a lowercase RFC 1123 label"
        )));
        assert!(messages.contains(&"spec.template.spec.containers[0].image: Required value".to_owned()));
        assert!(messages.contains(
            &"spec.template.spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive"
                .to_owned()
        ));
        assert!(
            messages.contains(&"spec.template.spec.containers[2].name: Duplicate value: \"db\"".to_owned())
        );
    }

    #[test]
    fn template_without_containers_and_wrong_restart_policy() {
        let t = template(json!({"spec": {"restartPolicy": "Always", "containers": []}}));
        let messages: Vec<String> = validate_pod_template(&t, "spec.template", &["OnFailure", "Never"])
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(
            messages,
            vec![
                "spec.template.spec.containers: Required value".to_owned(),
                "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
                    .to_owned()
            ]
        );
    }

    #[test]
    fn selectors_match_and_print_like_kube() {
        let selector: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                                 {"key": "canary", "operator": "DoesNotExist"}]}))
        .expect("selector");
        let labels: BTreeMap<String, String> = [
            ("app".to_owned(), "web".to_owned()),
            ("tier".to_owned(), "a".to_owned()),
        ]
        .into();
        assert!(selector_matches(&selector, &labels));
        let mut canary = labels;
        canary.insert("canary".into(), "1".into());
        assert!(!selector_matches(&selector, &canary));
        assert_eq!(selector_string(&selector), "app=web,!canary,tier in (a,b)");
        assert_eq!(selector_string(&LabelSelector::default()), "");
    }

    #[test]
    fn selector_mismatch_message_is_kubes() {
        let selector: LabelSelector =
            serde_json::from_value(json!({"matchLabels": {"app": "a"}})).expect("selector");
        let t = template(json!({"metadata": {"labels": {"app": "b"}}, "spec": {"containers": []}}));
        let errs = validate_workload_selector(&selector, &t);
        assert_eq!(
            errs[0].message(),
            "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`"
        );
        let missing: Vec<String> = validate_workload_selector(&LabelSelector::default(), &t)
            .iter()
            .map(FieldError::message)
            .collect();
        assert_eq!(
            missing,
            vec![
                "spec.selector: Required value".to_owned(),
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`".to_owned()
            ]
        );
        let changed = validate_selector_unchanged(&selector, &LabelSelector::default());
        assert!(changed[0].message().ends_with(": field is immutable"));
        assert!(validate_selector_unchanged(&selector, &selector.clone()).is_empty());
    }
}
