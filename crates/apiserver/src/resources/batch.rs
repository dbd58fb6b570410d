//! `batch/v1` kinds: jobs.

use k8s_openapi::api::batch::v1::Job;

use super::{Names, STATUS, def};
use crate::registry::{KindRules, ResourceDef, Scope};

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

impl KindRules for Job {}
