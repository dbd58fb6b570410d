//! Admission: plugins that see every create and update after decoding and defaulting and before validation
//! and storage, and may change the object or reject the request (kube's mutating + validating admission in
//! one pass). The chain runs inside [`Store`](crate::registry::store::Store) writes, so a patch is admitted as
//! the object it produces, and a conflict retry admits again.
//!
//! `--enable-admission-plugins` / `--disable-admission-plugins` pick the plugins ([`AdmissionOptions`]); they
//! always run in the recommended order below, whatever the order of the flags:
//! - `NamespaceLifecycle` (on by default): no creates in missing or terminating namespaces, the built-in
//!   namespaces cannot be deleted. Enforced by the store itself ([`crate::registry::namespaces`]); the flag
//!   turns it on or off.
//! - `OwnerReferencesPermissionEnforcement` ([`owner_references`]).
//! - `SchedulingPolicy` ([`scheduling_policy`]): federation v1's external policy engine.
//!
//! Besides the named plugins, the RBAC escalation check ([`crate::auth::rbac`]) runs in the chain when RBAC
//! authorization is on: it is part of the RBAC resources' semantics, not an optional plugin.

pub mod owner_references;
pub mod scheduling_policy;

use std::{fmt::Debug, sync::Arc};

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    auth::UserInfo,
    error::ApiResult,
    registry::{ResourceDef, store::Store},
};

/// Names of the plugins, in the order they run.
pub const NAMESPACE_LIFECYCLE: &str = "NamespaceLifecycle";
/// See [`owner_references`].
pub const OWNER_REFERENCES_PERMISSION_ENFORCEMENT: &str = "OwnerReferencesPermissionEnforcement";
/// See [`scheduling_policy`].
pub const SCHEDULING_POLICY: &str = "SchedulingPolicy";
/// Every plugin this server knows, in recommended order.
pub const KNOWN_PLUGINS: [&str; 3] = [
    NAMESPACE_LIFECYCLE,
    OWNER_REFERENCES_PERMISSION_ENFORCEMENT,
    SCHEDULING_POLICY,
];
/// Plugins on unless disabled.
pub const DEFAULT_PLUGINS: [&str; 1] = [NAMESPACE_LIFECYCLE];

/// The kind of write being admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// POST (and apply or patch creating an object).
    Create,
    /// PUT or PATCH of an existing object (main resource or a subresource).
    Update,
}

impl Operation {
    /// kube's name (`CREATE`, `UPDATE`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
        }
    }
}

/// One write as admission sees it.
#[derive(Debug)]
pub struct AdmissionRequest<'a> {
    /// Create or update.
    pub operation: Operation,
    /// The resource, at the group/version of the request.
    pub resource: &'a ResourceDef,
    /// `status`, `finalize`, `scale`… or `None` for the main resource.
    pub subresource: Option<&'a str>,
    /// The namespace, for namespaced resources.
    pub namespace: Option<&'a str>,
    /// The object's name (for a `generateName` create, the prefix until a name is chosen).
    pub name: &'a str,
    /// The object to be stored, in the request's version, defaulted; plugins may change it.
    pub object: &'a mut Value,
    /// The stored object, on update.
    pub old: Option<&'a Value>,
    /// Who asks; `None` for the server's own work (bootstrap, the namespace controller), which is not
    /// subject to user-dependent checks.
    pub user: Option<&'a UserInfo>,
    /// Whether the write is a dry run (plugins must not cause side effects then).
    pub dry_run: bool,
    /// The store, for plugins that read other objects.
    pub store: &'a Store,
}

/// One admission plugin.
#[async_trait]
pub trait AdmissionPlugin: Send + Sync + Debug {
    /// The plugin's name as in `--enable-admission-plugins`.
    fn name(&self) -> &'static str;

    /// Admits `request`, possibly changing `request.object`.
    ///
    /// # Errors
    /// The Status the client gets: usually 403 Forbidden naming the plugin's reason.
    async fn admit(&self, request: &mut AdmissionRequest<'_>) -> ApiResult<()>;
}

/// The plugins that run on every write, in order.
#[derive(Debug, Clone, Default)]
pub struct AdmissionChain {
    plugins: Vec<Arc<dyn AdmissionPlugin>>,
}

impl AdmissionChain {
    /// A chain running `plugins` in this order.
    #[must_use]
    pub fn new(plugins: Vec<Arc<dyn AdmissionPlugin>>) -> Self {
        Self { plugins }
    }

    /// Whether the chain has no plugin (writes skip admission entirely).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// The plugins' names, in order (logged at start-up).
    #[must_use]
    pub fn names(&self) -> Vec<&'static str> {
        self.plugins.iter().map(|p| p.name()).collect()
    }

    /// Runs every plugin in order; the first error rejects the write.
    ///
    /// # Errors
    /// The first plugin's rejection.
    pub async fn admit(&self, request: &mut AdmissionRequest<'_>) -> ApiResult<()> {
        for plugin in &self.plugins {
            plugin.admit(request).await?;
        }
        Ok(())
    }
}

/// Which plugins are on, from `--enable-admission-plugins` / `--disable-admission-plugins`.
///
/// # Errors
/// A one-line message naming an unknown plugin, or a plugin both enabled and disabled.
pub fn enabled_plugins(enable: &[String], disable: &[String]) -> Result<Vec<&'static str>, String> {
    for name in enable.iter().chain(disable) {
        if !name.is_empty() && !KNOWN_PLUGINS.contains(&name.as_str()) {
            return Err(format!(
                "unknown admission plugin {name:?} (known: {})",
                KNOWN_PLUGINS.join(", ")
            ));
        }
    }
    if let Some(both) = enable.iter().find(|e| disable.contains(e)) {
        return Err(format!("admission plugin {both:?} is both enabled and disabled"));
    }
    Ok(KNOWN_PLUGINS
        .into_iter()
        .filter(|name| {
            let enabled = DEFAULT_PLUGINS.contains(name) || enable.iter().any(|e| e == name);
            enabled && !disable.iter().any(|d| d == name)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn plugins_run_in_recommended_order_whatever_the_flags_say() {
        let on = enabled_plugins(
            &strings(&["SchedulingPolicy", "OwnerReferencesPermissionEnforcement"]),
            &[],
        );
        assert_eq!(
            on,
            Ok(vec![
                NAMESPACE_LIFECYCLE,
                OWNER_REFERENCES_PERMISSION_ENFORCEMENT,
                SCHEDULING_POLICY
            ])
        );
        assert_eq!(
            enabled_plugins(&[], &strings(&["NamespaceLifecycle"])),
            Ok(vec![])
        );
        assert!(enabled_plugins(&strings(&["Nope"]), &[]).is_err());
        assert!(enabled_plugins(&strings(&["SchedulingPolicy"]), &strings(&["SchedulingPolicy"])).is_err());
    }
}
