//! Building blocks of the per-kind Table printers (kube's `pkg/printers/internalversion`): column definitions,
//! the `Age` cell (`translateTimestampSince`, rendered by the server) and label formatting.
//!
//! kube-apiserver renders tables with `Wide: true`: every row carries the priority-1 cells too, and kubectl
//! shows them only with `-o wide`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

/// kube's documentation of `metadata.name`, the description of every `Name` column.
const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
/// kube's documentation of `metadata.creationTimestamp`, the description of every `Age` column.
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// The `Name` column (format `name`).
pub(super) fn name_column() -> Value {
    json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0})
}

/// The `Age` column: a string cell like `5m`.
pub(super) fn age_column() -> Value {
    column("Age", "string", 0, AGE_DESCRIPTION)
}

/// A `meta.k8s.io/v1` `TableColumnDefinition`.
pub(super) fn column(name: &str, type_: &str, priority: u8, description: &str) -> Value {
    json!({"name": name, "type": type_, "format": "", "description": description, "priority": priority})
}

/// The `Age` cell of an object: [`human_duration`] since `metadata.creationTimestamp`, `<unknown>` without one.
pub(super) fn age_cell(object: &Value, now: Timestamp) -> Value {
    json!(since(object["metadata"]["creationTimestamp"].as_str(), now))
}

/// kube's `translateTimestampSince`: [`human_duration`] from an RFC 3339 timestamp to `now`; `<unknown>` when
/// the timestamp is absent or unparsable.
pub(super) fn since(timestamp: Option<&str>, now: Timestamp) -> String {
    match timestamp.and_then(|t| t.parse::<Timestamp>().ok()) {
        Some(then) => human_duration(now.as_second() - then.as_second()),
        None => "<unknown>".to_owned(),
    }
}

/// apimachinery's `duration.HumanDuration` for a number of seconds: `45s`, `2m`, `5m30s`, `3h20m`, `2d4h`,
/// `400d`, `2y10d`, ...; `<invalid>` for clock skew over a second into the future.
pub(super) fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{days}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// apimachinery's `labels.FormatLabels`: `k=v` pairs sorted by key and joined by `,`; `<none>` when empty.
pub(super) fn format_labels(labels: Option<&BTreeMap<String, String>>) -> String {
    match labels.filter(|l| !l.is_empty()) {
        None => "<none>".to_owned(),
        Some(labels) => labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The addresses of a load balancer status (`ip`, else `hostname`, of each ingress point) joined by `,`.
pub(super) fn load_balancer_addresses(ingress: &[Value]) -> String {
    ingress
        .iter()
        .filter_map(|i| {
            i["ip"]
                .as_str()
                .filter(|s| !s.is_empty())
                .or_else(|| i["hostname"].as_str().filter(|s| !s.is_empty()))
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_apimachinery() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (330, "5m30s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 20 * 60, "3h20m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (52 * 3600, "2d4h"),
            (8 * 24 * 3600, "8d"),
            (400 * 24 * 3600, "400d"),
            (2 * 365 * 24 * 3600, "2y"),
            ((2 * 365 + 10) * 24 * 3600, "2y10d"),
            (9 * 365 * 24 * 3600, "9y"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(human_duration(seconds), expected, "{seconds}s");
        }
    }

    #[test]
    fn age_cell_counts_from_creation() {
        let now: Timestamp = "2024-01-01T01:00:00Z".parse().expect("timestamp");
        let object = json!({"metadata": {"creationTimestamp": "2024-01-01T00:55:00Z"}});
        assert_eq!(age_cell(&object, now), json!("5m"));
        assert_eq!(age_cell(&json!({"metadata": {}}), now), json!("<unknown>"));
    }

    #[test]
    fn labels_format_sorted_or_none() {
        let labels: BTreeMap<String, String> =
            [("b".to_owned(), "2".to_owned()), ("a".to_owned(), "1".to_owned())].into();
        assert_eq!(format_labels(Some(&labels)), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
        assert_eq!(format_labels(Some(&BTreeMap::new())), "<none>");
    }
}
