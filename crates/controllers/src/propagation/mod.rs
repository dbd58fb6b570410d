//! Propagation: one generic reconciler ([`Propagator`]) per federated kind, over the type adapters of
//! [`kinds`] (reference §3.5, with v1's single worker and whole-world loops replaced by a keyed queue).
//!
//! Intent is the federated object in the federation apiserver; observation is each member's copy, held by
//! the per-member informers of [`members`]. A reconcile of one key compares the two and issues only the
//! writes that differ, so a restart with nothing changed writes nothing:
//!
//! 1. wait until the cluster view exists and every ready member's informer has listed (else retry soon);
//! 2. never propagate the federation-only namespace, anything in it, or objects carrying the control
//!    plane's marker;
//! 3. a deleted object goes through the deletion helper (`delete-from-underlying-clusters` and `orphan`
//!    finalizers, reference §3.3.6; a namespace first waits for its contents, §3.8);
//! 4. ensure both finalizers; split ready members by the cluster selector; schedule replicas for
//!    workloads; create, update (only when not [`kinds::FederatedKind::equivalent`]) or delete the copies,
//!    in parallel, each bounded by a timeout, with an event on the federated object; roll the workload
//!    status up.
//!
//! Failures back off per key (5 s → 1 min); a namespace that does not exist in a member yet, or a copy that
//! changed under us, is retried after a second without backoff.

pub mod kinds;
pub mod members;
pub mod queue;
pub mod schedule;

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use fcp_api::{
    ClusterSelector,
    cluster_selector::is_control_plane_marker,
    names::{DELETE_FROM_UNDERLYING_CLUSTERS_FINALIZER, KUBERNETES_FINALIZER, ORPHAN_FINALIZER},
    replicas::ClusterSchedule,
};
use futures::{StreamExt, future::join_all};
use kube::{
    Api, ResourceExt,
    api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams},
    runtime::{
        WatchStreamExt,
        reflector::{self, ObjectRef, Store, store::Writer},
        watcher,
    },
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::{
    clusters::{ClusterViewReceiver, MemberCluster},
    events::{EventRecorder, EventType},
    metrics::Metrics,
};
use kinds::FederatedKind;
use members::{MemberInformer, MemberInformers};
use queue::WorkQueue;

/// Retry delay while caches are not yet complete.
const NOT_SYNCED_DELAY: Duration = Duration::from_millis(200);
/// Retry delay for conditions that resolve on their own (a member namespace appearing, a conflict, copies
/// being deleted).
const SHORT_RETRY: Duration = Duration::from_secs(1);
/// Retry delay while deletion waits for unready members.
const UNREADY_RETRY: Duration = Duration::from_secs(5);
/// How often a scheduled workload with a copy that is not fully ready is looked at again, although
/// nothing changed: pods that stay unschedulable change no object, yet after the planner's threshold they
/// bound the member's capacity and move replicas elsewhere. (v1 reviewed every workload each 2 minutes.)
const WORKLOAD_REVIEW_DELAY: Duration = Duration::from_secs(10);

/// How a propagation controller runs.
#[derive(Clone, Debug)]
pub struct PropagationSettings {
    /// Keys reconciled at once.
    pub workers: usize,
    /// The namespace that is never propagated.
    pub federation_only_namespace: String,
    /// Bound on each write to a member.
    pub operation_timeout: Duration,
}

/// What a reconcile wants next.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// Nothing until something changes.
    Done,
    /// Look again after this long (not a failure).
    RequeueAfter(Duration),
    /// Caches are not complete yet: look again soon; not counted as a reconcile.
    NotSynced,
}

/// A reconcile failure; retried with backoff.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ReconcileError(String);

/// A write to one member.
enum Operation {
    Create(DynamicObject),
    Update(DynamicObject),
    Delete,
}

impl Operation {
    fn verb(&self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Create(_) => ("CreateInCluster", "AddInClusterFailed", "Creating"),
            Self::Update(_) => ("UpdateInCluster", "UpdateInClusterFailed", "Updating"),
            Self::Delete => ("DeleteInCluster", "DeleteInClusterFailed", "Deleting"),
        }
    }
}

/// How one member write ended.
enum WriteResult {
    Ok,
    /// Resolves on its own soon: retry shortly.
    Transient(String),
    Failed(String),
}

/// The `namespace/name` (or `name`) key of an object.
#[must_use]
pub fn object_key(object: &DynamicObject) -> String {
    match object.metadata.namespace.as_deref() {
        Some(namespace) if !namespace.is_empty() => format!("{namespace}/{}", object.name_any()),
        _ => object.name_any(),
    }
}

/// One kind's propagation controller.
pub struct Propagator {
    kind: Arc<dyn FederatedKind>,
    resource: ApiResource,
    component: String,
    federation: kube::Client,
    federated: Store<DynamicObject>,
    federated_synced: AtomicBool,
    members: MemberInformers,
    queue: Arc<WorkQueue>,
    clusters: ClusterViewReceiver,
    metrics: Arc<Metrics>,
    events: EventRecorder,
    settings: PropagationSettings,
}

/// Runs the propagation controller of `kind` until `shutdown`.
pub async fn run(
    kind: Arc<dyn FederatedKind>,
    federation: kube::Client,
    clusters: ClusterViewReceiver,
    metrics: Arc<Metrics>,
    events: EventRecorder,
    settings: PropagationSettings,
    shutdown: CancellationToken,
) {
    let resource = kind.api_resource();
    let writer = Writer::<DynamicObject>::new(resource.clone());
    let federated = writer.as_reader();
    let controller = kind.controller();
    let propagator = Arc::new(Propagator {
        component: format!("federation-{controller}-controller"),
        members: MemberInformers::new(resource.clone(), controller),
        resource: resource.clone(),
        kind,
        federation: federation.clone(),
        federated,
        federated_synced: AtomicBool::new(false),
        queue: Arc::new(WorkQueue::default()),
        clusters,
        metrics,
        events,
        settings,
    });
    let api = Api::<DynamicObject>::all_with(federation, &resource);
    let events = reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
    let watch = {
        let propagator = propagator.clone();
        tokio::spawn(
            async move {
                let mut events = std::pin::pin!(events);
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) => {
                            propagator.queue.add(&object_key(&object), Duration::ZERO);
                        }
                        Ok(watcher::Event::InitDone) => {
                            propagator.federated_synced.store(true, Ordering::Release)
                        }
                        Ok(_) => {}
                        Err(error) => warn!(%error, "watch of federated objects failed; retrying"),
                    }
                }
            }
            .instrument(info_span!("federated_watch", controller)),
        )
    };
    let cluster_changes = {
        let propagator = propagator.clone();
        tokio::spawn(async move {
            let mut clusters = propagator.clusters.clone();
            loop {
                let view = clusters.borrow_and_update().clone();
                if let Some(view) = view {
                    propagator
                        .members
                        .sync(&view, &propagator.queue, &propagator.federated);
                    // Readiness or membership changed: every object may need copies added or removed.
                    for object in propagator.federated.state() {
                        propagator.queue.add(&object_key(&object), Duration::ZERO);
                    }
                }
                if clusters.changed().await.is_err() {
                    break;
                }
            }
        })
    };
    let workers: Vec<_> = (0..propagator.settings.workers.max(1))
        .map(|_| tokio::spawn(propagator.clone().work()))
        .collect();
    shutdown.cancelled().await;
    propagator.queue.close();
    watch.abort();
    cluster_changes.abort();
    for worker in workers {
        let _ = worker.await;
    }
    propagator.members.stop_all();
    info!(controller, "propagation controller stopped");
}

impl Propagator {
    /// One worker: reconciles keys until the queue closes.
    async fn work(self: Arc<Self>) {
        let controller = self.kind.controller();
        while let Some(key) = self.queue.next().await {
            let started = Instant::now();
            let result = self
                .reconcile(&key)
                .instrument(info_span!("reconcile", controller, key = %key))
                .await;
            if !matches!(result, Ok(Outcome::NotSynced)) {
                self.metrics
                    .reconcile(controller, started.elapsed(), result.is_err());
            }
            match result {
                Ok(Outcome::NotSynced) => self.queue.add(&key, NOT_SYNCED_DELAY),
                Ok(Outcome::Done) => self.queue.forget(&key),
                Ok(Outcome::RequeueAfter(delay)) => self.queue.add(&key, delay),
                Err(error) => {
                    let delay = self.queue.backoff(&key);
                    warn!(controller, key = %key, %error, retry_in = ?delay, "reconcile failed");
                    self.queue.add(&key, delay);
                }
            }
            self.queue.done(&key);
            self.metrics.queue_depth(controller, self.queue.len());
        }
    }

    fn object_ref(&self, key: &str) -> ObjectRef<DynamicObject> {
        match key.split_once('/') {
            Some((namespace, name)) => ObjectRef::new_with(name, self.resource.clone()).within(namespace),
            None => ObjectRef::new_with(key, self.resource.clone()),
        }
    }

    fn member_api(&self, client: &kube::Client, object: &DynamicObject) -> Api<DynamicObject> {
        match object.metadata.namespace.as_deref() {
            Some(namespace) if self.kind.namespaced() => {
                Api::namespaced_with(client.clone(), namespace, &self.resource)
            }
            _ => Api::all_with(client.clone(), &self.resource),
        }
    }

    fn federated_api(&self, object: &DynamicObject) -> Api<DynamicObject> {
        self.member_api(&self.federation, object)
    }

    /// Objects that stay in the federation: the federation-only namespace and its contents, and anything
    /// carrying the control plane's marker.
    fn never_propagated(&self, object: &DynamicObject) -> bool {
        let only = self.settings.federation_only_namespace.as_str();
        let in_only = if self.kind.namespaced() {
            object.metadata.namespace.as_deref() == Some(only)
        } else {
            self.resource.kind == "Namespace" && object.name_any() == only
        };
        in_only
            || object
                .metadata
                .annotations
                .as_ref()
                .is_some_and(is_control_plane_marker)
    }

    async fn reconcile(&self, key: &str) -> Result<Outcome, ReconcileError> {
        let Some(view) = self.clusters.borrow().clone() else {
            return Ok(Outcome::NotSynced);
        };
        if !self.federated_synced.load(Ordering::Acquire) {
            return Ok(Outcome::NotSynced);
        }
        let informers = self.members.snapshot();
        let mut ready: Vec<(Arc<MemberCluster>, Arc<MemberInformer>)> = Vec::new();
        for member in view.values() {
            if member.ready_client().is_none() {
                continue;
            }
            match informers.get(&member.name) {
                Some(informer) if informer.epoch == member.epoch && informer.synced() => {
                    ready.push((member.clone(), informer.clone()));
                }
                _ => return Ok(Outcome::NotSynced),
            }
        }
        let reference = self.object_ref(key);
        let Some(object) = self.federated.get(&reference) else {
            return Ok(Outcome::Done);
        };
        if self.never_propagated(&object) {
            return Ok(Outcome::Done);
        }
        if object.metadata.deletion_timestamp.is_some() {
            let unready: Vec<&str> = view
                .values()
                .filter(|m| m.ready_client().is_none())
                .map(|m| m.name.as_str())
                .collect();
            return self.delete(&object, &reference, &ready, &unready).await;
        }
        if self.ensure_finalizers(&object).await? {
            // The update comes back through the federated informer and queues this key again; that pass
            // propagates. Propagating now would race it: it could start before the member informers have
            // seen this pass's creates and write them a second time (rejected as AlreadyExists, but sent).
            return Ok(Outcome::Done);
        }
        let annotations = object.metadata.annotations.clone().unwrap_or_default();
        let selector = ClusterSelector::from_annotations(&annotations).map_err(|error| {
            self.event(
                &object,
                EventType::Warning,
                "ClusterSelectorError",
                format!("cluster selector: {error}"),
            );
            ReconcileError(format!("cluster selector: {error}"))
        })?;
        let (selected, unselected): (Vec<_>, Vec<_>) = ready
            .iter()
            .partition(|(member, _)| selector.matches(&member.labels));

        let desired_copy = self.kind.desired(&object);
        let scheduling = self.kind.scheduling();
        let copies: Vec<(String, kube::Client, Option<Arc<DynamicObject>>)> = selected
            .iter()
            .filter_map(|(member, informer)| {
                let client = member.ready_client()?.clone();
                Some((member.name.clone(), client, informer.store.get(&reference)))
            })
            .collect();
        let plan: Option<BTreeMap<String, ClusterSchedule>> = match scheduling {
            Some(scheduling) => {
                let (plan, error) = schedule::schedule(&object, scheduling, &copies, key).await;
                if let Some(error) = error {
                    self.event(
                        &object,
                        EventType::Warning,
                        "InvalidPreferences",
                        error.to_string(),
                    );
                }
                Some(plan)
            }
            None => None,
        };

        let mut operations: Vec<(String, kube::Client, Operation)> = Vec::new();
        let mut scheduled_copies: Vec<Arc<DynamicObject>> = Vec::new();
        for (cluster, client, copy) in &copies {
            let mut desired = desired_copy.clone();
            let wanted = match &plan {
                Some(plan) => plan.get(cluster).copied().unwrap_or_default(),
                None => ClusterSchedule {
                    selected: true,
                    replicas: 0,
                },
            };
            if plan.is_some()
                && wanted.selected
                && let Some(spec) = desired.data.get_mut("spec").and_then(Value::as_object_mut)
            {
                spec.insert("replicas".to_owned(), Value::from(wanted.replicas));
            }
            match copy {
                Some(copy) if !wanted.selected && copy.metadata.deletion_timestamp.is_none() => {
                    operations.push((cluster.clone(), client.clone(), Operation::Delete));
                }
                // Not selected and already being deleted in the member: nothing more to ask.
                Some(_) if !wanted.selected => {}
                Some(copy) => {
                    scheduled_copies.push(copy.clone());
                    if !self.kind.equivalent(&desired, copy) {
                        operations.push((
                            cluster.clone(),
                            client.clone(),
                            Operation::Update(self.overlay(copy, desired)),
                        ));
                    }
                }
                None if wanted.selected => {
                    operations.push((cluster.clone(), client.clone(), Operation::Create(desired)))
                }
                None => {}
            }
        }
        for (member, informer) in &unselected {
            if let (Some(client), Some(copy)) = (member.ready_client(), informer.store.get(&reference))
                && copy.metadata.deletion_timestamp.is_none()
            {
                operations.push((member.name.clone(), client.clone(), Operation::Delete));
            }
        }
        if let Some(scheduling) = scheduling {
            let all_present = plan
                .as_ref()
                .is_some_and(|plan| plan.values().filter(|s| s.selected).count() == scheduled_copies.len());
            let copies: Vec<&DynamicObject> = scheduled_copies.iter().map(AsRef::as_ref).collect();
            if let Some(status) =
                schedule::rolled_up_status(&object, scheduling, &copies, operations.is_empty() && all_present)
            {
                self.write_status(&object, status).await?;
            }
        }
        if operations.is_empty() {
            if scheduling.is_some() && scheduled_copies.iter().any(|copy| !schedule::fully_ready(copy)) {
                return Ok(Outcome::RequeueAfter(WORKLOAD_REVIEW_DELAY));
            }
            return Ok(Outcome::Done);
        }
        self.execute(&object, operations).await
    }

    /// The member's copy with everything the federation owns replaced by `desired`: labels, annotations
    /// (the ones the member keeps for itself stay), the copied fields. The copy's resourceVersion stays, so
    /// the update fails rather than overwrite a change made meanwhile.
    fn overlay(&self, copy: &DynamicObject, desired: DynamicObject) -> DynamicObject {
        let mut updated = copy.clone();
        updated.metadata.labels = desired.metadata.labels;
        let mut annotations = desired.metadata.annotations.unwrap_or_default();
        for ignored in self.kind.ignored_annotations() {
            if let Some(value) = copy.metadata.annotations.as_ref().and_then(|a| a.get(*ignored)) {
                annotations.insert((*ignored).to_owned(), value.clone());
            }
        }
        updated.metadata.annotations = Some(annotations);
        updated.metadata.managed_fields = None;
        if let Some(data) = updated.data.as_object_mut() {
            for (field, _) in self.kind.copied_fields() {
                match desired.data.get(*field) {
                    Some(value) => {
                        data.insert((*field).to_owned(), value.clone());
                    }
                    None => {
                        data.remove(*field);
                    }
                }
            }
        }
        updated
    }

    /// Adds the `delete-from-underlying-clusters` and `orphan` finalizers when missing (before anything is
    /// propagated, so no deletion can leave copies behind unnoticed). Returns whether it updated the object.
    async fn ensure_finalizers(&self, object: &DynamicObject) -> Result<bool, ReconcileError> {
        let mut finalizers = object.finalizers().to_vec();
        let mut missing = false;
        for finalizer in [DELETE_FROM_UNDERLYING_CLUSTERS_FINALIZER, ORPHAN_FINALIZER] {
            if !finalizers.iter().any(|f| f == finalizer) {
                finalizers.push(finalizer.to_owned());
                missing = true;
            }
        }
        if !missing {
            return Ok(false);
        }
        finalizers.sort();
        finalizers.dedup();
        self.patch_finalizers(object, finalizers).await?;
        Ok(true)
    }

    async fn patch_finalizers(
        &self,
        object: &DynamicObject,
        finalizers: Vec<String>,
    ) -> Result<(), ReconcileError> {
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": object.metadata.resource_version}});
        self.federated_api(object)
            .patch(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|error| ReconcileError(format!("updating finalizers: {error}")))
    }

    async fn write_status(
        &self,
        object: &DynamicObject,
        status: serde_json::Map<String, Value>,
    ) -> Result<(), ReconcileError> {
        let patch = json!({"status": status});
        self.federated_api(object)
            .patch_status(&object.name_any(), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(|_| ())
            .map_err(|error| ReconcileError(format!("writing status: {error}")))
    }

    /// The deletion helper (reference §3.3.6).
    async fn delete(
        &self,
        object: &DynamicObject,
        reference: &ObjectRef<DynamicObject>,
        ready: &[(Arc<MemberCluster>, Arc<MemberInformer>)],
        unready: &[&str],
    ) -> Result<Outcome, ReconcileError> {
        if self.resource.kind == "Namespace" {
            let contents_pending = object
                .data
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| f.iter().any(|f| f.as_str() == Some(KUBERNETES_FINALIZER)));
            if contents_pending {
                // The apiserver is deleting the namespace's contents (Background, so they cascade).
                return Ok(Outcome::RequeueAfter(SHORT_RETRY));
            }
        }
        let finalizers = object.finalizers();
        if !finalizers
            .iter()
            .any(|f| f == DELETE_FROM_UNDERLYING_CLUSTERS_FINALIZER)
        {
            return Ok(Outcome::Done);
        }
        if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
            let rest = finalizers
                .iter()
                .filter(|f| *f != ORPHAN_FINALIZER && *f != DELETE_FROM_UNDERLYING_CLUSTERS_FINALIZER)
                .cloned()
                .collect();
            self.patch_finalizers(object, rest).await?;
            info!("copies in member clusters orphaned");
            return Ok(Outcome::Done);
        }
        let mut operations = Vec::new();
        let mut terminating = false;
        for (member, informer) in ready {
            let (Some(client), Some(copy)) = (member.ready_client(), informer.store.get(reference)) else {
                continue;
            };
            if copy.metadata.deletion_timestamp.is_some() {
                terminating = true;
            } else {
                operations.push((member.name.clone(), client.clone(), Operation::Delete));
            }
        }
        if !operations.is_empty() {
            self.execute(object, operations).await?;
            return Ok(Outcome::RequeueAfter(SHORT_RETRY));
        }
        if terminating {
            return Ok(Outcome::RequeueAfter(SHORT_RETRY));
        }
        if !unready.is_empty() {
            debug!(clusters = ?unready, "deletion waits for clusters to become ready");
            return Ok(Outcome::RequeueAfter(UNREADY_RETRY));
        }
        let rest = finalizers
            .iter()
            .filter(|f| *f != DELETE_FROM_UNDERLYING_CLUSTERS_FINALIZER)
            .cloned()
            .collect();
        self.patch_finalizers(object, rest).await?;
        info!("copies deleted from every member cluster");
        Ok(Outcome::Done)
    }

    /// Runs `operations` in parallel, each bounded by the operation timeout, with an event each.
    async fn execute(
        &self,
        object: &DynamicObject,
        operations: Vec<(String, kube::Client, Operation)>,
    ) -> Result<Outcome, ReconcileError> {
        let kind = self.resource.kind.as_str();
        let key = object_key(object);
        let writes = operations.into_iter().map(|(cluster, client, operation)| {
            let api = self.member_api(&client, object);
            let name = object.name_any();
            let timeout = self.settings.operation_timeout;
            async move {
                self.metrics.member_write();
                let (_, _, doing) = operation.verb();
                let write = async {
                    match &operation {
                        Operation::Create(desired) => {
                            api.create(&PostParams::default(), desired).await.map(|_| ())
                        }
                        Operation::Update(updated) => api
                            .replace(&name, &PostParams::default(), updated)
                            .await
                            .map(|_| ()),
                        Operation::Delete => api.delete(&name, &DeleteParams::background()).await.map(|_| ()),
                    }
                };
                let result = match tokio::time::timeout(timeout, write).await {
                    Err(_) => WriteResult::Failed(format!("no answer within {timeout:?}")),
                    Ok(Ok(())) => WriteResult::Ok,
                    Ok(Err(kube::Error::Api(status)))
                        if status.is_not_found() && matches!(operation, Operation::Delete) =>
                    {
                        WriteResult::Ok
                    }
                    Ok(Err(kube::Error::Api(status)))
                        if status.is_conflict() || status.is_already_exists() =>
                    {
                        WriteResult::Transient(status.message.clone())
                    }
                    Ok(Err(kube::Error::Api(status))) if status.is_not_found() => {
                        // The namespace has not reached this member yet.
                        WriteResult::Transient(status.message.clone())
                    }
                    Ok(Err(error)) => WriteResult::Failed(error.to_string()),
                };
                debug!(cluster = %cluster, operation = doing, "member write");
                (cluster, operation, result)
            }
        });
        let results = join_all(writes).await;
        let mut failure = None;
        let mut transient = false;
        for (cluster, operation, result) in results {
            let (reason, failed_reason, doing) = operation.verb();
            match result {
                WriteResult::Ok => {
                    self.event(
                        object,
                        EventType::Normal,
                        reason,
                        format!("{doing} {kind} {key} in cluster {cluster}"),
                    );
                }
                WriteResult::Transient(message) => {
                    debug!(cluster = %cluster, %message, "member write will be retried");
                    transient = true;
                }
                WriteResult::Failed(message) => {
                    let verb = match operation {
                        Operation::Create(_) => "create",
                        Operation::Update(_) => "update",
                        Operation::Delete => "delete",
                    };
                    let text = format!("Failed to {verb} {kind} {key} in cluster {cluster}: {message}");
                    self.event(object, EventType::Warning, failed_reason, text.clone());
                    failure.get_or_insert(text);
                }
            }
        }
        match (failure, transient) {
            (Some(failure), _) => Err(ReconcileError(failure)),
            (None, true) => Ok(Outcome::RequeueAfter(SHORT_RETRY)),
            (None, false) => Ok(Outcome::Done),
        }
    }

    fn event(&self, object: &DynamicObject, kind: EventType, reason: &str, message: String) {
        self.events.record(&self.component, object, kind, reason, message);
    }
}
