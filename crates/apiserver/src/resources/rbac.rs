//! `rbac.authorization.k8s.io/v1` kinds: roles, rolebindings, clusterroles, clusterrolebindings. They are
//! stored and served; enforcement comes with the RBAC authorizer.

use fcp_api::validation::{FieldError, FieldErrorKind, NameRule, go_quote, is_valid_path_segment_name};
use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use serde_json::{Value, json};

use super::{
    NONE, Names, def,
    pod_template::set_if_empty,
    printers::{age_cell, age_column, column, name_column},
};
use crate::registry::{KindRules, ResourceDef, Scope};

pub(super) fn resources() -> Vec<ResourceDef> {
    let rbac = |kind, plural, singular, scope| Names {
        group: "rbac.authorization.k8s.io",
        version: "v1",
        kind,
        plural,
        singular,
        scope,
        short_names: &[],
        categories: &[],
    };
    vec![
        def::<ClusterRoleBinding>(
            rbac(
                "ClusterRoleBinding",
                "clusterrolebindings",
                "clusterrolebinding",
                Scope::Cluster,
            ),
            "clusterrolebindings",
            NONE,
            false,
        ),
        def::<ClusterRole>(
            rbac("ClusterRole", "clusterroles", "clusterrole", Scope::Cluster),
            "clusterroles",
            NONE,
            false,
        ),
        def::<RoleBinding>(
            rbac("RoleBinding", "rolebindings", "rolebinding", Scope::Namespaced),
            "rolebindings",
            NONE,
            false,
        ),
        def::<Role>(
            rbac("Role", "roles", "role", Scope::Namespaced),
            "roles",
            NONE,
            false,
        ),
    ]
}

/// The RBAC API group, the default `apiGroup` of role references and of User/Group subjects.
const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// kube's `SetDefaults_Subject`: User and Group subjects get the RBAC `apiGroup` when it is empty.
fn default_subjects(subjects: &mut Option<Vec<Subject>>) {
    for subject in subjects.iter_mut().flatten() {
        if matches!(subject.kind.as_str(), "User" | "Group") {
            set_if_empty(&mut subject.api_group, RBAC_GROUP);
        }
    }
}

/// Go's `%#v` of a `[]string`, as kube prints a bad list value.
fn go_string_slice(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// kube's `ValidatePolicyRule`: verbs required; non-resource URLs only in cluster roles and never with
/// resources; resource rules need API groups and resources.
fn validate_rules(rules: &[PolicyRule], namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let path = format!("rules[{i}]");
        if rule.verbs.is_empty() {
            errs.push(FieldError::required(
                format!("{path}.verbs"),
                "verbs must contain at least one value",
            ));
        }
        let urls = rule.non_resource_urls.as_deref().unwrap_or_default();
        let non_empty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
        if !urls.is_empty() {
            let invalid = |detail: &str| FieldError {
                path: format!("{path}.nonResourceURLs"),
                kind: FieldErrorKind::Invalid,
                value: Some(go_string_slice(urls)),
                detail: detail.to_owned(),
            };
            if namespaced {
                errs.push(invalid("namespaced rules cannot apply to non-resource URLs"));
            }
            if non_empty(&rule.api_groups) || non_empty(&rule.resources) || non_empty(&rule.resource_names) {
                errs.push(invalid(
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if !non_empty(&rule.api_groups) {
            errs.push(FieldError::required(
                format!("{path}.apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if !non_empty(&rule.resources) {
            errs.push(FieldError::required(
                format!("{path}.resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
    errs
}

/// kube's binding validation: the role reference (RBAC group, a supported kind, a name) and each subject
/// (kind User, Group or ServiceAccount; the apiGroup each kind requires; a namespace for service accounts
/// of cluster bindings).
fn validate_binding(
    role_ref: &RoleRef,
    subjects: &[Subject],
    role_kinds: &[&str],
    namespaced: bool,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let group = role_ref.api_group.as_deref().unwrap_or_default();
    if group != RBAC_GROUP {
        errs.push(FieldError::not_supported(
            "roleRef.apiGroup",
            group,
            &[RBAC_GROUP],
        ));
    }
    if !role_kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(
            "roleRef.kind",
            &role_ref.kind,
            role_kinds,
        ));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else {
        for msg in is_valid_path_segment_name(&role_ref.name) {
            errs.push(FieldError::invalid("roleRef.name", Some(&role_ref.name), msg));
        }
    }
    for (i, subject) in subjects.iter().enumerate() {
        let path = format!("subjects[{i}]");
        if subject.name.is_empty() {
            errs.push(FieldError::required(format!("{path}.name"), ""));
        }
        let api_group = subject.api_group.as_deref().unwrap_or_default();
        match subject.kind.as_str() {
            "ServiceAccount" => {
                if !api_group.is_empty() {
                    errs.push(FieldError::not_supported(
                        format!("{path}.apiGroup"),
                        api_group,
                        &[""],
                    ));
                }
                if !namespaced && subject.namespace.as_deref().is_none_or(str::is_empty) {
                    errs.push(FieldError::required(format!("{path}.namespace"), ""));
                }
            }
            "User" | "Group" => {
                if api_group != RBAC_GROUP {
                    errs.push(FieldError::not_supported(
                        format!("{path}.apiGroup"),
                        api_group,
                        &[RBAC_GROUP],
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                format!("{path}.kind"),
                other,
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
    errs
}

/// `roleRef: Invalid value: rbac.RoleRef{...}: cannot change roleRef` when a binding's role changed.
fn validate_role_ref_unchanged(new: &RoleRef, old: &RoleRef) -> Vec<FieldError> {
    if new == old {
        return Vec::new();
    }
    vec![FieldError {
        path: "roleRef".to_owned(),
        kind: FieldErrorKind::Invalid,
        value: Some(format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            go_quote(new.api_group.as_deref().unwrap_or_default()),
            go_quote(&new.kind),
            go_quote(&new.name)
        )),
        detail: "cannot change roleRef".to_owned(),
    }]
}

/// kube's binding columns: Name, Role, Age, and with `-o wide` Users, Groups, ServiceAccounts.
fn binding_table_columns() -> Vec<Value> {
    vec![
        name_column(),
        column(
            "Role",
            "string",
            0,
            "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.",
        ),
        age_column(),
        column("Users", "string", 1, "Users in the roleBinding"),
        column("Groups", "string", 1, "Groups in the roleBinding"),
        column(
            "ServiceAccounts",
            "string",
            1,
            "ServiceAccounts in the roleBinding",
        ),
    ]
}

/// kube's `printRoleBinding`: `Kind/name` of the role, age, and the subjects by kind (service accounts as
/// `namespace:name`), each joined by `, `.
fn binding_table_row(role_ref: &RoleRef, subjects: &[Subject], object: &Value, now: Timestamp) -> Vec<Value> {
    let (mut users, mut groups, mut service_accounts) = (Vec::new(), Vec::new(), Vec::new());
    for subject in subjects {
        match subject.kind.as_str() {
            "User" => users.push(subject.name.clone()),
            "Group" => groups.push(subject.name.clone()),
            "ServiceAccount" => service_accounts.push(format!(
                "{}:{}",
                subject.namespace.as_deref().unwrap_or_default(),
                subject.name
            )),
            _ => {}
        }
    }
    vec![
        object["metadata"]["name"].clone(),
        json!(format!("{}/{}", role_ref.kind, role_ref.name)),
        age_cell(object, now),
        json!(users.join(", ")),
        json!(groups.join(", ")),
        json!(service_accounts.join(", ")),
    ]
}

// RBAC object names are path segments (they may contain ':' as in `system:discovery`). Roles print with
// kube's default columns (Name, Created At).
impl KindRules for ClusterRoleBinding {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    /// kube's `SetDefaults_ClusterRoleBinding` and `SetDefaults_Subject`.
    fn apply_defaults(&mut self) {
        set_if_empty(&mut self.role_ref.api_group, RBAC_GROUP);
        default_subjects(&mut self.subjects);
    }

    fn validate(&self) -> Vec<FieldError> {
        validate_binding(
            &self.role_ref,
            self.subjects.as_deref().unwrap_or_default(),
            &["ClusterRole"],
            false,
        )
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        errs.extend(validate_role_ref_unchanged(&self.role_ref, &old.role_ref));
        errs
    }

    fn table_columns() -> Vec<Value> {
        binding_table_columns()
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        binding_table_row(
            &self.role_ref,
            self.subjects.as_deref().unwrap_or_default(),
            object,
            now,
        )
    }
}

impl KindRules for ClusterRole {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self) -> Vec<FieldError> {
        validate_rules(self.rules.as_deref().unwrap_or_default(), false)
    }
}

impl KindRules for RoleBinding {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    /// kube's `SetDefaults_RoleBinding` and `SetDefaults_Subject`.
    fn apply_defaults(&mut self) {
        set_if_empty(&mut self.role_ref.api_group, RBAC_GROUP);
        default_subjects(&mut self.subjects);
    }

    fn validate(&self) -> Vec<FieldError> {
        validate_binding(
            &self.role_ref,
            self.subjects.as_deref().unwrap_or_default(),
            &["Role", "ClusterRole"],
            true,
        )
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        errs.extend(validate_role_ref_unchanged(&self.role_ref, &old.role_ref));
        errs
    }

    fn table_columns() -> Vec<Value> {
        binding_table_columns()
    }

    fn table_row(&self, object: &Value, now: Timestamp) -> Vec<Value> {
        binding_table_row(
            &self.role_ref,
            self.subjects.as_deref().unwrap_or_default(),
            object,
            now,
        )
    }
}

impl KindRules for Role {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self) -> Vec<FieldError> {
        validate_rules(self.rules.as_deref().unwrap_or_default(), true)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::resources::test_support::{create_errors, normalized, row, update_errors};

    fn binding(role: &str) -> Value {
        json!({"metadata": {"name": "b", "namespace": "ns"}, "roleRef": {"kind": "ClusterRole", "name": role},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "bot", "namespace": "ns"}]})
    }

    #[test]
    fn bindings_default_api_groups() {
        let b = normalized::<RoleBinding>(binding("view"));
        assert_eq!(b["roleRef"]["apiGroup"], RBAC_GROUP);
        assert_eq!(b["subjects"][0]["apiGroup"], RBAC_GROUP);
        assert!(b["subjects"][1].get("apiGroup").is_none());
        let cells: Vec<Value> = row::<RoleBinding>(&b).into_iter().map(|(_, v)| v).collect();
        assert_eq!(cells[1], json!("ClusterRole/view"));
        assert_eq!(cells[3..], [json!("alice"), json!(""), json!("ns:bot")]);
    }

    #[test]
    fn binding_validation() {
        assert!(create_errors::<RoleBinding>(binding("view")).is_empty());
        let mut bad = binding("view");
        bad["subjects"] = json!([{"kind": "Robot", "name": "r"}]);
        assert_eq!(
            create_errors::<RoleBinding>(bad),
            vec![
                "subjects[0].kind: Unsupported value: \"Robot\": supported values: \"ServiceAccount\", \"User\", \"Group\""
            ]
        );
        let mut cluster = binding("view");
        cluster["subjects"] = json!([{"kind": "ServiceAccount", "name": "bot"}]);
        assert_eq!(
            create_errors::<ClusterRoleBinding>(cluster),
            vec!["subjects[0].namespace: Required value"]
        );
        assert_eq!(
            update_errors::<RoleBinding>(binding("edit"), binding("view")),
            vec![
                "roleRef: Invalid value: rbac.RoleRef{APIGroup:\"rbac.authorization.k8s.io\", Kind:\"ClusterRole\", Name:\"edit\"}: cannot change roleRef"
            ]
        );
    }

    #[test]
    fn role_rules_need_verbs() {
        assert_eq!(
            create_errors::<Role>(
                json!({"metadata": {"name": "r"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": []},
                {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]})
            ),
            vec![
                "rules[0].verbs: Required value: verbs must contain at least one value",
                "rules[1].nonResourceURLs: Invalid value: []string{\"/healthz\"}: namespaced rules cannot apply to non-resource URLs",
            ]
        );
        assert!(create_errors::<ClusterRole>(json!({"metadata": {"name": "r"}, "rules": [{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]})).is_empty());
        let names: Vec<String> = row::<Role>(&json!({"metadata": {"name": "r"}}))
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["Name", "Created At"]);
    }
}
