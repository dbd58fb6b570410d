//! `events.k8s.io/v1` events: the same objects as core `v1` events (same storage), with the newer field names.

use fcp_api::validation::NameRule;
use k8s_openapi::api::events::v1::Event;

use super::{NONE, Names, conversion::EventsV1, converted};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let names = Names {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        singular: "event",
        scope: Scope::Namespaced,
        short_names: &["ev"],
        categories: &[],
    };
    vec![converted::<Event>(names, "events", NONE, false, EventsV1)]
}

impl KindRules for Event {
    const NAME_RULE: NameRule = NameRule::PathSegment;
}
