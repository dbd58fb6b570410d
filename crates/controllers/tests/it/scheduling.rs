//! Replica scheduling and status roll-up of Deployments and ReplicaSets.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::json;

use crate::{Federation, eventually};

fn deployment(name: &str, replicas: i32, preferences: Option<&str>) -> anyhow::Result<Deployment> {
    let mut value = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
    });
    if let Some(preferences) = preferences {
        value["metadata"]["annotations"] =
            json!({"federation.kubernetes.io/deployment-preferences": preferences});
    }
    Ok(serde_json::from_value(value)?)
}

async fn member_replicas(federation: &Federation, name: &str) -> anyhow::Result<Vec<Option<i32>>> {
    let mut out = Vec::new();
    for i in 1..=federation.members.len() {
        let copy = Api::<Deployment>::namespaced(federation.member(i), "default")
            .get_opt(name)
            .await?;
        out.push(copy.and_then(|d| d.spec.replicas));
    }
    Ok(out)
}

#[tokio::test]
async fn a_deployment_splits_by_weight_and_its_status_rolls_up() -> anyhow::Result<()> {
    let federation = Federation::start(3, &["--ready-after", "100ms"]).await?;
    federation.wait_ready().await?;
    let deployments = Api::<Deployment>::namespaced(federation.client.clone(), "default");
    let preferences = r#"{"rebalance": true, "clusters": {"cluster-1": {"weight": 2}, "*": {"weight": 1}}}"#;
    deployments
        .create(&PostParams::default(), &deployment("web", 8, Some(preferences))?)
        .await?;
    eventually("4/2/2 split", || async {
        let replicas = member_replicas(&federation, "web").await?;
        Ok((replicas == [Some(4), Some(2), Some(2)]).then_some(()))
    })
    .await?;
    let status = eventually("rolled-up status", || async {
        let object = deployments.get("web").await?;
        let generation = object.metadata.generation;
        let status = object.status.unwrap_or_default();
        let done = status.replicas == Some(8)
            && status.ready_replicas == Some(8)
            && status.available_replicas == Some(8)
            && status.updated_replicas == Some(8)
            && status.observed_generation == generation;
        Ok(done.then_some(status))
    })
    .await?;
    assert_eq!(status.unavailable_replicas.unwrap_or(0), 0);

    // Scaling re-plans; the deployment revision annotation each member keeps is not fought over.
    deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"replicas": 4}})),
        )
        .await?;
    eventually("2/1/1 split", || async {
        let replicas = member_replicas(&federation, "web").await?;
        Ok((replicas == [Some(2), Some(1), Some(1)]).then_some(()))
    })
    .await?;
    eventually("status follows the scale-down", || async {
        let object = deployments.get("web").await?;
        let generation = object.metadata.generation;
        let status = object.status.unwrap_or_default();
        Ok((status.replicas == Some(4)
            && status.ready_replicas == Some(4)
            && status.observed_generation == generation)
            .then_some(()))
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn replica_sets_honour_min_max_and_clusters_without_a_preference_get_none() -> anyhow::Result<()> {
    let federation = Federation::start(3, &["--ready-after", "100ms"]).await?;
    federation.wait_ready().await?;
    let replica_sets = Api::<ReplicaSet>::namespaced(federation.client.clone(), "default");
    // cluster-1 capped at 2, cluster-2 gets at least 5; cluster-3 has no preference (and no "*").
    let preferences = r#"{"rebalance": true, "clusters": {
        "cluster-1": {"weight": 100, "maxReplicas": 2}, "cluster-2": {"minReplicas": 5, "weight": 1}}}"#;
    let replica_set: ReplicaSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "rs", "namespace": "default",
                     "annotations": {"federation.kubernetes.io/replica-set-preferences": preferences}},
        "spec": {"replicas": 9, "selector": {"matchLabels": {"app": "rs"}},
                 "template": {"metadata": {"labels": {"app": "rs"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}
    }))?;
    replica_sets.create(&PostParams::default(), &replica_set).await?;
    eventually("2/7/0 split", || async {
        let mut replicas = Vec::new();
        for i in 1..=3 {
            let copy = Api::<ReplicaSet>::namespaced(federation.member(i), "default")
                .get_opt("rs")
                .await?;
            replicas.push(copy.and_then(|r| r.spec.replicas));
        }
        // v1 creates a 0-replica copy in a selected cluster without a preference.
        Ok((replicas == [Some(2), Some(7), Some(0)]).then_some(()))
    })
    .await?;
    eventually("rolled-up ReplicaSet status", || async {
        let object = replica_sets.get("rs").await?;
        let status = object.status.unwrap_or_default();
        Ok((status.replicas == 9
            && status.ready_replicas == Some(9)
            && status.fully_labeled_replicas == Some(9))
        .then_some(()))
    })
    .await?;
    Ok(())
}

/// Pods that stay unschedulable for longer than the planner's threshold (60 s, v1's) bound their member's
/// capacity: the replicas move to the member that has room, and stay there (no flapping back).
#[tokio::test]
async fn unschedulable_pods_move_replicas_to_a_member_with_capacity() -> anyhow::Result<()> {
    let federation = Federation::start_each(&[
        &["--ready-after", "100ms", "--pod-capacity", "1"],
        &["--ready-after", "100ms"],
    ])
    .await?;
    federation.wait_ready().await?;
    let deployments = Api::<Deployment>::namespaced(federation.client.clone(), "default");
    deployments
        .create(&PostParams::default(), &deployment("tight", 6, None)?)
        .await?;
    eventually("an even 3/3 split first", || async {
        let replicas = member_replicas(&federation, "tight").await?;
        Ok((replicas == [Some(3), Some(3)]).then_some(()))
    })
    .await?;
    // The threshold, plus the controller's review period, plus slack for a loaded machine.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(150);
    loop {
        if member_replicas(&federation, "tight").await? == [Some(1), Some(5)] {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "replicas did not move off the full member: {:?}",
            member_replicas(&federation, "tight").await?
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    eventually("6 ready once moved", || async {
        let status = deployments.get("tight").await?.status.unwrap_or_default();
        Ok((status.ready_replicas == Some(6)).then_some(()))
    })
    .await?;
    // Two more review periods: the split holds now that every copy is ready.
    tokio::time::sleep(std::time::Duration::from_secs(21)).await;
    assert_eq!(member_replicas(&federation, "tight").await?, [Some(1), Some(5)]);
    Ok(())
}
