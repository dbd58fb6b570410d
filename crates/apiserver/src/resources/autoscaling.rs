//! `autoscaling` kinds: horizontalpodautoscalers, stored as `autoscaling/v2` and also served as
//! `autoscaling/v1` through a conversion (v2 is the preferred version, as in kube-apiserver).

use k8s_openapi::api::autoscaling::{v1, v2};

use super::{Names, STATUS, conversion::HpaV1, converted, def};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = |version| Names {
        group: "autoscaling",
        version,
        kind: "HorizontalPodAutoscaler",
        plural: "horizontalpodautoscalers",
        singular: "horizontalpodautoscaler",
        scope: Scope::Namespaced,
        short_names: &["hpa"],
        categories: &["all"],
    };
    vec![
        def::<v2::HorizontalPodAutoscaler>(names("v2"), "horizontalpodautoscalers", STATUS, true),
        converted::<v1::HorizontalPodAutoscaler>(
            names("v1"),
            "horizontalpodautoscalers",
            STATUS,
            true,
            HpaV1,
        ),
    ]
}

impl KindRules for v2::HorizontalPodAutoscaler {}
impl KindRules for v1::HorizontalPodAutoscaler {}
