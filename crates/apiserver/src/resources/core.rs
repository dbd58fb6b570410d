//! Core (`v1`) kinds: namespaces, configmaps, secrets, events, services.

use std::collections::{BTreeMap, BTreeSet};

use fcp_api::validation::{
    FieldError, FieldErrorKind, NameRule, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain,
    is_qualified_name,
};
use jiff::Timestamp;
use k8s_openapi::{
    ByteString,
    api::core::v1::{ConfigMap, Event, Namespace, Secret, Service, ServicePort},
    apimachinery::pkg::util::intstr::IntOrString,
};
use serde_json::{Value, json};

use super::{
    NONE, Names, STATUS, check_field_label, def,
    pod_template::{PORT_RANGE, set_if_empty, validate_protocol},
    printers::{age_cell, age_column, column, format_labels, load_balancer_addresses, name_column, since},
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
        def::<ConfigMap>(
            core(
                "ConfigMap",
                "configmaps",
                "configmap",
                Scope::Namespaced,
                &["cm"],
                &[],
            ),
            "configmaps",
            NONE,
            false,
        ),
        def::<Event>(
            core("Event", "events", "event", Scope::Namespaced, &["ev"], &[]),
            "events",
            NONE,
            false,
        ),
        def::<Namespace>(
            core(
                "Namespace",
                "namespaces",
                "namespace",
                Scope::Cluster,
                &["ns"],
                &[],
            ),
            "namespaces",
            STATUS,
            false,
        ),
        def::<Secret>(
            core("Secret", "secrets", "secret", Scope::Namespaced, &[], &[]),
            "secrets",
            NONE,
            false,
        ),
        def::<Service>(
            core(
                "Service",
                "services",
                "service",
                Scope::Namespaced,
                &["svc"],
                &["all"],
            ),
            "services/specs",
            STATUS,
            false,
        ),
    ]
}

/// Largest total size of a Secret's or ConfigMap's data (kube's `MaxSecretSize`, 1 MiB).
const MAX_DATA_SIZE: usize = 1024 * 1024;
/// The namespace finalizer the namespace controller owns.
const KUBERNETES_FINALIZER: &str = "kubernetes";
/// The label kube puts on every namespace, holding its name.
const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// kube's `IsConfigMapKey`: the messages for an invalid Secret/ConfigMap data key.
fn config_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    let valid_chars = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid_chars {
        errs.push(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or \
             'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
                .to_owned(),
        );
    }
    if key == "." {
        errs.push("must not be '.'".to_owned());
    } else if key == ".." {
        errs.push("must not be '..'".to_owned());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_owned());
    }
    errs
}

/// Invalid-key errors at `<field>[<key>]` for every key of a data map.
fn validate_config_keys<'a>(keys: impl Iterator<Item = &'a String>, field: &str) -> Vec<FieldError> {
    keys.flat_map(|key| {
        config_key_errors(key)
            .into_iter()
            .map(move |msg| FieldError::invalid(format!("{field}[{key}]"), Some(key), msg))
    })
    .collect()
}

/// The errors kube gives when an update touches an object whose `immutable` was true: the flag cannot be
/// unset and the data cannot change.
fn validate_immutable_data(
    old_immutable: Option<bool>,
    new_immutable: Option<bool>,
    data_changes: &[(&str, bool)],
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if old_immutable != Some(true) {
        return errs;
    }
    if new_immutable != Some(true) {
        errs.push(FieldError::forbidden(
            "immutable",
            "field is immutable when `immutable` is set",
        ));
    }
    for (field, changed) in data_changes {
        if *changed {
            errs.push(FieldError::forbidden(
                *field,
                "field is immutable when `immutable` is set",
            ));
        }
    }
    errs
}

impl KindRules for ConfigMap {
    /// kube's `ValidateConfigMap`: keys are config keys, a key is not in both `data` and `binaryData`, and
    /// the total size is at most 1 MiB.
    fn validate(&self) -> Vec<FieldError> {
        let data = self.data.clone().unwrap_or_default();
        let binary = self.binary_data.clone().unwrap_or_default();
        let mut errs = validate_config_keys(data.keys(), "data");
        errs.extend(validate_config_keys(binary.keys(), "binaryData"));
        for key in binary.keys().filter(|k| data.contains_key(*k)) {
            errs.push(FieldError::invalid(
                format!("binaryData[{key}]"),
                Some(key),
                "duplicate of key present in data",
            ));
        }
        let size: usize =
            data.values().map(String::len).sum::<usize>() + binary.values().map(|v| v.0.len()).sum::<usize>();
        if size > MAX_DATA_SIZE {
            errs.push(FieldError::too_long("", MAX_DATA_SIZE));
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        errs.extend(validate_immutable_data(
            old.immutable,
            self.immutable,
            &[
                ("data", self.data != old.data),
                ("binaryData", self.binary_data != old.binary_data),
            ],
        ));
        errs
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column("Data", "string", 0, "Data contains the configuration data."),
            age_column(),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let count =
            self.data.as_ref().map_or(0, BTreeMap::len) + self.binary_data.as_ref().map_or(0, BTreeMap::len);
        vec![
            object["metadata"]["name"].clone(),
            json!(count),
            age_cell(object, now),
        ]
    }
}

/// The core/v1 Event field selectors, in kube's order.
const EVENT_FIELDS: &[&str] = &[
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

impl KindRules for Event {
    // Event names carry a dotted suffix (`<object>.<hex>`) and are validated as path segments by kube.
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn check_field_selector(field: &str) -> Result<(), String> {
        check_field_label(field, EVENT_FIELDS)
    }

    /// kube's `event.ToSelectableFields`: `source` is `source.component`, else `reportingComponent`.
    fn field_value(object: &Value, field: &str) -> Option<String> {
        if let Some(part) = field.strip_prefix("involvedObject.") {
            return EVENT_FIELDS
                .contains(&field)
                .then(|| string_at(object, &format!("/involvedObject/{part}")));
        }
        match field {
            "reason" | "type" | "reportingComponent" => Some(string_at(object, &format!("/{field}"))),
            "source" => Some(event_source(
                &string_at(object, "/source/component"),
                &string_at(object, "/reportingComponent"),
            )),
            _ => crate::registry::default_field_value(object, field),
        }
    }

    fn table_columns() -> Vec<Value> {
        event_table_columns()
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let series = object.get("series");
        event_table_row(
            &EventCells {
                first_timestamp: string_at(object, "/firstTimestamp"),
                event_time: string_at(object, "/eventTime"),
                last_timestamp: string_at(object, "/lastTimestamp"),
                series_last_observed: series.map(|s| string_at(s, "/lastObservedTime")),
                series_count: series.and_then(|s| s["count"].as_i64()),
                count: object["count"].as_i64().unwrap_or_default(),
                type_: string_at(object, "/type"),
                reason: string_at(object, "/reason"),
                kind: string_at(object, "/involvedObject/kind"),
                name: string_at(object, "/involvedObject/name"),
                field_path: string_at(object, "/involvedObject/fieldPath"),
                source_component: string_at(object, "/source/component"),
                source_host: string_at(object, "/source/host"),
                reporting_controller: string_at(object, "/reportingComponent"),
                reporting_instance: string_at(object, "/reportingInstance"),
                message: string_at(object, "/message"),
            },
            object,
            now,
        )
    }
}

/// `source` of an event's field set: the source component, else the reporting controller.
pub(super) fn event_source(component: &str, reporting_controller: &str) -> String {
    if component.is_empty() {
        reporting_controller.to_owned()
    } else {
        component.to_owned()
    }
}

/// What an event's Table row shows, read from either event API (core/v1 or events.k8s.io/v1).
pub(super) struct EventCells {
    pub first_timestamp: String,
    pub event_time: String,
    pub last_timestamp: String,
    pub series_last_observed: Option<String>,
    pub series_count: Option<i64>,
    pub count: i64,
    pub type_: String,
    pub reason: String,
    pub kind: String,
    pub name: String,
    pub field_path: String,
    pub source_component: String,
    pub source_host: String,
    pub reporting_controller: String,
    pub reporting_instance: String,
    pub message: String,
}

/// kube's event columns: Last Seen, Type, Reason, Object, Message, and with `-o wide` Subobject, Source,
/// First Seen, Count, Name.
pub(super) fn event_table_columns() -> Vec<Value> {
    let mut name = name_column();
    name["priority"] = json!(1);
    vec![
        column(
            "Last Seen",
            "string",
            0,
            "The time at which the most recent occurrence of this event was recorded.",
        ),
        column(
            "Type",
            "string",
            0,
            "Type of this event (Normal, Warning), new types could be added in the future",
        ),
        column(
            "Reason",
            "string",
            0,
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
        ),
        column("Object", "string", 0, "The object that this event is about."),
        column(
            "Subobject",
            "string",
            1,
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement.",
        ),
        column(
            "Source",
            "string",
            1,
            "The component reporting this event. Should be a short machine understandable string.",
        ),
        column(
            "Message",
            "string",
            0,
            "A human-readable description of the status of this operation.",
        ),
        column(
            "First Seen",
            "string",
            1,
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
        ),
        column(
            "Count",
            "string",
            1,
            "The number of times this event has occurred.",
        ),
        name,
    ]
}

/// kube's `printEvent` (wide): the cells of [`event_table_columns`].
pub(super) fn event_table_row(cells: &EventCells, object: &Value, now: Timestamp) -> Vec<Value> {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let first_seen = match non_empty(&cells.first_timestamp) {
        Some(first) => since(Some(&first), now),
        None => since(non_empty(&cells.event_time).as_deref(), now),
    };
    let mut last_seen = match non_empty(&cells.last_timestamp) {
        Some(last) => since(Some(&last), now),
        None => first_seen.clone(),
    };
    let mut count = cells.count;
    if let Some(observed) = &cells.series_last_observed {
        last_seen = since(non_empty(observed).as_deref(), now);
        count = cells.series_count.unwrap_or_default();
    } else if count == 0 {
        count = 1;
    }
    let kind = cells.kind.to_lowercase();
    let target = if cells.name.is_empty() {
        kind
    } else {
        format!("{kind}/{}", cells.name)
    };
    let component = event_source(&cells.source_component, &cells.reporting_controller);
    let instance = event_source(&cells.source_host, &cells.reporting_instance);
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last_seen),
        json!(cells.type_),
        json!(cells.reason),
        json!(target),
        json!(cells.field_path),
        json!(source),
        json!(cells.message.trim()),
        json!(first_seen),
        json!(count),
        object["metadata"]["name"].clone(),
    ]
}

impl KindRules for Namespace {
    const NAME_RULE: NameRule = NameRule::Dns1123Label;

    /// The `kubernetes` finalizer (and any other in `spec.finalizers`) holds a deleted namespace until its
    /// contents are gone.
    fn holds_deletion(&self) -> bool {
        self.spec
            .as_ref()
            .and_then(|s| s.finalizers.as_ref())
            .is_some_and(|f| !f.is_empty())
    }

    /// kube's `SetDefaults_Namespace` and `SetDefaults_NamespaceStatus`: phase `Active` and, once the name is
    /// known, the `kubernetes.io/metadata.name` label (always overwritten: it cannot be changed). The
    /// `kubernetes` finalizer is kube's `PrepareForCreate` business ([`KindRules::prepare_for_create`]); it
    /// is also set here when `spec.finalizers` is absent, which gives the same result for every create and
    /// keeps namespaces correct where the store does not call `prepare_for_create`.
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.finalizers.is_none() {
            spec.finalizers = Some(vec![KUBERNETES_FINALIZER.to_owned()]);
        }
        let status = self.status.get_or_insert_with(Default::default);
        set_if_empty(&mut status.phase, "Active");
        set_namespace_name_label(self);
    }

    /// kube's `PrepareForCreate` + `Canonicalize`: status `{phase: Active}`, the `kubernetes` finalizer
    /// appended when missing, and the name label (the name may have been generated after defaulting).
    fn prepare_for_create(&mut self) {
        let finalizers = self
            .spec
            .get_or_insert_with(Default::default)
            .finalizers
            .get_or_insert_with(Vec::new);
        if !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            finalizers.push(KUBERNETES_FINALIZER.to_owned());
        }
        self.status = Some(k8s_openapi::api::core::v1::NamespaceStatus {
            phase: Some("Active".to_owned()),
            ..Default::default()
        });
        set_namespace_name_label(self);
    }

    /// kube's `PrepareForUpdate`: `spec.finalizers` and status only change through `/finalize` and `/status`.
    fn prepare_for_update(&mut self, old: &Self) {
        let old_finalizers = old.spec.as_ref().and_then(|s| s.finalizers.clone());
        self.spec.get_or_insert_with(Default::default).finalizers = old_finalizers;
        self.status = old.status.clone();
    }

    /// kube's `ValidateNamespace`: each finalizer is a qualified name, and an unqualified one is standard.
    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for finalizer in self.spec.iter().flat_map(|s| s.finalizers.iter().flatten()) {
            for msg in is_qualified_name(finalizer) {
                errs.push(FieldError::invalid("spec.finalizers", Some(finalizer), msg));
            }
            if !finalizer.contains('/')
                && !["kubernetes", "orphan", "foregroundDeletion"].contains(&finalizer.as_str())
            {
                errs.push(FieldError::invalid(
                    "spec.finalizers",
                    Some(finalizer),
                    "name is neither a standard finalizer name nor is it fully qualified",
                ));
            }
        }
        errs
    }

    fn begin_termination(&mut self) {
        self.status.get_or_insert_with(Default::default).phase = Some("Terminating".to_owned());
    }

    fn check_field_selector(field: &str) -> Result<(), String> {
        check_field_label(field, &["status.phase", "metadata.name"])
    }

    fn field_value(object: &Value, field: &str) -> Option<String> {
        match field {
            "status.phase" => Some(string_at(object, "/status/phase")),
            "metadata.name" => Some(string_at(object, "/metadata/name")),
            _ => None,
        }
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column("Status", "string", 0, "The status of the namespace"),
            age_column(),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            object["metadata"]["name"].clone(),
            json!(string_at(object, "/status/phase")),
            age_cell(object, now),
        ]
    }
}

/// Sets a namespace's `kubernetes.io/metadata.name` label to its name, when it has one.
fn set_namespace_name_label(namespace: &mut Namespace) {
    {
        if let Some(name) = namespace.metadata.name.clone().filter(|n| !n.is_empty()) {
            namespace
                .metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(METADATA_NAME_LABEL.to_owned(), name);
        }
    }
}

impl KindRules for Secret {
    /// kube's `SetDefaults_Secret` (`type: Opaque`) and the v1 conversion, which merges `stringData` into
    /// `data` (overwriting) so that `stringData` is never stored.
    fn apply_defaults(&mut self) {
        set_if_empty(&mut self.type_, "Opaque");
        if let Some(string_data) = self.string_data.take().filter(|d| !d.is_empty()) {
            let data = self.data.get_or_insert_with(Default::default);
            for (key, value) in string_data {
                data.insert(key, ByteString(value.into_bytes()));
            }
        }
    }

    /// kube's `ValidateSecret`: keys, total size, and the keys each well-known type requires.
    fn validate(&self) -> Vec<FieldError> {
        let empty = BTreeMap::new();
        let data = self.data.as_ref().unwrap_or(&empty);
        let mut errs = validate_config_keys(data.keys(), "data");
        let size: usize = data.values().map(|v| v.0.len()).sum();
        if size > MAX_DATA_SIZE {
            errs.push(FieldError::too_long("data", MAX_DATA_SIZE));
        }
        let require = |key: &str| FieldError::required(format!("data[{key}]"), "");
        match self.type_.as_deref().unwrap_or_default() {
            "kubernetes.io/service-account-token" => {
                let annotated = self
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get("kubernetes.io/service-account.name"))
                    .is_some_and(|n| !n.is_empty());
                if !annotated {
                    errs.push(FieldError::required(
                        "metadata.annotations[kubernetes.io/service-account.name]",
                        "",
                    ));
                }
            }
            "kubernetes.io/dockercfg" => errs.extend(validate_docker_config(data, ".dockercfg")),
            "kubernetes.io/dockerconfigjson" => {
                errs.extend(validate_docker_config(data, ".dockerconfigjson"))
            }
            "kubernetes.io/basic-auth"
                if !data.contains_key("username") && !data.contains_key("password") =>
            {
                errs.push(require("username"));
                errs.push(require("password"));
            }
            "kubernetes.io/ssh-auth" if data.get("ssh-privatekey").is_none_or(|v| v.0.is_empty()) => {
                errs.push(require("ssh-privatekey"));
            }
            "kubernetes.io/tls" => {
                for key in ["tls.crt", "tls.key"] {
                    if !data.contains_key(key) {
                        errs.push(require(key));
                    }
                }
            }
            _ => {}
        }
        errs
    }

    /// Also: `type` is immutable, and so is the data of an `immutable` secret.
    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        if self.type_ != old.type_ {
            errs.push(FieldError::invalid(
                "type",
                Some(self.type_.as_deref().unwrap_or_default()),
                "field is immutable",
            ));
        }
        errs.extend(validate_immutable_data(
            old.immutable,
            self.immutable,
            &[("data", self.data != old.data)],
        ));
        errs
    }

    fn check_field_selector(field: &str) -> Result<(), String> {
        check_field_label(field, &["type", "metadata.namespace", "metadata.name"])
    }

    fn field_value(object: &Value, field: &str) -> Option<String> {
        match field {
            "type" => Some(string_at(object, "/type")),
            _ => crate::registry::default_field_value(object, field),
        }
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column(
                "Type",
                "string",
                0,
                "Used to facilitate programmatic handling of secret data.",
            ),
            column("Data", "string", 0, "Data contains the secret data."),
            age_column(),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            object["metadata"]["name"].clone(),
            json!(self.type_.as_deref().unwrap_or_default()),
            json!(self.data.as_ref().map_or(0, BTreeMap::len)),
            age_cell(object, now),
        ]
    }
}

/// A docker-config secret needs `key`, holding a JSON object.
fn validate_docker_config(data: &BTreeMap<String, ByteString>, key: &str) -> Vec<FieldError> {
    match data.get(key) {
        None => vec![FieldError::required(format!("data[{key}]"), "")],
        Some(value) => match serde_json::from_slice::<serde_json::Map<String, Value>>(&value.0) {
            Ok(_) => Vec::new(),
            Err(e) => vec![FieldError::invalid(
                format!("data[{key}]"),
                Some("<secret contents redacted>"),
                e.to_string(),
            )],
        },
    }
}

/// The service types kube supports.
const SERVICE_TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];

impl KindRules for Service {
    const NAME_RULE: NameRule = NameRule::Dns1035Label;

    /// kube's `SetDefaults_Service`: `type: ClusterIP`, `sessionAffinity: None` (ClientIP gets a 10800 s
    /// timeout), each port `protocol: TCP` and `targetPort` = `port`, `externalTrafficPolicy: Cluster` for
    /// externally reachable services, `internalTrafficPolicy: Cluster` for ClusterIP/NodePort/LoadBalancer,
    /// `allocateLoadBalancerNodePorts: true` for LoadBalancer.
    ///
    /// Not set, by design: `clusterIP`/`clusterIPs`, `ipFamilies`, `ipFamilyPolicy` and node ports. kube's
    /// service REST storage allocates them from the cluster's service CIDR; a federation apiserver has no
    /// service network (federation v1 left them empty too), and a fixed `ipFamilies: [IPv4]` would be
    /// copied into member clusters that may be IPv6-only. kubectl prints an empty cluster IP as `<none>`;
    /// kube-rs and the Python client treat these fields as optional.
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        set_if_empty(&mut spec.session_affinity, "None");
        match spec.session_affinity.as_deref() {
            Some("None") => spec.session_affinity_config = None,
            Some("ClientIP") => {
                let has_timeout = spec
                    .session_affinity_config
                    .as_ref()
                    .and_then(|c| c.client_ip.as_ref())
                    .and_then(|c| c.timeout_seconds)
                    .is_some();
                if !has_timeout {
                    spec.session_affinity_config = Some(k8s_openapi::api::core::v1::SessionAffinityConfig {
                        client_ip: Some(k8s_openapi::api::core::v1::ClientIPConfig {
                            timeout_seconds: Some(10800),
                        }),
                    });
                }
            }
            _ => {}
        }
        set_if_empty(&mut spec.type_, "ClusterIP");
        for port in spec.ports.iter_mut().flatten() {
            set_if_empty(&mut port.protocol, "TCP");
            let unset = match &port.target_port {
                None => true,
                Some(IntOrString::Int(0)) => true,
                Some(IntOrString::String(s)) => s.is_empty(),
                Some(IntOrString::Int(_)) => false,
            };
            if unset {
                port.target_port = Some(IntOrString::Int(port.port));
            }
        }
        let service_type = spec.type_.clone().unwrap_or_default();
        let externally_accessible = service_type == "LoadBalancer"
            || service_type == "NodePort"
            || (service_type == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|ips| !ips.is_empty()));
        if externally_accessible {
            set_if_empty(&mut spec.external_traffic_policy, "Cluster");
        }
        if spec.internal_traffic_policy.is_none()
            && ["NodePort", "LoadBalancer", "ClusterIP"].contains(&service_type.as_str())
        {
            spec.internal_traffic_policy = Some("Cluster".to_owned());
        }
        if service_type == "LoadBalancer" {
            spec.allocate_load_balancer_node_ports.get_or_insert(true);
        }
    }

    /// The core of kube's `ValidateService`: a supported type, ports (required unless headless or
    /// ExternalName; named when there are several, unique names, ports in range, protocols), an external
    /// name for ExternalName services, no node ports on ClusterIP services, a supported session affinity.
    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let Some(spec) = &self.spec else {
            return vec![FieldError::required("spec.ports", "")];
        };
        let service_type = spec.type_.as_deref().unwrap_or_default();
        if !SERVICE_TYPES.contains(&service_type) {
            errs.push(FieldError::not_supported(
                "spec.type",
                service_type,
                &SERVICE_TYPES,
            ));
        }
        let headless = spec.cluster_ip.as_deref() == Some("None");
        let ports = spec.ports.as_deref().unwrap_or_default();
        if ports.is_empty() && !headless && service_type != "ExternalName" {
            errs.push(FieldError::required("spec.ports", ""));
        }
        let mut names = BTreeSet::new();
        for (i, port) in ports.iter().enumerate() {
            errs.extend(validate_service_port(
                port,
                &format!("spec.ports[{i}]"),
                ports.len() > 1,
                &mut names,
            ));
            if service_type == "ClusterIP" && port.node_port.is_some_and(|p| p != 0) {
                errs.push(FieldError::forbidden(
                    format!("spec.ports[{i}].nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            }
        }
        if service_type == "ExternalName" {
            let external_name = spec.external_name.as_deref().unwrap_or_default();
            if external_name.is_empty() {
                errs.push(FieldError::required("spec.externalName", ""));
            } else {
                for msg in is_dns1123_subdomain(external_name.trim_end_matches('.')) {
                    errs.push(FieldError::invalid("spec.externalName", Some(external_name), msg));
                }
            }
        }
        let affinity = spec.session_affinity.as_deref().unwrap_or_default();
        if !["ClientIP", "None"].contains(&affinity) {
            errs.push(FieldError::not_supported(
                "spec.sessionAffinity",
                affinity,
                &["ClientIP", "None"],
            ));
        }
        errs
    }

    fn check_field_selector(field: &str) -> Result<(), String> {
        check_field_label(
            field,
            &[
                "metadata.namespace",
                "metadata.name",
                "spec.clusterIP",
                "spec.type",
            ],
        )
    }

    fn field_value(object: &Value, field: &str) -> Option<String> {
        match field {
            "spec.clusterIP" => Some(string_at(object, "/spec/clusterIP")),
            "spec.type" => Some(string_at(object, "/spec/type")),
            _ => crate::registry::default_field_value(object, field),
        }
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column("Type", "string", 0, "type determines how the Service is exposed."),
            column(
                "Cluster-IP",
                "string",
                0,
                "clusterIP is the IP address of the service.",
            ),
            column(
                "External-IP",
                "string",
                0,
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
            ),
            column(
                "Port(s)",
                "string",
                0,
                "The list of ports that are exposed by this service.",
            ),
            age_column(),
            column(
                "Selector",
                "string",
                1,
                "Route service traffic to pods with label keys and values matching this selector.",
            ),
        ]
    }

    /// kube's `printService` (wide).
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let spec = self.spec.clone().unwrap_or_default();
        let service_type = spec.type_.clone().unwrap_or_default();
        let cluster_ip = spec
            .cluster_ips
            .as_ref()
            .and_then(|ips| ips.first().cloned())
            .unwrap_or_else(|| "<none>".to_owned());
        let external_ips = spec.external_ips.clone().unwrap_or_default();
        let external_ip = match service_type.as_str() {
            "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
            "ClusterIP" | "NodePort" => "<none>".to_owned(),
            "LoadBalancer" => {
                let ingress = object
                    .pointer("/status/loadBalancer/ingress")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut addresses: Vec<String> = load_balancer_addresses(&ingress)
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                addresses.extend(external_ips);
                if addresses.is_empty() {
                    "<pending>".to_owned()
                } else {
                    addresses.join(",")
                }
            }
            "ExternalName" => spec.external_name.clone().unwrap_or_default(),
            _ => "<unknown>".to_owned(),
        };
        let ports: Vec<String> = spec
            .ports
            .iter()
            .flatten()
            .map(|p| {
                let protocol = p.protocol.as_deref().unwrap_or_default();
                match p.node_port.filter(|n| *n > 0) {
                    Some(node_port) => format!("{}:{node_port}/{protocol}", p.port),
                    None => format!("{}/{protocol}", p.port),
                }
            })
            .collect();
        let ports = if ports.is_empty() {
            "<none>".to_owned()
        } else {
            ports.join(",")
        };
        vec![
            object["metadata"]["name"].clone(),
            json!(service_type),
            json!(cluster_ip),
            json!(external_ip),
            json!(ports),
            age_cell(object, now),
            json!(format_labels(spec.selector.as_ref())),
        ]
    }
}

/// One service port: name (required when there are several, DNS-1123 label, unique), port in range,
/// protocol, and a target port that is a port number or a port name.
fn validate_service_port(
    port: &ServicePort,
    path: &str,
    several: bool,
    names: &mut BTreeSet<String>,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let name = port.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        if several {
            errs.push(FieldError::required(format!("{path}.name"), ""));
        }
    } else {
        for msg in is_dns1123_label(name) {
            errs.push(FieldError::invalid(format!("{path}.name"), Some(name), msg));
        }
        if !names.insert(name.to_owned()) {
            errs.push(FieldError::duplicate(format!("{path}.name"), name));
        }
    }
    if !(1..=65535).contains(&port.port) {
        errs.push(FieldError::invalid_value(
            format!("{path}.port"),
            port.port,
            PORT_RANGE,
        ));
    }
    errs.extend(validate_protocol(
        port.protocol.as_deref(),
        &format!("{path}.protocol"),
    ));
    match &port.target_port {
        Some(IntOrString::Int(target)) if !(1..=65535).contains(target) => {
            errs.push(FieldError::invalid_value(
                format!("{path}.targetPort"),
                *target,
                PORT_RANGE,
            ));
        }
        Some(IntOrString::String(target)) => {
            let valid = target.len() <= 15
                && is_dns1035_label(&target.to_lowercase()).is_empty()
                && target.chars().any(|c| c.is_ascii_alphabetic())
                && !target.contains("--");
            if !valid {
                errs.push(FieldError {
                    path: format!("{path}.targetPort"),
                    kind: FieldErrorKind::Invalid,
                    value: Some(fcp_api::validation::go_quote(target)),
                    detail: "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
                        .to_owned(),
                });
            }
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{
        registry::{Strategy, Typed},
        resources::test_support::{create_errors, normalized, row, update_errors},
    };

    #[test]
    fn namespace_defaults_and_create_preparation() {
        let ns = normalized::<Namespace>(json!({"metadata": {"name": "team-a"}}));
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team-a");

        // generateName: the label comes with the name, in prepare_for_create.
        let mut generated = normalized::<Namespace>(
            json!({"metadata": {"generateName": "t-"}, "spec": {"finalizers": ["example.com/x"]}}),
        );
        assert!(generated["metadata"].get("labels").is_none());
        generated["metadata"]["name"] = json!("t-abcde");
        Typed::<Namespace>::new().prepare_for_create(&mut generated);
        assert_eq!(
            generated["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "t-abcde"
        );
        assert_eq!(
            generated["spec"]["finalizers"],
            json!(["example.com/x", "kubernetes"])
        );
        assert_eq!(generated["status"], json!({"phase": "Active"}));
    }

    #[test]
    fn namespace_update_keeps_finalizers_and_the_name_label() {
        let old = normalized::<Namespace>(json!({"metadata": {"name": "a"}}));
        let mut new = normalized::<Namespace>(
            json!({"metadata": {"name": "a", "labels": {"kubernetes.io/metadata.name": "b"}},
            "spec": {"finalizers": []}}),
        );
        assert_eq!(new["metadata"]["labels"]["kubernetes.io/metadata.name"], "a");
        Typed::<Namespace>::new().prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["finalizers"], json!(["kubernetes"]));
    }

    #[test]
    fn namespace_finalizers_are_validated() {
        assert_eq!(
            create_errors::<Namespace>(json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["bogus"]}})),
            vec![
                "spec.finalizers: Invalid value: \"bogus\": name is neither a standard finalizer name nor is it fully qualified"
            ]
        );
        assert!(create_errors::<Namespace>(json!({"metadata": {"name": "a"}})).is_empty());
    }

    #[test]
    fn namespace_field_selectors_and_row() {
        let s = Typed::<Namespace>::new();
        assert!(s.check_field_selector("status.phase").is_ok());
        assert_eq!(
            s.check_field_selector("metadata.namespace").unwrap_err(),
            "field label not supported: metadata.namespace"
        );
        let ns = normalized::<Namespace>(json!({"metadata": {"name": "a"}}));
        assert_eq!(s.field_value(&ns, "status.phase").as_deref(), Some("Active"));
        let cells = row::<Namespace>(&ns);
        assert_eq!(cells[1], ("Status".to_owned(), json!("Active")));
    }

    #[test]
    fn secret_defaults_type_and_merges_string_data() {
        let secret = normalized::<Secret>(json!({"metadata": {"name": "s"}, "data": {"a": "eA=="},
            "stringData": {"a": "y", "b": "z"}}));
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["data"], json!({"a": "eQ==", "b": "eg=="}));
        assert!(secret.get("stringData").is_none());
    }

    #[test]
    fn secret_validation() {
        assert_eq!(
            create_errors::<Secret>(json!({"metadata": {"name": "s"}, "data": {"bad/key": ""}})),
            vec![
                "data[bad/key]: Invalid value: \"bad/key\": a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
            ]
        );
        assert_eq!(
            create_errors::<Secret>(
                json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": ""}})
            ),
            vec!["data[tls.key]: Required value"]
        );
        let big = "A".repeat(1_400_004); // base64 of 1 050 003 bytes
        assert_eq!(
            create_errors::<Secret>(json!({"metadata": {"name": "s"}, "data": {"k": big}})),
            vec!["data: Too long: may not be more than 1048576 bytes"]
        );
        assert_eq!(
            update_errors::<Secret>(
                json!({"metadata": {"name": "s"}, "type": "x/y"}),
                json!({"metadata": {"name": "s"}})
            ),
            vec!["type: Invalid value: \"x/y\": field is immutable"]
        );
        assert_eq!(
            update_errors::<Secret>(
                json!({"metadata": {"name": "s"}, "data": {"a": "eQ=="}, "immutable": true}),
                json!({"metadata": {"name": "s"}, "immutable": true})
            ),
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
    }

    #[test]
    fn secret_field_selector_and_row() {
        let s = Typed::<Secret>::new();
        let secret = normalized::<Secret>(
            json!({"metadata": {"name": "s", "namespace": "ns"}, "data": {"a": "eQ=="}}),
        );
        assert_eq!(s.field_value(&secret, "type").as_deref(), Some("Opaque"));
        assert_eq!(
            s.field_value(&secret, "metadata.namespace").as_deref(),
            Some("ns")
        );
        assert_eq!(
            s.check_field_selector("spec.x").unwrap_err(),
            "field label not supported: spec.x"
        );
        let cells = row::<Secret>(&secret);
        assert_eq!(cells[1].1, json!("Opaque"));
        assert_eq!(cells[2].1, json!(1));
    }

    #[test]
    fn configmap_validation_and_row() {
        assert_eq!(
            create_errors::<ConfigMap>(
                json!({"metadata": {"name": "c"}, "data": {"a": "1", "..b": "2"}, "binaryData": {"a": "eA=="}})
            ),
            vec![
                "data[..b]: Invalid value: \"..b\": must not start with '..'",
                "binaryData[a]: Invalid value: \"a\": duplicate of key present in data",
            ]
        );
        let cm = normalized::<ConfigMap>(
            json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "eA=="}}),
        );
        assert_eq!(row::<ConfigMap>(&cm)[1].1, json!(2));
        assert_eq!(
            Typed::<ConfigMap>::new()
                .check_field_selector("data.a")
                .unwrap_err(),
            "\"data.a\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
    }

    #[test]
    fn service_defaults_match_kube() {
        let svc = normalized::<Service>(json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"app": "web"}, "ports": [{"port": 80}, {"port": 443, "targetPort": "https", "name": "https"}]}}));
        let spec = &svc["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert!(
            spec.get("clusterIP").is_none(),
            "no service network: no cluster IP"
        );
        assert!(spec.get("externalTrafficPolicy").is_none());

        let lb = normalized::<Service>(
            json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer",
            "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        assert_eq!(
            lb["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
    }

    #[test]
    fn service_validation() {
        assert_eq!(
            create_errors::<Service>(json!({"metadata": {"name": "s"}, "spec": {}})),
            vec!["spec.ports: Required value"]
        );
        assert!(
            create_errors::<Service>(json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "None"}}))
                .is_empty()
        );
        assert!(create_errors::<Service>(json!({"metadata": {"name": "s"}, "spec": {"type": "ExternalName", "externalName": "example.com"}})).is_empty());
        assert_eq!(
            create_errors::<Service>(
                json!({"metadata": {"name": "s"}, "spec": {"type": "Bogus", "ports": [{"port": 0}, {"port": 1, "name": "a"}]}})
            ),
            vec![
                "spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "spec.ports[0].name: Required value",
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ]
        );
    }

    #[test]
    fn service_field_selectors_and_row() {
        let s = Typed::<Service>::new();
        let svc = normalized::<Service>(
            json!({"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
            "ports": [{"port": 80, "nodePort": 30080}], "type": "NodePort"}}),
        );
        assert_eq!(s.field_value(&svc, "spec.type").as_deref(), Some("NodePort"));
        assert_eq!(s.field_value(&svc, "spec.clusterIP").as_deref(), Some(""));
        let cells: Vec<Value> = row::<Service>(&svc).into_iter().map(|(_, v)| v).collect();
        assert_eq!(
            cells[..5],
            [
                json!("web"),
                json!("NodePort"),
                json!("<none>"),
                json!("<none>"),
                json!("80:30080/TCP")
            ]
        );
        assert_eq!(cells[6], json!("app=web"));
    }

    #[test]
    fn event_field_selectors() {
        let s = Typed::<Event>::new();
        let event = json!({"metadata": {"name": "e", "namespace": "ns"}, "involvedObject": {"kind": "Pod", "name": "p", "uid": "u"},
            "reason": "Started", "type": "Normal", "reportingComponent": "kubelet"});
        assert_eq!(s.field_value(&event, "involvedObject.name").as_deref(), Some("p"));
        assert_eq!(
            s.field_value(&event, "involvedObject.fieldPath").as_deref(),
            Some("")
        );
        assert_eq!(s.field_value(&event, "source").as_deref(), Some("kubelet"));
        assert_eq!(
            s.field_value(&event, "reportingComponent").as_deref(),
            Some("kubelet")
        );
        assert_eq!(s.field_value(&event, "involvedObject.bogus"), None);
        assert!(s.check_field_selector("involvedObject.uid").is_ok());
        assert_eq!(
            s.check_field_selector("regarding.name").unwrap_err(),
            "field label not supported: regarding.name"
        );
    }

    #[test]
    fn event_row_is_kubes() {
        let now: Timestamp = "2024-01-01T01:00:00Z".parse().expect("timestamp");
        let event: Event = serde_json::from_value(json!({"metadata": {"name": "p.1"}, "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Started", "type": "Normal", "message": " hi ", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-01T00:50:00Z", "lastTimestamp": "2024-01-01T00:58:00Z", "count": 3}))
        .expect("event");
        let object = serde_json::to_value(&event).expect("serializes");
        assert_eq!(
            event.table_row(&object, now),
            vec![
                json!("2m"),
                json!("Normal"),
                json!("Started"),
                json!("pod/p"),
                json!(""),
                json!("kubelet, n1"),
                json!("hi"),
                json!("10m"),
                json!(3),
                json!("p.1")
            ]
        );
    }
}
