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
