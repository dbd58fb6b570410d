//! Pods and status for Deployments, DaemonSets and Jobs, with and without --pod-capacity.

use k8s_openapi::api::{
    apps::v1::{DaemonSet, Deployment},
    batch::v1::Job,
};
use kube::{
    Api, Client, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{cluster, condition, eventually, phase, pods};

/// A Deployment `name` of `replicas` pods labelled `app=<name>`.
pub(crate) fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "web",
                    "image": "nginx:1.27",
                    "ports": [{"name": "http", "containerPort": 8080}]
                }]}
            }
        }
    }))
    .expect("a valid deployment")
}

/// Creates `deployment` in `default`.
pub(crate) async fn create_deployment(client: &Client, deployment: &Deployment) {
    Api::<Deployment>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), deployment)
        .await
        .expect("create the deployment");
}

/// Waits until deployment `name` reports `ready` ready replicas of `replicas`, all updated and
/// available, for its current generation.
pub(crate) async fn deployment_ready(client: &Client, name: &str, replicas: i32, ready: i32) -> Deployment {
    let api = Api::<Deployment>::namespaced(client.clone(), "default");
    eventually(&format!("deployment {name}: {ready} of {replicas} ready"), || {
        let api = api.clone();
        async move {
            let d = api.get(name).await.map_err(|e| e.to_string())?;
            let s = d.status.clone().unwrap_or_default();
            let ok = s.ready_replicas.unwrap_or(0) == ready
                && s.available_replicas.unwrap_or(0) == ready
                && s.replicas.unwrap_or(0) == replicas
                && s.updated_replicas.unwrap_or(0) == replicas
                && s.observed_generation == d.metadata.generation;
            if ok { Ok(d) } else { Err(format!("{s:?}")) }
        }
    })
    .await
}

#[tokio::test]
async fn deployment_becomes_ready_scales_and_goes() {
    let sim = cluster("c1", &[]).await;
    let client = sim.client();
    create_deployment(&client, &deployment("web", 3)).await;
    let web = deployment_ready(&client, "web", 3, 3).await;
    let status = web.status.clone().expect("status");
    let conditions = status.conditions.expect("conditions");
    let available = conditions
        .iter()
        .find(|c| c.type_.as_deref() == Some("Available"))
        .expect("Available");
    assert_eq!(available.status.as_deref(), Some("True"));
    assert_eq!(available.reason.as_deref(), Some("MinimumReplicasAvailable"));
    let progressing = conditions
        .iter()
        .find(|c| c.type_.as_deref() == Some("Progressing"))
        .expect("Progressing");
    assert_eq!(progressing.reason.as_deref(), Some("NewReplicaSetAvailable"));

    let running = pods(&client, "default", "app=web").await;
    assert_eq!(running.len(), 3);
    let mut nodes = std::collections::BTreeSet::new();
    let mut ips = std::collections::BTreeSet::new();
    for pod in &running {
        assert_eq!(phase(pod), "Running", "{}", pod.name_any());
        for type_ in ["Ready", "PodScheduled", "Initialized", "ContainersReady"] {
            assert_eq!(condition(pod, type_).map(|c| c.0), Some("True"), "{type_}");
        }
        assert!(pod.labels().contains_key("pod-template-hash"));
        assert!(pod.name_any().starts_with("web-"));
        let owner = &pod.owner_references()[0];
        assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Deployment", "web"));
        assert_eq!(Some(owner.uid.clone()), web.uid());
        nodes.insert(
            pod.spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .expect("nodeName"),
        );
        ips.insert(pod.status.as_ref().and_then(|s| s.pod_ip.clone()).expect("podIP"));
    }
    assert_eq!(nodes.len(), 3, "round-robin over the 3 nodes");
    assert_eq!(ips.len(), 3, "distinct pod IPs");

    let api = Api::<Deployment>::namespaced(client.clone(), "default");
    api.patch(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale to 1");
    deployment_ready(&client, "web", 1, 1).await;
    eventually("one pod left", || {
        let client = client.clone();
        async move {
            let left = pods(&client, "default", "app=web").await;
            if left.len() == 1 {
                Ok(())
            } else {
                Err(format!("{} pods", left.len()))
            }
        }
    })
    .await;

    api.delete("web", &Default::default()).await.expect("delete");
    eventually("the deployment's pods are deleted", || {
        let client = client.clone();
        async move {
            let left = pods(&client, "default", "app=web").await;
            if left.is_empty() {
                Ok(())
            } else {
                Err(format!("{} pods", left.len()))
            }
        }
    })
    .await;
    sim.stop().await.expect("stop");
}

#[tokio::test]
async fn pods_beyond_capacity_stay_pending_and_unschedulable() {
    let sim = cluster("c2", &["--pod-capacity", "2"]).await;
    let client = sim.client();
    create_deployment(&client, &deployment("big", 4)).await;
    deployment_ready(&client, "big", 4, 2).await;
    let all = eventually("2 running and 2 unschedulable pods", || {
        let client = client.clone();
        async move {
            let all = pods(&client, "default", "app=big").await;
            let running = all.iter().filter(|p| phase(p) == "Running").count();
            let unschedulable = all
                .iter()
                .filter(|p| condition(p, "PodScheduled") == Some(("False", Some("Unschedulable"))))
                .count();
            if all.len() == 4 && running == 2 && unschedulable == 2 {
                Ok(all)
            } else {
                Err(format!(
                    "{} pods, {running} running, {unschedulable} unschedulable",
                    all.len()
                ))
            }
        }
    })
    .await;
    for pod in all.iter().filter(|p| phase(p) != "Running") {
        assert_eq!(phase(pod), "Pending");
        assert!(pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none());
        let scheduled = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
            .expect("PodScheduled");
        assert!(scheduled.last_transition_time.is_some());
        assert!(
            scheduled
                .message
                .as_deref()
                .is_some_and(|m| m.contains("Too many pods"))
        );
    }
    // Scaling down removes the pending pods first; scaling the deployment away frees capacity for another.
    let api = Api::<Deployment>::namespaced(client.clone(), "default");
    api.patch(
        "big",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 2}})),
    )
    .await
    .expect("scale to 2");
    deployment_ready(&client, "big", 2, 2).await;
    create_deployment(&client, &deployment("late", 1)).await;
    deployment_ready(&client, "late", 1, 0).await;
    api.patch(
        "big",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 1}})),
    )
    .await
    .expect("scale to 1");
    deployment_ready(&client, "late", 1, 1).await;
    sim.stop().await.expect("stop");
}

#[tokio::test]
async fn daemonset_runs_one_pod_per_node() {
    let sim = cluster("c3", &["--nodes", "2"]).await;
    let client = sim.client();
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "busybox"}]}
            }
        }
    }))
    .expect("a valid daemon set");
    let api = Api::<DaemonSet>::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &ds).await.expect("create");
    eventually("the daemon set is ready on both nodes", || {
        let api = api.clone();
        async move {
            let ds = api.get("agent").await.map_err(|e| e.to_string())?;
            let s = ds.status.clone().unwrap_or_default();
            if s.desired_number_scheduled == 2
                && s.current_number_scheduled == 2
                && s.number_ready == 2
                && s.number_available == Some(2)
                && s.updated_number_scheduled == Some(2)
                && s.observed_generation == ds.metadata.generation
            {
                Ok(())
            } else {
                Err(format!("{s:?}"))
            }
        }
    })
    .await;
    let running = pods(&client, "default", "app=agent").await;
    let nodes: std::collections::BTreeSet<_> = running
        .iter()
        .filter_map(|p| p.spec.as_ref().and_then(|s| s.node_name.clone()))
        .collect();
    assert_eq!(running.len(), 2);
    assert_eq!(nodes.len(), 2);
    sim.stop().await.expect("stop");
}

#[tokio::test]
async fn job_runs_to_completion() {
    let sim = cluster("c4", &[]).await;
    let client = sim.client();
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "batch"},
        "spec": {
            "parallelism": 2,
            "completions": 3,
            "template": {
                "metadata": {"labels": {"app": "batch"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "j", "image": "busybox"}]}
            }
        }
    }))
    .expect("a valid job");
    let api = Api::<Job>::namespaced(client.clone(), "default");
    api.create(&PostParams::default(), &job).await.expect("create");
    eventually("the job completes", || {
        let api = api.clone();
        async move {
            let job = api.get("batch").await.map_err(|e| e.to_string())?;
            let s = job.status.unwrap_or_default();
            let complete = s
                .conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "Complete" && c.status == "True");
            if complete && s.succeeded == Some(3) && s.active.is_none() && s.completion_time.is_some() {
                Ok(())
            } else {
                Err(format!("{s:?}"))
            }
        }
    })
    .await;
    let done = pods(&client, "default", "app=batch").await;
    assert_eq!(done.len(), 3);
    assert!(done.iter().all(|p| phase(p) == "Succeeded"));
    sim.stop().await.expect("stop");
}
