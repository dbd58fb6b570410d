//! `rbac.authorization.k8s.io/v1` kinds: roles, rolebindings, clusterroles, clusterrolebindings. They are
//! stored and served; enforcement comes with the RBAC authorizer.

use fcp_api::validation::NameRule;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

use super::{NONE, Names, def};
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

// RBAC object names are path segments (they may contain ':' as in `system:discovery`).
impl KindRules for ClusterRoleBinding {
    const NAME_RULE: NameRule = NameRule::PathSegment;
}
impl KindRules for ClusterRole {
    const NAME_RULE: NameRule = NameRule::PathSegment;
}
impl KindRules for RoleBinding {
    const NAME_RULE: NameRule = NameRule::PathSegment;
}
impl KindRules for Role {
    const NAME_RULE: NameRule = NameRule::PathSegment;
}
