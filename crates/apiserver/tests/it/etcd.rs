//! The scenarios on a real etcd, the key layout in etcd, and the behaviour while etcd is down.

use std::time::{Duration, Instant};

use fcp_storage::{
    Backend,
    etcd::{EtcdBackend, EtcdConfig},
};
use fcp_testkit::{apiserver::TestApiServer, etcd::TestEtcd};
use serde_json::{Value, json};

use crate::{client::Client, scenarios};

#[tokio::test]
async fn every_scenario_passes_on_etcd() {
    let etcd = TestEtcd::start().unwrap();
    let server = TestApiServer::etcd(&etcd.endpoint(), "/registry").await.unwrap();
    scenarios::run_all(server.base_url()).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_gets_an_expired_event_on_etcd() {
    let etcd = TestEtcd::start().unwrap();
    let server = TestApiServer::start(&[
        "--etcd-servers",
        &etcd.endpoint(),
        "--etcd-compaction-interval",
        "1s",
        // The storage watch path: the watch cache's window is independent of compaction.
        "--watch-cache=false",
    ])
    .await
    .unwrap();
    scenarios::watch_after_compaction(&Client::new(server.base_url())).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn objects_are_stored_under_kube_apiserver_keys_as_json_without_resource_version() {
    let etcd = TestEtcd::start().unwrap();
    let server = TestApiServer::etcd(&etcd.endpoint(), "/fed").await.unwrap();
    let client = Client::new(server.base_url());
    let objects = [
        (
            "/api/v1/namespaces",
            json!({"metadata": {"name": "ns1"}}),
            "/fed/namespaces/ns1",
        ),
        (
            "/api/v1/namespaces/ns1/configmaps",
            json!({"metadata": {"name": "cm"}}),
            "/fed/configmaps/ns1/cm",
        ),
        (
            "/api/v1/namespaces/ns1/services",
            json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}),
            "/fed/services/specs/ns1/svc",
        ),
        (
            "/apis/networking.k8s.io/v1/namespaces/ns1/ingresses",
            json!({"metadata": {"name": "ing"}, "spec": {"defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}}}),
            "/fed/ingress/ns1/ing",
        ),
        (
            "/apis/apps/v1/namespaces/ns1/replicasets",
            json!({"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
            "/fed/replicasets/ns1/rs",
        ),
        (
            "/apis/federation/v1beta1/clusters",
            json!({"metadata": {"name": "c1"}, "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://c1:6443"}]}}),
            "/fed/clusters/c1",
        ),
    ];
    let backend = EtcdBackend::connect(EtcdConfig {
        endpoints: vec![etcd.endpoint()],
        ca_file: None,
        cert_file: None,
        key_file: None,
        dial_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    for (collection, body, key) in objects {
        let created = client.post(collection, &body).await;
        assert_eq!(created.code, 201, "{collection}: {}", created.body);
        let kv = backend
            .get(key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no key {key}"));
        let stored: Value = serde_json::from_slice(&kv.value).unwrap();
        assert!(
            stored["metadata"].get("resourceVersion").is_none(),
            "{key}: {stored}"
        );
        assert_eq!(stored["kind"], created.body["kind"]);
        assert_eq!(stored["metadata"]["uid"], created.body["metadata"]["uid"]);
        assert_eq!(
            kv.mod_revision.to_string(),
            created.rv(),
            "resourceVersion is the key's mod revision"
        );
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn an_etcd_outage_gives_503_statuses_and_the_server_recovers() {
    let mut etcd = TestEtcd::start().unwrap();
    let server = TestApiServer::etcd(&etcd.endpoint(), "/registry").await.unwrap();
    let client = Client::new(server.base_url());
    let collection = "/api/v1/namespaces/default/configmaps";
    assert_eq!(
        client
            .post(collection, &json!({"metadata": {"name": "before"}}))
            .await
            .code,
        201
    );

    etcd.stop().unwrap();
    let started = Instant::now();
    let read = client.get(&format!("{collection}/before")).await;
    read.assert_status(503, "ServiceUnavailable");
    let write = client
        .post(collection, &json!({"metadata": {"name": "during"}}))
        .await;
    write.assert_status(503, "ServiceUnavailable");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "answers come within the storage timeout"
    );
    assert_eq!(client.get("/healthz").await.code, 200, "the process stays up");
    assert_eq!(
        client.get("/readyz").await.code,
        500,
        "readiness reports the storage outage"
    );

    etcd.restart().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = client.get(&format!("{collection}/before")).await;
        if reply.code == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery after etcd came back: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        client
            .post(collection, &json!({"metadata": {"name": "after"}}))
            .await
            .code,
        201
    );
    client
        .get(&format!("{collection}/during"))
        .await
        .assert_status(404, "NotFound");
    server.stop().await.unwrap();
}
