//! RBAC escalation prevention: nobody grants, through a role or a binding, permissions they do not hold
//! (kube's role, cluster role, role binding and cluster role binding REST storage checks).
//!
//! # Contract
//! [`EscalationCheck`] admits creates and updates of the four RBAC kinds (other resources and subresource
//! writes pass). A write passes when it has no user (the server's own work), the user is a superuser
//! (`system:masters`), or:
//! - Roles and ClusterRoles: an update changes only ownerReferences/finalizers (garbage collection); or the
//!   authorizer chain allows verb `escalate` on the resource (`roles`/`clusterroles` in
//!   `rbac.authorization.k8s.io`, the role's namespace, and on update its name; a create has no name, as in
//!   kube, so an `escalate` rule limited by resourceNames never allows a create); or the user's own RBAC
//!   rules (in the role's namespace for a Role, cluster-wide for a ClusterRole) cover every rule of the new
//!   object (kube's `ConfirmNoEscalation`). A ClusterRole with an `aggregationRule` (new or old) also needs
//!   the user's rules to cover everything (`*` on `*.*` and every URL) unless `escalate` is allowed.
//! - RoleBindings and ClusterRoleBindings: an update changes only ownerReferences/finalizers; or the chain
//!   allows verb `bind` on the referenced role (`roles`/`clusterroles`, name = roleRef.name, namespace = the
//!   binding's, empty for a ClusterRoleBinding); or the user's rules (in the binding's namespace,
//!   cluster-wide for a ClusterRoleBinding) cover every rule of the referenced role, read from storage
//!   (404 when it does not exist). A roleRef of an unknown kind is left to validation (422).
//!
//! Otherwise the write is rejected with 403 Forbidden and kube's message, e.g. `roles.rbac.authorization.k8s.io
//! "x" is forbidden: user "alice" (groups=["system:authenticated"]) is attempting to grant RBAC permissions
//! not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`.
//!
//! The user's rules come from the in-memory index, which follows storage within moments (kube reads
//! storage); a permission granted a moment ago may not count yet.

use std::sync::Arc;

use async_trait::async_trait;
use fcp_api::validation::go_quote;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, RoleRef};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{
    RBAC_GROUP, RbacAuthorizer,
    index::aggregate_errors,
    rules::{Rule, covers, describe_missing, full_authority, go_quoted_list},
};
use crate::{
    admission::{AdmissionPlugin, AdmissionRequest, Operation},
    auth::{
        UserInfo,
        authz::{Authorizer, Decision, RequestAttributes},
    },
    error::{ApiError, ApiResult},
    registry::store::{Store, Target},
};

/// The plugin's name.
pub const NAME: &str = "RBACEscalationCheck";

/// The message of a ClusterRole write using an aggregationRule without full authority.
const AGGREGATION_MESSAGE: &str = "must have cluster-admin privileges to use the aggregationRule";

/// The escalation check, as an admission plugin; see the module docs.
#[derive(Debug)]
pub struct EscalationCheck {
    rbac: Arc<RbacAuthorizer>,
    authorizer: Arc<dyn Authorizer>,
}

impl EscalationCheck {
    /// A check using `rbac` for the users' own rules and `authorizer` (the whole chain) for the `escalate`
    /// and `bind` verbs.
    #[must_use]
    pub fn new(rbac: Arc<RbacAuthorizer>, authorizer: Arc<dyn Authorizer>) -> Self {
        Self { rbac, authorizer }
    }

    fn allowed(&self, user: &UserInfo, attributes: &RequestAttributes) -> bool {
        matches!(self.authorizer.authorize(user, attributes), Decision::Allow(_))
    }

    fn check_role(&self, request: &AdmissionRequest<'_>, user: &UserInfo) -> ApiResult<()> {
        let resource = request.resource;
        let object: &Value = request.object;
        if request.operation == Operation::Update
            && request.old.is_some_and(|old| only_gc_fields_change(object, old))
        {
            return Ok(());
        }
        let namespace = if resource.namespaced() {
            request.namespace.unwrap_or_default()
        } else {
            ""
        };
        let name = match request.operation {
            Operation::Create => "",
            Operation::Update => request.name,
        };
        let mut escalate =
            RequestAttributes::resource("escalate", RBAC_GROUP, resource.plural, namespace, name);
        escalate.api_version = "*".to_owned();
        if self.allowed(user, &escalate) {
            return Ok(());
        }
        let (rules, aggregated) = if resource.namespaced() {
            let role: Role = decode(object)?;
            (role.rules, false)
        } else {
            let role: ClusterRole = decode(object)?;
            let old_aggregated = match request.old {
                Some(old) => has_aggregation_rule(&decode::<ClusterRole>(old)?),
                None => false,
            };
            let aggregated = has_aggregation_rule(&role) || old_aggregated;
            (role.rules, aggregated)
        };
        let rules: Vec<Rule> = rules.iter().flatten().map(Rule::from_policy).collect();
        let (owner, errors) = self.rbac.rules_of(user, namespace);
        confirm_no_escalation(user, &owner, &errors, &rules)
            .map_err(|why| ApiError::forbidden(resource, request.name, &why))?;
        if aggregated && !covers(&owner, &full_authority()).0 {
            return Err(ApiError::forbidden(resource, request.name, AGGREGATION_MESSAGE));
        }
        Ok(())
    }

    async fn check_binding(&self, request: &AdmissionRequest<'_>, user: &UserInfo) -> ApiResult<()> {
        let resource = request.resource;
        let object: &Value = request.object;
        if request.operation == Operation::Update
            && request.old.is_some_and(|old| only_gc_fields_change(object, old))
        {
            return Ok(());
        }
        let namespace = if resource.namespaced() {
            request.namespace.unwrap_or_default()
        } else {
            ""
        };
        let role_ref: RoleRef = if resource.namespaced() {
            decode::<RoleBinding>(object)?.role_ref
        } else {
            decode::<ClusterRoleBinding>(object)?.role_ref
        };
        let role_plural = match role_ref.kind.as_str() {
            "ClusterRole" => "clusterroles",
            "Role" => "roles",
            // Validation rejects it (422).
            _ => return Ok(()),
        };
        let bind = RequestAttributes::resource(
            "bind",
            role_ref.api_group.as_deref().unwrap_or_default(),
            role_plural,
            namespace,
            &role_ref.name,
        );
        if self.allowed(user, &bind) {
            return Ok(());
        }
        let role_namespace = if role_plural == "roles" { namespace } else { "" };
        let rules = self
            .role_rules(request.store, role_plural, role_namespace, &role_ref.name)
            .await?;
        let (owner, errors) = self.rbac.rules_of(user, namespace);
        confirm_no_escalation(user, &owner, &errors, &rules)
            .map_err(|why| ApiError::forbidden(resource, request.name, &why))
    }

    /// The rules of the referenced role (`namespace` empty for a cluster role), read from storage (from the
    /// index when it follows no store).
    ///
    /// # Errors
    /// 404 `roles.rbac.authorization.k8s.io "x" not found` when it does not exist; storage errors.
    async fn role_rules(
        &self,
        store: &Store,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> ApiResult<Vec<Rule>> {
        let Some(resources) = self.rbac.resources() else {
            return self
                .rbac
                .role(namespace, name)
                .ok_or_else(|| role_not_found(plural, name));
        };
        if plural == "roles" {
            if namespace.is_empty() {
                return Err(role_not_found(plural, name));
            }
            let target = Target {
                resource: &resources.roles,
                namespace: Some(namespace),
                user: None,
            };
            let role: Role = decode(&store.get(target, name).await?)?;
            Ok(role.rules.iter().flatten().map(Rule::from_policy).collect())
        } else {
            let target = Target {
                resource: &resources.cluster_roles,
                namespace: None,
                user: None,
            };
            let role: ClusterRole = decode(&store.get(target, name).await?)?;
            Ok(role.rules.iter().flatten().map(Rule::from_policy).collect())
        }
    }
}

#[async_trait]
impl AdmissionPlugin for EscalationCheck {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> ApiResult<()> {
        let resource = request.resource;
        if resource.group != RBAC_GROUP || request.subresource.is_some() {
            return Ok(());
        }
        let Some(user) = request.user else {
            return Ok(());
        };
        if user.is_superuser() {
            return Ok(());
        }
        match resource.plural {
            "roles" | "clusterroles" => self.check_role(request, user),
            "rolebindings" | "clusterrolebindings" => self.check_binding(request, user).await,
            _ => Ok(()),
        }
    }
}

/// kube's `ConfirmNoEscalation`: `Ok` when `owner` rules cover `rules`; otherwise the reason, naming the user,
/// the groups and the missing rules (compacted, one per line, sorted), and the resolution errors of the
/// user's bindings if any (`; resolution errors: [...]`).
///
/// # Errors
/// The reason when some rules are not covered.
pub fn confirm_no_escalation(
    user: &UserInfo,
    owner: &[Rule],
    resolution_errors: &[String],
    rules: &[Rule],
) -> Result<(), String> {
    let (covered, missing) = covers(owner, rules);
    if covered {
        return Ok(());
    }
    let mut message = format!(
        "user {} (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        go_quote(&user.name),
        go_quoted_list(&user.groups),
        describe_missing(missing)
    );
    if !resolution_errors.is_empty() {
        message.push_str(&format!(
            "; resolution errors: [{}]",
            aggregate_errors(resolution_errors)
        ));
    }
    Err(message)
}

/// kube's `hasAggregationRule`: an aggregation rule with at least one selector.
fn has_aggregation_rule(role: &ClusterRole) -> bool {
    role.aggregation_rule
        .as_ref()
        .is_some_and(|a| a.cluster_role_selectors.as_ref().is_some_and(|s| !s.is_empty()))
}

/// kube's `IsOnlyMutatingGCFields`: whether `new` differs from `old` only in ownerReferences and finalizers
/// (and the bookkeeping fields managedFields, selfLink, resourceVersion).
fn only_gc_fields_change(new: &Value, old: &Value) -> bool {
    let strip = |object: &Value| {
        let mut object = object.clone();
        if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in [
                "ownerReferences",
                "finalizers",
                "managedFields",
                "selfLink",
                "resourceVersion",
            ] {
                metadata.remove(field);
            }
        }
        object
    };
    strip(new) == strip(old)
}

fn decode<T: DeserializeOwned>(object: &Value) -> ApiResult<T> {
    serde_json::from_value(object.clone())
        .map_err(|e| ApiError::bad_request(format!("cannot decode the object: {e}")))
}

/// 404 for a referenced role that does not exist, as the store words it.
fn role_not_found(plural: &str, name: &str) -> ApiError {
    ApiError {
        code: 404,
        reason: "NotFound",
        message: format!("{plural}.{RBAC_GROUP} {} not found", go_quote(name)),
        details: Some(json!({"name": name, "group": RBAC_GROUP, "kind": plural})),
        retry_after_seconds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escalation_messages_like_kube() {
        let alice = UserInfo::new("alice", "", &["system:authenticated"]);
        let owner = vec![Rule::verbs(&["get"]).groups(&[""]).resources(&["configmaps"])];
        assert_eq!(
            confirm_no_escalation(
                &alice,
                &owner,
                &[],
                &[Rule::verbs(&["get"]).groups(&[""]).resources(&["configmaps"])]
            ),
            Ok(())
        );
        assert_eq!(
            confirm_no_escalation(
                &alice,
                &owner,
                &[],
                &[Rule::verbs(&["get"]).groups(&[""]).resources(&["secrets", "configmaps"])]
            ),
            Err("user \"alice\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not \
                 currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}"
                .to_owned())
        );
        let err = confirm_no_escalation(
            &alice,
            &owner,
            &["clusterrole.rbac.authorization.k8s.io \"gone\" not found".to_owned()],
            &[Rule::verbs(&["get", "list"]).urls(&["/healthz"])],
        )
        .unwrap_err();
        assert!(err.ends_with(
            "\n{NonResourceURLs:[\"/healthz\"], Verbs:[\"get\"]}\n{NonResourceURLs:[\"/healthz\"], Verbs:[\"list\"]}; \
             resolution errors: [clusterrole.rbac.authorization.k8s.io \"gone\" not found]"
        ));
    }

    #[test]
    fn gc_only_updates_are_recognised() {
        let old = json!({"metadata": {"name": "r", "resourceVersion": "5"}, "rules": []});
        let new = json!({"metadata": {"name": "r", "finalizers": ["x"], "ownerReferences": [{"uid": "u"}]}, "rules": []});
        assert!(only_gc_fields_change(&new, &old));
        let changed = json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["get"]}]});
        assert!(!only_gc_fields_change(&changed, &old));
    }
}
