//! The simulator: one task that keeps a cache of the simulated kinds (fed by one watcher per kind, all
//! polled by one forwarding task), collects what changed into a dirty set, and every batch runs a pass of
//! small reconcilers that compute desired state from the cache and write only differences.
//!
//! Passes run in a fixed order so that one pass carries a change through: nodes, namespaces, service
//! accounts, workloads (pod creation and deletion), the scheduler (pending pods), pods (status), workload
//! status, services (load-balancer status and endpoints). Writes of one phase run concurrently; their
//! responses go into the cache before the next phase, which therefore reads the simulator's own writes.

mod accounts;
mod nodes;
mod ops;
mod pods;
mod services;
mod status;
mod workloads;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    fmt::Debug,
    sync::Arc,
    time::Duration,
};

use futures::{StreamExt, stream::BoxStream};
use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment, ReplicaSet},
    batch::v1::Job,
    core::v1::{Endpoints, Namespace, Node, Pod, Secret, Service, ServiceAccount},
};
use kube::{
    Api, Client, Resource,
    runtime::{WatchStreamExt, watcher},
};
use serde::{Serialize, de::DeserializeOwned};
use tokio::{sync::mpsc, time::Instant};
use tokio_util::sync::CancellationToken;

use crate::{
    cache::{Cache, Change, Key},
    names::AddressPlan,
};

pub(crate) use ops::{Apply, Op};
use pods::PodIndex;
use workloads::{Owner, WorkloadKind};

/// How long events are gathered before a pass runs: one pass handles a burst of changes at once.
const BATCH: Duration = Duration::from_millis(15);
/// How long a failed write waits before it is tried again.
const RETRY: Duration = Duration::from_secs(2);
/// Writes in flight at once within one phase.
const CONCURRENCY: usize = 16;

/// What the simulator is configured to simulate.
#[derive(Debug, Clone)]
pub struct Config {
    /// The cluster's name.
    pub name: String,
    /// How many nodes.
    pub nodes: usize,
    /// Zones, round-robin over the nodes.
    pub zones: Vec<String>,
    /// The region of every node.
    pub region: String,
    /// Pods the cluster can run; `None` is unlimited.
    pub pod_capacity: Option<usize>,
    /// How long a scheduled pod takes to become Running and Ready.
    pub ready_after: Duration,
    /// The server's CA (PEM) for token secrets; empty when unknown.
    pub ca_pem: Vec<u8>,
    /// The cluster's addresses.
    pub plan: AddressPlan,
}

/// A kind the simulator watches.
pub(crate) trait Kind:
    Resource<DynamicType = ()> + Clone + Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// The resource name for logs.
    const PLURAL: &'static str;
    /// The API of the kind in `namespace` (ignored for cluster-scoped kinds).
    fn api(client: &Client, namespace: &str) -> Api<Self>;
    /// The kind's cache.
    fn cache(state: &mut State) -> &mut Cache<Self>;
    /// Marks what a change of an object of this kind makes dirty, and updates indices.
    fn changed(state: &mut State, change: &Change<Self>);
}

macro_rules! namespaced_kind {
    ($kind:ty, $plural:literal, $field:ident, $changed:path) => {
        impl Kind for $kind {
            const PLURAL: &'static str = $plural;
            fn api(client: &Client, namespace: &str) -> Api<Self> {
                Api::namespaced(client.clone(), namespace)
            }
            fn cache(state: &mut State) -> &mut Cache<Self> {
                &mut state.$field
            }
            fn changed(state: &mut State, change: &Change<Self>) {
                $changed(state, change);
            }
        }
    };
}

macro_rules! cluster_kind {
    ($kind:ty, $plural:literal, $field:ident, $changed:path) => {
        impl Kind for $kind {
            const PLURAL: &'static str = $plural;
            fn api(client: &Client, _namespace: &str) -> Api<Self> {
                Api::all(client.clone())
            }
            fn cache(state: &mut State) -> &mut Cache<Self> {
                &mut state.$field
            }
            fn changed(state: &mut State, change: &Change<Self>) {
                $changed(state, change);
            }
        }
    };
}

cluster_kind!(Node, "nodes", nodes, nodes::changed);
cluster_kind!(Namespace, "namespaces", namespaces, accounts::namespace_changed);
namespaced_kind!(
    ServiceAccount,
    "serviceaccounts",
    accounts,
    accounts::account_changed
);
namespaced_kind!(Secret, "secrets", secrets, accounts::secret_changed);
namespaced_kind!(Pod, "pods", pods, pods::changed);
namespaced_kind!(
    Deployment,
    "deployments",
    deployments,
    workloads::changed::<Deployment>
);
namespaced_kind!(
    ReplicaSet,
    "replicasets",
    replicasets,
    workloads::changed::<ReplicaSet>
);
namespaced_kind!(
    DaemonSet,
    "daemonsets",
    daemonsets,
    workloads::changed::<DaemonSet>
);
namespaced_kind!(Job, "jobs", jobs, workloads::changed::<Job>);
namespaced_kind!(Service, "services", services, services::service_changed);
namespaced_kind!(Endpoints, "endpoints", endpoints, services::endpoints_changed);

/// Something that needs a look in the next pass.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Item {
    /// The simulated nodes.
    Nodes,
    /// A namespace's default service account.
    Namespace(String),
    /// A service account's token secret.
    Account(Key),
    /// A workload's pods.
    Workload(Owner),
    /// A workload's status.
    WorkloadStatus(Owner),
    /// A pod's status.
    Pod(Key),
    /// A service's status and endpoints.
    Service(Key),
}

/// What the next pass looks at.
#[derive(Debug, Default)]
pub(crate) struct Dirty {
    nodes: bool,
    scheduler: bool,
    namespaces: BTreeSet<String>,
    accounts: BTreeSet<Key>,
    workloads: BTreeSet<Owner>,
    statuses: BTreeSet<Owner>,
    pods: BTreeSet<Key>,
    services: BTreeSet<Key>,
    deleted_services: BTreeSet<Key>,
}

impl Dirty {
    fn mark(&mut self, item: Item) {
        match item {
            Item::Nodes => self.nodes = true,
            Item::Namespace(name) => {
                self.namespaces.insert(name);
            }
            Item::Account(key) => {
                self.accounts.insert(key);
            }
            Item::Workload(owner) => {
                self.workloads.insert(owner);
            }
            Item::WorkloadStatus(owner) => {
                self.statuses.insert(owner);
            }
            Item::Pod(key) => {
                self.pods.insert(key);
            }
            Item::Service(key) => {
                self.services.insert(key);
            }
        }
    }
}

/// Everything the simulator knows.
pub(crate) struct State {
    pub(crate) config: Arc<Config>,
    pub(crate) client: Client,
    pub(crate) nodes: Cache<Node>,
    pub(crate) namespaces: Cache<Namespace>,
    pub(crate) accounts: Cache<ServiceAccount>,
    pub(crate) secrets: Cache<Secret>,
    pub(crate) pods: Cache<Pod>,
    pub(crate) deployments: Cache<Deployment>,
    pub(crate) replicasets: Cache<ReplicaSet>,
    pub(crate) daemonsets: Cache<DaemonSet>,
    pub(crate) jobs: Cache<Job>,
    pub(crate) services: Cache<Service>,
    pub(crate) endpoints: Cache<Endpoints>,
    pub(crate) index: PodIndex,
    /// Token secrets by the `(namespace, name)` of the service account they are for.
    pub(crate) tokens: HashMap<Key, BTreeSet<Key>>,
    pub(crate) dirty: Dirty,
    timers: BTreeMap<(Instant, u64), Item>,
    /// Items with a timer, so that one item has at most one pending timer at the earliest time asked.
    timed: HashMap<Item, Instant>,
    timer_seq: u64,
    /// Round-robin position over the nodes.
    pub(crate) next_node: usize,
    /// The next pod IP number to try.
    pub(crate) next_ip: u32,
    /// The last status/metadata patch sent per object, with the resource version it produced: the same
    /// patch against that same version means the server does not converge, and is not sent again.
    patches: HashMap<(&'static str, Key), (String, serde_json::Value)>,
    /// Whether the simulated nodes are all as desired.
    nodes_converged: bool,
    /// Kinds whose watch is failing (logged once until it recovers).
    failing: HashSet<&'static str>,
}

impl State {
    fn new(config: Arc<Config>, client: Client) -> Self {
        Self {
            config,
            client,
            nodes: Cache::default(),
            namespaces: Cache::default(),
            accounts: Cache::default(),
            secrets: Cache::default(),
            pods: Cache::default(),
            deployments: Cache::default(),
            replicasets: Cache::default(),
            daemonsets: Cache::default(),
            jobs: Cache::default(),
            services: Cache::default(),
            endpoints: Cache::default(),
            index: PodIndex::default(),
            tokens: HashMap::new(),
            dirty: Dirty {
                nodes: true,
                scheduler: true,
                ..Dirty::default()
            },
            timers: BTreeMap::new(),
            timed: HashMap::new(),
            timer_seq: 0,
            next_node: 0,
            next_ip: 0,
            patches: HashMap::new(),
            nodes_converged: false,
            failing: HashSet::new(),
        }
    }

    /// Stores an object the simulator wrote (the server's response).
    pub(crate) fn put<K: Kind>(&mut self, object: K) {
        if let Some(change) = K::cache(self).put(object) {
            K::changed(self, &change);
        }
    }

    /// Forgets an object the simulator deleted.
    pub(crate) fn forget<K: Kind>(&mut self, key: &Key) {
        if let Some(change) = K::cache(self).forget(key) {
            K::changed(self, &change);
        }
    }

    fn observe<K: Kind>(&mut self, event: watcher::Result<watcher::Event<K>>) {
        match event {
            Ok(event) => {
                if self.failing.remove(K::PLURAL) {
                    tracing::info!(resource = K::PLURAL, "simulator watch recovered");
                }
                for change in K::cache(self).observe(event) {
                    K::changed(self, &change);
                }
            }
            Err(e) => {
                if self.failing.insert(K::PLURAL) {
                    tracing::warn!(resource = K::PLURAL, error = %e, "simulator watch failed; retrying with backoff");
                } else {
                    tracing::debug!(resource = K::PLURAL, error = %e, "simulator watch still failing");
                }
            }
        }
    }

    /// Looks at `item` again at `at` (or earlier, if it already has an earlier timer).
    pub(crate) fn at(&mut self, at: Instant, item: Item) {
        if let Some(existing) = self.timed.get(&item)
            && *existing <= at
        {
            return;
        }
        self.timer_seq += 1;
        self.timed.insert(item.clone(), at);
        self.timers.insert((at, self.timer_seq), item);
    }

    /// Looks at `item` again after a failed write.
    pub(crate) fn retry(&mut self, item: Item) {
        self.at(Instant::now() + RETRY, item);
    }

    fn next_timer(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, _), item) = entry.remove_entry();
            if self.timed.get(&item) == Some(&at) {
                self.timed.remove(&item);
            }
            self.dirty.mark(item);
        }
    }

    /// Whether every watch has listed once and the nodes are in place.
    fn ready(&self) -> bool {
        self.nodes_converged
            && self.nodes.synced()
            && self.namespaces.synced()
            && self.accounts.synced()
            && self.secrets.synced()
            && self.pods.synced()
            && self.deployments.synced()
            && self.replicasets.synced()
            && self.daemonsets.synced()
            && self.jobs.synced()
            && self.services.synced()
            && self.endpoints.synced()
    }

    /// A merge patch of `kind` object `key` (at resource version `rv`), unless the same patch already
    /// produced that version; `None` then.
    pub(crate) fn patch_op<K: Kind>(
        &mut self,
        key: &Key,
        rv: &str,
        subresource_status: bool,
        patch: serde_json::Value,
        retry: Item,
    ) -> Option<Op> {
        let memo_key = (K::PLURAL, key.clone());
        if let Some((after, sent)) = self.patches.get(&memo_key)
            && after == rv
            && *sent == patch
        {
            tracing::warn!(
                resource = K::PLURAL, namespace = %key.0, name = %key.1, %patch,
                "the server does not keep what the simulator wrote; not writing it again"
            );
            return None;
        }
        Some(ops::patch::<K>(
            &self.client,
            key.clone(),
            subresource_status,
            patch,
            retry,
        ))
    }

    /// Records that `patch` of `kind` object `key` produced resource version `rv`.
    pub(crate) fn remember_patch(
        &mut self,
        kind: &'static str,
        key: Key,
        rv: String,
        patch: serde_json::Value,
    ) {
        self.patches.insert((kind, key), (rv, patch));
    }

    /// Runs one pass; returns whether it wrote anything.
    async fn pass(&mut self) -> bool {
        let mut wrote = false;
        let phases: [fn(&mut State) -> Vec<Op>; 8] = [
            nodes::plan,
            accounts::plan_namespaces,
            accounts::plan_accounts,
            workloads::plan,
            pods::plan_scheduler,
            pods::plan,
            status::plan,
            services::plan,
        ];
        for phase in phases {
            let ops = phase(self);
            if ops.is_empty() {
                continue;
            }
            wrote = true;
            let applies: Vec<Vec<Apply>> = futures::stream::iter(ops)
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for apply in applies.into_iter().flatten() {
                apply(self);
            }
        }
        // Bound the patch memos (they only guard against a server that does not keep a write).
        if self.patches.len() > 4096 {
            self.patches.clear();
        }
        wrote
    }
}

/// One watch event of any simulated kind (boxed: the objects are large).
enum Event {
    Node(Box<watcher::Result<watcher::Event<Node>>>),
    Namespace(Box<watcher::Result<watcher::Event<Namespace>>>),
    Account(Box<watcher::Result<watcher::Event<ServiceAccount>>>),
    Secret(Box<watcher::Result<watcher::Event<Secret>>>),
    Pod(Box<watcher::Result<watcher::Event<Pod>>>),
    Deployment(Box<watcher::Result<watcher::Event<Deployment>>>),
    ReplicaSet(Box<watcher::Result<watcher::Event<ReplicaSet>>>),
    DaemonSet(Box<watcher::Result<watcher::Event<DaemonSet>>>),
    Job(Box<watcher::Result<watcher::Event<Job>>>),
    Service(Box<watcher::Result<watcher::Event<Service>>>),
    Endpoints(Box<watcher::Result<watcher::Event<Endpoints>>>),
}

impl State {
    fn take(&mut self, event: Event) {
        match event {
            Event::Node(e) => self.observe(*e),
            Event::Namespace(e) => self.observe(*e),
            Event::Account(e) => self.observe(*e),
            Event::Secret(e) => self.observe(*e),
            Event::Pod(e) => self.observe(*e),
            Event::Deployment(e) => self.observe(*e),
            Event::ReplicaSet(e) => self.observe(*e),
            Event::DaemonSet(e) => self.observe(*e),
            Event::Job(e) => self.observe(*e),
            Event::Service(e) => self.observe(*e),
            Event::Endpoints(e) => self.observe(*e),
        }
    }
}

/// The watch of kind `K` over all namespaces, retried with backoff.
fn watch<K: Kind>(
    client: &Client,
    config: watcher::Config,
) -> BoxStream<'static, watcher::Result<watcher::Event<K>>> {
    watcher(Api::<K>::all(client.clone()), config)
        .default_backoff()
        .boxed()
}

/// Starts the one task that polls every watch and forwards the events.
fn spawn_watchers(client: &Client, shutdown: CancellationToken) -> mpsc::UnboundedReceiver<Event> {
    let all = watcher::Config::default();
    let tokens = watcher::Config::default().fields("type=kubernetes.io/service-account-token");
    let streams: Vec<BoxStream<'static, Event>> = vec![
        watch::<Node>(client, all.clone())
            .map(|e| Event::Node(Box::new(e)))
            .boxed(),
        watch::<Namespace>(client, all.clone())
            .map(|e| Event::Namespace(Box::new(e)))
            .boxed(),
        watch::<ServiceAccount>(client, all.clone())
            .map(|e| Event::Account(Box::new(e)))
            .boxed(),
        watch::<Secret>(client, tokens)
            .map(|e| Event::Secret(Box::new(e)))
            .boxed(),
        watch::<Pod>(client, all.clone())
            .map(|e| Event::Pod(Box::new(e)))
            .boxed(),
        watch::<Deployment>(client, all.clone())
            .map(|e| Event::Deployment(Box::new(e)))
            .boxed(),
        watch::<ReplicaSet>(client, all.clone())
            .map(|e| Event::ReplicaSet(Box::new(e)))
            .boxed(),
        watch::<DaemonSet>(client, all.clone())
            .map(|e| Event::DaemonSet(Box::new(e)))
            .boxed(),
        watch::<Job>(client, all.clone())
            .map(|e| Event::Job(Box::new(e)))
            .boxed(),
        watch::<Service>(client, all.clone())
            .map(|e| Event::Service(Box::new(e)))
            .boxed(),
        watch::<Endpoints>(client, all)
            .map(|e| Event::Endpoints(Box::new(e)))
            .boxed(),
    ];
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut events = futures::stream::select_all(streams);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                event = events.next() => match event {
                    Some(event) => if tx.send(event).is_err() { return },
                    None => return,
                },
            }
        }
    });
    rx
}

/// Runs the simulator until `shutdown`; `ready` is sent once every kind has been listed and the nodes
/// exist as configured.
pub(crate) async fn run(
    config: Arc<Config>,
    client: Client,
    ready: tokio::sync::oneshot::Sender<()>,
    shutdown: CancellationToken,
) {
    let mut events = spawn_watchers(&client, shutdown.clone());
    let mut state = State::new(config, client);
    let mut ready = Some(ready);
    let mut again = true;
    loop {
        if !again {
            let timer = state.next_timer();
            tokio::select! {
                () = shutdown.cancelled() => return,
                event = events.recv() => match event {
                    Some(event) => state.take(event),
                    None => return,
                },
                () = sleep_until(timer), if timer.is_some() => {}
            }
        }
        // Gather the rest of the burst.
        let until = Instant::now() + BATCH;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                event = events.recv() => match event {
                    Some(event) => state.take(event),
                    None => return,
                },
                () = tokio::time::sleep_until(until) => break,
            }
        }
        state.fire_timers();
        again = state.pass().await;
        if state.ready()
            && let Some(ready) = ready.take()
        {
            let _ = ready.send(());
        }
    }
}

/// Sleeps until `at` (forever when `None`, which the caller guards against).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => futures::future::pending().await,
    }
}
