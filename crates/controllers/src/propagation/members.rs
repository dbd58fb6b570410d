//! Per-member informers of one kind: a watch-fed cache of every member's copies, started when a member
//! becomes ready (or its client changes) and stopped when it goes unready or away (reference §3.3.2).
//!
//! Every event on a member copy queues the federated object of the same key, so drift in a member is seen
//! and corrected; a member's first complete list, and a member leaving, queue every federated object.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures::StreamExt;
use kube::{
    Api,
    api::{ApiResource, DynamicObject},
    runtime::{
        WatchStreamExt,
        reflector::{self, Store, store::Writer},
        watcher,
    },
};
use tracing::{Instrument, debug, info, info_span};

use super::{object_key, queue::WorkQueue};
use crate::clusters::MemberCluster;

/// How long a member event waits before its key is reconciled, so events of several members for the same
/// object (our own writes echoing back) are handled in one reconcile.
pub const MEMBER_EVENT_DELAY: Duration = Duration::from_millis(100);

/// The informer of one member.
pub struct MemberInformer {
    /// The member's epoch the informer was started for.
    pub epoch: u64,
    /// The member's client.
    pub client: kube::Client,
    /// The member's copies.
    pub store: Store<DynamicObject>,
    synced: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl MemberInformer {
    /// Whether the first list has completed.
    #[must_use]
    pub fn synced(&self) -> bool {
        self.synced.load(Ordering::Acquire)
    }
}

impl Drop for MemberInformer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The informers of every ready member for one kind.
pub struct MemberInformers {
    resource: ApiResource,
    controller: &'static str,
    informers: Mutex<BTreeMap<String, Arc<MemberInformer>>>,
}

impl MemberInformers {
    /// No informers yet.
    #[must_use]
    pub fn new(resource: ApiResource, controller: &'static str) -> Self {
        Self {
            resource,
            controller,
            informers: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<MemberInformer>>> {
        self.informers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The running informers by member name.
    #[must_use]
    pub fn snapshot(&self) -> BTreeMap<String, Arc<MemberInformer>> {
        self.lock().clone()
    }

    /// Starts and stops informers to match `members`. Returns whether an informer stopped (its member's
    /// copies are no longer known, so every object needs another look).
    pub fn sync(
        &self,
        members: &BTreeMap<String, Arc<MemberCluster>>,
        queue: &Arc<WorkQueue>,
        federated: &Store<DynamicObject>,
    ) -> bool {
        let mut informers = self.lock();
        let before = informers.len();
        informers.retain(|name, informer| {
            let keep = members
                .get(name)
                .is_some_and(|m| m.ready_client().is_some() && m.epoch == informer.epoch);
            if !keep {
                info!(controller = self.controller, cluster = %name, "stopping member informer");
            }
            keep
        });
        let stopped = informers.len() != before;
        for member in members.values() {
            let Some(client) = member.ready_client() else {
                continue;
            };
            if informers.contains_key(&member.name) {
                continue;
            }
            info!(controller = self.controller, cluster = %member.name, "starting member informer");
            informers.insert(
                member.name.clone(),
                Arc::new(self.start(member, client.clone(), queue.clone(), federated.clone())),
            );
        }
        stopped
    }

    fn start(
        &self,
        member: &MemberCluster,
        client: kube::Client,
        queue: Arc<WorkQueue>,
        federated: Store<DynamicObject>,
    ) -> MemberInformer {
        let writer = Writer::<DynamicObject>::new(self.resource.clone());
        let store = writer.as_reader();
        let synced = Arc::new(AtomicBool::new(false));
        let api = Api::<DynamicObject>::all_with(client.clone(), &self.resource);
        let events = reflector::reflector(writer, watcher(api, watcher::Config::default())).default_backoff();
        let task_synced = synced.clone();
        let span = info_span!("member_watch", controller = self.controller, cluster = %member.name);
        let task = tokio::spawn(
            async move {
                let mut events = std::pin::pin!(events);
                while let Some(event) = events.next().await {
                    match event {
                        Ok(watcher::Event::Apply(object) | watcher::Event::Delete(object)) => {
                            queue.add(&object_key(&object), MEMBER_EVENT_DELAY);
                        }
                        Ok(watcher::Event::InitDone) => {
                            task_synced.store(true, Ordering::Release);
                            for object in federated.state() {
                                queue.add(&object_key(&object), Duration::ZERO);
                            }
                        }
                        Ok(_) => {}
                        Err(error) => debug!(%error, "member watch failed; retrying"),
                    }
                }
            }
            .instrument(span),
        );
        MemberInformer {
            epoch: member.epoch,
            client,
            store,
            synced,
            task,
        }
    }

    /// Stops every informer.
    pub fn stop_all(&self) {
        self.lock().clear();
    }
}
