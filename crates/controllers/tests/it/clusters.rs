//! The cluster controller: conditions, zones, client rebuilds, outages.

use std::time::{Duration, Instant};

use fcp_api::{Cluster, ClusterCondition};
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::{
    Api,
    api::{ObjectMeta, Patch, PatchParams, PostParams},
};

use crate::{
    Federation, Manager, config_map, config_map_data, eventually, join, member_dir, start_member_in,
};

fn condition<'a>(cluster: &'a Cluster, type_: &str) -> Option<&'a ClusterCondition> {
    cluster
        .status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
}

#[tokio::test]
async fn members_become_ready_with_v1_conditions_zones_and_region() -> anyhow::Result<()> {
    let federation = Federation::start(2, &["--zone", "z-a,z-b", "--region", "r-1"]).await?;
    federation.wait_ready().await?;
    let clusters = Api::<Cluster>::all(federation.client.clone());
    let first = clusters.get("cluster-1").await?;
    let ready = condition(&first, "Ready").expect("Ready condition");
    assert_eq!(ready.status, "True");
    assert_eq!(ready.reason.as_deref(), Some("ClusterReady"));
    assert_eq!(ready.message.as_deref(), Some("/healthz responded with ok"));
    let status = first.status.clone().expect("status");
    assert_eq!(status.zones, ["z-a", "z-b"]);
    assert_eq!(status.region.as_deref(), Some("r-1"));
    // Transition time stays while probes keep answering ok; probe time moves on.
    let transition = ready.last_transition_time.clone();
    let probed = ready.last_probe_time.clone();
    let later = eventually("a later probe", || async {
        let cluster = clusters.get("cluster-1").await?;
        let ready = condition(&cluster, "Ready").cloned();
        Ok(ready.filter(|r| r.last_probe_time != probed))
    })
    .await?;
    assert_eq!(later.last_transition_time, transition);

    let manager = federation.manager.as_ref().expect("manager");
    let address = manager
        .manager
        .as_ref()
        .and_then(|m| m.status_address())
        .expect("status port");
    let healthz = http_get(&format!("http://{address}/healthz")).await?;
    assert_eq!(healthz, "ok");
    let metrics = http_get(&format!("http://{address}/metrics")).await?;
    assert!(
        metrics.contains("fcp_cluster_ready{cluster=\"cluster-1\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fcp_cluster_probes_total"), "{metrics}");
    Ok(())
}

async fn http_get(url: &str) -> anyhow::Result<String> {
    let (host, path) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
        .map(|(host, path)| (host.to_owned(), format!("/{path}")))
        .ok_or_else(|| anyhow::anyhow!("bad url {url}"))?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(&host).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "{head}");
    Ok(body.to_owned())
}

#[tokio::test]
async fn a_member_outage_is_offline_within_two_periods_and_converges_on_return() -> anyhow::Result<()> {
    let mut federation = Federation::without_manager(1, &["--ready-after", "100ms"]).await?;
    let dir = member_dir()?;
    let port = fcp_testkit::free_port();
    let member = start_member_in("cluster-2", dir.path(), port, &[]).await?;
    join(
        &federation.client,
        "cluster-2",
        member.base_url(),
        &[("cluster", "2")],
    )
    .await?;
    let manager = Manager::start(&federation.client, &[]).await?;
    federation.members.push(member);
    federation.wait_ready().await?;

    let config_maps =
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(federation.client.clone(), "default");
    config_maps
        .create(
            &PostParams::default(),
            &config_map("default", "before", &[("a", "1")]),
        )
        .await?;
    for i in 1..=2 {
        let member = federation.member(i);
        eventually("copy before the outage", || async {
            config_map_data(&member, "default", "before").await
        })
        .await?;
    }

    // Outage: cluster-2 stops.
    let down = federation.members.pop().expect("cluster-2");
    let stopped = Instant::now();
    down.stop().await?;
    let clusters = Api::<Cluster>::all(federation.client.clone());
    let offline = eventually("cluster-2 Offline", || async {
        let cluster = clusters.get("cluster-2").await?;
        Ok(condition(&cluster, "Offline")
            .filter(|c| c.status == "True")
            .cloned())
    })
    .await?;
    let took = stopped.elapsed();
    // Two monitor periods (1 s each), plus the probe timeout and slack for a loaded machine.
    assert!(took < Duration::from_secs(5), "Offline after {took:?}");
    assert_eq!(offline.reason.as_deref(), Some("ClusterNotReachable"));
    assert_eq!(offline.message.as_deref(), Some("cluster is not reachable"));
    assert!(!clusters.get("cluster-2").await?.is_ready());

    // While it is down, a new object reaches cluster-1 only, and the old copy there is not rewritten.
    let member_1 = federation.member(1);
    let before_version =
        Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(member_1.clone(), "default")
            .get("before")
            .await?
            .metadata
            .resource_version;
    config_maps
        .create(
            &PostParams::default(),
            &config_map("default", "during", &[("b", "2")]),
        )
        .await?;
    eventually("copy in cluster-1 during the outage", || async {
        config_map_data(&member_1, "default", "during").await
    })
    .await?;

    // Return: the same member on the same port converges.
    let back = start_member_in("cluster-2", dir.path(), port, &[]).await?;
    let back_client = back.client();
    eventually("cluster-2 Ready again", || async {
        Ok(clusters.get("cluster-2").await?.is_ready().then_some(()))
    })
    .await?;
    eventually("copy in cluster-2 after the outage", || async {
        config_map_data(&back_client, "default", "during").await
    })
    .await?;
    let after_version = Api::<k8s_openapi::api::core::v1::ConfigMap>::namespaced(member_1, "default")
        .get("before")
        .await?
        .metadata
        .resource_version;
    assert_eq!(
        before_version, after_version,
        "cluster-1 was not touched by cluster-2's return"
    );
    back.stop().await?;
    manager.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_credentials_secret_is_reported_and_the_client_is_built_once_it_exists()
-> anyhow::Result<()> {
    let federation = Federation::without_manager(1, &[]).await?;
    let clusters = Api::<Cluster>::all(federation.client.clone());
    // Point cluster-1 at a secret that does not exist yet.
    let patch = serde_json::json!({"spec": {"secretRef": {"name": "cluster-1-credentials"}}});
    clusters
        .patch("cluster-1", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let manager = Manager::start(&federation.client, &[]).await?;
    let offline = eventually("cluster-1 Offline for want of its secret", || async {
        let cluster = clusters.get("cluster-1").await?;
        Ok(condition(&cluster, "Offline")
            .filter(|c| c.status == "True")
            .cloned())
    })
    .await?;
    let message = offline.message.unwrap_or_default();
    assert!(
        message.contains("federation-only/cluster-1-credentials") && message.contains("not found"),
        "{message}"
    );
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("cluster-1-credentials".into()),
            namespace: Some("federation-only".into()),
            ..ObjectMeta::default()
        },
        data: Some([("token".to_owned(), ByteString(b"any-token".to_vec()))].into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(federation.client.clone(), "federation-only")
        .create(&PostParams::default(), &secret)
        .await?;
    federation.wait_ready().await?;
    // The credentials never leave the federation.
    let member_secrets = Api::<Secret>::namespaced(federation.member(1), "federation-only");
    assert!(
        member_secrets
            .get_opt("cluster-1-credentials")
            .await
            .ok()
            .flatten()
            .is_none()
    );
    manager.stop().await?;
    Ok(())
}
