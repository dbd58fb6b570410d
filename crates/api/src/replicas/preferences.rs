//! Replica allocation preferences: the JSON in `federation.kubernetes.io/replica-set-preferences`,
//! `…/deployment-preferences` and `…/job-preferences` (reference §1.4, §3.6).
//!
//! v1's Go structs have no JSON tags, so the wire keys are the Go field names (`Rebalance`, `Clusters`,
//! `MinReplicas`, `MaxReplicas`, `Weight`) and Go's decoder matches them case-insensitively. Decoding here
//! follows `encoding/json` exactly: keys at every level match ignoring case, unknown keys are ignored,
//! `null` leaves a bool or integer at its previous value and resets `MaxReplicas`/`Clusters`, a repeated
//! `Clusters` object adds to the map, integers must be JSON integers within `i64`. Encoding emits
//! PascalCase, as `json.Marshal` does.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::go_json::key_matches_field;

/// The preference key that applies to every cluster without a preference of its own.
pub const ANY_CLUSTER: &str = "*";

/// How to spread a workload's replicas over clusters (`ReplicaAllocationPreferences`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicaAllocationPreferences {
    /// Whether replicas may be moved away from clusters that already run them. `false` (the default)
    /// keeps existing replicas where they are as far as the other preferences allow.
    pub rebalance: bool,
    /// Per-cluster preferences by cluster name; [`ANY_CLUSTER`] (`"*"`) applies to clusters not named.
    /// A cluster with neither gets no replicas.
    pub clusters: BTreeMap<String, ClusterPreferences>,
}

/// One cluster's share (`ClusterPreferences`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterPreferences {
    /// Replicas the cluster gets before any weighting (if there are enough). Default 0.
    pub min_replicas: i64,
    /// At most this many replicas; `None` is unbounded (serialized as `null`, as Go does).
    pub max_replicas: Option<i64>,
    /// Relative share of the replicas left after the minimums. Default 0 (no share).
    pub weight: i64,
}

/// v1's default when the annotation is absent or invalid: `{Rebalance: false, Clusters: {"*": {Weight:
/// 1}}}`, an even spread over all clusters.
impl Default for ReplicaAllocationPreferences {
    fn default() -> Self {
        Self {
            rebalance: false,
            clusters: BTreeMap::from([(
                ANY_CLUSTER.to_owned(),
                ClusterPreferences {
                    weight: 1,
                    ..ClusterPreferences::default()
                },
            )]),
        }
    }
}

impl ReplicaAllocationPreferences {
    /// Decodes the annotation's JSON as Go's `json.Unmarshal` does (see the module doc). A top-level
    /// `null` decodes as preferences with no clusters (v1 then plans 0 replicas everywhere) — not as the
    /// default.
    ///
    /// # Errors
    /// [`PreferencesError`] with serde_json's one-line message when the value is not valid JSON, not an
    /// object, or has a field of the wrong type (a string weight, a fractional or out-of-range integer).
    pub fn parse(json: &str) -> Result<Self, PreferencesError> {
        serde_json::from_str(json).map_err(|e| PreferencesError {
            message: e.to_string(),
        })
    }

    /// The PascalCase JSON v1's `json.Marshal` writes, e.g.
    /// `{"Rebalance":false,"Clusters":{"*":{"MinReplicas":0,"MaxReplicas":null,"Weight":1}}}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        // Serializing bools, integers and string-keyed maps cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The preferences that apply to `cluster`: its own entry, else the [`ANY_CLUSTER`] entry, else `None`
    /// (the planner then gives it 0 replicas).
    #[must_use]
    pub fn preference_for(&self, cluster: &str) -> Option<&ClusterPreferences> {
        self.clusters
            .get(cluster)
            .or_else(|| self.clusters.get(ANY_CLUSTER))
    }
}

/// The preferences of an object with these annotations, read from annotation `annotation` (e.g.
/// [`REPLICA_SET_PREFERENCES_ANNOTATION`](crate::names::REPLICA_SET_PREFERENCES_ANNOTATION)).
///
/// Absent ⇒ the [default](ReplicaAllocationPreferences::default) and no error. Invalid ⇒ the default
/// **and** the error: v1 only logs it and schedules with the default; the caller should surface the
/// error (a Warning event) and carry on.
#[must_use]
pub fn preferences_from_annotations(
    annotations: &BTreeMap<String, String>,
    annotation: &str,
) -> (ReplicaAllocationPreferences, Option<PreferencesError>) {
    match annotations.get(annotation) {
        None => (ReplicaAllocationPreferences::default(), None),
        Some(value) => match ReplicaAllocationPreferences::parse(value) {
            Ok(preferences) => (preferences, None),
            Err(error) => (
                ReplicaAllocationPreferences::default(),
                Some(PreferencesError {
                    message: format!("annotation {annotation}: {}", error.message),
                }),
            ),
        },
    }
}

/// Why a preferences annotation could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferencesError {
    message: String,
}

impl PreferencesError {
    /// The one-line cause (serde_json's wording, prefixed with the annotation name when it came from
    /// [`preferences_from_annotations`]).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PreferencesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid replica allocation preferences: {}", self.message)
    }
}

impl std::error::Error for PreferencesError {}

// ---------------------------------------------------------------------------------------------------------
// Decoding with Go's rules
// ---------------------------------------------------------------------------------------------------------

impl<'de> Deserialize<'de> for ReplicaAllocationPreferences {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PreferencesVisitor;
        impl<'de> Visitor<'de> for PreferencesVisitor {
            type Value = ReplicaAllocationPreferences;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a ReplicaAllocationPreferences object")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(empty_preferences())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = empty_preferences();
                while let Some(key) = map.next_key::<String>()? {
                    if key_matches_field(&key, "Rebalance") {
                        if let Some(value) = map.next_value::<Option<bool>>()? {
                            out.rebalance = value;
                        }
                    } else if key_matches_field(&key, "Clusters") {
                        match map.next_value::<Option<ClustersPatch>>()? {
                            // Go sets a map to nil on null and decodes an object into the existing map.
                            None => out.clusters.clear(),
                            Some(ClustersPatch(entries)) => out.clusters.extend(entries),
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_any(PreferencesVisitor)
    }
}

/// Go's zero value: no rebalance, no clusters.
fn empty_preferences() -> ReplicaAllocationPreferences {
    ReplicaAllocationPreferences {
        rebalance: false,
        clusters: BTreeMap::new(),
    }
}

/// The entries of one `Clusters` object, in document order (later duplicates win).
struct ClustersPatch(Vec<(String, ClusterPreferences)>);

impl<'de> Deserialize<'de> for ClustersPatch {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClustersVisitor;
        impl<'de> Visitor<'de> for ClustersVisitor {
            type Value = ClustersPatch;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of cluster name to ClusterPreferences")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    // A null entry is stored as the zero value.
                    let preferences = map
                        .next_value::<Option<ClusterPreferences>>()?
                        .unwrap_or_default();
                    entries.push((name, preferences));
                }
                Ok(ClustersPatch(entries))
            }
        }
        deserializer.deserialize_map(ClustersVisitor)
    }
}

impl<'de> Deserialize<'de> for ClusterPreferences {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ClusterVisitor;
        impl<'de> Visitor<'de> for ClusterVisitor {
            type Value = ClusterPreferences;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a ClusterPreferences object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = ClusterPreferences::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key_matches_field(&key, "MinReplicas") {
                        if let Some(GoInt64(value)) = map.next_value::<Option<GoInt64>>()? {
                            out.min_replicas = value;
                        }
                    } else if key_matches_field(&key, "MaxReplicas") {
                        out.max_replicas = map.next_value::<Option<GoInt64>>()?.map(|GoInt64(v)| v);
                    } else if key_matches_field(&key, "Weight") {
                        if let Some(GoInt64(value)) = map.next_value::<Option<GoInt64>>()? {
                            out.weight = value;
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(ClusterVisitor)
    }
}

/// A JSON number Go decodes into an `int64`: an integer literal within range. serde_json reads the
/// literal `-0` as the float `-0.0`, so negative zero is accepted as 0 (which also lets `-0.0` through,
/// a literal Go would reject).
struct GoInt64(i64);

impl<'de> Deserialize<'de> for GoInt64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = GoInt64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("i64")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(GoInt64(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                i64::try_from(v)
                    .map(GoInt64)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                if v == 0.0 && v.is_sign_negative() {
                    Ok(GoInt64(0))
                } else {
                    Err(E::invalid_type(de::Unexpected::Float(v), &self))
                }
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::REPLICA_SET_PREFERENCES_ANNOTATION;

    fn weight(weight: i64) -> ClusterPreferences {
        ClusterPreferences {
            weight,
            ..ClusterPreferences::default()
        }
    }

    fn pref_of(min_replicas: i64, max_replicas: Option<i64>, weight: i64) -> ClusterPreferences {
        ClusterPreferences {
            min_replicas,
            max_replicas,
            weight,
        }
    }

    fn parse(json: &str) -> ReplicaAllocationPreferences {
        ReplicaAllocationPreferences::parse(json).expect("preferences parse")
    }

    #[test]
    fn the_default_spreads_evenly_without_rebalancing() {
        let default = ReplicaAllocationPreferences::default();
        assert!(!default.rebalance);
        assert_eq!(default.clusters, BTreeMap::from([("*".to_owned(), weight(1))]));
    }

    #[test]
    fn lowercase_and_pascal_case_keys_both_parse() {
        let expected = ReplicaAllocationPreferences {
            rebalance: true,
            clusters: BTreeMap::from([("*".to_owned(), weight(1))]),
        };
        assert_eq!(
            parse(r#"{"rebalance":true,"clusters":{"*":{"weight":1}}}"#),
            expected
        );
        assert_eq!(
            parse(r#"{"Rebalance":true,"Clusters":{"*":{"Weight":1}}}"#),
            expected
        );
        assert_eq!(
            parse(r#"{"REBALANCE":true,"cLuStErS":{"*":{"wEIGHT":1}}}"#),
            expected
        );
    }

    #[test]
    fn every_cluster_field_is_read_in_any_case() {
        let parsed = parse(r#"{"clusters":{"a":{"minreplicas":2,"MAXREPLICAS":5,"weight":3}}}"#);
        assert_eq!(
            parsed.clusters["a"],
            ClusterPreferences {
                min_replicas: 2,
                max_replicas: Some(5),
                weight: 3
            }
        );
        assert!(!parsed.rebalance);
    }

    #[test]
    fn cluster_names_are_matched_exactly_not_case_folded() {
        let parsed = parse(r#"{"Clusters":{"A":{"Weight":1},"a":{"Weight":2}}}"#);
        assert_eq!(parsed.clusters.len(), 2);
        assert_eq!(parsed.clusters["A"].weight, 1);
        assert_eq!(parsed.clusters["a"].weight, 2);
    }

    #[test]
    fn missing_fields_take_go_zero_values_and_unknown_fields_are_ignored() {
        let parsed = parse(r#"{"Clusters":{"a":{},"b":null},"Extra":[1,2]}"#);
        assert_eq!(parsed.clusters["a"], ClusterPreferences::default());
        assert_eq!(parsed.clusters["b"], ClusterPreferences::default());
        assert_eq!(parsed.clusters["a"].max_replicas, None);
    }

    #[test]
    fn null_keeps_integers_and_resets_max_replicas() {
        let parsed =
            parse(r#"{"Clusters":{"a":{"Weight":4,"weight":null,"MaxReplicas":3,"maxReplicas":null}}}"#);
        assert_eq!(parsed.clusters["a"], weight(4));
    }

    #[test]
    fn later_duplicate_keys_win_and_repeated_cluster_maps_merge() {
        let parsed = parse(
            r#"{"Rebalance":true,"rebalance":false,"Clusters":{"a":{"Weight":1}},"clusters":{"b":{"Weight":2}}}"#,
        );
        assert!(!parsed.rebalance);
        assert_eq!(parsed.clusters.len(), 2);
        let reset = parse(r#"{"Clusters":{"a":{"Weight":1}},"clusters":null}"#);
        assert!(reset.clusters.is_empty());
    }

    #[test]
    fn a_top_level_null_means_no_clusters_not_the_default() {
        let parsed = parse("null");
        assert!(!parsed.rebalance);
        assert!(parsed.clusters.is_empty());
    }

    #[test]
    fn wrongly_typed_values_are_errors() {
        for json in [
            "",
            "[]",
            "1",
            r#"{"Rebalance":"yes"}"#,
            r#"{"Clusters":[]}"#,
            r#"{"Clusters":{"a":{"Weight":"1"}}}"#,
            r#"{"Clusters":{"a":{"Weight":1.5}}}"#,
            r#"{"Clusters":{"a":{"Weight":1e2}}}"#,
            r#"{"Clusters":{"a":{"MinReplicas":9223372036854775808}}}"#,
            r#"{"Clusters":{"a":1}}"#,
            r#"{} trailing"#,
        ] {
            let error = ReplicaAllocationPreferences::parse(json).expect_err(json);
            assert!(!error.to_string().contains('\n'), "{error}");
        }
        let signed = parse(r#"{"Clusters":{"a":{"Weight":-0,"MinReplicas":-3,"MaxReplicas":-0}}}"#);
        assert_eq!(
            signed.clusters["a"],
            pref_of(-3, Some(0), 0),
            "Go accepts -0 as an int64"
        );
    }

    #[test]
    fn serialization_is_pascal_case_like_go_marshal() {
        assert_eq!(
            ReplicaAllocationPreferences::default().to_json(),
            r#"{"Rebalance":false,"Clusters":{"*":{"MinReplicas":0,"MaxReplicas":null,"Weight":1}}}"#
        );
        let preferences = ReplicaAllocationPreferences {
            rebalance: true,
            clusters: BTreeMap::from([(
                "b".to_owned(),
                ClusterPreferences {
                    min_replicas: 1,
                    max_replicas: Some(7),
                    weight: 2,
                },
            )]),
        };
        let json = preferences.to_json();
        assert_eq!(
            json,
            r#"{"Rebalance":true,"Clusters":{"b":{"MinReplicas":1,"MaxReplicas":7,"Weight":2}}}"#
        );
        assert_eq!(parse(&json), preferences);
    }

    #[test]
    fn a_cluster_uses_its_own_entry_else_the_wildcard() {
        let preferences = parse(r#"{"Clusters":{"*":{"Weight":1},"a":{"Weight":5}}}"#);
        assert_eq!(preferences.preference_for("a"), Some(&weight(5)));
        assert_eq!(preferences.preference_for("b"), Some(&weight(1)));
        let only_a = parse(r#"{"Clusters":{"a":{"Weight":5}}}"#);
        assert_eq!(only_a.preference_for("b"), None);
    }

    #[test]
    fn an_absent_annotation_gives_the_default_without_error() {
        let (preferences, error) =
            preferences_from_annotations(&BTreeMap::new(), REPLICA_SET_PREFERENCES_ANNOTATION);
        assert_eq!(preferences, ReplicaAllocationPreferences::default());
        assert_eq!(error, None);
    }

    #[test]
    fn a_valid_annotation_is_used() {
        let annotations = BTreeMap::from([(
            REPLICA_SET_PREFERENCES_ANNOTATION.to_owned(),
            r#"{"rebalance":true,"clusters":{"a":{"weight":2}}}"#.to_owned(),
        )]);
        let (preferences, error) =
            preferences_from_annotations(&annotations, REPLICA_SET_PREFERENCES_ANNOTATION);
        assert!(error.is_none());
        assert!(preferences.rebalance);
        assert_eq!(preferences.clusters["a"], weight(2));
    }

    #[test]
    fn an_invalid_annotation_gives_the_default_and_the_error() {
        let annotations = BTreeMap::from([(
            REPLICA_SET_PREFERENCES_ANNOTATION.to_owned(),
            "{not json".to_owned(),
        )]);
        let (preferences, error) =
            preferences_from_annotations(&annotations, REPLICA_SET_PREFERENCES_ANNOTATION);
        assert_eq!(preferences, ReplicaAllocationPreferences::default());
        let error = error.expect("the parse error is returned");
        assert!(
            error
                .message()
                .starts_with("annotation federation.kubernetes.io/replica-set-preferences: ")
        );
        assert!(
            error
                .to_string()
                .starts_with("invalid replica allocation preferences: annotation ")
        );
        assert!(!error.to_string().contains('\n'));
    }
}
