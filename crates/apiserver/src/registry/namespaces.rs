//! Namespace lifecycle, as kube-apiserver and kube-controller-manager give it together:
//!
//! - [`bootstrap`]: `default`, `kube-system`, `kube-public` and `kube-node-lease` exist from the start, and
//!   cannot be deleted ([`check_delete`]).
//! - [`check_create`] (kube's NamespaceLifecycle admission): nothing is created in a namespace that does not
//!   exist (404) or is terminating (403).
//! - [`run_finalizer`] (kube's namespace controller): a deleted namespace is `Terminating` while its
//!   `kubernetes` finalizer holds it; the controller deletes everything in it, waits until it is gone (objects
//!   held by their own finalizers stay until those are removed), then removes the finalizer through
//!   `/finalize`, and the namespace goes away.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{
    Registry, ResourceDef, meta,
    store::{DeleteOptions, Deleted, ListOptions, Store, Target, UpdateMode},
};
use crate::error::{ApiError, ApiResult};

/// The namespaces that always exist and cannot be deleted.
pub const PROTECTED: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

/// The finalizer in `spec.finalizers` that the namespace controller owns.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// How often the namespace controller looks for terminating namespaces (it also wakes on every change).
const RESYNC: Duration = Duration::from_secs(5);

/// Whether `resource` is the core `namespaces` resource.
#[must_use]
pub fn is_namespaces(resource: &ResourceDef) -> bool {
    resource.group.is_empty() && resource.plural == "namespaces"
}

/// Creates the protected namespaces that do not exist yet.
///
/// # Errors
/// Storage errors other than "already exists".
pub async fn bootstrap(store: &Store, namespaces: &ResourceDef) -> ApiResult<()> {
    let target = Target {
        resource: namespaces,
        namespace: None,
        user: None,
    };
    for name in PROTECTED {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        match store.create(target, body, false).await {
            Ok(_) => tracing::info!(namespace = name, "created namespace"),
            Err(e) if e.reason == "AlreadyExists" => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// NamespaceLifecycle for creates: the namespace of a namespaced object must exist and not be terminating.
///
/// # Errors
/// 404 `namespaces "x" not found`; 403 `... because it is being terminated` with a `NamespaceTerminating`
/// cause.
pub async fn check_create(
    store: &Store,
    lifecycle: &Lifecycle,
    target: Target<'_>,
    name: &str,
) -> ApiResult<()> {
    let Some(namespace) = target.namespace.filter(|_| target.resource.namespaced()) else {
        return Ok(());
    };
    let namespaces = lifecycle.namespaces.as_ref();
    let namespace_target = Target {
        resource: namespaces,
        namespace: None,
        user: None,
    };
    // The watch cache answers without a storage round trip; a miss (a namespace created a moment ago) or a
    // namespace deleted recently through this server (the cache may not have seen it yet) reads storage.
    let cached = if lifecycle.must_look_up_live(namespace) {
        None
    } else {
        store.watch_cache(namespaces).and_then(|cache| {
            let key = store.object_key(namespace_target, namespace);
            cache
                .get(&key)
                .ok()
                .and_then(|(object, _)| object)
                .map(|o| o.object.clone())
        })
    };
    let found = match cached {
        Some(found) => found,
        None => store.get(namespace_target, namespace).await?,
    };
    if meta::string_field(&found, "deletionTimestamp").is_some() {
        let mut err = ApiError::forbidden(
            target.resource,
            name,
            &format!("unable to create new content in namespace {namespace} because it is being terminated"),
        );
        if let Some(details) = err.details.as_mut() {
            details["causes"] = json!([{
                "reason": "NamespaceTerminating",
                "message": format!("namespace {namespace} is being terminated"),
                "field": "metadata.namespace",
            }]);
        }
        return Err(err);
    }
    Ok(())
}

/// How long after a namespace deletion creates in it skip the watch cache (which may lag behind storage).
const FORCE_LIVE_LOOKUP: Duration = Duration::from_secs(30);

/// Namespace lifecycle state of one server: the namespaces resource, and the namespaces deleted recently
/// through this server, which must be looked up in storage (kube's `forceLiveLookupCache`).
#[derive(Debug)]
pub struct Lifecycle {
    namespaces: Arc<ResourceDef>,
    recently_deleted: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl Lifecycle {
    /// Lifecycle enforcement with `namespaces` as the namespaces resource.
    #[must_use]
    pub fn new(namespaces: Arc<ResourceDef>) -> Self {
        Self {
            namespaces,
            recently_deleted: std::sync::Mutex::default(),
        }
    }

    /// Records that namespace `name` was just deleted (or started terminating).
    pub fn note_deleted(&self, name: &str) {
        let mut recent = self
            .recently_deleted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = std::time::Instant::now();
        recent.retain(|_, at| now.duration_since(*at) < FORCE_LIVE_LOOKUP);
        recent.insert(name.to_owned(), now);
    }

    fn must_look_up_live(&self, name: &str) -> bool {
        let recent = self
            .recently_deleted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recent
            .get(name)
            .is_some_and(|at| at.elapsed() < FORCE_LIVE_LOOKUP)
    }
}

/// The protected namespaces cannot be deleted.
///
/// # Errors
/// 403 `namespaces "default" is forbidden: this namespace may not be deleted`.
pub fn check_delete(resource: &ResourceDef, name: &str) -> ApiResult<()> {
    if is_namespaces(resource) && PROTECTED.contains(&name) {
        return Err(ApiError::forbidden(
            resource,
            name,
            "this namespace may not be deleted",
        ));
    }
    Ok(())
}

/// Runs the namespace controller until `shutdown`: empties terminating namespaces and finalizes them.
pub async fn run_finalizer(store: Arc<Store>, registry: Arc<Registry>, shutdown: CancellationToken) {
    let Some(namespaces) = registry.all().find(|r| is_namespaces(r)) else {
        return;
    };
    let mut changes = store.watch_cache(namespaces).map(|cache| cache.subscribe());
    loop {
        if let Err(e) = finalize_terminating(&store, &registry, namespaces).await {
            tracing::warn!(error = %e, "namespace controller pass failed; retrying");
        }
        let wait = async {
            match changes.as_mut() {
                Some(changes) => {
                    let _ = tokio::time::timeout(RESYNC, changes.changed()).await;
                }
                None => tokio::time::sleep(RESYNC).await,
            }
        };
        tokio::select! {
            () = wait => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// One pass: every terminating namespace still carrying the `kubernetes` finalizer is emptied and, once
/// empty, finalized.
async fn finalize_terminating(store: &Store, registry: &Registry, namespaces: &ResourceDef) -> ApiResult<()> {
    let target = Target {
        resource: namespaces,
        namespace: None,
        user: None,
    };
    let list = store.list(target, &ListOptions::default()).await?;
    let items = list["items"].as_array().cloned().unwrap_or_default();
    for namespace in items {
        let terminating = meta::string_field(&namespace, "deletionTimestamp").is_some();
        let finalizers = namespace["spec"]["finalizers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !terminating || !finalizers.iter().any(|f| f == KUBERNETES_FINALIZER) {
            continue;
        }
        let Some(name) = meta::string_field(&namespace, "name").map(str::to_owned) else {
            continue;
        };
        let span = tracing::info_span!("finalize namespace", namespace = %name);
        let _enter = span.enter();
        delete_contents(store, registry, &name).await?;
        if is_empty(store, registry, &name).await? {
            let remaining: Vec<Value> = finalizers
                .into_iter()
                .filter(|f| f != KUBERNETES_FINALIZER)
                .collect();
            let body = json!({"metadata": {"name": name}, "spec": {"finalizers": remaining}});
            match store
                .update(target, &name, UpdateMode::Finalize, body, false)
                .await
            {
                Ok(_) => tracing::info!("namespace emptied and finalized"),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// The namespaced resources, one per storage path (versions of one resource share their objects).
fn content_resources(registry: &Registry) -> Vec<&ResourceDef> {
    let mut resources: Vec<&ResourceDef> = Vec::new();
    for resource in registry.all().filter(|r| r.namespaced()) {
        if !resources.iter().any(|r| r.storage_path == resource.storage_path) {
            resources.push(resource);
        }
    }
    resources
}

/// Deletes every object in namespace `name`. Objects held by their own finalizers get a
/// `deletionTimestamp` and stay until their owners remove the finalizers.
async fn delete_contents(store: &Store, registry: &Registry, name: &str) -> ApiResult<()> {
    for resource in content_resources(registry) {
        let target = Target {
            resource,
            namespace: Some(name),
            user: None,
        };
        let list = store.list(target, &ListOptions::default()).await?;
        for object in list["items"].as_array().into_iter().flatten() {
            let Some(object_name) = meta::string_field(object, "name") else {
                continue;
            };
            // v1's namespace deleter: Background, so federated objects lose `orphan` and their member
            // copies are deleted with them (reference §3.8).
            let background = DeleteOptions {
                propagation_policy: Some("Background".to_owned()),
                ..DeleteOptions::default()
            };
            match store.delete(target, object_name, &background).await {
                Ok(Deleted::Gone(_) | Deleted::Pending(_)) => {}
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Whether namespace `name` holds no objects any more.
async fn is_empty(store: &Store, registry: &Registry, name: &str) -> ApiResult<bool> {
    for resource in content_resources(registry) {
        let target = Target {
            resource,
            namespace: Some(name),
            user: None,
        };
        let list = store
            .list(
                target,
                &ListOptions {
                    limit: 1,
                    ..ListOptions::default()
                },
            )
            .await?;
        if list["items"].as_array().is_some_and(|items| !items.is_empty()) {
            return Ok(false);
        }
    }
    Ok(true)
}
