//! `federation/v1beta1` kinds: clusters, the members of the federation.

use fcp_api::{
    cluster::{Cluster, validate_cluster_spec},
    validation::{FieldError, NameRule},
};

use super::{Names, STATUS, def};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = Names {
        group: "federation",
        version: "v1beta1",
        kind: "Cluster",
        plural: "clusters",
        singular: "cluster",
        scope: Scope::Cluster,
        short_names: &[],
        categories: &[],
    };
    vec![def::<Cluster>(names, "clusters", STATUS, true)]
}

impl KindRules for Cluster {
    const NAME_RULE: NameRule = NameRule::Dns1035Label;

    fn validate(&self) -> Vec<FieldError> {
        validate_cluster_spec(&self.spec)
    }
}
