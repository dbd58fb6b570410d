//! `networking.k8s.io/v1` kinds: ingresses.

use k8s_openapi::api::networking::v1::Ingress;

use super::{Names, STATUS, def};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = Names {
        group: "networking.k8s.io",
        version: "v1",
        kind: "Ingress",
        plural: "ingresses",
        singular: "ingress",
        scope: Scope::Namespaced,
        short_names: &["ing"],
        categories: &[],
    };
    // kube-apiserver keeps ingresses under the singular `ingress` path.
    vec![def::<Ingress>(names, "ingress", STATUS, true)]
}

impl KindRules for Ingress {}
