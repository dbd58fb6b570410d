//! `OwnerReferencesPermissionEnforcement` (kube's `plugin/pkg/admission/gc`): setting owner references is a
//! way to get an object deleted (by the garbage collector, with its owner) and to hold an owner's deletion
//! (`blockOwnerDeletion`), so both need the matching rights.
//!
//! On a create or update of a main resource by a user:
//! - when `metadata.ownerReferences` changes (on create: is not empty; on update: differs from the stored
//!   list in length or in any entry, order included), the user must be allowed to `delete` the object, else
//!   403 `cannot set an ownerRef on a resource you can't delete: <why>`;
//! - then, for every reference with `blockOwnerDeletion: true` that is new (by uid) or was not blocking
//!   before, the user must be allowed to `update` the owner's `finalizers` subresource (owner resolved from
//!   the reference's `apiVersion` and `kind` among the served resources; in the object's namespace when the
//!   owner is namespaced), else 403 `cannot set blockOwnerDeletion if an ownerReference refers to a resource
//!   you can't set finalizers on: <why>`; an owner kind the server does not serve gives 403 `cannot set
//!   blockOwnerDeletion in this case because cannot find RESTMapping for APIVersion <v> Kind <k>: <why>`.
//!
//! `<why>` is the authorizer's reason, or kube's standard `User "u" cannot <verb> resource ...` message when
//! the authorizer gave none. Writes of the server itself (no user) and subresource writes are not checked.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use serde_json::Value;

use super::{AdmissionPlugin, AdmissionRequest, OWNER_REFERENCES_PERMISSION_ENFORCEMENT};
use crate::{
    auth::{
        UserInfo,
        authz::{Authorizer, Decision, RequestAttributes},
        filter::forbidden_message,
    },
    error::{ApiError, ApiResult},
    registry::{Registry, ResourceDef},
};

/// The plugin; see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct OwnerReferencesPermissionEnforcement {
    authorizer: Arc<dyn Authorizer>,
    registry: Arc<Registry>,
}

impl OwnerReferencesPermissionEnforcement {
    /// A plugin asking `authorizer` (the server's whole chain, so that superusers are allowed) and resolving
    /// owner kinds among the resources of `registry`.
    #[must_use]
    pub fn new(authorizer: Arc<dyn Authorizer>, registry: Arc<Registry>) -> Self {
        Self { authorizer, registry }
    }

    /// Why `user` may not do `attributes`, or `None` when the authorizer allows it.
    fn denied(&self, user: &UserInfo, attributes: &RequestAttributes) -> Option<String> {
        match self.authorizer.authorize(user, attributes) {
            Decision::Allow(_) => None,
            Decision::Deny(reason) | Decision::NoOpinion(reason) => Some(if reason.is_empty() {
                forbidden_message(user, attributes)
            } else {
                reason
            }),
        }
    }

    /// The served resources of an owner reference's `apiVersion` and `kind`.
    ///
    /// # Errors
    /// kube's RESTMapper message when the apiVersion is malformed or nothing serves the kind there.
    fn owner_resources(&self, api_version: &str, kind: &str) -> Result<Vec<&ResourceDef>, String> {
        let (group, version) = match api_version.split_once('/') {
            None => ("", api_version),
            Some((group, version)) if !version.contains('/') => (group, version),
            Some(_) => return Err(format!("unexpected GroupVersion string: {api_version}")),
        };
        let found: Vec<&ResourceDef> = self
            .registry
            .all()
            .filter(|r| r.group == group && r.version == version && r.kind == kind)
            .collect();
        if found.is_empty() {
            Err(format!("no matches for kind {kind:?} in version {api_version:?}"))
        } else {
            Ok(found)
        }
    }
}

#[async_trait]
impl AdmissionPlugin for OwnerReferencesPermissionEnforcement {
    fn name(&self) -> &'static str {
        OWNER_REFERENCES_PERMISSION_ENFORCEMENT
    }

    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> ApiResult<()> {
        let Some(user) = request.user else {
            return Ok(());
        };
        if request.subresource.is_some() {
            return Ok(());
        }
        let new_refs = owner_references(request.object);
        let old_refs = request.old.map(owner_references);
        if !is_changing_owner_references(&new_refs, old_refs.as_deref()) {
            return Ok(());
        }
        let resource = request.resource;
        // kube's admission name: the object's own name (empty for a create with generateName).
        let name = object_name(request.object);
        let namespace = if resource.namespaced() {
            request.namespace.unwrap_or_default()
        } else {
            ""
        };
        let forbidden = |why: String| ApiError::forbidden(resource, name, &why);

        let mut delete =
            RequestAttributes::resource("delete", resource.group, resource.plural, namespace, name);
        delete.api_version = resource.version.to_owned();
        if let Some(why) = self.denied(user, &delete) {
            return Err(forbidden(format!(
                "cannot set an ownerRef on a resource you can't delete: {why}"
            )));
        }

        for owner in new_blocking_refs(&new_refs, old_refs.as_deref()) {
            let api_version = string_at(owner, "apiVersion");
            let kind = string_at(owner, "kind");
            let owners = self.owner_resources(api_version, kind).map_err(|why| {
                forbidden(format!(
                    "cannot set blockOwnerDeletion in this case because cannot find RESTMapping for APIVersion {api_version} Kind {kind}: {why}"
                ))
            })?;
            for owner_resource in owners {
                let owner_namespace = if owner_resource.namespaced() {
                    namespace
                } else {
                    ""
                };
                let mut finalizers = RequestAttributes::resource(
                    "update",
                    owner_resource.group,
                    owner_resource.plural,
                    owner_namespace,
                    string_at(owner, "name"),
                );
                finalizers.api_version = owner_resource.version.to_owned();
                finalizers.subresource = "finalizers".to_owned();
                if let Some(why) = self.denied(user, &finalizers) {
                    return Err(forbidden(format!(
                        "cannot set blockOwnerDeletion if an ownerReference refers to a resource you can't set finalizers on: {why}"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// `metadata.ownerReferences` of an object (empty when absent or not a list).
fn owner_references(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// `metadata.name`, or empty.
fn object_name(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// A string field of a JSON object, or empty.
fn string_at<'a>(object: &'a Value, field: &str) -> &'a str {
    object.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// Whether the write changes the owner references (kube's `isChangingOwnerReference`): on create, any
/// reference; on update, a different length or any entry different at the same position.
fn is_changing_owner_references(new: &[Value], old: Option<&[Value]>) -> bool {
    match old {
        None => !new.is_empty(),
        Some(old) => old != new,
    }
}

/// Whether a reference has `blockOwnerDeletion: true`.
fn blocks(reference: &Value) -> bool {
    reference.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
}

/// The references that start blocking their owner's deletion with this write (kube's
/// `newBlockingOwnerDeletionRefs`): blocking references whose uid was not referenced before, or was
/// referenced without blocking.
fn new_blocking_refs<'a>(new: &'a [Value], old: Option<&[Value]>) -> Vec<&'a Value> {
    let blocking = new.iter().filter(|r| blocks(r));
    let Some(old) = old else {
        return blocking.collect();
    };
    let old_by_uid: HashMap<&str, &Value> = old.iter().map(|r| (string_at(r, "uid"), r)).collect();
    blocking
        .filter(|r| old_by_uid.get(string_at(r, "uid")).is_none_or(|old| !blocks(old)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference(uid: &str, block: Option<bool>) -> Value {
        let mut r =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "name": format!("owner-{uid}"), "uid": uid});
        if let Some(block) = block {
            r["blockOwnerDeletion"] = json!(block);
        }
        r
    }

    #[test]
    fn any_difference_in_the_references_is_a_change() {
        let a = reference("a", None);
        let b = reference("b", Some(false));
        assert!(!is_changing_owner_references(&[], None));
        assert!(is_changing_owner_references(std::slice::from_ref(&a), None));
        assert!(!is_changing_owner_references(&[], Some(&[])));
        assert!(!is_changing_owner_references(
            &[a.clone(), b.clone()],
            Some(&[a.clone(), b.clone()])
        ));
        // Order matters, as kube compares position by position.
        assert!(is_changing_owner_references(
            &[b.clone(), a.clone()],
            Some(&[a.clone(), b])
        ));
        assert!(is_changing_owner_references(std::slice::from_ref(&a), Some(&[])));
        // An absent blockOwnerDeletion differs from false (kube compares the pointers' targets).
        assert!(is_changing_owner_references(
            &[reference("a", Some(false))],
            Some(std::slice::from_ref(&a))
        ));
    }

    #[test]
    fn only_references_that_start_blocking_need_the_owner_finalizers_right() {
        let new = [
            reference("kept-blocking", Some(true)),
            reference("now-blocking", Some(true)),
            reference("was-absent-blocking", Some(true)),
            reference("added", Some(true)),
            reference("not-blocking", Some(false)),
        ];
        let old = [
            reference("kept-blocking", Some(true)),
            reference("now-blocking", Some(false)),
            reference("was-absent-blocking", None),
            reference("not-blocking", Some(true)),
        ];
        let uids: Vec<&str> = new_blocking_refs(&new, Some(&old))
            .into_iter()
            .map(|r| string_at(r, "uid"))
            .collect();
        assert_eq!(uids, ["now-blocking", "was-absent-blocking", "added"]);
        assert_eq!(new_blocking_refs(&new, None).len(), 4);
    }

    #[test]
    fn the_standard_message_is_kubes() {
        let user = UserInfo::new("alice", "", &[]);
        let mut attributes = RequestAttributes::resource("update", "apps", "deployments", "ns", "d");
        attributes.subresource = "finalizers".to_owned();
        assert_eq!(
            forbidden_message(&user, &attributes),
            "User \"alice\" cannot update resource \"deployments/finalizers\" in API group \"apps\" in the namespace \"ns\""
        );
        let cluster = RequestAttributes::resource("delete", "federation", "clusters", "", "c");
        assert_eq!(
            forbidden_message(&user, &cluster),
            "User \"alice\" cannot delete resource \"clusters\" in API group \"federation\" at the cluster scope"
        );
    }

    #[test]
    fn owner_kinds_resolve_among_served_resources() {
        let plugin = OwnerReferencesPermissionEnforcement::new(
            Arc::new(crate::auth::authz::AlwaysAllow),
            Arc::new(Registry::new(crate::resources::federation_profile())),
        );
        let found = plugin.owner_resources("apps/v1", "Deployment");
        assert_eq!(
            found.map(|r| r.iter().map(|r| r.plural).collect::<Vec<_>>()),
            Ok(vec!["deployments"])
        );
        assert_eq!(plugin.owner_resources("v1", "ConfigMap").map(|r| r.len()), Ok(1));
        assert_eq!(
            plugin.owner_resources("v1", "Pod").map(|r| r.len()),
            Err("no matches for kind \"Pod\" in version \"v1\"".to_owned())
        );
        assert!(plugin.owner_resources("a/b/c", "X").is_err());
    }
}
