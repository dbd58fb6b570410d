//! Propagation of the six kinds: copies, updates, drift, cluster selector, deletion table, namespace
//! cascade, the federation-only namespace, events.

use k8s_openapi::{
    ByteString,
    api::{
        apps::v1::DaemonSet,
        core::v1::{ConfigMap, Event, Namespace, Secret},
    },
};
use kube::{
    Api,
    api::{DeleteParams, ObjectMeta, Patch, PatchParams, PostParams, PropagationPolicy},
};
use serde_json::json;

use crate::{Federation, config_map, config_map_data, create_namespace, eventually};

const SELECTOR: &str = "federation.alpha.kubernetes.io/cluster-selector";

#[tokio::test]
async fn every_kind_reaches_every_member_updates_follow_and_drift_is_corrected() -> anyhow::Result<()> {
    let federation = Federation::start(2, &[]).await?;
    federation.wait_ready().await?;
    create_namespace(&federation.client, "app").await?;
    let config_maps = Api::<ConfigMap>::namespaced(federation.client.clone(), "app");
    config_maps
        .create(
            &PostParams::default(),
            &config_map("app", "settings", &[("A", "ala ma kota")]),
        )
        .await?;
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("token".into()),
            namespace: Some("app".into()),
            labels: Some([("tier".to_owned(), "web".to_owned())].into()),
            ..ObjectMeta::default()
        },
        data: Some([("key".to_owned(), ByteString(b"s3cret".to_vec()))].into()),
        type_: Some("Opaque".into()),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(federation.client.clone(), "app")
        .create(&PostParams::default(), &secret)
        .await?;
    let daemon_set: DaemonSet = serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "app"},
        "spec": {"selector": {"matchLabels": {"app": "agent"}},
                 "template": {"metadata": {"labels": {"app": "agent"}},
                              "spec": {"containers": [{"name": "agent", "image": "busybox"}]}}}
    }))?;
    Api::<DaemonSet>::namespaced(federation.client.clone(), "app")
        .create(&PostParams::default(), &daemon_set)
        .await?;

    for i in 1..=2 {
        let member = federation.member(i);
        eventually("namespace copy", || async {
            Ok(Api::<Namespace>::all(member.clone())
                .get_opt("app")
                .await?
                .map(|_| ()))
        })
        .await?;
        let data = eventually("configmap copy", || async {
            config_map_data(&member, "app", "settings").await
        })
        .await?;
        assert_eq!(data.get("A").map(String::as_str), Some("ala ma kota"));
        let copy = eventually("secret copy", || async {
            Ok(Api::<Secret>::namespaced(member.clone(), "app")
                .get_opt("token")
                .await?)
        })
        .await?;
        assert_eq!(
            copy.data.unwrap_or_default().get("key").map(|b| b.0.clone()),
            Some(b"s3cret".to_vec())
        );
        assert_eq!(
            copy.metadata
                .labels
                .unwrap_or_default()
                .get("tier")
                .map(String::as_str),
            Some("web")
        );
        assert!(
            copy.metadata.finalizers.unwrap_or_default().is_empty(),
            "federation finalizers stay behind"
        );
        eventually("daemonset copy", || async {
            Ok(Api::<DaemonSet>::namespaced(member.clone(), "app")
                .get_opt("agent")
                .await?)
        })
        .await?;
    }
    // The federated object carries both finalizers.
    let federated = config_maps.get("settings").await?;
    let finalizers = federated.metadata.finalizers.unwrap_or_default();
    assert!(finalizers.contains(&"federation.kubernetes.io/delete-from-underlying-clusters".to_owned()));
    assert!(finalizers.contains(&"orphan".to_owned()));

    // An update follows.
    let patch = json!({"data": {"A": "updated"}});
    config_maps
        .patch("settings", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    for i in 1..=2 {
        let member = federation.member(i);
        eventually("updated copy", || async {
            let data = config_map_data(&member, "app", "settings").await?;
            Ok(data.filter(|d| d.get("A").map(String::as_str) == Some("updated")))
        })
        .await?;
    }
    // Drift in a member is overwritten.
    let member = federation.member(2);
    let drift = json!({"data": {"A": "drifted", "extra": "x"}});
    Api::<ConfigMap>::namespaced(member.clone(), "app")
        .patch("settings", &PatchParams::default(), &Patch::Merge(&drift))
        .await?;
    eventually("drift corrected", || async {
        let data = config_map_data(&member, "app", "settings").await?;
        Ok(data.filter(|d| d.get("A").map(String::as_str) == Some("updated") && !d.contains_key("extra")))
    })
    .await?;

    // Events on the federated object.
    let events = Api::<Event>::namespaced(federation.client.clone(), "app");
    let created = eventually("CreateInCluster events", || async {
        let list = events.list(&Default::default()).await?;
        let matching: Vec<Event> = list
            .items
            .into_iter()
            .filter(|e| {
                e.involved_object.name.as_deref() == Some("settings")
                    && e.reason.as_deref() == Some("CreateInCluster")
            })
            .collect();
        Ok((matching.len() >= 2).then_some(matching))
    })
    .await?;
    let message = created[0].message.clone().unwrap_or_default();
    assert!(
        message.starts_with("Creating ConfigMap app/settings in cluster cluster-"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn the_cluster_selector_places_copies_and_moves_them_when_it_changes() -> anyhow::Result<()> {
    let federation = Federation::start(3, &[]).await?;
    federation.wait_ready().await?;
    let config_maps = Api::<ConfigMap>::namespaced(federation.client.clone(), "default");
    let mut object = config_map("default", "placed", &[("k", "v")]);
    object.metadata.annotations = Some(
        [(
            SELECTOR.to_owned(),
            r#"[{"key":"cluster","operator":"==","values":["1"]}]"#.to_owned(),
        )]
        .into(),
    );
    config_maps.create(&PostParams::default(), &object).await?;
    let one = federation.member(1);
    eventually("copy in cluster-1", || async {
        config_map_data(&one, "default", "placed").await
    })
    .await?;
    // A second object with `notin` goes to 2 and 3 only; once it is there, cluster-2 and 3 are known not to
    // hold the first (the controller handles both in the same passes).
    let mut other = config_map("default", "elsewhere", &[("k", "v")]);
    other.metadata.annotations = Some(
        [(
            SELECTOR.to_owned(),
            r#"[{"key":"cluster","operator":"notin","values":["1"]}]"#.to_owned(),
        )]
        .into(),
    );
    config_maps.create(&PostParams::default(), &other).await?;
    for i in 2..=3 {
        let member = federation.member(i);
        eventually("notin copy", || async {
            config_map_data(&member, "default", "elsewhere").await
        })
        .await?;
        assert!(config_map_data(&member, "default", "placed").await?.is_none());
    }
    assert!(config_map_data(&one, "default", "elsewhere").await?.is_none());

    // Moving the selector deletes the copy where it no longer applies.
    let patch = json!({"metadata": {"annotations": {SELECTOR: r#"[{"key":"cluster","operator":"gt","values":["2"]}]"#}}});
    config_maps
        .patch("placed", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let three = federation.member(3);
    eventually("copy moved to cluster-3", || async {
        config_map_data(&three, "default", "placed").await
    })
    .await?;
    eventually("copy gone from cluster-1", || async {
        Ok(config_map_data(&one, "default", "placed")
            .await?
            .is_none()
            .then_some(()))
    })
    .await?;

    // An invalid selector leaves copies alone and says why in an event.
    let patch = json!({"metadata": {"annotations": {SELECTOR: r#"[{"key":"cluster","operator":"near","values":["2"]}]"#}}});
    config_maps
        .patch("placed", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    let events = Api::<Event>::namespaced(federation.client.clone(), "default");
    eventually("selector error event", || async {
        let list = events.list(&Default::default()).await?;
        Ok(list.items.into_iter().find(|e| {
            e.reason.as_deref() == Some("ClusterSelectorError")
                && e.involved_object.name.as_deref() == Some("placed")
        }))
    })
    .await?;
    assert!(config_map_data(&three, "default", "placed").await?.is_some());
    Ok(())
}

/// Creates `name`, waits for its copies in every member, deletes it with `options`, and returns whether
/// the copies were kept once the federated object is gone.
async fn delete_with(federation: &Federation, name: &str, options: DeleteParams) -> anyhow::Result<bool> {
    let config_maps = Api::<ConfigMap>::namespaced(federation.client.clone(), "default");
    config_maps
        .create(
            &PostParams::default(),
            &config_map("default", name, &[("k", "v")]),
        )
        .await?;
    for i in 1..=federation.members.len() {
        let member = federation.member(i);
        eventually("copy", || async {
            config_map_data(&member, "default", name).await
        })
        .await?;
    }
    // The finalizers must be in place before the delete, or there is nothing to decide.
    eventually("finalizers", || async {
        let object = config_maps.get(name).await?;
        Ok((object.metadata.finalizers.unwrap_or_default().len() == 2).then_some(()))
    })
    .await?;
    config_maps.delete(name, &options).await?;
    eventually("federated object gone", || async {
        Ok(config_maps.get_opt(name).await?.is_none().then_some(()))
    })
    .await?;
    let mut kept = Vec::new();
    for i in 1..=federation.members.len() {
        kept.push(
            config_map_data(&federation.member(i), "default", name)
                .await?
                .is_some(),
        );
    }
    anyhow::ensure!(
        kept.iter().all(|k| *k == kept[0]),
        "copies kept in some members only: {kept:?}"
    );
    Ok(kept[0])
}

#[tokio::test]
async fn delete_options_decide_whether_copies_go_with_the_federated_object() -> anyhow::Result<()> {
    let federation = Federation::start(2, &[]).await?;
    federation.wait_ready().await?;
    let background = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    assert!(
        !delete_with(&federation, "background", background).await?,
        "Background deletes copies"
    );
    let foreground = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        ..DeleteParams::default()
    };
    assert!(
        !delete_with(&federation, "foreground", foreground).await?,
        "Foreground deletes copies, no hang"
    );
    let orphan = DeleteParams::orphan();
    assert!(
        delete_with(&federation, "orphan", orphan).await?,
        "Orphan keeps copies"
    );
    assert!(
        delete_with(&federation, "no-options", DeleteParams::default()).await?,
        "no options keep copies"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_namespace_cascades_into_members_and_the_federation_only_namespace_stays_home()
-> anyhow::Result<()> {
    let federation = Federation::start(2, &[]).await?;
    federation.wait_ready().await?;
    create_namespace(&federation.client, "doomed").await?;
    let config_maps = Api::<ConfigMap>::namespaced(federation.client.clone(), "doomed");
    config_maps
        .create(
            &PostParams::default(),
            &config_map("doomed", "inside", &[("k", "v")]),
        )
        .await?;
    // Something in the federation-only namespace.
    Api::<ConfigMap>::namespaced(federation.client.clone(), "federation-only")
        .create(
            &PostParams::default(),
            &config_map("federation-only", "private", &[("k", "v")]),
        )
        .await?;
    for i in 1..=2 {
        let member = federation.member(i);
        eventually("copy in the namespace", || async {
            config_map_data(&member, "doomed", "inside").await
        })
        .await?;
    }
    let namespaces = Api::<Namespace>::all(federation.client.clone());
    namespaces.delete("doomed", &DeleteParams::background()).await?;
    eventually("federated namespace gone", || async {
        Ok(namespaces.get_opt("doomed").await?.is_none().then_some(()))
    })
    .await?;
    for i in 1..=2 {
        let member = federation.member(i);
        eventually("member namespace gone", || async {
            let namespace = Api::<Namespace>::all(member.clone()).get_opt("doomed").await?;
            Ok(namespace.is_none().then_some(()))
        })
        .await?;
        assert!(
            Api::<Namespace>::all(member.clone())
                .get_opt("federation-only")
                .await?
                .is_none()
        );
        assert!(
            config_map_data(&member, "federation-only", "private")
                .await
                .ok()
                .flatten()
                .is_none()
        );
    }
    Ok(())
}
