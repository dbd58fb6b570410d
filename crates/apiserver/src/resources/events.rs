//! `events.k8s.io/v1` events: the same objects as core `v1` events (same storage), with the newer field names.

use fcp_api::validation::NameRule;
use jiff::Timestamp;
use k8s_openapi::api::events::v1::Event;
use serde_json::Value;

use super::{
    NONE, Names, check_field_label,
    conversion::EventsV1,
    converted,
    core::{EventCells, event_source, event_table_columns, event_table_row},
    string_at,
};
use crate::registry::{KindRules, ResourceDef, Scope};

/// The events.k8s.io/v1 field selectors (kube maps them onto the core/v1 event's field set).
const EVENT_FIELDS: &[&str] = &[
    "reason",
    "regarding.kind",
    "regarding.namespace",
    "regarding.name",
    "regarding.uid",
    "regarding.apiVersion",
    "regarding.resourceVersion",
    "regarding.fieldPath",
    "reportingController",
    "source",
    "type",
    "metadata.namespace",
    "metadata.name",
];

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

    /// kube's events.k8s.io/v1 field-label conversion: `regarding.*`, `reason`, `reportingController`,
    /// `source`, `type` and metadata; `involvedObject.*` and `reportingComponent` are core/v1 names only.
    fn check_field_selector(field: &str) -> Result<(), String> {
        check_field_label(field, EVENT_FIELDS)
    }

    /// The same values as the core/v1 event's field set, read from the events.k8s.io/v1 shape: `source` is
    /// `deprecatedSource.component`, else `reportingController`.
    fn field_value(object: &Value, field: &str) -> Option<String> {
        if !EVENT_FIELDS.contains(&field) {
            return None;
        }
        Some(match field {
            "source" => event_source(
                &string_at(object, "/deprecatedSource/component"),
                &string_at(object, "/reportingController"),
            ),
            "metadata.name" => string_at(object, "/metadata/name"),
            "metadata.namespace" => string_at(object, "/metadata/namespace"),
            _ => string_at(object, &format!("/{}", field.replace('.', "/"))),
        })
    }

    fn table_columns() -> Vec<Value> {
        event_table_columns()
    }

    /// The core/v1 event row (kube prints both APIs from the same internal object).
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let series = object.get("series");
        event_table_row(
            &EventCells {
                first_timestamp: string_at(object, "/deprecatedFirstTimestamp"),
                event_time: string_at(object, "/eventTime"),
                last_timestamp: string_at(object, "/deprecatedLastTimestamp"),
                series_last_observed: series.map(|s| string_at(s, "/lastObservedTime")),
                series_count: series.and_then(|s| s["count"].as_i64()),
                count: object["deprecatedCount"].as_i64().unwrap_or_default(),
                type_: string_at(object, "/type"),
                reason: string_at(object, "/reason"),
                kind: string_at(object, "/regarding/kind"),
                name: string_at(object, "/regarding/name"),
                field_path: string_at(object, "/regarding/fieldPath"),
                source_component: string_at(object, "/deprecatedSource/component"),
                source_host: string_at(object, "/deprecatedSource/host"),
                reporting_controller: string_at(object, "/reportingController"),
                reporting_instance: string_at(object, "/reportingInstance"),
                message: string_at(object, "/note"),
            },
            object,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{
        registry::{Strategy, Typed},
        resources::test_support::row,
    };

    use super::Event;

    #[test]
    fn events_k8s_io_selects_on_its_own_field_names() {
        let s = Typed::<Event>::new();
        let event = json!({"metadata": {"name": "e"}, "eventTime": "2024-01-01T00:00:00.000000Z",
            "regarding": {"kind": "Deployment", "name": "web"}, "reason": "ScalingReplicaSet",
            "reportingController": "deployment-controller", "reportingInstance": "i", "action": "Scale", "type": "Normal", "note": "n"});
        assert!(s.check_field_selector("regarding.name").is_ok());
        assert_eq!(
            s.check_field_selector("involvedObject.name").unwrap_err(),
            "field label not supported: involvedObject.name"
        );
        assert_eq!(
            s.field_value(&event, "regarding.kind").as_deref(),
            Some("Deployment")
        );
        assert_eq!(
            s.field_value(&event, "reportingController").as_deref(),
            Some("deployment-controller")
        );
        assert_eq!(
            s.field_value(&event, "source").as_deref(),
            Some("deployment-controller")
        );
        let cells = row::<Event>(&event);
        assert_eq!(cells[3].1, json!("deployment/web"));
        assert_eq!(cells[5].1, json!("deployment-controller, i"));
        assert_eq!(cells[8].1, json!(1));
    }
}
