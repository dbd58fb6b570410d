//! The simulated nodes.

use k8s_openapi::api::core::v1::Node;
use kube::{Api, ResourceExt, api::ListParams};

use super::cluster;

#[tokio::test]
async fn nodes_exist_with_both_label_sets_and_ready_status() {
    let sim = cluster("c1", &["--nodes", "3", "--zone", "za,zb", "--region", "r1"]).await;
    let nodes = Api::<Node>::all(sim.client())
        .list(&ListParams::default())
        .await
        .expect("list nodes")
        .items;
    let mut names: Vec<String> = nodes.iter().map(ResourceExt::name_any).collect();
    names.sort();
    assert_eq!(names, ["c1-node-0", "c1-node-1", "c1-node-2"]);
    for node in &nodes {
        let index: usize = node
            .name_any()
            .rsplit('-')
            .next()
            .and_then(|i| i.parse().ok())
            .expect("index");
        let zone = ["za", "zb"][index % 2];
        let labels = node.labels();
        assert_eq!(labels.get("kubernetes.io/hostname"), Some(&node.name_any()));
        for key in [
            "topology.kubernetes.io/zone",
            "failure-domain.beta.kubernetes.io/zone",
        ] {
            assert_eq!(labels.get(key).map(String::as_str), Some(zone), "{key}");
        }
        for key in [
            "topology.kubernetes.io/region",
            "failure-domain.beta.kubernetes.io/region",
        ] {
            assert_eq!(labels.get(key).map(String::as_str), Some("r1"), "{key}");
        }
        let status = node.status.as_ref().expect("status");
        let ready = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .expect("Ready condition");
        assert_eq!(ready.status, "True");
        let capacity = status.capacity.as_ref().expect("capacity");
        for resource in ["cpu", "memory", "pods"] {
            assert!(capacity.contains_key(resource), "{resource}");
        }
        assert!(
            status
                .allocatable
                .as_ref()
                .is_some_and(|a| a.contains_key("pods"))
        );
        let info = status.node_info.as_ref().expect("nodeInfo");
        assert_eq!(info.kubelet_version, "v1.33.0-sim");
        assert_eq!(info.os_image, "fcp simulated node");
        assert!(
            status
                .addresses
                .iter()
                .flatten()
                .any(|a| a.type_ == "InternalIP" && a.address.starts_with("10."))
        );
    }
    sim.stop().await.expect("stop");
}

#[tokio::test]
async fn default_zone_is_named_after_the_cluster() {
    let sim = cluster("solo", &["--nodes", "1"]).await;
    let node = Api::<Node>::all(sim.client())
        .get("solo-node-0")
        .await
        .expect("node");
    assert_eq!(
        node.labels()
            .get("topology.kubernetes.io/zone")
            .map(String::as_str),
        Some("zone-solo")
    );
    assert_eq!(
        node.labels()
            .get("topology.kubernetes.io/region")
            .map(String::as_str),
        Some("region-1")
    );
    sim.stop().await.expect("stop");
}
