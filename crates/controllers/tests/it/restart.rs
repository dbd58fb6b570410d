//! Restart behaviour: nothing written when nothing changed; a kill mid-propagation converges without
//! duplicates; leader election hands over.

use k8s_openapi::api::{coordination::v1::Lease, core::v1::ConfigMap};
use kube::{
    Api,
    api::{ListParams, ObjectMeta, PostParams},
};

use crate::{Federation, Manager, create_namespace, eventually};

const OBJECTS: usize = 30;

async fn create_config_maps(client: &kube::Client, namespace: &str, count: usize) -> anyhow::Result<()> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), namespace);
    for i in 0..count {
        let object = ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("object-{i}")),
                namespace: Some(namespace.to_owned()),
                labels: Some([("batch".to_owned(), "restart".to_owned())].into()),
                ..ObjectMeta::default()
            },
            data: Some([("i".to_owned(), i.to_string())].into()),
            ..ConfigMap::default()
        };
        api.create(&PostParams::default(), &object).await?;
    }
    Ok(())
}

/// Waits until every member holds exactly `count` copies of the batch; returns their resourceVersions.
async fn wait_for_copies(
    federation: &Federation,
    namespace: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut versions = Vec::new();
    for i in 1..=federation.members.len() {
        let api = Api::<ConfigMap>::namespaced(federation.member(i), namespace);
        let items = eventually(&format!("{count} copies in cluster-{i}"), || async {
            let list = api.list(&ListParams::default().labels("batch=restart")).await?;
            Ok((list.items.len() == count).then_some(list.items))
        })
        .await?;
        let mut names: Vec<String> = items.iter().filter_map(|c| c.metadata.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), count, "no duplicates in cluster-{i}");
        versions.extend(items.into_iter().filter_map(|c| c.metadata.resource_version));
    }
    versions.sort();
    Ok(versions)
}

fn reconciles(text: &str, controller: &str) -> u64 {
    let prefix = format!("fcp_reconciles_total{{controller=\"{controller}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_restart_with_nothing_changed_writes_nothing_to_members() -> anyhow::Result<()> {
    let mut federation = Federation::start(3, &[]).await?;
    federation.wait_ready().await?;
    create_namespace(&federation.client, "batch").await?;
    create_config_maps(&federation.client, "batch", OBJECTS).await?;
    let before = wait_for_copies(&federation, "batch", OBJECTS).await?;
    federation.manager.take().expect("manager").stop().await?;

    let manager = Manager::start(&federation.client, &[]).await?;
    // Every object is looked at once the caches are complete (the initial list queues them all).
    eventually("every object reconciled after the restart", || async {
        Ok((reconciles(&manager.metrics_text(), "configmaps") >= OBJECTS as u64).then_some(()))
    })
    .await?;
    eventually("the namespace reconciled too", || async {
        Ok((reconciles(&manager.metrics_text(), "namespaces") >= 1).then_some(()))
    })
    .await?;
    assert_eq!(
        manager.member_writes(),
        0,
        "a restart with nothing changed writes nothing"
    );
    let after = wait_for_copies(&federation, "batch", OBJECTS).await?;
    assert_eq!(before, after, "no copy was rewritten");
    manager.stop().await?;
    Ok(())
}

#[tokio::test]
async fn a_kill_mid_propagation_converges_without_duplicates() -> anyhow::Result<()> {
    let mut federation = Federation::start(2, &[]).await?;
    federation.wait_ready().await?;
    create_namespace(&federation.client, "batch").await?;
    create_config_maps(&federation.client, "batch", OBJECTS).await?;
    // Kill as soon as the first copies land.
    let first = Api::<ConfigMap>::namespaced(federation.member(1), "batch");
    eventually("first copies", || async {
        let list = first.list(&ListParams::default().labels("batch=restart")).await?;
        Ok((!list.items.is_empty()).then_some(()))
    })
    .await?;
    if let Some(mut manager) = federation.manager.take() {
        // Abrupt: cancel without waiting for in-flight work.
        manager.shutdown.cancel();
        drop(manager.manager.take());
    }
    let manager = Manager::start(&federation.client, &[]).await?;
    wait_for_copies(&federation, "batch", OBJECTS).await?;
    manager.stop().await?;
    Ok(())
}

#[tokio::test]
async fn leader_election_lets_one_manager_work_and_hands_over_on_shutdown() -> anyhow::Result<()> {
    let federation = Federation::without_manager(1, &[]).await?;
    let first = Manager::start(
        &federation.client,
        &["--leader-elect", "--leader-elect-retry-period", "200ms"],
    )
    .await?;
    let leases = Api::<Lease>::namespaced(federation.client.clone(), "federation-only");
    let holder = eventually("a leader", || async {
        let lease = leases.get_opt("federation-controller-manager").await?;
        Ok(lease.and_then(|l| l.spec).and_then(|s| s.holder_identity))
    })
    .await?;
    federation.wait_ready().await?;
    let second = Manager::start(
        &federation.client,
        &["--leader-elect", "--leader-elect-retry-period", "200ms"],
    )
    .await?;
    first.stop().await?;
    let next = eventually("a new leader", || async {
        let lease = leases.get_opt("federation-controller-manager").await?;
        Ok(lease
            .and_then(|l| l.spec)
            .and_then(|s| s.holder_identity)
            .filter(|h| *h != holder))
    })
    .await?;
    assert_ne!(next, holder);
    // The new leader propagates.
    create_config_maps(&federation.client, "default", 1).await?;
    let member = federation.member(1);
    eventually("copy by the new leader", || async {
        Ok(Api::<ConfigMap>::namespaced(member.clone(), "default")
            .get_opt("object-0")
            .await?)
    })
    .await?;
    second.stop().await?;
    Ok(())
}
