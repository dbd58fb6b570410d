//! `coordination.k8s.io/v1` kinds: leases (leader election).

use k8s_openapi::api::coordination::v1::Lease;

use super::{NONE, Names, def};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = Names {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        singular: "lease",
        scope: Scope::Namespaced,
        short_names: &[],
        categories: &[],
    };
    vec![def::<Lease>(names, "leases", NONE, false)]
}

impl KindRules for Lease {}
