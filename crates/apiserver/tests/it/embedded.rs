//! The scenarios on the embedded store, plus what only the embedded store does.

use fcp_testkit::apiserver::TestApiServer;

use crate::{client::Client, scenarios};

#[tokio::test]
async fn every_scenario_passes_on_the_embedded_store() {
    let server = TestApiServer::embedded().await.unwrap();
    scenarios::run_all(server.base_url()).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_gets_an_expired_event_on_the_embedded_store() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = TestApiServer::start(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
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
async fn a_watch_from_outside_the_cache_window_gets_an_expired_event() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = TestApiServer::start(&[
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--default-watch-cache-size",
        "5",
    ])
    .await
    .unwrap();
    scenarios::watch_cache_window_expires(&Client::new(server.base_url())).await;
    server.stop().await.unwrap();
}

#[tokio::test]
async fn events_expire_after_the_event_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = TestApiServer::start(&["--data-dir", data_dir.to_str().unwrap(), "--event-ttl", "2s"])
        .await
        .unwrap();
    let client = Client::new(server.base_url());
    let event = serde_json::json!({
        "metadata": {"name": "short.1"}, "involvedObject": {"kind": "ConfigMap", "name": "x", "namespace": "default"},
        "reason": "Test", "message": "expires", "type": "Normal"
    });
    assert_eq!(
        client
            .post("/api/v1/namespaces/default/events", &event)
            .await
            .code,
        201
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while client.get("/api/v1/namespaces/default/events/short.1").await.code != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the event outlived its TTL by far"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // The configmaps of the namespace are not touched by the reaper.
    assert_eq!(client.get("/api/v1/namespaces/default").await.code, 200);
    server.stop().await.unwrap();
}
