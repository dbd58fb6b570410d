//! `coordination.k8s.io/v1` kinds: leases (leader election).

use fcp_api::validation::FieldError;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::{Value, json};

use super::{
    NONE, Names, def,
    printers::{age_cell, age_column, column, name_column},
};
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

impl KindRules for Lease {
    /// kube's `ValidateLeaseSpec`: a positive `leaseDurationSeconds` and non-negative `leaseTransitions`
    /// when set. No defaults.
    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let Some(spec) = &self.spec else { return errs };
        if let Some(duration) = spec.lease_duration_seconds.filter(|d| *d <= 0) {
            errs.push(FieldError::invalid_value(
                "spec.leaseDurationSeconds",
                duration,
                "must be greater than 0",
            ));
        }
        if let Some(transitions) = spec.lease_transitions.filter(|t| *t < 0) {
            errs.push(FieldError::invalid_value(
                "spec.leaseTransitions",
                transitions,
                "must be greater than or equal to 0",
            ));
        }
        errs
    }

    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column(
                "Holder",
                "string",
                0,
                "holderIdentity contains the identity of the holder of a current lease.",
            ),
            age_column(),
        ]
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let holder = self
            .spec
            .as_ref()
            .and_then(|s| s.holder_identity.clone())
            .unwrap_or_default();
        vec![
            object["metadata"]["name"].clone(),
            json!(holder),
            age_cell(object, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::test_support::{create_errors, normalized, row};

    #[test]
    fn lease_has_no_defaults_and_validates_durations() {
        let body = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "me",
            "renewTime": "2024-01-01T00:00:00.123456Z"}});
        let lease = normalized::<Lease>(body.clone());
        assert_eq!(lease["spec"], body["spec"]);
        assert_eq!(row::<Lease>(&lease)[1].1, json!("me"));
        assert_eq!(
            create_errors::<Lease>(json!({"metadata": {"name": "l"}, "spec": {"leaseDurationSeconds": 0}})),
            vec!["spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"]
        );
    }
}
