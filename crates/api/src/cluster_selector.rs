//! The `federation.alpha.kubernetes.io/cluster-selector` annotation: which member clusters a federated
//! object is propagated to, decided on the **Cluster objects' labels** (reference §3.3.7).
//!
//! The value is a JSON array of `{"key", "operator", "values"}` requirements, ANDed. Operators are v1's
//! spellings (`in`/`In`, `notin`/`NotIn`, `exists`/`Exists`, `!`/`DoesNotExist`, `=`, `==`, `!=`,
//! `gt`/`Gt`/`>`, `lt`/`Lt`/`<`), and each requirement is checked and matched as apimachinery's
//! `labels.NewRequirement` does. JSON is decoded as Go's `encoding/json` decodes it: object keys match
//! case-insensitively (`"Key"` works), unknown keys are ignored, a `null` array is an empty one, a `null`
//! field keeps its zero value.
//!
//! An absent annotation selects every cluster ([`ClusterSelector::All`]); so does `[]` (and `null`). Any
//! error (bad JSON, unknown operator, invalid requirement) means v1 fails the whole reconcile of the object
//! and retries with backoff; it never partially selects.
//!
//! The control plane's "never propagate" marker ([`FEDERATION_CONTROL_PLANE_SELECTOR_VALUE`]) is not JSON;
//! v1 relies on the parse error. Here it is reported as its own error,
//! [`ClusterSelectorError::ControlPlaneOnly`], and [`is_control_plane_marker`] recognises it up front.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::go_json::key_matches_field;
use crate::names::{CLUSTER_SELECTOR_ANNOTATION, FEDERATION_CONTROL_PLANE_SELECTOR_VALUE};
use crate::selector::{LabelSelector, Operator, Requirement};

/// The clusters a federated object goes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterSelector {
    /// No annotation: every (ready) cluster.
    All,
    /// The annotation's requirements, ANDed; an empty list selects every cluster.
    Labels(LabelSelector),
}

impl ClusterSelector {
    /// The selector of an object with these annotations: [`ClusterSelector::All`] without
    /// [`CLUSTER_SELECTOR_ANNOTATION`], else [`ClusterSelector::parse`] of its value.
    ///
    /// # Errors
    /// As [`ClusterSelector::parse`].
    pub fn from_annotations(annotations: &BTreeMap<String, String>) -> Result<Self, ClusterSelectorError> {
        match annotations.get(CLUSTER_SELECTOR_ANNOTATION) {
            None => Ok(Self::All),
            Some(value) => Self::parse(value),
        }
    }

    /// Parses an annotation value: a JSON array of requirements (or `null`, meaning none).
    ///
    /// # Errors
    /// [`ClusterSelectorError::ControlPlaneOnly`] for the control-plane marker value;
    /// [`ClusterSelectorError::InvalidJson`] when the value is not such an array;
    /// [`ClusterSelectorError::UnknownOperator`] for an operator v1 does not know (including a missing
    /// one); [`ClusterSelectorError::InvalidRequirement`] when apimachinery would reject the requirement
    /// (invalid key or value, wrong number of values for the operator, non-integer `gt`/`lt` value). The
    /// first failing requirement is reported.
    pub fn parse(value: &str) -> Result<Self, ClusterSelectorError> {
        if value == FEDERATION_CONTROL_PLANE_SELECTOR_VALUE {
            return Err(ClusterSelectorError::ControlPlaneOnly);
        }
        let raw: RawRequirements =
            serde_json::from_str(value).map_err(|e| ClusterSelectorError::InvalidJson(e.to_string()))?;
        let mut requirements = Vec::with_capacity(raw.0.len());
        for (index, raw) in raw.0.into_iter().enumerate() {
            let Some(operator) = convert_operator(&raw.operator) else {
                return Err(ClusterSelectorError::UnknownOperator {
                    index,
                    operator: raw.operator,
                });
            };
            let requirement = Requirement::new(raw.key, operator, raw.values)
                .map_err(|message| ClusterSelectorError::InvalidRequirement { index, message })?;
            requirements.push(requirement);
        }
        Ok(Self::Labels(LabelSelector::from_requirements(requirements)))
    }

    /// Whether a cluster with these labels is selected: always for [`ClusterSelector::All`], else when
    /// every requirement matches (`notin`, `!=` and `!`/`DoesNotExist` match clusters without the key;
    /// `gt`/`lt` need the key with an integer value).
    #[must_use]
    pub fn matches(&self, cluster_labels: &BTreeMap<String, String>) -> bool {
        match self {
            Self::All => true,
            Self::Labels(selector) => selector.matches(cluster_labels),
        }
    }

    /// The requirements; none for [`ClusterSelector::All`].
    #[must_use]
    pub fn requirements(&self) -> &[Requirement] {
        match self {
            Self::All => &[],
            Self::Labels(selector) => selector.requirements(),
        }
    }
}

/// Whether these annotations carry the control plane's "never propagate" marker as cluster selector:
/// such objects (the `federation-only` namespace, the leader-election ConfigMap) must not be synced.
#[must_use]
pub fn is_control_plane_marker(annotations: &BTreeMap<String, String>) -> bool {
    annotations
        .get(CLUSTER_SELECTOR_ANNOTATION)
        .is_some_and(|value| value == FEDERATION_CONTROL_PLANE_SELECTOR_VALUE)
}

/// Whether an object with these annotations goes to a cluster with these labels (v1's `SendToCluster`).
///
/// # Errors
/// As [`ClusterSelector::from_annotations`].
pub fn send_to_cluster(
    cluster_labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
) -> Result<bool, ClusterSelectorError> {
    Ok(ClusterSelector::from_annotations(annotations)?.matches(cluster_labels))
}

/// v1's operator spellings (`ConvertOperator`); `None` for anything else, which apimachinery then rejects.
fn convert_operator(source: &str) -> Option<Operator> {
    Some(match source {
        "!" | "DoesNotExist" => Operator::DoesNotExist,
        "=" => Operator::Equals,
        "==" => Operator::DoubleEquals,
        "in" | "In" => Operator::In,
        "!=" => Operator::NotEquals,
        "notin" | "NotIn" => Operator::NotIn,
        "exists" | "Exists" => Operator::Exists,
        "gt" | "Gt" | ">" => Operator::GreaterThan,
        "lt" | "Lt" | "<" => Operator::LessThan,
        _ => return None,
    })
}

/// Why a cluster selector annotation cannot be used. Every variant means "do not reconcile this object".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClusterSelectorError {
    /// The value is the control plane's "never propagate" marker
    /// ([`FEDERATION_CONTROL_PLANE_SELECTOR_VALUE`]).
    ControlPlaneOnly,
    /// The value is not a JSON array of requirement objects; serde_json's one-line message.
    InvalidJson(String),
    /// Requirement `index` (0-based) has an operator v1 does not know.
    UnknownOperator {
        /// Position of the requirement in the array.
        index: usize,
        /// The operator as written (empty when missing).
        operator: String,
    },
    /// Requirement `index` (0-based) is rejected by apimachinery's rules; `message` is its wording.
    InvalidRequirement {
        /// Position of the requirement in the array.
        index: usize,
        /// apimachinery's message, e.g. `values: Invalid value: null: for 'in', 'notin' operators, values
        /// set can't be empty`.
        message: String,
    },
}

impl fmt::Display for ClusterSelectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlPlaneOnly => write!(
                f,
                "cluster selector is the control-plane marker {FEDERATION_CONTROL_PLANE_SELECTOR_VALUE:?}: \
                 the object is never propagated"
            ),
            Self::InvalidJson(message) => write!(f, "invalid cluster selector JSON: {message}"),
            Self::UnknownOperator { index, operator } => {
                write!(
                    f,
                    "cluster selector requirement {index}: unknown operator {operator:?}"
                )
            }
            Self::InvalidRequirement { index, message } => {
                write!(f, "cluster selector requirement {index}: {message}")
            }
        }
    }
}

impl std::error::Error for ClusterSelectorError {}

/// One requirement as written in the annotation (`ClusterSelectorRequirement`, JSON tags `key`,
/// `operator`, `values`); for writing annotations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClusterSelectorRequirement {
    /// The Cluster label key.
    pub key: String,
    /// One of v1's operator spellings.
    pub operator: String,
    /// The values; how many depends on the operator.
    pub values: Vec<String>,
}

impl ClusterSelectorRequirement {
    /// A requirement with these parts.
    #[must_use]
    pub fn new(key: impl Into<String>, operator: impl Into<String>, values: &[&str]) -> Self {
        Self {
            key: key.into(),
            operator: operator.into(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }
}

/// The annotation value for these requirements (compact JSON array), what [`ClusterSelector::parse`]
/// reads back.
#[must_use]
pub fn annotation_value(requirements: &[ClusterSelectorRequirement]) -> String {
    // Serializing plain strings and vectors cannot fail.
    serde_json::to_string(requirements).unwrap_or_else(|_| String::from("[]"))
}

// ---------------------------------------------------------------------------------------------------------
// Decoding with Go's rules
// ---------------------------------------------------------------------------------------------------------

/// The array; `null` decodes as empty (Go leaves the slice nil).
struct RawRequirements(Vec<RawRequirement>);

/// One element; a `null` element, like missing fields, keeps the zero values (and then fails validation).
#[derive(Default)]
struct RawRequirement {
    key: String,
    operator: String,
    values: Vec<String>,
}

impl<'de> Deserialize<'de> for RawRequirements {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArrayVisitor;
        impl<'de> Visitor<'de> for ArrayVisitor {
            type Value = RawRequirements;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an array of cluster selector requirements")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(RawRequirements(Vec::new()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Option<RawRequirement>>()? {
                    items.push(item.unwrap_or_default());
                }
                Ok(RawRequirements(items))
            }
        }
        deserializer.deserialize_any(ArrayVisitor)
    }
}

impl<'de> Deserialize<'de> for RawRequirement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = RawRequirement;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a cluster selector requirement object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = RawRequirement::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key_matches_field(&key, "key") {
                        if let Some(value) = map.next_value::<Option<String>>()? {
                            out.key = value;
                        }
                    } else if key_matches_field(&key, "operator") {
                        if let Some(value) = map.next_value::<Option<String>>()? {
                            out.operator = value;
                        }
                    } else if key_matches_field(&key, "values") {
                        // null resets the slice; a null element is Go's zero string.
                        out.values = map
                            .next_value::<Option<Vec<Option<String>>>>()?
                            .unwrap_or_default()
                            .into_iter()
                            .map(Option::unwrap_or_default)
                            .collect();
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn annotated(value: &str) -> BTreeMap<String, String> {
        labels(&[(CLUSTER_SELECTOR_ANNOTATION, value)])
    }

    fn selects(selector_json: &str, cluster_labels: &[(&str, &str)]) -> bool {
        ClusterSelector::parse(selector_json)
            .expect("selector parses")
            .matches(&labels(cluster_labels))
    }

    fn one(key: &str, operator: &str, values: &[&str]) -> String {
        annotation_value(&[ClusterSelectorRequirement::new(key, operator, values)])
    }

    #[test]
    fn an_absent_annotation_selects_every_cluster() {
        let selector = ClusterSelector::from_annotations(&BTreeMap::new()).expect("no annotation is fine");
        assert_eq!(selector, ClusterSelector::All);
        assert!(selector.matches(&BTreeMap::new()));
        assert!(selector.matches(&labels(&[("a", "b")])));
        assert!(selector.requirements().is_empty());
    }

    #[test]
    fn an_empty_array_or_null_selects_every_cluster() {
        for value in ["[]", " [ ] ", "null"] {
            let selector = ClusterSelector::from_annotations(&annotated(value)).expect("empty selector");
            assert!(selector.requirements().is_empty(), "{value}");
            assert!(selector.matches(&BTreeMap::new()), "{value}");
            assert!(selector.matches(&labels(&[("x", "y")])), "{value}");
        }
    }

    #[test]
    fn the_integration_test_example_selects_by_equality() {
        let value = r#"[{"key":"cluster","operator":"==","values":["1"]}]"#;
        assert!(selects(value, &[("cluster", "1")]));
        assert!(!selects(value, &[("cluster", "2")]));
        assert!(!selects(value, &[]));
    }

    #[test]
    fn every_v1_operator_spelling_is_understood() {
        let cases: &[(&str, Operator, &[&str])] = &[
            ("in", Operator::In, &["a"]),
            ("In", Operator::In, &["a"]),
            ("notin", Operator::NotIn, &["a"]),
            ("NotIn", Operator::NotIn, &["a"]),
            ("exists", Operator::Exists, &[]),
            ("Exists", Operator::Exists, &[]),
            ("!", Operator::DoesNotExist, &[]),
            ("DoesNotExist", Operator::DoesNotExist, &[]),
            ("=", Operator::Equals, &["a"]),
            ("==", Operator::DoubleEquals, &["a"]),
            ("!=", Operator::NotEquals, &["a"]),
            ("gt", Operator::GreaterThan, &["1"]),
            ("Gt", Operator::GreaterThan, &["1"]),
            (">", Operator::GreaterThan, &["1"]),
            ("lt", Operator::LessThan, &["1"]),
            ("Lt", Operator::LessThan, &["1"]),
            ("<", Operator::LessThan, &["1"]),
        ];
        for (spelling, operator, values) in cases {
            let selector = ClusterSelector::parse(&one("k", spelling, values)).expect(spelling);
            assert_eq!(selector.requirements().len(), 1);
            assert_eq!(selector.requirements()[0].operator(), *operator, "{spelling}");
        }
    }

    #[test]
    fn set_and_equality_operators_match_like_apimachinery() {
        let region_in = one("region", "In", &["eu", "us"]);
        assert!(selects(&region_in, &[("region", "us")]));
        assert!(!selects(&region_in, &[("region", "asia")]));
        assert!(!selects(&region_in, &[]));

        let region_notin = one("region", "notin", &["eu", "us"]);
        assert!(!selects(&region_notin, &[("region", "us")]));
        assert!(selects(&region_notin, &[("region", "asia")]));
        assert!(
            selects(&region_notin, &[]),
            "notin matches a cluster without the key"
        );

        let not_equals = one("region", "!=", &["eu"]);
        assert!(!selects(&not_equals, &[("region", "eu")]));
        assert!(selects(&not_equals, &[("region", "us")]));
        assert!(selects(&not_equals, &[]), "!= matches a cluster without the key");

        let equals = one("region", "=", &["eu"]);
        assert!(selects(&equals, &[("region", "eu")]));
        assert!(!selects(&equals, &[("region", "us")]));
        assert!(!selects(&equals, &[]));
    }

    #[test]
    fn existence_operators_look_only_at_the_key() {
        let exists = one("gpu", "exists", &[]);
        assert!(selects(&exists, &[("gpu", "")]));
        assert!(!selects(&exists, &[("cpu", "x")]));
        let absent = one("gpu", "!", &[]);
        assert!(!selects(&absent, &[("gpu", "yes")]));
        assert!(selects(&absent, &[]));
    }

    #[test]
    fn gt_and_lt_need_a_present_integer_label() {
        let gt = one("size", "gt", &["5"]);
        assert!(selects(&gt, &[("size", "6")]));
        assert!(!selects(&gt, &[("size", "5")]));
        assert!(
            !selects(&gt, &[("size", "big")]),
            "a non-integer label never matches"
        );
        assert!(!selects(&gt, &[]), "an absent label never matches");
        let lt = one("size", "<", &["5"]);
        assert!(selects(&lt, &[("size", "-3")]));
        assert!(!selects(&lt, &[("size", "5")]));
        assert!(!selects(&lt, &[]));
    }

    #[test]
    fn requirements_are_anded() {
        let value = r#"[{"key":"region","operator":"in","values":["eu"]},
                        {"key":"tier","operator":"!=","values":["test"]}]"#;
        assert!(selects(value, &[("region", "eu")]));
        assert!(selects(value, &[("region", "eu"), ("tier", "prod")]));
        assert!(!selects(value, &[("region", "eu"), ("tier", "test")]));
        assert!(!selects(value, &[("region", "us")]));
    }

    #[test]
    fn object_keys_match_case_insensitively_and_unknown_keys_are_ignored() {
        let value = r#"[{"Key":"region","OPERATOR":"In","Values":["eu"],"comment":{"x":1}}]"#;
        assert!(selects(value, &[("region", "eu")]));
    }

    #[test]
    fn bad_json_is_reported_as_such() {
        for value in [
            "",
            "{",
            "{}",
            r#"{"key":"a"}"#,
            "[1]",
            r#"[{"key":1}]"#,
            "[] x",
            "true",
        ] {
            let error = ClusterSelector::parse(value).expect_err(value);
            assert!(
                matches!(error, ClusterSelectorError::InvalidJson(_)),
                "{value}: {error:?}"
            );
            assert!(
                error.to_string().starts_with("invalid cluster selector JSON: "),
                "{error}"
            );
            assert!(!error.to_string().contains('\n'));
        }
    }

    #[test]
    fn an_unknown_or_missing_operator_is_named_in_the_error() {
        let error = ClusterSelector::parse(&one("k", "IN", &["a"])).expect_err("IN is not a v1 spelling");
        assert_eq!(
            error,
            ClusterSelectorError::UnknownOperator {
                index: 0,
                operator: "IN".to_owned()
            }
        );
        assert_eq!(
            error.to_string(),
            r#"cluster selector requirement 0: unknown operator "IN""#
        );
        let error = ClusterSelector::parse(r#"[{"key":"k","operator":"exists"},{"key":"k"}]"#)
            .expect_err("missing operator");
        assert_eq!(
            error.to_string(),
            r#"cluster selector requirement 1: unknown operator """#
        );
        let error = ClusterSelector::parse("[null]").expect_err("a null element has no operator");
        assert!(matches!(
            error,
            ClusterSelectorError::UnknownOperator { index: 0, .. }
        ));
    }

    #[test]
    fn wrong_value_counts_are_rejected_per_operator() {
        let cases: &[(&str, &[&str], &str)] = &[
            ("in", &[], "values set can't be empty"),
            ("notin", &[], "values set can't be empty"),
            ("exists", &["a"], "values set must be empty"),
            ("!", &["a"], "values set must be empty"),
            ("=", &[], "exact-match compatibility requires one single value"),
            (
                "==",
                &["a", "b"],
                "exact-match compatibility requires one single value",
            ),
            ("!=", &[], "exact-match compatibility requires one single value"),
            ("gt", &["1", "2"], "exactly one value is required"),
            ("lt", &[], "exactly one value is required"),
            ("gt", &["x"], "the value must be an integer"),
        ];
        for (operator, values, expected) in cases {
            let error = ClusterSelector::parse(&one("k", operator, values)).expect_err(operator);
            assert!(
                matches!(error, ClusterSelectorError::InvalidRequirement { index: 0, .. }),
                "{operator}: {error:?}"
            );
            let message = error.to_string();
            assert!(message.contains(expected), "{operator} {values:?}: {message}");
            assert!(!message.contains('\n'));
        }
    }

    #[test]
    fn invalid_keys_and_values_are_rejected() {
        for value in [
            one("", "exists", &[]),
            one("bad key", "exists", &[]),
            one("k", "in", &["not a value"]),
        ] {
            let error = ClusterSelector::parse(&value).expect_err(&value);
            assert!(
                matches!(error, ClusterSelectorError::InvalidRequirement { .. }),
                "{value}: {error:?}"
            );
        }
        assert!(ClusterSelector::parse(&one("example.com/k", "in", &["", "a.b-c"])).is_ok());
    }

    #[test]
    fn the_control_plane_marker_is_recognised_explicitly() {
        let annotations = annotated(FEDERATION_CONTROL_PLANE_SELECTOR_VALUE);
        assert!(is_control_plane_marker(&annotations));
        assert_eq!(
            ClusterSelector::from_annotations(&annotations),
            Err(ClusterSelectorError::ControlPlaneOnly)
        );
        assert!(send_to_cluster(&BTreeMap::new(), &annotations).is_err());
        assert!(!is_control_plane_marker(&annotated("[]")));
        assert!(!is_control_plane_marker(&BTreeMap::new()));
    }

    #[test]
    fn send_to_cluster_combines_lookup_and_matching() {
        let cluster = labels(&[("cluster", "1")]);
        assert_eq!(send_to_cluster(&cluster, &BTreeMap::new()), Ok(true));
        assert_eq!(
            send_to_cluster(&cluster, &annotated(&one("cluster", "in", &["1"]))),
            Ok(true)
        );
        assert_eq!(
            send_to_cluster(&cluster, &annotated(&one("cluster", "in", &["2"]))),
            Ok(false)
        );
    }

    #[test]
    fn annotation_values_are_written_with_lowercase_keys() {
        assert_eq!(
            one("cluster", "==", &["1"]),
            r#"[{"key":"cluster","operator":"==","values":["1"]}]"#
        );
    }
}
