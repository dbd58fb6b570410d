//! Restarting over the same data directory continues the cluster: no duplicates, no writes.

use std::time::Duration;

use fcp_testkit::simcluster::TestSimCluster;
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::{Api, api::ListParams};

use super::{
    accounts::token_secret,
    pods, settled,
    workloads::{create_deployment, deployment, deployment_ready},
};

const ARGS: &[&str] = &["--ready-after", "200ms", "--nodes", "2"];

#[tokio::test]
async fn restart_with_the_same_data_dir_creates_no_duplicates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = TestSimCluster::start_in("again", dir.path(), ARGS)
        .await
        .expect("first start");
    let client = first.client();
    create_deployment(&client, &deployment("web", 2)).await;
    deployment_ready(&client, "web", 2, 2).await;
    let (_, secret) = token_secret(&client, "default", "default").await;
    let before_pods: Vec<String> = pods(&client, "default", "app=web")
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let revision = settled(&client, Duration::from_millis(600)).await;
    first.stop().await.expect("stop");

    let second = TestSimCluster::start_in("again", dir.path(), ARGS)
        .await
        .expect("second start");
    let client = second.client();
    deployment_ready(&client, "web", 2, 2).await;
    let after = settled(&client, Duration::from_millis(600)).await;
    assert_eq!(after, revision, "the restarted simulator wrote nothing");
    let after_pods: Vec<String> = pods(&client, "default", "app=web")
        .await
        .iter()
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    assert_eq!(after_pods, before_pods);
    let nodes = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("list nodes");
    assert_eq!(nodes.items.len(), 2);
    let tokens = Api::<Secret>::namespaced(client.clone(), "default")
        .list(&ListParams::default().fields("type=kubernetes.io/service-account-token"))
        .await
        .expect("list token secrets");
    assert_eq!(tokens.items.len(), 1);
    assert_eq!(tokens.items[0].metadata.name, secret.metadata.name);
    second.stop().await.expect("stop");
}
