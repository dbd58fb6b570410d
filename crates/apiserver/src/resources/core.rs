//! Core (`v1`) kinds: namespaces, configmaps, secrets, events, services.

use fcp_api::validation::NameRule;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Secret, Service};

use super::{NONE, Names, STATUS, def};
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

impl KindRules for ConfigMap {}

impl KindRules for Event {
    // Event names carry a dotted suffix (`<object>.<hex>`) and are validated as path segments by kube.
    const NAME_RULE: NameRule = NameRule::PathSegment;
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

    /// kube's defaults: the `kubernetes` finalizer, phase `Active`, and the immutable
    /// `kubernetes.io/metadata.name` label.
    fn apply_defaults(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        if spec.finalizers.is_none() {
            spec.finalizers = Some(vec!["kubernetes".to_owned()]);
        }
        let status = self.status.get_or_insert_with(Default::default);
        if status.phase.is_none() {
            status.phase = Some("Active".to_owned());
        }
        if let Some(name) = self.metadata.name.clone() {
            self.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert("kubernetes.io/metadata.name".to_owned(), name);
        }
    }

    fn begin_termination(&mut self) {
        self.status.get_or_insert_with(Default::default).phase = Some("Terminating".to_owned());
    }
}

impl KindRules for Secret {}

impl KindRules for Service {
    const NAME_RULE: NameRule = NameRule::Dns1035Label;
}
