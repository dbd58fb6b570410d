//! `autoscaling/v2` kinds: horizontalpodautoscalers. (`autoscaling/v1`, which shares their storage through a
//! conversion, is not served yet.)

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;

use super::{Names, STATUS, def};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = Names {
        group: "autoscaling",
        version: "v2",
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        scope: Scope::Namespaced,
        short_names: &["hpa"],
        categories: &["all"],
    };
    vec![def::<HorizontalPodAutoscaler>(
        names,
        "horizontalpodautoscalers",
        STATUS,
        true,
    )]
}

impl KindRules for HorizontalPodAutoscaler {}
