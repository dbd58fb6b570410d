//! The generic store: create, get, list, update and delete for every resource, over a storage
//! [`Backend`], with the per-kind parts delegated to the resource's [`Strategy`](super::Strategy).
//!
//! Objects are JSON values. In storage they carry the `apiVersion`/`kind` of their resource and no
//! `metadata.resourceVersion`; on the way out the store sets `resourceVersion` from the key's mod revision.

use std::{collections::HashMap, sync::Arc};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use bytes::Bytes;
use fcp_api::{
    selector::{FieldSelector, LabelSelector},
    validation::{FieldError, validate_object_meta},
};
use fcp_storage::{Backend, KeyValue, ListOptions as StorageListOptions, Revision, StorageError};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use tokio_util::sync::CancellationToken;

use super::{ResourceDef, cache::WatchCache, meta};
use crate::{
    admission::{AdmissionChain, AdmissionRequest, Operation},
    error::{ApiError, ApiResult},
};

/// How many times a create with `generateName` tries another name after a collision.
const GENERATE_NAME_ATTEMPTS: usize = 8;

/// How many times an unconditional update or a delete re-reads after losing a race.
const MAX_RETRIES: usize = 32;

/// Where a request points: the resource, and the namespace when the resource is namespaced (`None` for
/// "all namespaces" on a list or watch).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The resource.
    pub resource: &'a ResourceDef,
    /// The namespace from the URL.
    pub namespace: Option<&'a str>,
    /// Who asks, for admission; `None` for the server's own work (bootstrap, controllers), which admission
    /// treats as privileged.
    pub user: Option<&'a crate::auth::UserInfo>,
}

/// Options of a list (and of the initial state of a watch).
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Only objects whose labels match.
    pub label_selector: LabelSelector,
    /// Only objects whose fields match.
    pub field_selector: FieldSelector,
    /// At most this many items (0 = all).
    pub limit: u64,
    /// The continue token of the previous page.
    pub continue_token: Option<String>,
    /// `resourceVersion` as given (`None` when absent or empty).
    pub resource_version: Option<String>,
    /// `resourceVersionMatch` as given.
    pub resource_version_match: Option<String>,
}

/// Options of a delete (`DeleteOptions`, from the body or the query).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    /// Only delete if the object's uid and/or resourceVersion still match.
    #[serde(default)]
    pub preconditions: Option<Preconditions>,
    /// `dryRun: ["All"]`: validate and answer, store nothing.
    #[serde(default)]
    pub dry_run: Vec<String>,
    /// `Orphan`, `Background` or `Foreground`: decides the `orphan` finalizer of an object that finalizers
    /// hold (see [`rewrite_orphan_finalizer`]). There is no garbage collector of owner references.
    #[serde(default)]
    pub propagation_policy: Option<String>,
    /// The older form of `propagationPolicy`: `true` is `Orphan`, `false` is `Background`.
    #[serde(default)]
    pub orphan_dependents: Option<bool>,
    /// Accepted and ignored: every deletion is immediate unless finalizers hold the object.
    #[serde(default)]
    pub grace_period_seconds: Option<i64>,
}

/// What a delete's options say about the `orphan` finalizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrphanDecision {
    /// No option given: the object's finalizers stand as they are (v1: the pre-added `orphan` wins).
    Keep,
    /// `orphanDependents: true` or `propagationPolicy: Orphan`: `orphan` stays where it is.
    Orphan,
    /// `orphanDependents: false`, `Background` or `Foreground`: `orphan` is removed.
    Remove,
}

/// Reads `orphanDependents` and `propagationPolicy`.
///
/// # Errors
/// 400 when both are set or the policy is not one of kube's three.
fn orphan_decision(options: &DeleteOptions) -> ApiResult<OrphanDecision> {
    match (options.orphan_dependents, options.propagation_policy.as_deref()) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "DeleteOptions: orphanDependents and deletionPropagation cannot be both set",
        )),
        (Some(true), None) | (None, Some("Orphan")) => Ok(OrphanDecision::Orphan),
        (Some(false), None) | (None, Some("Background" | "Foreground")) => Ok(OrphanDecision::Remove),
        (None, None) => Ok(OrphanDecision::Keep),
        (None, Some(other)) => Err(ApiError::bad_request(format!(
            "DeleteOptions.propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
        ))),
    }
}

/// kube's delete-option rule for the `orphan` finalizer, as Federation v1 relied on it (reference §3.3.6):
/// `Remove` strips `orphan` from the object's finalizers; `Orphan` and `Keep` leave them alone. Unlike kube,
/// `Orphan` never adds `orphan` to an object without it and `Foreground` never adds `foregroundDeletion`:
/// there is no garbage collector here to remove them, so they would hold the object forever (v1's Foreground
/// hang). Returns whether the finalizers changed.
fn rewrite_orphan_finalizer(object: &mut Value, decision: OrphanDecision) -> bool {
    if decision != OrphanDecision::Remove {
        return false;
    }
    let Some(finalizers) = meta::metadata_mut(object)
        .and_then(|m| m.get_mut("finalizers"))
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    let before = finalizers.len();
    finalizers.retain(|f| f != ORPHAN_FINALIZER);
    let changed = finalizers.len() != before;
    if finalizers.is_empty()
        && let Some(metadata) = meta::metadata_mut(object)
    {
        metadata.remove("finalizers");
    }
    changed
}

/// The finalizer by which an owner asks that its dependents be orphaned.
const ORPHAN_FINALIZER: &str = "orphan";

/// `DeleteOptions.preconditions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// Expected `metadata.uid`.
    pub uid: Option<String>,
    /// Expected `metadata.resourceVersion`.
    pub resource_version: Option<String>,
}

/// The outcome of a delete.
#[derive(Debug)]
pub enum Deleted {
    /// The object is gone; this is the `Status` to answer with.
    Gone(Value),
    /// Finalizers hold the object: it now carries a `deletionTimestamp`. This is the object.
    Pending(Value),
}

/// The continue token of a paged list, opaque to clients (kube's format: base64url of this JSON).
#[derive(Debug, Serialize, Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

/// The generic store over one backend and key prefix.
pub struct Store {
    backend: Arc<dyn Backend>,
    prefix: String,
    /// Watch caches by storage path (versions of one resource share one), when enabled.
    caches: HashMap<&'static str, Arc<WatchCache>>,
    /// The namespaces resource, when namespace lifecycle is enforced (creates need an active namespace,
    /// protected namespaces cannot be deleted).
    namespaces: Option<super::namespaces::Lifecycle>,
    /// Admission plugins run on every create and update ([`crate::admission`]); set once at start-up, after
    /// the plugins that read through this store exist.
    admission: std::sync::OnceLock<Arc<AdmissionChain>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store keeping objects under `prefix` (`/registry`) in `backend`.
    #[must_use]
    pub fn new(backend: Arc<dyn Backend>, prefix: &str) -> Self {
        Self {
            backend,
            prefix: prefix.trim_end_matches('/').to_owned(),
            caches: HashMap::new(),
            namespaces: None,
            admission: std::sync::OnceLock::new(),
        }
    }

    /// Runs `chain` on every later create and update, after defaulting and before validation. Only the
    /// first call takes effect.
    pub fn set_admission(&self, chain: Arc<AdmissionChain>) {
        if !chain.is_empty() && self.admission.set(chain).is_err() {
            tracing::warn!("the admission chain was already set; keeping the first");
        }
    }

    /// Admits one write; see [`crate::admission`]. `mode` is `None` for a create.
    async fn admit(
        &self,
        target: Target<'_>,
        mode: Option<UpdateMode>,
        name: &str,
        object: &mut Value,
        old: Option<&Value>,
        dry_run: bool,
    ) -> ApiResult<()> {
        let Some(chain) = self.admission.get() else {
            return Ok(());
        };
        let (operation, subresource) = match mode {
            None => (Operation::Create, None),
            Some(UpdateMode::Main) => (Operation::Update, None),
            Some(UpdateMode::Status) => (Operation::Update, Some("status")),
            Some(UpdateMode::Finalize) => (Operation::Update, Some("finalize")),
        };
        let mut request = AdmissionRequest {
            operation,
            resource: target.resource,
            subresource,
            namespace: target.namespace,
            name,
            object,
            old,
            user: target.user,
            dry_run,
            store: self,
        };
        chain.admit(&mut request).await
    }

    /// Enforces namespace lifecycle ([`namespaces`](super::namespaces)) with `namespaces` as the namespace
    /// resource.
    pub fn enforce_namespace_lifecycle(&mut self, namespaces: Arc<ResourceDef>) {
        self.namespaces = Some(super::namespaces::Lifecycle::new(namespaces));
    }

    /// Starts one watch cache per storage path of `resources`, each keeping `capacity` recent events; they
    /// run until `shutdown`. Watches and `resourceVersion=0` lists are then served from memory.
    pub fn enable_watch_caches<'a>(
        &mut self,
        resources: impl IntoIterator<Item = &'a ResourceDef>,
        capacity: usize,
        shutdown: &CancellationToken,
    ) {
        for resource in resources {
            let prefix = format!("{}/{}/", self.prefix, resource.storage_path);
            let backend = self.backend.clone();
            self.caches
                .entry(resource.storage_path)
                .or_insert_with(|| WatchCache::start(backend, prefix, capacity, shutdown.clone()));
        }
    }

    /// The watch cache of `resource`, when caches are enabled.
    #[must_use]
    pub fn watch_cache(&self, resource: &ResourceDef) -> Option<&Arc<WatchCache>> {
        self.caches.get(resource.storage_path)
    }

    /// The backend (for health checks, compaction and watches).
    #[must_use]
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// The key of one object: `<prefix>/<storage path>[/<namespace>]/<name>`.
    #[must_use]
    pub fn object_key(&self, target: Target<'_>, name: &str) -> String {
        match target.namespace.filter(|_| target.resource.namespaced()) {
            Some(ns) => format!("{}/{}/{ns}/{name}", self.prefix, target.resource.storage_path),
            None => format!("{}/{}/{name}", self.prefix, target.resource.storage_path),
        }
    }

    /// The key prefix of a collection (with a trailing `/`, so `ns1` never matches `ns10`).
    #[must_use]
    pub fn collection_prefix(&self, target: Target<'_>) -> String {
        match target.namespace.filter(|_| target.resource.namespaced()) {
            Some(ns) => format!("{}/{}/{ns}/", self.prefix, target.resource.storage_path),
            None => format!("{}/{}/", self.prefix, target.resource.storage_path),
        }
    }

    /// Decodes a stored key-value into the object served from `resource`: converts it from the storage
    /// version when the resource has a conversion, sets `apiVersion`, `kind` and `resourceVersion` (to
    /// `revision` when given, else the key's mod revision).
    ///
    /// # Errors
    /// 500 when the stored bytes are not a JSON object (a corrupt store).
    pub fn decode(
        &self,
        resource: &ResourceDef,
        kv: &KeyValue,
        revision: Option<Revision>,
    ) -> ApiResult<Value> {
        let object: Value = serde_json::from_slice(&kv.value)
            .map_err(|e| ApiError::internal(format!("stored object {} is not valid JSON: {e}", kv.key)))?;
        if !object.is_object() {
            return Err(ApiError::internal(format!(
                "stored object {} is not a JSON object",
                kv.key
            )));
        }
        Ok(self.serve(resource, object, revision.unwrap_or(kv.mod_revision)))
    }

    /// The object served from `resource` for a stored (parsed) object at `revision`: converted from the
    /// storage version when the resource has a conversion, with `apiVersion`, `kind` and `resourceVersion`.
    #[must_use]
    pub fn serve(&self, resource: &ResourceDef, stored: Value, revision: Revision) -> Value {
        let mut object = match &resource.conversion {
            Some(conversion) => conversion.from_storage(stored),
            None => stored,
        };
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".to_owned(), json!(resource.api_version()));
            map.insert("kind".to_owned(), json!(resource.kind));
        }
        meta::set_field(&mut object, "resourceVersion", Some(json!(revision.to_string())));
        object
    }

    /// Encodes an object for storage: no `resourceVersion`, in the storage version (the resource's own
    /// `apiVersion` and `kind` unless it has a conversion).
    fn encode(resource: &ResourceDef, object: &Value) -> ApiResult<Bytes> {
        let mut object = object.clone();
        meta::set_field(&mut object, "resourceVersion", None);
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".to_owned(), json!(resource.api_version()));
            map.insert("kind".to_owned(), json!(resource.kind));
        }
        if let Some(conversion) = &resource.conversion {
            object = conversion.to_storage(object);
        }
        serde_json::to_vec(&object)
            .map(Bytes::from)
            .map_err(|e| ApiError::internal(format!("cannot encode object: {e}")))
    }

    /// Reads one object.
    ///
    /// # Errors
    /// 404 when it does not exist; storage errors translated.
    pub async fn get(&self, target: Target<'_>, name: &str) -> ApiResult<Value> {
        let kv = self.get_kv(target, name).await?;
        self.decode(target.resource, &kv, None)
    }

    async fn get_kv(&self, target: Target<'_>, name: &str) -> ApiResult<KeyValue> {
        let key = self.object_key(target, name);
        match self.backend.get(&key).await {
            Ok(Some(kv)) => Ok(kv),
            Ok(None) => Err(ApiError::not_found(target.resource, name)),
            Err(e) => Err(ApiError::from_storage(e, target.resource, name)),
        }
    }

    /// Lists objects: a `<Kind>List` with `metadata.resourceVersion` (the revision read at) and, when a
    /// limit cut the list short, `metadata.continue` and `remainingItemCount` (without selectors).
    ///
    /// # Errors
    /// 400 for a bad continue token or conflicting options, 410 when the revision is compacted.
    pub async fn list(&self, target: Target<'_>, options: &ListOptions) -> ApiResult<Value> {
        if let Some(list) = self.list_from_cache(target, options) {
            return Ok(list);
        }
        let resource = target.resource;
        let prefix = self.collection_prefix(target);
        let (mut revision, mut start_key) = self.list_start(&prefix, options)?;
        let filtering = !options.label_selector.is_empty() || !options.field_selector.is_empty();
        let mut items = Vec::new();
        let mut next_key = None;
        let mut remaining = None;
        // With selectors a page may match few items: keep reading (at the same revision) until the page is
        // full or the collection ends, as kube-apiserver does.
        loop {
            let want = if options.limit == 0 {
                0
            } else {
                options.limit - items.len() as u64
            };
            let page = self
                .backend
                .list(
                    &prefix,
                    StorageListOptions {
                        revision,
                        limit: want,
                        start_key: start_key.clone(),
                    },
                )
                .await
                .map_err(|e| list_error(e, resource))?;
            revision = page.revision;
            let last_key = page.items.last().map(|kv| kv.key.clone());
            for kv in &page.items {
                let object = self.decode(resource, kv, None)?;
                if matches(resource, &object, options) {
                    items.push(object);
                }
            }
            match (page.more, last_key) {
                (true, Some(last)) if options.limit > 0 && (items.len() as u64) < options.limit => {
                    start_key = Some(format!("{last}\0"));
                }
                (true, Some(last)) => {
                    next_key = Some(last);
                    if !filtering {
                        remaining = Some(page.remaining);
                    }
                    break;
                }
                _ => break,
            }
        }
        let mut list_meta = json!({"resourceVersion": revision.to_string()});
        if let Some(last) = next_key {
            let token = ContinueToken {
                v: "meta.k8s.io/v1".to_owned(),
                rv: revision.0,
                start: format!("{}\0", last.strip_prefix(&prefix).unwrap_or(&last)),
            };
            let token = serde_json::to_vec(&token).map_err(|e| ApiError::internal(e.to_string()))?;
            list_meta["continue"] = json!(URL_SAFE_NO_PAD.encode(token));
            if let Some(remaining) = remaining {
                list_meta["remainingItemCount"] = json!(remaining);
            }
        }
        Ok(list_document(resource, list_meta, items))
    }

    /// A `resourceVersion=0` list ("any recent state") from the watch cache, when it can serve one. The limit
    /// is ignored (legal for such lists), so there is never a continue token.
    fn list_from_cache(&self, target: Target<'_>, options: &ListOptions) -> Option<Value> {
        let from_cache = options.resource_version.as_deref() == Some("0")
            && options.continue_token.is_none()
            && options.resource_version_match.as_deref() != Some("Exact");
        if !from_cache {
            return None;
        }
        let snapshot = self
            .watch_cache(target.resource)?
            .snapshot(&self.collection_prefix(target))
            .ok()?;
        let items = snapshot
            .objects
            .iter()
            .map(|o| self.serve(target.resource, o.object.clone(), o.mod_revision))
            .filter(|object| matches(target.resource, object, options))
            .collect();
        Some(list_document(
            target.resource,
            json!({"resourceVersion": snapshot.revision.to_string()}),
            items,
        ))
    }

    /// Where a list starts: the revision to read at and the first key, from the continue token or the
    /// resourceVersion options.
    fn list_start(&self, prefix: &str, options: &ListOptions) -> ApiResult<(Revision, Option<String>)> {
        if let Some(token) = &options.continue_token {
            if options.resource_version.as_deref().is_some_and(|rv| rv != "0") {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            let token = decode_continue(token)?;
            return Ok((Revision(token.rv), Some(format!("{prefix}{}", token.start))));
        }
        let requested = match options.resource_version.as_deref() {
            None | Some("" | "0") => None,
            Some(rv) => Some(parse_resource_version(rv)?),
        };
        let exact = match options.resource_version_match.as_deref() {
            None | Some("") => options.limit > 0 && requested.is_some(),
            Some("Exact") => {
                if requested.is_none() {
                    return Err(ApiError::bad_request(
                        "resourceVersionMatch \"Exact\" requires a resourceVersion other than \"\" and \"0\"",
                    ));
                }
                true
            }
            Some("NotOlderThan") => false,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "unsupported resourceVersionMatch {other:?}: supported values are \"Exact\", \"NotOlderThan\""
                )));
            }
        };
        // "Not older than N" is satisfied by the latest state, which is what a read at revision 0 gives.
        let revision = if exact {
            requested.unwrap_or(Revision::ZERO)
        } else {
            Revision::ZERO
        };
        Ok((revision, None))
    }

    /// Creates an object from a request body. Returns it as stored (with `resourceVersion`).
    ///
    /// # Errors
    /// 400 for a body that does not fit the resource or the URL, 409 when the name is taken, 422 for
    /// invalid objects, storage errors translated.
    pub async fn create(&self, target: Target<'_>, mut body: Value, dry_run: bool) -> ApiResult<Value> {
        let resource = target.resource;
        // Status is not the client's to set on create; defaulting may set some (a namespace's phase).
        if resource.subresources.status
            && let Some(map) = body.as_object_mut()
        {
            map.remove("status");
        }
        let mut object = self.admit_body(target, body)?;
        if meta::string_field(&object, "resourceVersion").is_some() {
            return Err(ApiError::internal(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let generate_name = meta::string_field(&object, "generateName").map(str::to_owned);
        let explicit_name = meta::string_field(&object, "name").map(str::to_owned);
        // Server-owned fields: whatever the client sent is replaced.
        meta::set_field(&mut object, "uid", Some(json!(uuid::Uuid::new_v4().to_string())));
        meta::set_field(
            &mut object,
            "creationTimestamp",
            Some(json!(meta::now_timestamp())),
        );
        meta::set_field(&mut object, "deletionTimestamp", None);
        meta::set_field(&mut object, "deletionGracePeriodSeconds", None);
        meta::set_field(
            &mut object,
            "generation",
            resource.tracks_generation.then(|| json!(1)),
        );
        meta::drop_empty_fields(&mut object);

        if let Some(lifecycle) = &self.namespaces {
            let name = explicit_name
                .as_deref()
                .or(generate_name.as_deref())
                .unwrap_or_default();
            super::namespaces::check_create(self, lifecycle, target, name).await?;
        }
        let admitted_name = explicit_name
            .as_deref()
            .or(generate_name.as_deref())
            .unwrap_or_default();
        self.admit(target, None, admitted_name, &mut object, None, dry_run)
            .await?;
        let attempts = if explicit_name.is_none() && generate_name.is_some() {
            GENERATE_NAME_ATTEMPTS
        } else {
            1
        };
        let mut last_error = None;
        for _ in 0..attempts {
            let name = match (&explicit_name, &generate_name) {
                (Some(name), _) => name.clone(),
                (None, Some(prefix)) => generate_name_from(prefix),
                (None, None) => String::new(),
            };
            if !name.is_empty() {
                meta::set_field(&mut object, "name", Some(json!(name)));
            }
            // Per-kind preparation that needs the name and uid (a Job's generated selector).
            resource.strategy.prepare_for_create(&mut object);
            self.validate(target, &object, None, &name)?;
            if dry_run {
                return Ok(object);
            }
            let key = self.object_key(target, &name);
            let bytes = Self::encode(resource, &object)?;
            match self.backend.create(&key, bytes).await {
                Ok(kv) => return self.decode(resource, &kv, None),
                Err(StorageError::AlreadyExists { .. }) if explicit_name.is_none() => {
                    let mut err = ApiError::already_exists(resource, &name);
                    err.message
                        .push_str(", the server was not able to generate a unique name for the object");
                    last_error = Some(err);
                }
                Err(e) => return Err(ApiError::from_storage(e, resource, &name)),
            }
        }
        Err(last_error.unwrap_or_else(|| ApiError::internal("create failed without an error")))
    }

    /// Replaces an object (PUT). With a `resourceVersion` in the body the write happens only if it is still
    /// current (409 otherwise); without one it is unconditional. A write that changes nothing stores nothing.
    ///
    /// # Errors
    /// 404 when the object does not exist, 409 on a stale resourceVersion, 400/422 for bad bodies.
    pub async fn update(
        &self,
        target: Target<'_>,
        name: &str,
        mode: UpdateMode,
        body: Value,
        dry_run: bool,
    ) -> ApiResult<Value> {
        self.guaranteed_update(target, name, mode, dry_run, |_| Ok(body.clone()))
            .await
    }

    /// Reads the current object, computes the new one with `transform`, and writes it if the object did not
    /// change meanwhile; when it did, reads again and retries (kube's `GuaranteedUpdate`). A
    /// `resourceVersion` in the transformed object is a precondition: a mismatch is a 409, not a retry.
    ///
    /// # Errors
    /// 404 when the object does not exist, 409 on a failed precondition, whatever `transform` returns,
    /// 400/422 for bad results.
    pub async fn guaranteed_update(
        &self,
        target: Target<'_>,
        name: &str,
        mode: UpdateMode,
        dry_run: bool,
        transform: impl Fn(&Value) -> ApiResult<Value>,
    ) -> ApiResult<Value> {
        let resource = target.resource;
        let key = self.object_key(target, name);
        let mut current = self.get_kv(target, name).await?;
        for _ in 0..MAX_RETRIES {
            let old = self.decode(resource, &current, None)?;
            let new = self.admit_body(target, transform(&old)?)?;
            if let Some(body_name) = meta::string_field(&new, "name").filter(|n| *n != name) {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            let precondition = meta::string_field(&new, "resourceVersion")
                .map(parse_resource_version)
                .transpose()?;
            if precondition.is_some_and(|rv| rv != current.mod_revision) {
                return Err(ApiError::conflict(
                    resource,
                    name,
                    ApiError::OPTIMISTIC_LOCK_MESSAGE,
                ));
            }
            let mut object = match mode {
                UpdateMode::Main => new,
                UpdateMode::Status => with_part_of(&old, &new, &["status"]),
                UpdateMode::Finalize => with_part_of(&old, &new, &["spec", "finalizers"]),
            };
            if mode == UpdateMode::Main {
                // Per-kind fields an update may not change (before generation is computed).
                resource.strategy.prepare_for_update(&mut object, &old);
            }
            prepare_for_update(resource, mode, &mut object, &old, name);
            self.admit(target, Some(mode), name, &mut object, Some(&old), dry_run)
                .await?;
            self.validate(target, &object, Some(&old), name)?;
            // A terminating object whose last finalizer was just removed goes away.
            let finalized = meta::string_field(&object, "deletionTimestamp").is_some()
                && !meta::has_finalizers(&object)
                && !resource.strategy.holds_deletion(&object);
            let bytes = Self::encode(resource, &object)?;
            if bytes == current.value && !finalized {
                return Ok(old);
            }
            if dry_run {
                meta::set_field(
                    &mut object,
                    "resourceVersion",
                    Some(json!(current.mod_revision.to_string())),
                );
                return Ok(object);
            }
            let written = if finalized {
                self.backend
                    .delete(&key, Some(current.mod_revision))
                    .await
                    .map(|(_, revision)| {
                        meta::set_field(&mut object, "resourceVersion", Some(json!(revision.to_string())));
                        None
                    })
            } else {
                self.backend
                    .update(&key, current.mod_revision, bytes)
                    .await
                    .map(Some)
            };
            match written {
                Ok(Some(kv)) => return self.decode(resource, &kv, None),
                Ok(None) => return Ok(object),
                Err(StorageError::Conflict {
                    current: Some(latest),
                    ..
                }) => current = *latest,
                Err(StorageError::Conflict { current: None, .. } | StorageError::NotFound { .. }) => {
                    return Err(ApiError::not_found(resource, name));
                }
                Err(e) => return Err(ApiError::from_storage(e, resource, name)),
            }
        }
        Err(ApiError::conflict(
            resource,
            name,
            "too many concurrent writers, please retry",
        ))
    }

    /// Deletes an object. Objects with finalizers get a `deletionTimestamp` and stay until their finalizers
    /// are removed.
    ///
    /// # Errors
    /// 404 when it does not exist, 409 when a precondition fails.
    pub async fn delete(
        &self,
        target: Target<'_>,
        name: &str,
        options: &DeleteOptions,
    ) -> ApiResult<Deleted> {
        let resource = target.resource;
        let dry_run = dry_run_from(&options.dry_run)?;
        if let Some(lifecycle) = &self.namespaces {
            super::namespaces::check_delete(resource, name)?;
            if super::namespaces::is_namespaces(resource) && !dry_run {
                // Creates in it must not trust the watch cache until it has seen the deletion.
                lifecycle.note_deleted(name);
            }
        }
        let orphan = orphan_decision(options)?;
        let key = self.object_key(target, name);
        let mut current = self.get_kv(target, name).await?;
        for _ in 0..MAX_RETRIES {
            let mut object = self.decode(resource, &current, None)?;
            check_preconditions(resource, name, &object, options.preconditions.as_ref())?;
            let rewritten = rewrite_orphan_finalizer(&mut object, orphan);
            if meta::has_finalizers(&object) || resource.strategy.holds_deletion(&object) {
                if meta::string_field(&object, "deletionTimestamp").is_some() || dry_run {
                    if !rewritten || dry_run {
                        return Ok(Deleted::Pending(object));
                    }
                    // A later delete of a terminating object may still change its orphan finalizer.
                    let bytes = Self::encode(resource, &object)?;
                    match self.backend.update(&key, current.mod_revision, bytes).await {
                        Ok(kv) => return Ok(Deleted::Pending(self.decode(resource, &kv, None)?)),
                        Err(StorageError::Conflict {
                            current: Some(latest),
                            ..
                        }) => {
                            current = *latest;
                            continue;
                        }
                        Err(e) => return Err(ApiError::from_storage(e, resource, name)),
                    }
                }
                let mut terminating = object.clone();
                meta::set_field(
                    &mut terminating,
                    "deletionTimestamp",
                    Some(json!(meta::now_timestamp())),
                );
                meta::set_field(&mut terminating, "deletionGracePeriodSeconds", Some(json!(0)));
                if meta::generation(&terminating) > 0 {
                    let next = meta::generation(&terminating) + 1;
                    meta::set_field(&mut terminating, "generation", Some(json!(next)));
                }
                resource.strategy.begin_termination(&mut terminating);
                let bytes = Self::encode(resource, &terminating)?;
                match self.backend.update(&key, current.mod_revision, bytes).await {
                    Ok(kv) => return Ok(Deleted::Pending(self.decode(resource, &kv, None)?)),
                    Err(StorageError::Conflict {
                        current: Some(latest),
                        ..
                    }) => {
                        current = *latest;
                        continue;
                    }
                    Err(e) => return Err(ApiError::from_storage(e, resource, name)),
                }
            }
            if !dry_run {
                match self.backend.delete(&key, Some(current.mod_revision)).await {
                    Ok(_) => {}
                    Err(StorageError::Conflict {
                        current: Some(latest),
                        ..
                    }) => {
                        current = *latest;
                        continue;
                    }
                    Err(e) => return Err(ApiError::from_storage(e, resource, name)),
                }
            }
            let uid = meta::string_field(&object, "uid").unwrap_or_default();
            let mut details = resource.status_details(name);
            details["uid"] = json!(uid);
            return Ok(Deleted::Gone(json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": details,
            })));
        }
        Err(ApiError::conflict(
            resource,
            name,
            "too many concurrent writers, please retry",
        ))
    }

    /// Deletes every object of the collection that matches `list` (kube's `deletecollection`). Returns the
    /// list of deleted objects (those held by finalizers as they are now, terminating).
    ///
    /// # Errors
    /// As [`Store::list`] and [`Store::delete`]; objects that vanish meanwhile are skipped.
    pub async fn delete_collection(
        &self,
        target: Target<'_>,
        list: &ListOptions,
        options: &DeleteOptions,
    ) -> ApiResult<Value> {
        let mut list_options = list.clone();
        list_options.limit = 0;
        list_options.continue_token = None;
        let current = self.list(target, &list_options).await?;
        let mut deleted = Vec::new();
        for item in current["items"].as_array().into_iter().flatten() {
            let (Some(name), namespace) = (
                meta::string_field(item, "name"),
                meta::string_field(item, "namespace"),
            ) else {
                continue;
            };
            let item_target = Target {
                resource: target.resource,
                namespace: namespace.or(target.namespace),
                user: target.user,
            };
            match self.delete(item_target, name, options).await {
                Ok(Deleted::Gone(_)) => deleted.push(item.clone()),
                Ok(Deleted::Pending(object)) => deleted.push(object),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(list_document(
            target.resource,
            json!({"resourceVersion": current["metadata"]["resourceVersion"]}),
            deleted,
        ))
    }

    /// Checks a request body against the resource and the URL, then decodes it against the kind's schema.
    fn admit_body(&self, target: Target<'_>, mut body: Value) -> ApiResult<Value> {
        let resource = target.resource;
        let Some(map) = body.as_object_mut() else {
            return Err(ApiError::bad_request("the request body must be a JSON object"));
        };
        let expected_version = resource.api_version();
        match map.get("apiVersion").and_then(Value::as_str) {
            Some(v) if !v.is_empty() && v != expected_version => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({expected_version})"
                )));
            }
            _ => {}
        }
        match map.get("kind").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && k != resource.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    resource.kind
                )));
            }
            _ => {}
        }
        map.insert("apiVersion".to_owned(), json!(expected_version));
        map.insert("kind".to_owned(), json!(resource.kind));
        if resource.namespaced() {
            let url_namespace = target.namespace.unwrap_or_default();
            match meta::string_field(&body, "namespace") {
                Some(ns) if ns != url_namespace => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                Some(_) => {}
                None => meta::set_field(&mut body, "namespace", Some(json!(url_namespace))),
            }
        } else {
            meta::set_field(&mut body, "namespace", None);
        }
        resource
            .strategy
            .normalize(body)
            .map_err(|e| ApiError::bad_request(format!("decoding {}: {e}", resource.kind)))
    }

    /// Object-meta validation plus the kind's validation; 422 with every problem found.
    fn validate(&self, target: Target<'_>, object: &Value, old: Option<&Value>, name: &str) -> ApiResult<()> {
        let resource = target.resource;
        let mut errors: Vec<FieldError> = match object.get("metadata").map(ObjectMeta::deserialize) {
            Some(Ok(meta)) => {
                validate_object_meta(&meta, resource.namespaced(), resource.strategy.name_rule())
            }
            Some(Err(e)) => vec![FieldError::invalid("metadata", None, e.to_string())],
            None => vec![FieldError::required("metadata", "")],
        };
        if let Some(old) = old {
            errors.extend(no_new_finalizers_while_deleting(object, old));
        }
        errors.extend(match old {
            Some(old) => resource.strategy.validate_update(object, old),
            None => resource.strategy.validate(object),
        });
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(resource, name, &errors))
        }
    }
}

/// While an object is being deleted its finalizers can only be removed (kube's `ValidateObjectMetaUpdate`).
fn no_new_finalizers_while_deleting(new: &Value, old: &Value) -> Vec<FieldError> {
    if meta::string_field(old, "deletionTimestamp").is_none() {
        return Vec::new();
    }
    let finalizers = |object: &Value| -> Vec<String> {
        object["metadata"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect()
    };
    let old_finalizers = finalizers(old);
    let added: Vec<String> = finalizers(new)
        .into_iter()
        .filter(|f| !old_finalizers.contains(f))
        .collect();
    if added.is_empty() {
        return Vec::new();
    }
    let quoted: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
    vec![FieldError::forbidden(
        "metadata.finalizers",
        format!(
            "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
            quoted.join(", ")
        ),
    )]
}

/// A `<Kind>List` of `items` (served objects; their `apiVersion`/`kind` are dropped as kube does).
fn list_document(resource: &ResourceDef, metadata: Value, mut items: Vec<Value>) -> Value {
    for item in &mut items {
        if let Some(map) = item.as_object_mut() {
            map.remove("apiVersion");
            map.remove("kind");
        }
    }
    // Built by hand: `json!` would deep-copy every item.
    let mut list = serde_json::Map::new();
    list.insert("kind".to_owned(), Value::String(format!("{}List", resource.kind)));
    list.insert("apiVersion".to_owned(), Value::String(resource.api_version()));
    list.insert("metadata".to_owned(), metadata);
    list.insert("items".to_owned(), Value::Array(items));
    Value::Object(list)
}

/// Which part of an object an update may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// The main resource: everything but status (when the resource has a status subresource).
    Main,
    /// The `/status` subresource: only status.
    Status,
    /// A namespace's `/finalize` subresource: only `spec.finalizers`.
    Finalize,
}

/// The old object with the new one's value at `path` (absent in `new` = removed): what a write to a
/// subresource that owns only that part (`/status`, a namespace's `/finalize`) may change.
fn with_part_of(old: &Value, new: &Value, path: &[&str]) -> Value {
    let mut object = old.clone();
    if let Some((last, parents)) = path.split_last() {
        let mut source = Some(new);
        let mut target = Some(&mut object);
        for key in parents {
            source = source.and_then(|s| s.get(*key));
            target = target.and_then(|t| {
                let map = t.as_object_mut()?;
                let child = map.entry(key.to_string()).or_insert_with(|| json!({}));
                child.is_object().then_some(child)
            });
        }
        if let Some(map) = target.and_then(Value::as_object_mut) {
            match source.and_then(|s| s.get(*last)) {
                Some(value) => map.insert((*last).to_owned(), value.clone()),
                None => map.remove(*last),
            };
        }
    }
    meta::set_field(&mut object, "resourceVersion", None);
    object
}

/// The server-owned parts of an update: identity and lifecycle fields come from the old object, status
/// stays unless the resource has no status subresource, generation bumps only when the spec changed.
fn prepare_for_update(resource: &ResourceDef, mode: UpdateMode, object: &mut Value, old: &Value, name: &str) {
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        let value = meta::metadata(old).and_then(|m| m.get(field)).cloned();
        meta::set_field(object, field, value);
    }
    meta::set_field(object, "name", Some(json!(name)));
    meta::set_field(object, "resourceVersion", None);
    if resource.subresources.status
        && mode == UpdateMode::Main
        && let Some(map) = object.as_object_mut()
    {
        match old.get("status") {
            Some(status) => map.insert("status".to_owned(), status.clone()),
            None => map.remove("status"),
        };
    }
    if resource.tracks_generation && meta::spec_part(object) != meta::spec_part(old) {
        let next = meta::generation(old) + 1;
        meta::set_field(object, "generation", Some(json!(next)));
    }
    meta::drop_empty_fields(object);
}

fn check_preconditions(
    resource: &ResourceDef,
    name: &str,
    object: &Value,
    preconditions: Option<&Preconditions>,
) -> ApiResult<()> {
    let Some(pre) = preconditions else { return Ok(()) };
    if let Some(uid) = pre.uid.as_deref().filter(|u| !u.is_empty()) {
        let actual = meta::string_field(object, "uid").unwrap_or_default();
        if uid != actual {
            return Err(ApiError::conflict(
                resource,
                name,
                &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {actual}"),
            ));
        }
    }
    if let Some(rv) = pre.resource_version.as_deref().filter(|r| !r.is_empty()) {
        let actual = meta::string_field(object, "resourceVersion").unwrap_or_default();
        if rv != actual {
            return Err(ApiError::conflict(
                resource,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {actual}"
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `object` passes the list's label and field selectors.
#[must_use]
pub fn matches(resource: &ResourceDef, object: &Value, options: &ListOptions) -> bool {
    if !options.label_selector.is_empty() {
        let labels = meta::metadata(object)
            .and_then(|m| m.get("labels"))
            .and_then(|l| serde_json::from_value(l.clone()).ok())
            .unwrap_or_default();
        if !options.label_selector.matches(&labels) {
            return false;
        }
    }
    options.field_selector.is_empty()
        || options
            .field_selector
            .matches(|field| resource.strategy.field_value(object, field))
}

/// Parses `dryRun` values: empty = a real write, `All` = dry run, anything else is rejected.
///
/// # Errors
/// 400 for values other than `All`.
pub fn dry_run_from(values: &[String]) -> ApiResult<bool> {
    match values {
        [] => Ok(false),
        values if values.iter().all(|v| v == "All") => Ok(true),
        values => Err(ApiError::bad_request(format!(
            "unsupported dryRun value(s) {values:?}: supported values are \"All\""
        ))),
    }
}

/// Parses a client-supplied resourceVersion.
///
/// # Errors
/// 400 when it is not a non-negative integer.
pub fn parse_resource_version(rv: &str) -> ApiResult<Revision> {
    rv.parse::<i64>()
        .ok()
        .filter(|r| *r >= 0)
        .map(Revision)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "invalid resource version {rv:?}: must be a non-negative integer"
            ))
        })
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    let invalid = |why: &str| ApiError::bad_request(format!("invalid continue token: {why}"));
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| invalid("not base64url"))?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| invalid("not a continue token"))?;
    if token.v != "meta.k8s.io/v1" {
        return Err(invalid("unknown version"));
    }
    if token.rv <= 0 {
        return Err(invalid("missing resource version"));
    }
    if token.start.is_empty() || token.start.starts_with('/') || token.start.contains("..") {
        return Err(invalid("bad start key"));
    }
    Ok(token)
}

fn list_error(err: StorageError, resource: &ResourceDef) -> ApiError {
    match err {
        StorageError::Compacted { .. } => {
            ApiError::expired("The resourceVersion for the provided list is too old.")
        }
        other => ApiError::from_storage(other, resource, ""),
    }
}

/// `prefix` + 5 random characters from kube's alphabet (no vowels, no look-alikes); the prefix is cut so
/// that the name fits 63 characters.
fn generate_name_from(prefix: &str) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let prefix: String = prefix.chars().take(58).collect();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_keep_the_prefix_and_fit() {
        let name = generate_name_from("web-");
        assert!(name.starts_with("web-"));
        assert_eq!(name.len(), 9);
        let long = generate_name_from(&"a".repeat(80));
        assert_eq!(long.len(), 63);
    }

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv: 42,
            start: "ns/b\0".into(),
        };
        let encoded = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap());
        let decoded = decode_continue(&encoded).unwrap();
        assert_eq!(decoded.rv, 42);
        assert_eq!(decoded.start, "ns/b\0");
        assert_eq!(decode_continue("!!!").unwrap_err().code, 400);
        assert_eq!(
            decode_continue(&URL_SAFE_NO_PAD.encode(b"{}")).unwrap_err().code,
            400
        );
        let escape = ContinueToken {
            v: "meta.k8s.io/v1".into(),
            rv: 1,
            start: "../secrets/x".into(),
        };
        assert_eq!(
            decode_continue(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(&escape).unwrap()))
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn dry_run_accepts_only_all() {
        assert_eq!(dry_run_from(&[]), Ok(false));
        assert_eq!(dry_run_from(&["All".to_owned()]), Ok(true));
        assert_eq!(dry_run_from(&["Some".to_owned()]).unwrap_err().code, 400);
    }
}
