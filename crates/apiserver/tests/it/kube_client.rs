//! kube-rs 5, unmodified, against the federation apiserver: `Api` CRUD, `watcher` and `reflector`, the
//! `Controller` with `finalizer()`, every patch type, status subresources, discovery, and the watcher's
//! re-list after it fell behind a compaction (k8s-api-compat.md §0.5, §0.7, §0.9, §3.3d).
//!
//! Every scenario runs on the embedded store and on a real etcd. A scenario that needs a server feature that is
//! not implemented yet is listed as `name => ignore "needs <feature>: ..."` in `on_both_backends!` (none is
//! today). kube-rs 5 ships no leader elector; `lease_lock_semantics` checks what Lease-based electors rely on.

use std::{
    collections::BTreeMap,
    fmt::Debug,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use fcp_testkit::{apiserver::TestApiServer, etcd::TestEtcd};
use futures::{Stream, StreamExt};
use k8s_openapi::{
    api::{
        apps::v1::{Deployment, DeploymentStatus},
        coordination::v1::{Lease, LeaseSpec},
        core::v1::{ConfigMap, Namespace},
    },
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{
    Api, Client, Resource, ResourceExt,
    api::{
        DeleteParams, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch, PatchParams,
        PostParams, VersionMatch,
    },
    discovery::Discovery,
    runtime::{
        Controller, WatchStreamExt,
        controller::Action,
        finalizer::{self, finalizer},
        reflector::{self, Store},
        watcher,
    },
};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

/// How long any single expectation may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(30);
/// How often state is re-read while waiting for it to converge.
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Backend {
    Embedded,
    Etcd,
}

/// A server on one backend and a kube-rs client for it. Fields drop in order: the server before etcd.
struct Fixture {
    client: Client,
    server: TestApiServer,
    _data_dir: Option<tempfile::TempDir>,
    _etcd: Option<TestEtcd>,
}

impl Fixture {
    /// A server on `backend` with extra apiserver flags.
    async fn start(backend: Backend, flags: &[&str]) -> Self {
        let (server, data_dir, etcd) = match backend {
            Backend::Embedded => {
                let dir = tempfile::Builder::new().prefix("fcp-kube-rs-").tempdir().unwrap();
                let data = dir.path().join("data");
                let mut args = vec!["--data-dir", data.to_str().unwrap()];
                args.extend_from_slice(flags);
                (TestApiServer::start(&args).await.unwrap(), Some(dir), None)
            }
            Backend::Etcd => {
                let etcd = TestEtcd::start().unwrap();
                let endpoint = etcd.endpoint();
                let mut args = vec!["--etcd-servers", endpoint.as_str()];
                args.extend_from_slice(flags);
                (TestApiServer::start(&args).await.unwrap(), None, Some(etcd))
            }
        };
        Self {
            client: client_for(server.base_url()),
            server,
            _data_dir: data_dir,
            _etcd: etcd,
        }
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
    }
}

/// A kube-rs client for a plain-HTTP server, configured the way the brief and kube's docs say.
fn client_for(url: &str) -> Client {
    let config = kube::Config::new(url.parse().unwrap());
    Client::try_from(config).unwrap()
}

/// Runs `scenario` against a fresh server on `backend`.
async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()>,
{
    let fixture = Fixture::start(backend, &[]).await;
    scenario(fixture.client.clone()).await;
    fixture.stop().await;
}

/// One `#[tokio::test]` per backend for each scenario, in a module named after the scenario;
/// `name => ignore "reason"` marks both as ignored.
macro_rules! on_both_backends {
    ($($name:ident $(=> ignore $reason:literal)?),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            $(#[ignore = $reason])?
            async fn embedded() {
                super::run(super::Backend::Embedded, super::$name).await;
            }

            #[tokio::test]
            $(#[ignore = $reason])?
            async fn etcd() {
                super::run(super::Backend::Etcd, super::$name).await;
            }
        }
    )*};
}

on_both_backends! {
    configmap_crud,
    finalizers_hold_deletion_until_removed,
    watcher_and_reflector_follow_changes,
    label_selector_watcher_sees_objects_leave_and_enter,
    streaming_list_watcher_initialises,
    merge_patch,
    json_patch,
    strategic_merge_patch,
    server_side_apply_creates_and_updates,
    server_side_apply_conflicts_without_force,
    deployment_status_subresource,
    deployment_defaulting,
    lease_lock_semantics,
    discovery_finds_builtin_and_federation_kinds,
    controller_with_finalizer_reconciles_and_cleans_up,
}

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

async fn create_namespace(client: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(client.clone());
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &ns).await.unwrap();
}

fn configmap(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

fn data_of(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The `Status` of an API error, or a panic naming what was expected.
fn api_error<T: Debug>(result: kube::Result<T>, what: &str) -> Box<kube::core::Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("{what}: expected an API error, got {other:?}"),
    }
}

fn deployment(name: &str, containers: &[(&str, &str)]) -> Deployment {
    let containers: Vec<Value> = containers
        .iter()
        .map(|(n, image)| json!({"name": n, "image": image}))
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": containers}
            }
        }
    }))
    .unwrap()
}

fn container_images(deployment: &Deployment) -> Vec<(String, String)> {
    deployment
        .spec
        .template
        .spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// Re-evaluates `check` until it yields `Some`, failing after [`DEADLINE`] with `what` and the last
/// observation.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "timed out after {DEADLINE:?} waiting for {what}; last seen: {last}"
                );
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A short description of a watcher event, for assertions and failure messages.
fn describe<K: Resource>(event: &Result<watcher::Event<K>, watcher::Error>) -> String {
    match event {
        Ok(watcher::Event::Init) => "Init".to_owned(),
        Ok(watcher::Event::InitApply(o)) => format!("InitApply({})", o.name_any()),
        Ok(watcher::Event::InitDone) => "InitDone".to_owned(),
        Ok(watcher::Event::Apply(o)) => format!("Apply({})", o.name_any()),
        Ok(watcher::Event::Delete(o)) => format!("Delete({})", o.name_any()),
        Err(e) => format!("Err({e})"),
    }
}

/// Polls `stream` (a watcher, possibly through a reflector) until `done` holds after an event, recording
/// every event's description in `log`. Fails after [`DEADLINE`] with the log.
async fn drive_until<K, S>(
    stream: &mut S,
    log: &mut Vec<String>,
    what: &str,
    mut done: impl FnMut(&Result<watcher::Event<K>, watcher::Error>) -> bool,
) where
    K: Resource,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Unpin,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let Ok(next) = next else {
            panic!("timed out after {DEADLINE:?} waiting for {what}; events: {log:?}");
        };
        let event =
            next.unwrap_or_else(|| panic!("the watcher stream ended waiting for {what}; events: {log:?}"));
        log.push(describe(&event));
        if done(&event) {
            return;
        }
    }
}

/// Names and data of the objects in a reflector store, sorted by name.
fn store_contents(store: &Store<ConfigMap>) -> Vec<(String, BTreeMap<String, String>)> {
    let mut contents: Vec<_> = store
        .state()
        .iter()
        .map(|cm| (cm.name_any(), data_of(cm)))
        .collect();
    contents.sort();
    contents
}

/// Names and data of the configmaps the server lists now, sorted by name.
async fn listed_contents(api: &Api<ConfigMap>) -> Vec<(String, BTreeMap<String, String>)> {
    let mut contents: Vec<_> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|cm| (cm.name_any(), data_of(cm)))
        .collect();
    contents.sort();
    contents
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------------------

/// `Api<ConfigMap>`: create, get, get_opt, list with a label selector, replace, conflicts, dry run, delete,
/// metadata-only reads, and the error reasons kube-rs matches on.
async fn configmap_crud(client: Client) {
    create_namespace(&client, "crud").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "crud");
    let pp = PostParams::default();

    let mut cm = configmap("a", &[("k", "v")]);
    cm.metadata.labels = Some(map(&[("app", "crud")]));
    let created = api.create(&pp, &cm).await.unwrap();
    assert_eq!(created.name_any(), "a");
    assert_eq!(created.namespace().as_deref(), Some("crud"));
    assert!(created.uid().is_some(), "uid set: {created:?}");
    assert!(created.resource_version().is_some());
    assert!(created.creation_timestamp().is_some());
    assert_eq!(data_of(&created), map(&[("k", "v")]));

    let status = api_error(api.create(&pp, &cm).await, "a second create");
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "AlreadyExists"),
        "{status:?}"
    );

    let got = api.get("a").await.unwrap();
    assert_eq!(got.resource_version(), created.resource_version());
    assert!(api.get_opt("missing").await.unwrap().is_none());
    let status = api_error(api.get("missing").await, "get of a missing object");
    assert_eq!(
        (status.code, status.reason.as_str()),
        (404, "NotFound"),
        "{status:?}"
    );

    api.create(&pp, &configmap("b", &[])).await.unwrap();
    let all = api.list(&ListParams::default()).await.unwrap();
    let mut names: Vec<_> = all.items.iter().map(ResourceExt::name_any).collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    assert!(
        all.metadata.resource_version.is_some(),
        "a list carries its resourceVersion"
    );
    let labelled = api.list(&ListParams::default().labels("app=crud")).await.unwrap();
    assert_eq!(labelled.items.len(), 1);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=b"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);
    assert_eq!(by_name.items[0].name_any(), "b");

    // Metadata-only reads (PartialObjectMetadata).
    let meta = api.get_metadata("a").await.unwrap();
    assert_eq!(meta.metadata.uid, created.metadata.uid);
    assert_eq!(
        api.list_metadata(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        2
    );

    let mut changed = got.clone();
    changed.data = Some(map(&[("k", "v2")]));
    let replaced = api.replace("a", &pp, &changed).await.unwrap();
    assert_eq!(data_of(&replaced), map(&[("k", "v2")]));
    assert_ne!(replaced.resource_version(), created.resource_version());
    assert_eq!(replaced.uid(), created.uid());

    // A replace carrying the stale resourceVersion is a conflict.
    let mut stale = created.clone();
    stale.data = Some(map(&[("k", "stale")]));
    let status = api_error(
        api.replace("a", &pp, &stale).await,
        "a replace with a stale resourceVersion",
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "Conflict"),
        "{status:?}"
    );
    assert_eq!(data_of(&api.get("a").await.unwrap()), map(&[("k", "v2")]));

    // Dry run: the answer looks like a create, nothing is stored.
    let dry = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let would_be = api.create(&dry, &configmap("dry", &[("x", "y")])).await.unwrap();
    assert_eq!(would_be.name_any(), "dry");
    assert!(
        api.get_opt("dry").await.unwrap().is_none(),
        "a dry-run create stores nothing"
    );

    // Delete without finalizers: a Success Status, then 404.
    let deleted = api.delete("b", &DeleteParams::default()).await.unwrap();
    let status = deleted.right().expect("a Status for an immediate delete");
    assert_eq!(
        status.status,
        Some(kube::core::response::StatusSummary::Success),
        "{status:?}"
    );
    assert!(api.get_opt("b").await.unwrap().is_none());
    let status = api_error(api.delete("b", &DeleteParams::default()).await, "a second delete");
    assert_eq!(status.code, 404, "{status:?}");
}

/// An object with a finalizer survives DELETE with a deletionTimestamp; removing the finalizer (replace)
/// deletes it.
async fn finalizers_hold_deletion_until_removed(client: Client) {
    create_namespace(&client, "finalizers").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "finalizers");
    let mut cm = configmap("held", &[("k", "v")]);
    cm.metadata.finalizers = Some(vec!["fcp.test/hold".to_owned()]);
    api.create(&PostParams::default(), &cm).await.unwrap();

    let deleting = api.delete("held", &DeleteParams::default()).await.unwrap();
    let deleting = deleting
        .left()
        .expect("the object itself while finalizers remain");
    assert!(deleting.metadata.deletion_timestamp.is_some(), "{deleting:?}");
    let still = api.get("held").await.unwrap();
    assert!(still.metadata.deletion_timestamp.is_some());
    assert_eq!(still.finalizers(), ["fcp.test/hold"]);

    let mut released = still.clone();
    released.metadata.finalizers = None;
    api.replace("held", &PostParams::default(), &released)
        .await
        .unwrap();
    eventually("the object to go once its last finalizer is removed", || async {
        match api.get_opt("held").await.unwrap() {
            None => Ok(()),
            Some(cm) => Err(format!("{:?}", cm.metadata)),
        }
    })
    .await;
}

/// `watcher` with a `reflector` store: the initial list (Init, InitApply, InitDone), then creates, updates
/// and deletes as they happen; the store mirrors the server.
async fn watcher_and_reflector_follow_changes(client: Client) {
    create_namespace(&client, "watch").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "watch");
    let pp = PostParams::default();
    api.create(&pp, &configmap("pre", &[("k", "0")])).await.unwrap();

    let (store, writer) = reflector::store::<ConfigMap>();
    let mut stream = reflector::reflector(writer, watcher(api.clone(), watcher::Config::default())).boxed();
    let mut log = Vec::new();
    drive_until(&mut stream, &mut log, "the initial list", |e| {
        matches!(e, Ok(watcher::Event::InitDone))
    })
    .await;
    assert_eq!(log, ["Init", "InitApply(pre)", "InitDone"]);
    assert_eq!(store_contents(&store), [("pre".to_owned(), map(&[("k", "0")]))]);

    api.create(&pp, &configmap("w", &[("k", "1")])).await.unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "the create",
        |e| matches!(e, Ok(watcher::Event::Apply(o)) if o.name_any() == "w"),
    )
    .await;

    let mut w = api.get("w").await.unwrap();
    w.data = Some(map(&[("k", "2")]));
    api.replace("w", &pp, &w).await.unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "the update",
        |e| matches!(e, Ok(watcher::Event::Apply(o)) if data_of(o) == map(&[("k", "2")])),
    )
    .await;

    api.delete("pre", &DeleteParams::default()).await.unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "the delete",
        |e| matches!(e, Ok(watcher::Event::Delete(o)) if o.name_any() == "pre"),
    )
    .await;

    assert_eq!(
        store_contents(&store),
        listed_contents(&api).await,
        "events: {log:?}"
    );
    assert_eq!(store_contents(&store), [("w".to_owned(), map(&[("k", "2")]))]);
    assert!(
        log.iter().all(|e| !e.starts_with("Err")),
        "no watcher errors on a healthy server: {log:?}"
    );
}

/// A label-selector watcher: an object whose labels stop matching arrives as a delete, one that starts
/// matching as an apply (the server's filter transitions, §1.6 W3).
async fn label_selector_watcher_sees_objects_leave_and_enter(client: Client) {
    create_namespace(&client, "selectors").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "selectors");
    let (store, writer) = reflector::store::<ConfigMap>();
    let config = watcher::Config::default().labels("team=a");
    let mut stream = reflector::reflector(writer, watcher(api.clone(), config)).boxed();
    let mut log = Vec::new();
    drive_until(&mut stream, &mut log, "the initial list", |e| {
        matches!(e, Ok(watcher::Event::InitDone))
    })
    .await;

    let mut cm = configmap("x", &[]);
    cm.metadata.labels = Some(map(&[("team", "a")]));
    api.create(&PostParams::default(), &cm).await.unwrap();
    api.create(&PostParams::default(), &configmap("other", &[]))
        .await
        .unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "x to match",
        |e| matches!(e, Ok(watcher::Event::Apply(o)) if o.name_any() == "x"),
    )
    .await;

    let leave = Patch::Merge(json!({"metadata": {"labels": {"team": "b"}}}));
    api.patch("x", &PatchParams::default(), &leave).await.unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "x to leave the selector",
        |e| matches!(e, Ok(watcher::Event::Delete(o)) if o.name_any() == "x"),
    )
    .await;
    assert!(store.state().is_empty(), "events: {log:?}");

    let enter = Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}}));
    api.patch("other", &PatchParams::default(), &enter).await.unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "other to enter the selector",
        |e| matches!(e, Ok(watcher::Event::Apply(o)) if o.name_any() == "other"),
    )
    .await;
    assert_eq!(
        store_contents(&store),
        [("other".to_owned(), BTreeMap::new())],
        "events: {log:?}"
    );
}

/// `watcher::Config::streaming_lists()`: a watch with sendInitialEvents, which waits for the BOOKMARK
/// annotated `k8s.io/initial-events-end` (§0.7), then follows changes.
async fn streaming_list_watcher_initialises(client: Client) {
    create_namespace(&client, "streaming").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "streaming");
    for name in ["s1", "s2"] {
        api.create(&PostParams::default(), &configmap(name, &[]))
            .await
            .unwrap();
    }
    let (store, writer) = reflector::store::<ConfigMap>();
    let config = watcher::Config::default().streaming_lists();
    let mut stream = reflector::reflector(writer, watcher(api.clone(), config)).boxed();
    let mut log = Vec::new();
    drive_until(&mut stream, &mut log, "the initial-events-end bookmark", |e| {
        matches!(e, Ok(watcher::Event::InitDone))
    })
    .await;
    assert_eq!(log.first().map(String::as_str), Some("Init"));
    // kube-rs asks for resourceVersion=0 ("any"), which a watch cache may serve slightly stale: objects it had
    // not seen yet arrive as changes right after the initial events.
    if store.state().len() < 2 {
        drive_until(
            &mut stream,
            &mut log,
            "the objects created before the watch",
            |_| store.state().len() == 2,
        )
        .await;
    }
    api.create(&PostParams::default(), &configmap("s3", &[]))
        .await
        .unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "a change after the initial events",
        |e| matches!(e, Ok(watcher::Event::Apply(o)) if o.name_any() == "s3"),
    )
    .await;
    assert_eq!(store_contents(&store), listed_contents(&api).await);
}

/// `Patch::Merge` (RFC 7386): maps merge, null removes, lists are replaced.
async fn merge_patch(client: Client) {
    create_namespace(&client, "merge").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "merge");
    api.create(
        &PostParams::default(),
        &configmap("m", &[("keep", "1"), ("drop", "2")]),
    )
    .await
    .unwrap();
    let patch = json!({
        "metadata": {"labels": {"l": "x"}, "finalizers": ["fcp.test/a", "fcp.test/b"]},
        "data": {"drop": null, "new": "3"}
    });
    let patched = api
        .patch("m", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(data_of(&patched), map(&[("keep", "1"), ("new", "3")]));
    assert_eq!(patched.labels(), &map(&[("l", "x")]));
    assert_eq!(patched.finalizers(), ["fcp.test/a", "fcp.test/b"]);
    let replace_list = json!({"metadata": {"finalizers": ["fcp.test/b"]}});
    let patched = api
        .patch("m", &PatchParams::default(), &Patch::Merge(&replace_list))
        .await
        .unwrap();
    assert_eq!(
        patched.finalizers(),
        ["fcp.test/b"],
        "a merge patch replaces lists"
    );
    let clear = json!({"metadata": {"finalizers": null}});
    let patched = api
        .patch("m", &PatchParams::default(), &Patch::Merge(&clear))
        .await
        .unwrap();
    assert!(patched.finalizers().is_empty());
    let status = api_error(
        api.patch("missing", &PatchParams::default(), &Patch::Merge(&patch))
            .await,
        "a patch of a missing object",
    );
    assert_eq!(status.code, 404, "{status:?}");
}

/// `/status` on Deployments: `replace_status` and `patch_status` change only the status; writes to the main
/// resource leave the status alone (§1.8 S1).
async fn deployment_status_subresource(client: Client) {
    create_namespace(&client, "status").await;
    let api: Api<Deployment> = Api::namespaced(client, "status");
    let created = api
        .create(&PostParams::default(), &deployment("web", &[("c", "nginx:1")]))
        .await
        .unwrap();
    assert_eq!(created.spec.replicas, Some(2));
    assert_eq!(created.metadata.generation, Some(1));

    let mut with_status = created.clone();
    with_status.status = Some(DeploymentStatus {
        replicas: Some(2),
        ready_replicas: Some(1),
        observed_generation: Some(1),
        ..DeploymentStatus::default()
    });
    with_status.spec.replicas = Some(9);
    let replaced = api
        .replace_status("web", &PostParams::default(), &with_status)
        .await
        .unwrap();
    let status = replaced.status.clone().unwrap();
    assert_eq!((status.replicas, status.ready_replicas), (Some(2), Some(1)));
    assert_eq!(replaced.spec.replicas, Some(2), "spec is ignored on /status");

    let patched = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"readyReplicas": 2, "availableReplicas": 2}})),
        )
        .await
        .unwrap();
    let status = patched.status.clone().unwrap();
    assert_eq!(
        (status.replicas, status.ready_replicas, status.available_replicas),
        (Some(2), Some(2), Some(2))
    );
    assert_eq!(api.get_status("web").await.unwrap().status, patched.status);

    // Server-side apply on /status, as controllers write their status.
    let applied_status = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "status": {"updatedReplicas": 2}
    });
    let applied = api
        .patch_status(
            "web",
            &PatchParams::apply("status-writer").force(),
            &Patch::Apply(&applied_status),
        )
        .await
        .unwrap();
    let status = applied.status.clone().unwrap();
    assert_eq!(
        (status.updated_replicas, status.ready_replicas),
        (Some(2), Some(2)),
        "apply on /status merges into the status"
    );
    assert_eq!(applied.spec.replicas, Some(2));

    let main = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 99}})),
        )
        .await
        .unwrap();
    assert_eq!(main.spec.replicas, Some(3));
    assert_eq!(
        main.status.as_ref().unwrap().replicas,
        Some(2),
        "status is ignored on the main resource"
    );
    assert_eq!(
        main.metadata.generation,
        Some(2),
        "a spec change bumps generation"
    );
}

/// Deployment defaults as kube-apiserver sets them (§1.10), read back through k8s-openapi types.
async fn deployment_defaulting(client: Client) {
    create_namespace(&client, "defaults").await;
    let api: Api<Deployment> = Api::namespaced(client, "defaults");
    let mut dep = deployment("web", &[("tagged", "nginx:1.27"), ("latest", "nginx")]);
    dep.spec.replicas = None;
    let created = api.create(&PostParams::default(), &dep).await.unwrap();
    let spec = &created.spec;
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.revision_history_limit, Some(10));
    assert_eq!(spec.progress_deadline_seconds, Some(600));
    let strategy = serde_json::to_value(&spec.strategy).unwrap();
    assert_eq!(
        strategy,
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.restart_policy.as_deref(), Some("Always"));
    assert_eq!(pod.dns_policy.as_deref(), Some("ClusterFirst"));
    assert_eq!(pod.scheduler_name.as_deref(), Some("default-scheduler"));
    assert_eq!(pod.termination_grace_period_seconds, Some(30));
    let pull: Vec<_> = pod
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.image_pull_policy.as_deref()))
        .collect();
    assert_eq!(
        pull,
        [("tagged", Some("IfNotPresent")), ("latest", Some("Always"))]
    );
    assert_eq!(
        pod.containers[0].termination_message_path.as_deref(),
        Some("/dev/termination-log")
    );
}

/// What Lease-based leader election does with plain `Api<Lease>` calls (kube-rs 5 ships no elector):
/// MicroTime round-trips, and of two candidates replacing the same version only one wins.
async fn lease_lock_semantics(client: Client) {
    create_namespace(&client, "leases").await;
    let api: Api<Lease> = Api::namespaced(client, "leases");
    let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
    let lease = Lease {
        metadata: ObjectMeta {
            name: Some("leader".to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("a".to_owned()),
            lease_duration_seconds: Some(15),
            acquire_time: Some(now.clone()),
            renew_time: Some(now.clone()),
            lease_transitions: Some(0),
            ..LeaseSpec::default()
        }),
    };
    let created = api.create(&PostParams::default(), &lease).await.unwrap();
    let spec = created.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("a"));
    let renew = spec.renew_time.clone().unwrap().0;
    assert_eq!(
        renew.as_microsecond(),
        now.0.as_microsecond(),
        "MicroTime keeps microseconds"
    );

    let mut by_b = created.clone();
    by_b.spec.as_mut().unwrap().holder_identity = Some("b".to_owned());
    let mut by_c = created.clone();
    by_c.spec.as_mut().unwrap().holder_identity = Some("c".to_owned());
    api.replace("leader", &PostParams::default(), &by_b)
        .await
        .unwrap();
    let status = api_error(
        api.replace("leader", &PostParams::default(), &by_c).await,
        "the second candidate's takeover",
    );
    assert_eq!(status.code, 409, "{status:?}");
    let holder = api.get("leader").await.unwrap().spec.unwrap().holder_identity;
    assert_eq!(holder.as_deref(), Some("b"));
}

/// kube-rs `Discovery`: aggregated and legacy discovery both find the built-in kinds and the federation
/// `Cluster`, and a `DynamicObject` API resolved from discovery works.
async fn discovery_finds_builtin_and_federation_kinds(client: Client) {
    let cluster_gvk = GroupVersionKind::gvk("federation", "v1beta1", "Cluster");
    for aggregated in [true, false] {
        let discovery = Discovery::new(client.clone());
        let discovery = if aggregated {
            discovery.run_aggregated().await.unwrap()
        } else {
            discovery.run().await.unwrap()
        };
        let groups: Vec<_> = discovery.groups().map(|g| g.name().to_owned()).collect();
        for gvk in [
            GroupVersionKind::gvk("", "v1", "ConfigMap"),
            GroupVersionKind::gvk("apps", "v1", "Deployment"),
            GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"),
            cluster_gvk.clone(),
        ] {
            let found = discovery.resolve_gvk(&gvk);
            assert!(
                found.is_some(),
                "aggregated={aggregated}: {gvk:?} not discovered; groups: {groups:?}"
            );
        }
        let (resource, caps) = discovery.resolve_gvk(&cluster_gvk).unwrap();
        assert_eq!(resource.plural, "clusters");
        assert_eq!(caps.scope, kube::discovery::Scope::Cluster);
        let (deployments, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
            .unwrap();
        assert_eq!(deployments.plural, "deployments");
        assert!(
            caps.subresources.iter().any(|(sub, _)| sub.plural == "status"),
            "aggregated={aggregated}: deployments/status discovered: {:?}",
            caps.subresources
        );
    }

    let discovery = Discovery::new(client.clone()).run_aggregated().await.unwrap();
    let (resource, _) = discovery.resolve_gvk(&cluster_gvk).unwrap();
    let clusters: Api<DynamicObject> = Api::all_with(client, &resource);
    let cluster: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "federation/v1beta1", "kind": "Cluster",
        "metadata": {"name": "member1"},
        "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://member1:6443"}]}
    }))
    .unwrap();
    clusters.create(&PostParams::default(), &cluster).await.unwrap();
    let listed = clusters.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].name_any(), "member1");
}

/// `Patch::Json` (RFC 6902), including the `test` of a missing `/metadata/finalizers` against null that
/// kube-rs `finalizer()` sends (§0.9).
async fn json_patch(client: Client) {
    create_namespace(&client, "jsonpatch").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "jsonpatch");
    api.create(&PostParams::default(), &configmap("j", &[("k", "v"), ("r", "x")]))
        .await
        .unwrap();
    let json = |ops: Value| Patch::<()>::Json(serde_json::from_value(ops).unwrap());

    let add_finalizer = json(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["fcp.test/j"]}
    ]));
    let patched = api
        .patch("j", &PatchParams::default(), &add_finalizer)
        .await
        .unwrap();
    assert_eq!(patched.finalizers(), ["fcp.test/j"]);

    let edit = json(json!([
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "replace", "path": "/data/k", "value": "w"},
        {"op": "add", "path": "/data/n", "value": "1"},
        {"op": "remove", "path": "/data/r"}
    ]));
    let patched = api.patch("j", &PatchParams::default(), &edit).await.unwrap();
    assert_eq!(data_of(&patched), map(&[("k", "w"), ("n", "1")]));

    let failing = json(json!([
        {"op": "test", "path": "/data/k", "value": "not-this"},
        {"op": "replace", "path": "/data/k", "value": "never"}
    ]));
    let status = api_error(
        api.patch("j", &PatchParams::default(), &failing).await,
        "a failing json-patch test",
    );
    assert_eq!(status.code, 422, "{status:?}");
    assert_eq!(
        data_of(&api.get("j").await.unwrap()),
        map(&[("k", "w"), ("n", "1")])
    );

    let remove_finalizer = json(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "fcp.test/j"},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]));
    let patched = api
        .patch("j", &PatchParams::default(), &remove_finalizer)
        .await
        .unwrap();
    assert!(patched.finalizers().is_empty(), "{:?}", patched.metadata);
}

/// `Patch::Strategic`: maps merge; container lists merge by name; `$patch: delete` removes one element.
async fn strategic_merge_patch(client: Client) {
    create_namespace(&client, "strategic").await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "strategic");
    cms.create(&PostParams::default(), &configmap("s", &[("a", "1")]))
        .await
        .unwrap();
    let patched = cms
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Strategic(json!({"data": {"b": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(data_of(&patched), map(&[("a", "1"), ("b", "2")]));

    let api: Api<Deployment> = Api::namespaced(client, "strategic");
    api.create(&PostParams::default(), &deployment("web", &[("a", "a:1")]))
        .await
        .unwrap();
    let containers =
        |list: Value| Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": list}}}}));
    let added = api
        .patch(
            "web",
            &PatchParams::default(),
            &containers(json!([{"name": "b", "image": "b:1"}])),
        )
        .await
        .unwrap();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    let mut images = container_images(&added);
    images.sort();
    assert_eq!(
        images,
        pairs(&[("a", "a:1"), ("b", "b:1")]),
        "containers merge by name"
    );

    let updated = api
        .patch(
            "web",
            &PatchParams::default(),
            &containers(json!([{"name": "a", "image": "a:2"}])),
        )
        .await
        .unwrap();
    let mut images = container_images(&updated);
    images.sort();
    assert_eq!(images, pairs(&[("a", "a:2"), ("b", "b:1")]));

    let removed = api
        .patch(
            "web",
            &PatchParams::default(),
            &containers(json!([{"name": "b", "$patch": "delete"}])),
        )
        .await
        .unwrap();
    assert_eq!(container_images(&removed), pairs(&[("a", "a:2")]));
}

/// `Patch::Apply` with `PatchParams::apply("mgr").force()`: creates the object, updates it, removes the
/// fields the manager stopped applying, and keeps fields other writers set.
async fn server_side_apply_creates_and_updates(client: Client) {
    create_namespace(&client, "ssa").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "ssa");
    let pp = PatchParams::apply("mgr").force();
    let first = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied", "labels": {"app": "ssa"}},
        "data": {"k1": "v1", "k2": "v2"}
    });
    let created = api.patch("applied", &pp, &Patch::Apply(&first)).await.unwrap();
    assert_eq!(data_of(&created), map(&[("k1", "v1"), ("k2", "v2")]));
    assert_eq!(created.labels(), &map(&[("app", "ssa")]));
    assert!(created.uid().is_some());

    let again = api.patch("applied", &pp, &Patch::Apply(&first)).await.unwrap();
    assert_eq!(
        again.resource_version(),
        created.resource_version(),
        "re-applying the same configuration writes nothing"
    );

    // Another writer adds a field; the manager changes k1, stops applying k2 and adds k3.
    api.patch(
        "applied",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"other": "x"}})),
    )
    .await
    .unwrap();
    let second = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "applied", "labels": {"app": "ssa"}},
        "data": {"k1": "v1b", "k3": "v3"}
    });
    let updated = api.patch("applied", &pp, &Patch::Apply(&second)).await.unwrap();
    assert_eq!(
        data_of(&updated),
        map(&[("k1", "v1b"), ("k3", "v3"), ("other", "x")]),
        "k2 is removed (no longer applied), other is kept (owned by another manager)"
    );

    // A Deployment through apply, then an image change through apply.
    let deployments: Api<Deployment> = Api::namespaced(client, "ssa");
    let mut dep = serde_json::to_value(deployment("web", &[("c", "nginx:1")])).unwrap();
    let created = deployments.patch("web", &pp, &Patch::Apply(&dep)).await.unwrap();
    assert_eq!(created.spec.replicas, Some(2));
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
    let updated = deployments.patch("web", &pp, &Patch::Apply(&dep)).await.unwrap();
    assert_eq!(
        container_images(&updated),
        [("c".to_owned(), "nginx:2".to_owned())]
    );
    assert_eq!(updated.metadata.generation, Some(2));
}

/// Server-side apply by two managers: a non-forced apply that changes another manager's field is a 409
/// Conflict; forcing takes the field over.
async fn server_side_apply_conflicts_without_force(client: Client) {
    create_namespace(&client, "ssaconflict").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "ssaconflict");
    let body = |v: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}, "data": {"k": v}});
    api.patch("shared", &PatchParams::apply("one"), &Patch::Apply(body("1")))
        .await
        .unwrap();
    let status = api_error(
        api.patch("shared", &PatchParams::apply("two"), &Patch::Apply(body("2")))
            .await,
        "a non-forced apply of another manager's field",
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (409, "Conflict"),
        "{status:?}"
    );
    assert_eq!(data_of(&api.get("shared").await.unwrap()), map(&[("k", "1")]));
    let forced = api
        .patch(
            "shared",
            &PatchParams::apply("two").force(),
            &Patch::Apply(body("2")),
        )
        .await
        .unwrap();
    assert_eq!(data_of(&forced), map(&[("k", "2")]));
    // Applying the same value as the owner is not a conflict.
    api.patch("shared", &PatchParams::apply("one"), &Patch::Apply(body("2")))
        .await
        .unwrap();
}

const FINALIZER: &str = "fcp.test/cleanup";
const RECONCILED: &str = "fcp.test/reconciled";

/// What the test controller shares with the test.
struct Ctx {
    api: Api<ConfigMap>,
    cleaned: Mutex<Vec<String>>,
    last_error: Mutex<Option<String>>,
}

impl Ctx {
    fn last_error(&self) -> String {
        self.last_error.lock().unwrap().clone().unwrap_or_default()
    }
}

/// Reconciles through `finalizer()`: on apply, records `data.v` in an annotation; on cleanup, records the
/// name.
async fn reconcile(cm: Arc<ConfigMap>, ctx: Arc<Ctx>) -> Result<Action, finalizer::Error<kube::Error>> {
    let inner = ctx.clone();
    finalizer(&ctx.api, FINALIZER, cm, |event| async move {
        match event {
            finalizer::Event::Apply(cm) => {
                let wanted = data_of(&cm).get("v").cloned().unwrap_or_default();
                if cm.annotations().get(RECONCILED) != Some(&wanted) {
                    let patch = json!({"metadata": {"annotations": {RECONCILED: wanted}}});
                    inner
                        .api
                        .patch(&cm.name_any(), &PatchParams::default(), &Patch::Merge(patch))
                        .await?;
                }
                Ok(Action::await_change())
            }
            finalizer::Event::Cleanup(cm) => {
                inner.cleaned.lock().unwrap().push(cm.name_any());
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(_cm: Arc<ConfigMap>, error: &finalizer::Error<kube::Error>, ctx: Arc<Ctx>) -> Action {
    *ctx.last_error.lock().unwrap() = Some(error.to_string());
    Action::requeue(Duration::from_millis(200))
}

/// A `Controller` on labelled ConfigMaps using `finalizer()`: it adds its finalizer (JSON patch with a
/// `test` of the missing `/metadata/finalizers`), reconciles changes, and on delete runs the cleanup and
/// removes the finalizer (index-based JSON patch), after which the object is gone.
async fn controller_with_finalizer_reconciles_and_cleans_up(client: Client) {
    create_namespace(&client, "controller").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "controller");
    let labelled = |name: &str, v: &str| {
        let mut cm = configmap(name, &[("v", v)]);
        cm.metadata.labels = Some(map(&[("fcp.test/controlled", "true")]));
        cm
    };
    api.create(&PostParams::default(), &labelled("before", "0"))
        .await
        .unwrap();
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        cleaned: Mutex::new(Vec::new()),
        last_error: Mutex::new(None),
    });
    let controller = Controller::new(
        api.clone(),
        watcher::Config::default().labels("fcp.test/controlled=true"),
    )
    .run(reconcile, error_policy, ctx.clone())
    .for_each(|_| futures::future::ready(()));
    let task = tokio::spawn(controller);

    let reconciled = |name: &'static str, v: &'static str| {
        let api = api.clone();
        let ctx = ctx.clone();
        async move {
            eventually(&format!("{name} reconciled at v={v}"), || async {
                let cm = api.get(name).await.unwrap();
                let done = cm.finalizers() == [FINALIZER]
                    && cm.annotations().get(RECONCILED).map(String::as_str) == Some(v);
                if done {
                    Ok(())
                } else {
                    Err(format!(
                        "metadata {:?}; controller error: {}",
                        cm.metadata,
                        ctx.last_error()
                    ))
                }
            })
            .await;
        }
    };
    reconciled("before", "0").await;
    api.create(&PostParams::default(), &labelled("after", "1"))
        .await
        .unwrap();
    reconciled("after", "1").await;
    api.patch(
        "after",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await
    .unwrap();
    reconciled("after", "2").await;

    let deleting = api.delete("after", &DeleteParams::default()).await.unwrap();
    assert!(deleting.is_left(), "the finalizer holds the object: {deleting:?}");
    eventually("the cleanup and the object's removal", || async {
        let cleaned = ctx.cleaned.lock().unwrap().clone();
        match api.get_opt("after").await.unwrap() {
            None if cleaned == ["after"] => Ok(()),
            other => Err(format!(
                "object {:?}; cleaned {cleaned:?}; controller error: {}",
                other.map(|cm| cm.metadata),
                ctx.last_error()
            )),
        }
    })
    .await;
    assert!(api.get_opt("before").await.unwrap().is_some());
    task.abort();
}

// ---------------------------------------------------------------------------------------------------------
// Re-listing after a compaction
// ---------------------------------------------------------------------------------------------------------

/// A TCP proxy in front of the apiserver whose connections can be cut, so that a watcher's open watch breaks
/// at a chosen moment (the watcher then resumes from the last resourceVersion it saw).
struct CuttableProxy {
    url: String,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl CuttableProxy {
    async fn start(upstream: &str) -> Self {
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let tracked = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tracked.lock().unwrap().push(task.abort_handle());
            }
        });
        Self {
            url,
            connections,
            accept,
        }
    }

    /// Closes every proxied connection; new connections are accepted as before.
    fn cut(&self) {
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// A watcher (through a [`CuttableProxy`]) that falls behind a compaction: it stops being polled, its watch
/// connection is cut, many changes are written, and storage is compacted past them (a list at the first
/// change's revision answers 410). When polled again it resumes from its old resourceVersion, must get a
/// 410 watch *event* (§0.5: an HTTP 410 would make it retry forever), re-list (`Init` .. `InitDone`), and end
/// with exactly the server's state; then it keeps following changes.
async fn watcher_relists_after_falling_behind_a_compaction(backend: Backend, flags: &[&str]) {
    let fixture = Fixture::start(backend, flags).await;
    let client = fixture.client.clone();
    create_namespace(&client, "relist").await;
    let api: Api<ConfigMap> = Api::namespaced(client, "relist");
    let pp = PostParams::default();
    for i in 0..5 {
        api.create(&pp, &configmap(&format!("a{i}"), &[("v", "0")]))
            .await
            .unwrap();
    }

    let proxy = CuttableProxy::start(fixture.server.base_url()).await;
    let watched: Api<ConfigMap> = Api::namespaced(client_for(&proxy.url), "relist");
    let (store, writer) = reflector::store::<ConfigMap>();
    let mut stream = reflector::reflector(
        writer,
        watcher(watched, watcher::Config::default()).default_backoff(),
    )
    .boxed();
    let mut log = Vec::new();
    drive_until(&mut stream, &mut log, "the initial list", |e| {
        matches!(e, Ok(watcher::Event::InitDone))
    })
    .await;
    assert_eq!(store.state().len(), 5);
    api.patch(
        "a4",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "1"}})),
    )
    .await
    .unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "a live change",
        |e| matches!(e, Ok(watcher::Event::Apply(o)) if o.name_any() == "a4"),
    )
    .await;
    let events_before = log.len();

    // Fall behind: no more polling, the watch connection is cut, then the world moves on.
    proxy.cut();
    let first = api.create(&pp, &configmap("b0", &[("v", "0")])).await.unwrap();
    let first_rv = first.resource_version().unwrap();
    api.delete("a0", &DeleteParams::default()).await.unwrap();
    api.delete("a1", &DeleteParams::default()).await.unwrap();
    for v in 1..=3 {
        api.patch(
            "a2",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"v": v.to_string()}})),
        )
        .await
        .unwrap();
    }
    for i in 1..10 {
        api.create(&pp, &configmap(&format!("b{i}"), &[("v", "0")]))
            .await
            .unwrap();
    }
    eventually("a compaction past the first missed change", || async {
        let exact = ListParams {
            resource_version: Some(first_rv.clone()),
            version_match: Some(VersionMatch::Exact),
            ..ListParams::default()
        };
        match api.list(&exact).await {
            Err(kube::Error::Api(status)) if status.code == 410 => Ok(()),
            other => Err(format!("{:?}", other.map(|l| l.metadata))),
        }
    })
    .await;

    // Resume: the old resourceVersion is gone, so the watcher must be told (410 event) and re-list.
    let mut saw_expired = false;
    let mut saw_init = false;
    drive_until(&mut stream, &mut log, "the re-list after 410", |e| match e {
        Err(watcher::Error::WatchError(status)) if status.code == 410 => {
            saw_expired = true;
            false
        }
        Ok(watcher::Event::Init) => {
            saw_init = true;
            false
        }
        Ok(watcher::Event::InitDone) => saw_init,
        _ => false,
    })
    .await;
    let after = &log[events_before..];
    assert!(
        saw_expired,
        "a 410 Expired watch event before the re-list; events after falling behind: {after:?}"
    );
    assert!(
        !after
            .iter()
            .any(|e| e.starts_with("Apply") || e.starts_with("Delete")),
        "nothing from the compacted history is replayed: {after:?}"
    );
    assert_eq!(
        store_contents(&store),
        listed_contents(&api).await,
        "the re-listed store equals the server's state; events: {after:?}"
    );
    let names: Vec<_> = store_contents(&store).into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.contains(&"a0".to_owned()) && names.contains(&"b9".to_owned()),
        "{names:?}"
    );

    // And it keeps watching.
    api.create(&pp, &configmap("c0", &[])).await.unwrap();
    drive_until(
        &mut stream,
        &mut log,
        "a change after the re-list",
        |e| matches!(e, Ok(watcher::Event::Apply(o)) if o.name_any() == "c0"),
    )
    .await;
    assert_eq!(store_contents(&store), listed_contents(&api).await);
    drop(stream);
    drop(proxy);
    fixture.stop().await;
}

const STORAGE_WATCH: &[&str] = &["--etcd-compaction-interval=1s", "--watch-cache=false"];
const SMALL_WATCH_CACHE: &[&str] = &["--etcd-compaction-interval=1s", "--default-watch-cache-size=5"];

#[tokio::test]
async fn watcher_relists_after_compaction_storage_watch_etcd() {
    watcher_relists_after_falling_behind_a_compaction(Backend::Etcd, STORAGE_WATCH).await;
}

#[tokio::test]
async fn watcher_relists_after_compaction_storage_watch_embedded() {
    watcher_relists_after_falling_behind_a_compaction(Backend::Embedded, STORAGE_WATCH).await;
}

#[tokio::test]
async fn watcher_relists_after_compaction_small_watch_cache_etcd() {
    watcher_relists_after_falling_behind_a_compaction(Backend::Etcd, SMALL_WATCH_CACHE).await;
}

#[tokio::test]
async fn watcher_relists_after_compaction_small_watch_cache_embedded() {
    watcher_relists_after_falling_behind_a_compaction(Backend::Embedded, SMALL_WATCH_CACHE).await;
}
