//! The admission plugins against a real store: `SchedulingPolicy` with a policy engine served by the test
//! (127.0.0.1:0, answers chosen per case, requests recorded), and `OwnerReferencesPermissionEnforcement`
//! with a table authorizer.

use std::{
    collections::VecDeque,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use fcp_apiserver::{
    ApiError,
    admission::{
        AdmissionChain, AdmissionPlugin, AdmissionRequest, Operation,
        owner_references::OwnerReferencesPermissionEnforcement, scheduling_policy::SchedulingPolicy,
    },
    auth::{
        UserInfo,
        authz::{Authorizer, Decision, RequestAttributes, RulesReview},
    },
    registry::{
        Registry, ResourceDef,
        store::{ListOptions, Store, Target},
    },
    resources::federation_profile,
};
use fcp_storage::embedded::EmbeddedBackend;
use serde_json::{Value, json};

const POLICY_NAMESPACE: &str = "kube-federation-scheduling-policy";

/// A store over the embedded backend in a temporary directory, with the federation resources.
struct World {
    _dir: tempfile::TempDir,
    registry: Arc<Registry>,
    store: Arc<Store>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let backend = EmbeddedBackend::open(&dir.path().join("data")).unwrap();
        Self {
            _dir: dir,
            registry: Arc::new(Registry::new(federation_profile())),
            store: Arc::new(Store::new(Arc::new(backend), "/registry")),
        }
    }

    fn resource(&self, group: &str, version: &str, plural: &str) -> Arc<ResourceDef> {
        self.registry.lookup(group, version, plural).unwrap().clone()
    }

    fn target<'a>(&self, resource: &'a ResourceDef, namespace: Option<&'a str>) -> Target<'a> {
        Target {
            resource,
            namespace,
            user: None,
        }
    }

    async fn create_namespace(&self, name: &str) {
        let namespaces = self.resource("", "v1", "namespaces");
        self.store
            .create(
                self.target(&namespaces, None),
                json!({"metadata": {"name": name}}),
                false,
            )
            .await
            .unwrap();
    }

    /// Loads a policy: a ConfigMap in the policy namespace.
    async fn add_policy(&self) {
        self.create_namespace(POLICY_NAMESPACE).await;
        let configmaps = self.resource("", "v1", "configmaps");
        self.store
            .create(
                self.target(&configmaps, Some(POLICY_NAMESPACE)),
                json!({"metadata": {"name": "placement"}, "data": {"policy.rego": "package kubernetes.placement"}}),
                false,
            )
            .await
            .unwrap();
    }

    async fn events(&self, namespace: &str) -> Vec<Value> {
        let events = self.resource("", "v1", "events");
        let list = self
            .store
            .list(self.target(&events, Some(namespace)), &ListOptions::default())
            .await
            .unwrap();
        list["items"].as_array().unwrap().clone()
    }
}

/// What the test policy engine saw and will answer.
#[derive(Default)]
struct EngineState {
    /// (headers, body) of every request, in order.
    requests: Mutex<Vec<(HeaderMap, Value)>>,
    /// Answers for the next requests, in order; then `fallback`.
    queued: Mutex<VecDeque<(u16, String)>>,
    fallback: Mutex<(u16, String)>,
}

/// A policy engine on 127.0.0.1:0.
struct Engine {
    state: Arc<EngineState>,
    url: String,
}

impl Engine {
    async fn start(status: u16, body: &str) -> Self {
        let state = Arc::new(EngineState::default());
        *state.fallback.lock().unwrap() = (status, body.to_owned());
        let app = Router::new().fallback(answer).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            state,
            url: format!("http://{address}/v0/data/kubernetes/placement"),
        }
    }

    /// An engine over HTTPS with `tls`'s server certificate, requiring a client certificate of its CA.
    async fn start_tls(tls: &Pki, status: u16, body: &str) -> Self {
        let state = Arc::new(EngineState::default());
        *state.fallback.lock().unwrap() = (status, body.to_owned());
        let app = Router::new().fallback(answer).with_state(state.clone());
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let _ =
                        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                            .serve_connection(
                                hyper_util::rt::TokioIo::new(stream),
                                hyper_util::service::TowerToHyperService::new(app),
                            )
                            .await;
                });
            }
        });
        Self {
            state,
            url: format!("https://{address}/v0/data/kubernetes/placement"),
        }
    }

    fn queue(&self, status: u16, body: &str) {
        self.state
            .queued
            .lock()
            .unwrap()
            .push_back((status, body.to_owned()));
    }

    fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn answer(
    State(state): State<Arc<EngineState>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.requests.lock().unwrap().push((headers, body));
    let queued = state.queued.lock().unwrap().pop_front();
    let (status, body) = queued.unwrap_or_else(|| state.fallback.lock().unwrap().clone());
    (StatusCode::from_u16(status).unwrap(), body)
}

/// A SchedulingPolicy plugin for the engine at `url` with a bearer token, configured through an
/// AdmissionConfiguration file with a relative `path`, as a server would be.
fn plugin(world: &World, dir: &Path, url: &str) -> SchedulingPolicy {
    plugin_with(world, dir, &format!("    server: {url}"), "    token: deadbeef")
}

/// A SchedulingPolicy plugin whose kubeconfig has these `cluster` and `user` fields (YAML, indented by 4).
fn plugin_with(world: &World, dir: &Path, cluster: &str, user: &str) -> SchedulingPolicy {
    let kubeconfig = dir.join("policy-engine.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: opa\n  cluster:\n{cluster}\nusers:\n\
             - name: apiserver\n  user:\n{user}\ncontexts:\n- name: default\n  context:\n    \
             cluster: opa\n    user: apiserver\ncurrent-context: default\n"
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("scheduling-policy.yaml"),
        format!("kubeconfig: {}\nretryBackoff: 1\n", kubeconfig.display()),
    )
    .unwrap();
    let admission_config = dir.join("admission.yaml");
    std::fs::write(
        &admission_config,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n\
         - name: SchedulingPolicy\n  path: scheduling-policy.yaml\n",
    )
    .unwrap();
    let config =
        fcp_apiserver::admission::scheduling_policy::plugin_config(&admission_config, "SchedulingPolicy")
            .unwrap()
            .unwrap();
    SchedulingPolicy::from_config(&config, &world.registry).unwrap()
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all PEM.
struct Pki {
    ca: rcgen::Certificate,
    server: (rcgen::Certificate, rcgen::KeyPair),
    client: (rcgen::Certificate, rcgen::KeyPair),
}

impl Pki {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |san: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(vec![san.to_owned()]).unwrap();
            params.extended_key_usages = vec![usage];
            (params.signed_by(&key, &issuer).unwrap(), key)
        };
        Self {
            ca,
            server: leaf("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth),
            client: leaf("apiserver", ExtendedKeyUsagePurpose::ClientAuth),
        }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .unwrap();
        let key = rustls_pki_types::PrivateKeyDer::Pkcs8(self.server.1.serialize_der().into());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(vec![self.server.0.der().clone()], key)
                .unwrap(),
        )
    }

    /// The kubeconfig `user` fields of the client certificate, inline.
    fn client_user(&self) -> String {
        format!(
            "    client-certificate-data: {}\n    client-key-data: {}",
            STANDARD.encode(self.client.0.pem()),
            STANDARD.encode(self.client.1.serialize_pem())
        )
    }
}

fn replica_set() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "myapp", "namespace": "ns", "annotations": {"foo": "bar", "bar": "baz"}},
        "spec": {"minReadySeconds": 100, "replicas": 3, "selector": {"matchLabels": {"app": "myapp"}},
                 "template": {"metadata": {"labels": {"app": "myapp"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
    })
}

fn alice() -> UserInfo {
    UserInfo::new("alice", "", &["system:authenticated"])
}

/// Runs `plugin` on a create of `object` in `namespace` of `resource`.
async fn admit_create(
    plugin: &dyn AdmissionPlugin,
    world: &World,
    resource: &ResourceDef,
    namespace: Option<&str>,
    object: &mut Value,
    user: Option<&UserInfo>,
    dry_run: bool,
) -> Result<(), ApiError> {
    let name = object["metadata"]["name"].as_str().unwrap_or_default().to_owned();
    let mut request = AdmissionRequest {
        operation: Operation::Create,
        resource,
        subresource: None,
        namespace,
        name: &name,
        object,
        old: None,
        user,
        dry_run,
        store: &world.store,
    };
    plugin.admit(&mut request).await
}

#[tokio::test]
async fn scheduling_policy_without_policy_configmaps_admits_without_asking() {
    let world = World::new();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, r#"{"errors": ["never asked"]}"#).await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let mut object = replica_set();
    let before = object.clone();
    admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut object,
        Some(&alice()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(object, before);
    assert_eq!(engine.requests().len(), 0);

    // The namespace exists but holds no ConfigMap: still no policy.
    world.create_namespace(POLICY_NAMESPACE).await;
    admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut object,
        Some(&alice()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(engine.requests().len(), 0);
}

#[tokio::test]
async fn scheduling_policy_allows_and_merges_the_returned_annotations() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(
        200,
        r#"{"annotations": {"foo": "bar-2", "federation.alpha.kubernetes.io/replica-set-preferences": "{\"rebalance\": true}"}}"#,
    )
    .await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let mut object = replica_set();
    let sent = object.clone();
    admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut object,
        Some(&alice()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        object["metadata"]["annotations"],
        json!({"foo": "bar-2", "bar": "baz", "federation.alpha.kubernetes.io/replica-set-preferences": "{\"rebalance\": true}"})
    );
    assert_eq!(object["spec"], sent["spec"]);

    let requests = engine.requests();
    assert_eq!(requests.len(), 1);
    let (headers, body) = &requests[0];
    assert_eq!(body, &sent, "the engine gets the object as it was");
    assert_eq!(body["spec"]["minReadySeconds"], 100);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["authorization"], "Bearer deadbeef");
    assert!(world.events("ns").await.is_empty());
}

#[tokio::test]
async fn scheduling_policy_sends_apiversion_and_kind_when_the_object_lacks_them() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, "{}").await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let configmaps = world.resource("", "v1", "configmaps");
    let mut object = json!({"metadata": {"name": "cm", "namespace": "ns"}, "data": {"a": "b"}});
    admit_create(
        &plugin,
        &world,
        &configmaps,
        Some("ns"),
        &mut object,
        Some(&alice()),
        false,
    )
    .await
    .unwrap();
    let requests = engine.requests();
    assert_eq!(requests[0].1["apiVersion"], "v1");
    assert_eq!(requests[0].1["kind"], "ConfigMap");
    assert_eq!(requests[0].1["data"], json!({"a": "b"}));
}

#[tokio::test]
async fn scheduling_policy_rejects_with_the_reasons_and_records_a_warning_event() {
    let world = World::new();
    world.add_policy().await;
    world.create_namespace("ns").await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(
        200,
        r#"{"errors": ["conflicting replica-set-preferences", "no cluster"]}"#,
    )
    .await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let mut object = replica_set();
    let err = admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut object,
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(err.reason, "Forbidden");
    assert_eq!(
        err.message,
        "replicasets.apps \"myapp\" is forbidden: reason(s): conflicting replica-set-preferences; no cluster"
    );
    assert_eq!(
        err.details,
        Some(json!({"name": "myapp", "group": "apps", "kind": "replicasets"}))
    );
    assert_eq!(engine.requests().len(), 1, "a decision is not retried");

    let events = world.events("ns").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["reason"], "PolicyRejected");
    assert_eq!(event["source"]["component"], "schedulingpolicy");
    assert_eq!(
        event["message"],
        "reason(s): conflicting replica-set-preferences; no cluster"
    );
    assert_eq!(event["count"], 1);
    assert!(event["firstTimestamp"].is_string() && event["lastTimestamp"].is_string());
    assert!(event["metadata"]["name"].as_str().unwrap().starts_with("myapp."));
    assert_eq!(
        event["involvedObject"],
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "myapp", "namespace": "ns"})
    );
}

#[tokio::test]
async fn scheduling_policy_records_no_event_on_a_dry_run() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, r#"{"errors": ["no"]}"#).await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let err = admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        true,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);
    assert!(world.events("ns").await.is_empty());
}

#[tokio::test]
async fn scheduling_policy_records_events_of_cluster_scoped_objects_in_default() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, r#"{"errors": ["clusters are placed by hand"]}"#).await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let clusters = world.resource("federation", "v1beta1", "clusters");
    let mut cluster = json!({"apiVersion": "federation/v1beta1", "kind": "Cluster", "metadata": {"name": "c1", "uid": "u-1"}});
    let err = admit_create(
        &plugin,
        &world,
        &clusters,
        None,
        &mut cluster,
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.message,
        "clusters.federation \"c1\" is forbidden: reason(s): clusters are placed by hand"
    );
    let events = world.events("default").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["involvedObject"],
        json!({"apiVersion": "federation/v1beta1", "kind": "Cluster", "name": "c1", "uid": "u-1"})
    );
}

#[tokio::test]
async fn scheduling_policy_rejects_an_undefined_decision() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(404, "").await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let err = admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "replicasets.apps \"myapp\" is forbidden: policy decision is undefined"
    );
    assert_eq!(engine.requests().len(), 1, "404 is not retried");
}

#[tokio::test]
async fn scheduling_policy_rejects_answers_that_are_not_decisions() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, "{").await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let err = admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);
    assert!(
        err.message.contains("policy engine returned an invalid decision"),
        "{}",
        err.message
    );

    engine.queue(400, "bad request");
    let err = admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert!(
        err.message
            .ends_with("policy engine answered HTTP 400 Bad Request: bad request"),
        "{}",
        err.message
    );
    assert_eq!(engine.requests().len(), 2, "4xx is not retried");
}

#[tokio::test]
async fn scheduling_policy_retries_server_errors_then_rejects() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(500, "boom").await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let err = admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);
    assert!(
        err.message
            .ends_with("policy engine answered HTTP 500 Internal Server Error: boom"),
        "{}",
        err.message
    );
    assert_eq!(engine.requests().len(), 5, "5 attempts in all");
}

#[tokio::test]
async fn scheduling_policy_admits_when_a_retry_succeeds() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, r#"{"annotations": {"placed": "yes"}}"#).await;
    engine.queue(503, "");
    engine.queue(429, "slow down");
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let mut object = replica_set();
    admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut object,
        Some(&alice()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(object["metadata"]["annotations"]["placed"], "yes");
    assert_eq!(engine.requests().len(), 3);
}

#[tokio::test]
async fn scheduling_policy_rejects_quickly_when_the_engine_is_down() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v0/data/kubernetes/placement",
        closed.local_addr().unwrap()
    );
    drop(closed);
    let plugin = plugin(&world, dir.path(), &url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let started = Instant::now();
    let err = admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.code, 403);
    assert!(
        err.message.contains("policy engine query failed"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("deadbeef"));
}

#[tokio::test]
async fn scheduling_policy_leaves_internal_writes_alone() {
    let world = World::new();
    world.add_policy().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, r#"{"errors": ["no"]}"#).await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    let replicasets = world.resource("apps", "v1", "replicasets");
    let mut object = replica_set();
    admit_create(
        &plugin,
        &world,
        &replicasets,
        Some("ns"),
        &mut object,
        None,
        false,
    )
    .await
    .unwrap();
    assert_eq!(engine.requests().len(), 0);
}

#[tokio::test]
async fn scheduling_policy_in_the_store_chain_annotates_stored_objects_and_records_rejections() {
    let world = World::new();
    world.add_policy().await;
    world.create_namespace("ns").await;
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start(200, r#"{"annotations": {"placed": "yes"}}"#).await;
    let plugin = plugin(&world, dir.path(), &engine.url);
    world
        .store
        .set_admission(Arc::new(AdmissionChain::new(vec![Arc::new(plugin)])));
    let replicasets = world.resource("apps", "v1", "replicasets");
    let user = alice();
    let target = Target {
        resource: &replicasets,
        namespace: Some("ns"),
        user: Some(&user),
    };
    let stored = world.store.create(target, replica_set(), false).await.unwrap();
    assert_eq!(stored["metadata"]["annotations"]["placed"], "yes");

    // The rejection's Event is written through the same store, from inside its admission.
    engine.queue(200, r#"{"errors": ["full"]}"#);
    let mut second = replica_set();
    second["metadata"]["name"] = json!("second");
    let err = world.store.create(target, second, false).await.unwrap_err();
    assert_eq!(
        err.message,
        "replicasets.apps \"second\" is forbidden: reason(s): full"
    );
    let events = world.events("ns").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["involvedObject"]["name"], "second");
    assert_eq!(
        engine.requests().len(),
        2,
        "the Event itself is not sent to the engine"
    );
}

#[tokio::test]
async fn scheduling_policy_reaches_an_https_engine_with_the_kubeconfig_ca_and_client_certificate() {
    let world = World::new();
    world.add_policy().await;
    let pki = Pki::new();
    let engine = Engine::start_tls(&pki, 200, r#"{"annotations": {"placed": "over-tls"}}"#).await;
    let replicasets = world.resource("apps", "v1", "replicasets");

    // The CA from certificate-authority (a file relative to the kubeconfig) and the client certificate.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), pki.ca.pem()).unwrap();
    let cluster = format!("    server: {}\n    certificate-authority: ca.crt", engine.url);
    let trusted = plugin_with(&world, dir.path(), &cluster, &pki.client_user());
    let mut object = replica_set();
    admit_create(
        &trusted,
        &world,
        &replicasets,
        Some("ns"),
        &mut object,
        Some(&alice()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(object["metadata"]["annotations"]["placed"], "over-tls");
    assert_eq!(engine.requests().len(), 1);

    // insecure-skip-tls-verify trusts any server certificate.
    let dir = tempfile::tempdir().unwrap();
    let cluster = format!("    server: {}\n    insecure-skip-tls-verify: true", engine.url);
    let insecure = plugin_with(&world, dir.path(), &cluster, &pki.client_user());
    admit_create(
        &insecure,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap();
    assert_eq!(engine.requests().len(), 2);

    // Without the CA the server is not trusted; without a client certificate the engine refuses the client.
    let dir = tempfile::tempdir().unwrap();
    let untrusted = plugin_with(
        &world,
        dir.path(),
        &format!("    server: {}", engine.url),
        &pki.client_user(),
    );
    let err = admit_create(
        &untrusted,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);
    assert!(
        err.message.contains("policy engine query failed"),
        "{}",
        err.message
    );
    let dir = tempfile::tempdir().unwrap();
    let cluster = format!(
        "    server: {}\n    certificate-authority-data: {}",
        engine.url,
        STANDARD.encode(pki.ca.pem())
    );
    let anonymous = plugin_with(&world, dir.path(), &cluster, "    {}");
    let err = admit_create(
        &anonymous,
        &world,
        &replicasets,
        Some("ns"),
        &mut replica_set(),
        Some(&alice()),
        false,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(engine.requests().len(), 2);
}

/// Writes the admission configuration of a SchedulingPolicy for the engine at `url`; returns its path.
fn admission_config_file(dir: &Path, url: &str, retry_backoff: i64) -> String {
    let kubeconfig = dir.join("policy-engine.kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "clusters: [{{name: opa, cluster: {{server: '{url}'}}}}]\ncontexts: [{{name: d, context: {{cluster: opa}}}}]\n\
             current-context: d\n"
        ),
    )
    .unwrap();
    let file = dir.join("admission.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: SchedulingPolicy\n  \
             configuration:\n    kubeconfig: {}\n    retryBackoff: {retry_backoff}\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    file.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn scheduling_policy_over_http_annotates_and_rejects_with_a_kube_status() {
    let engine = Engine::start(200, "{}").await;
    let dir = tempfile::tempdir().unwrap();
    let config = admission_config_file(dir.path(), &engine.url, 1);
    let data_dir = dir.path().join("data");
    let server = fcp_testkit::apiserver::TestApiServer::start(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--enable-admission-plugins",
        "NamespaceLifecycle,SchedulingPolicy",
        "--admission-control-config-file",
        &config,
    ])
    .await
    .unwrap();
    let client = crate::client::Client::new(server.base_url());

    // No policy yet: writes are admitted without asking the engine.
    let reply = client
        .post(
            "/api/v1/namespaces",
            &json!({"metadata": {"name": POLICY_NAMESPACE}}),
        )
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    let policy =
        json!({"metadata": {"name": "placement"}, "data": {"policy.rego": "package kubernetes.placement"}});
    let reply = client
        .post(
            &format!("/api/v1/namespaces/{POLICY_NAMESPACE}/configmaps"),
            &policy,
        )
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    assert_eq!(engine.requests().len(), 0);

    let reply = client
        .post("/api/v1/namespaces", &json!({"metadata": {"name": "ns"}}))
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    assert_eq!(engine.requests().len(), 1);

    engine.queue(200, r#"{"annotations": {"foo": "bar-2"}}"#);
    let reply = client
        .post("/apis/apps/v1/namespaces/ns/replicasets", &replica_set())
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    assert_eq!(
        reply.body["metadata"]["annotations"],
        json!({"foo": "bar-2", "bar": "baz"})
    );

    engine.queue(200, r#"{"errors": ["conflicting replica-set-preferences"]}"#);
    let mut second = replica_set();
    second["metadata"]["name"] = json!("second");
    let reply = client
        .post("/apis/apps/v1/namespaces/ns/replicasets", &second)
        .await;
    reply.assert_status(403, "Forbidden");
    assert_eq!(
        reply.body["message"],
        "replicasets.apps \"second\" is forbidden: reason(s): conflicting replica-set-preferences"
    );
    assert_eq!(
        reply.body["details"],
        json!({"name": "second", "group": "apps", "kind": "replicasets"})
    );
    let events = client.get("/api/v1/namespaces/ns/events").await;
    let items = events.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", events.body);
    assert_eq!(items[0]["reason"], "PolicyRejected");
    assert_eq!(items[0]["involvedObject"]["name"], "second");
    assert_eq!(engine.requests().len(), 3, "the Event is not sent to the engine");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn the_server_refuses_to_start_with_an_invalid_scheduling_policy_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = admission_config_file(dir.path(), "http://127.0.0.1:1/decide", -1);
    let data_dir = dir.path().join("data");
    let err = fcp_testkit::apiserver::TestApiServer::start(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--enable-admission-plugins",
        "SchedulingPolicy",
        "--admission-control-config-file",
        &config,
    ])
    .await
    .err()
    .unwrap();
    assert!(
        format!("{err:#}").contains("retryBackoff must not be negative"),
        "{err:#}"
    );
}

/// Allows exactly the listed (verb, group, resource/subresource, namespace, name) and records every question.
#[derive(Debug, Default)]
struct TableAuthorizer {
    allowed: Vec<(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    )>,
    deny_reason: String,
    asked: Mutex<Vec<RequestAttributes>>,
}

impl Authorizer for TableAuthorizer {
    fn authorize(&self, _user: &UserInfo, request: &RequestAttributes) -> Decision {
        self.asked.lock().unwrap().push(request.clone());
        let resource = request.resource_with_subresource();
        let allowed = self.allowed.iter().any(|(verb, group, res, ns, name)| {
            request.verb == *verb
                && request.api_group == *group
                && resource == *res
                && request.namespace == *ns
                && request.name == *name
        });
        if allowed {
            Decision::Allow(String::new())
        } else {
            Decision::NoOpinion(self.deny_reason.clone())
        }
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> RulesReview {
        RulesReview::default()
    }
}

fn owner_ref(api_version: &str, kind: &str, name: &str, uid: &str, block: Option<bool>) -> Value {
    let mut r = json!({"apiVersion": api_version, "kind": kind, "name": name, "uid": uid});
    if let Some(block) = block {
        r["blockOwnerDeletion"] = json!(block);
    }
    r
}

fn child(refs: &[Value]) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "child", "namespace": "ns", "ownerReferences": refs}})
}

struct Gc {
    world: World,
    authorizer: Arc<TableAuthorizer>,
    plugin: OwnerReferencesPermissionEnforcement,
    configmaps: Arc<ResourceDef>,
    bob: UserInfo,
}

impl Gc {
    fn new(
        allowed: Vec<(
            &'static str,
            &'static str,
            &'static str,
            &'static str,
            &'static str,
        )>,
        deny_reason: &str,
    ) -> Self {
        let world = World::new();
        let authorizer = Arc::new(TableAuthorizer {
            allowed,
            deny_reason: deny_reason.to_owned(),
            asked: Mutex::default(),
        });
        let plugin = OwnerReferencesPermissionEnforcement::new(authorizer.clone(), world.registry.clone());
        let configmaps = world.resource("", "v1", "configmaps");
        Self {
            world,
            authorizer,
            plugin,
            configmaps,
            bob: UserInfo::new("bob", "", &["system:authenticated"]),
        }
    }

    async fn write(
        &self,
        operation: Operation,
        subresource: Option<&str>,
        object: &mut Value,
        old: Option<&Value>,
        user: Option<&UserInfo>,
    ) -> Result<(), ApiError> {
        let mut request = AdmissionRequest {
            operation,
            resource: &self.configmaps,
            subresource,
            namespace: Some("ns"),
            name: "child",
            object,
            old,
            user,
            dry_run: false,
            store: &self.world.store,
        };
        self.plugin.admit(&mut request).await
    }

    async fn create(&self, refs: &[Value]) -> Result<(), ApiError> {
        self.write(Operation::Create, None, &mut child(refs), None, Some(&self.bob))
            .await
    }

    async fn update(&self, old: &[Value], new: &[Value]) -> Result<(), ApiError> {
        self.write(
            Operation::Update,
            None,
            &mut child(new),
            Some(&child(old)),
            Some(&self.bob),
        )
        .await
    }

    fn asked(&self) -> Vec<String> {
        self.authorizer
            .asked
            .lock()
            .unwrap()
            .iter()
            .map(|a| {
                format!(
                    "{} {}/{} {} {} {}",
                    a.verb,
                    a.api_group,
                    a.api_version,
                    a.resource_with_subresource(),
                    a.namespace,
                    a.name
                )
            })
            .collect()
    }
}

const DELETE_CHILD: (&str, &str, &str, &str, &str) = ("delete", "", "configmaps", "ns", "child");

#[tokio::test]
async fn owner_references_need_the_right_to_delete_the_object() {
    let gc = Gc::new(vec![], "");
    // No owner references: nothing to check.
    gc.create(&[]).await.unwrap();
    assert!(gc.asked().is_empty());

    let plain = owner_ref("apps/v1", "Deployment", "web", "u-web", None);
    let err = gc.create(std::slice::from_ref(&plain)).await.unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(err.reason, "Forbidden");
    assert_eq!(
        err.message,
        "configmaps \"child\" is forbidden: cannot set an ownerRef on a resource you can't delete: User \"bob\" cannot \
         delete resource \"configmaps\" in API group \"\" in the namespace \"ns\""
    );
    assert_eq!(gc.asked(), ["delete /v1 configmaps ns child"]);

    let with_reason = Gc::new(vec![], "no RBAC policy matched");
    let err = with_reason
        .create(std::slice::from_ref(&plain))
        .await
        .unwrap_err();
    assert!(
        err.message
            .ends_with("cannot set an ownerRef on a resource you can't delete: no RBAC policy matched"),
        "{}",
        err.message
    );

    let allowed = Gc::new(vec![DELETE_CHILD], "");
    allowed.create(std::slice::from_ref(&plain)).await.unwrap();
    // blockOwnerDeletion false or absent needs nothing more.
    allowed
        .create(&[owner_ref("apps/v1", "Deployment", "web", "u-web", Some(false))])
        .await
        .unwrap();
    assert_eq!(allowed.asked().len(), 2);
}

#[tokio::test]
async fn unchanged_owner_references_need_nothing() {
    let gc = Gc::new(vec![], "");
    let refs = [owner_ref("apps/v1", "Deployment", "web", "u-web", Some(true))];
    gc.update(&refs, &refs).await.unwrap();
    gc.update(&[], &[]).await.unwrap();
    assert!(gc.asked().is_empty());
    // Removing a reference is a change.
    assert_eq!(gc.update(&refs, &[]).await.unwrap_err().code, 403);
}

#[tokio::test]
async fn blocking_owner_deletion_needs_the_right_to_set_the_owner_finalizers() {
    let blocking = owner_ref("apps/v1", "Deployment", "web", "u-web", Some(true));
    let gc = Gc::new(vec![DELETE_CHILD], "");
    let err = gc.create(std::slice::from_ref(&blocking)).await.unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "configmaps \"child\" is forbidden: cannot set blockOwnerDeletion if an ownerReference refers to a resource \
         you can't set finalizers on: User \"bob\" cannot update resource \"deployments/finalizers\" in API group \
         \"apps\" in the namespace \"ns\""
    );
    assert_eq!(
        gc.asked(),
        [
            "delete /v1 configmaps ns child",
            "update apps/v1 deployments/finalizers ns web"
        ]
    );

    let allowed = Gc::new(
        vec![
            DELETE_CHILD,
            ("update", "apps", "deployments/finalizers", "ns", "web"),
        ],
        "",
    );
    allowed.create(std::slice::from_ref(&blocking)).await.unwrap();

    // Turning blocking on for an existing owner (same uid) is checked; a reference already blocking is not.
    let not_blocking = owner_ref("apps/v1", "Deployment", "web", "u-web", Some(false));
    let gc = Gc::new(vec![DELETE_CHILD], "");
    assert_eq!(
        gc.update(
            std::slice::from_ref(&not_blocking),
            std::slice::from_ref(&blocking)
        )
        .await
        .unwrap_err()
        .code,
        403
    );
    let other = owner_ref("v1", "ConfigMap", "other", "u-other", None);
    gc.update(std::slice::from_ref(&blocking), &[blocking.clone(), other])
        .await
        .unwrap();
}

#[tokio::test]
async fn cluster_scoped_owners_are_checked_at_the_cluster_scope() {
    let owner = owner_ref("v1", "Namespace", "ns", "u-ns", Some(true));
    let gc = Gc::new(
        vec![DELETE_CHILD, ("update", "", "namespaces/finalizers", "", "ns")],
        "",
    );
    gc.create(std::slice::from_ref(&owner)).await.unwrap();
    assert_eq!(gc.asked()[1], "update /v1 namespaces/finalizers  ns");
}

#[tokio::test]
async fn owners_of_unserved_kinds_cannot_be_blocked() {
    let gc = Gc::new(vec![DELETE_CHILD], "");
    let err = gc
        .create(&[owner_ref("v1", "Pod", "p", "u-p", Some(true))])
        .await
        .unwrap_err();
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "configmaps \"child\" is forbidden: cannot set blockOwnerDeletion in this case because cannot find \
         RESTMapping for APIVersion v1 Kind Pod: no matches for kind \"Pod\" in version \"v1\""
    );
    // Not blocking: the kind is never resolved.
    gc.create(&[owner_ref("v1", "Pod", "p", "u-p", None)])
        .await
        .unwrap();
}

#[tokio::test]
async fn owner_references_of_internal_and_subresource_writes_are_not_checked() {
    let gc = Gc::new(vec![], "");
    let refs = [owner_ref("apps/v1", "Deployment", "web", "u-web", Some(true))];
    gc.write(Operation::Create, None, &mut child(&refs), None, None)
        .await
        .unwrap();
    gc.write(
        Operation::Update,
        Some("status"),
        &mut child(&refs),
        Some(&child(&[])),
        Some(&gc.bob),
    )
    .await
    .unwrap();
    assert!(gc.asked().is_empty());
}
