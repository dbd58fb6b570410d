//! `apps/v1` kinds: deployments, replicasets, daemonsets.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet};

use super::{Names, STATUS, STATUS_SCALE, def};
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

impl KindRules for DaemonSet {}
impl KindRules for Deployment {}
impl KindRules for ReplicaSet {}
