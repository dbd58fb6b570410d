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
}

impl KindRules for Secret {}

impl KindRules for Service {
    const NAME_RULE: NameRule = NameRule::Dns1035Label;
}
