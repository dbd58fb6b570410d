//! `federation/v1beta1` kinds: clusters, the members of the federation.

use fcp_api::{
    cluster::{Cluster, validate_cluster_spec},
    validation::{FieldError, NameRule},
};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{
    Names, STATUS, def,
    printers::{age_cell, age_column, column, name_column},
};
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

    /// Federation v1's `kubectl get clusters`: Name, Status, Age.
    fn table_columns() -> Vec<Value> {
        vec![
            name_column(),
            column(
                "Status",
                "string",
                0,
                "The conditions of the cluster: each condition type, prefixed with Not when it is not True.",
            ),
            age_column(),
        ]
    }

    /// Federation v1's `printCluster`: each condition's type (`Ready`), or `Not<type>` when its status is not
    /// `True`, joined by `,`; `Unknown` without conditions.
    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        let statuses: Vec<String> = self
            .status
            .iter()
            .flat_map(|s| s.conditions.iter())
            .map(|c| {
                if c.status == "True" {
                    c.type_.clone()
                } else {
                    format!("Not{}", c.type_)
                }
            })
            .collect();
        let status = if statuses.is_empty() {
            "Unknown".to_owned()
        } else {
            statuses.join(",")
        };
        vec![
            object["metadata"]["name"].clone(),
            json!(status),
            age_cell(object, now),
        ]
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::test_support::row;

    #[test]
    fn cluster_status_column_lists_conditions() {
        let cluster = |conditions: Value| {
            json!({"metadata": {"name": "c1"}, "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://c1"}]},
                   "status": {"conditions": conditions}})
        };
        assert_eq!(
            row::<Cluster>(&cluster(json!([{"type": "Ready", "status": "True"}])))[1].1,
            json!("Ready")
        );
        assert_eq!(
            row::<Cluster>(&cluster(
                json!([{"type": "Ready", "status": "False"}, {"type": "Offline", "status": "True"}])
            ))[1]
                .1,
            json!("NotReady,Offline")
        );
        assert_eq!(row::<Cluster>(&cluster(json!([])))[1].1, json!("Unknown"));
    }
}
