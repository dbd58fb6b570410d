//! Load-balancer status and Endpoints of Services; kinds that are not simulated cost no writes.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Service};
use kube::{
    Api,
    api::{Patch, PatchParams, PostParams},
};
use serde_json::json;

use super::{
    cluster, eventually, settled,
    workloads::{create_deployment, deployment, deployment_ready},
};

#[tokio::test]
async fn load_balancer_gets_an_ingress_ip_and_endpoints() {
    let sim = cluster("c5", &[]).await;
    let client = sim.client();
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": "web", "labels": {"tier": "front"}},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": "http"},
                {"name": "metrics", "port": 9090}
            ]
        }
    }))
    .expect("a valid service");
    let services = Api::<Service>::namespaced(client.clone(), "default");
    services
        .create(&PostParams::default(), &service)
        .await
        .expect("create the service");
    create_deployment(&client, &deployment("web", 2)).await;
    deployment_ready(&client, "web", 2, 2).await;

    let ip = eventually("a load-balancer ingress IP", || {
        let services = services.clone();
        async move {
            let s = services.get("web").await.map_err(|e| e.to_string())?;
            s.status
                .as_ref()
                .and_then(|s| s.load_balancer.as_ref())
                .and_then(|lb| lb.ingress.as_ref())
                .and_then(|i| i.first())
                .and_then(|i| i.ip.clone())
                .ok_or_else(|| format!("{:?}", s.status))
        }
    })
    .await;
    assert!(ip.starts_with("172."), "{ip}");

    let endpoints = Api::<Endpoints>::namespaced(client.clone(), "default");
    let subset = eventually("endpoints with both pods", || {
        let endpoints = endpoints.clone();
        async move {
            let e = endpoints.get("web").await.map_err(|e| e.to_string())?;
            let subset = e.subsets.clone().unwrap_or_default().into_iter().next();
            match subset {
                Some(s) if s.addresses.as_ref().is_some_and(|a| a.len() == 2) => Ok((e, s)),
                _ => Err(format!("{:?}", e.subsets)),
            }
        }
    })
    .await;
    let (object, subset) = subset;
    assert_eq!(
        object
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("tier"))
            .map(String::as_str),
        Some("front")
    );
    let mut ports: Vec<(Option<String>, i32)> = subset
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone(), p.port))
        .collect();
    ports.sort();
    assert_eq!(
        ports,
        [
            (Some("http".to_owned()), 8080),
            (Some("metrics".to_owned()), 9090)
        ]
    );
    for address in subset.addresses.iter().flatten() {
        assert!(address.ip.starts_with("10."));
        assert!(address.node_name.is_some());
        assert_eq!(
            address.target_ref.as_ref().and_then(|r| r.kind.as_deref()),
            Some("Pod")
        );
    }

    // Scale to zero: the endpoints empty out; the service going takes its endpoints along.
    Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), "default")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 0}})),
        )
        .await
        .expect("scale to 0");
    eventually("empty endpoints", || {
        let endpoints = endpoints.clone();
        async move {
            let e = endpoints.get("web").await.map_err(|e| e.to_string())?;
            if e.subsets.as_ref().is_none_or(Vec::is_empty) {
                Ok(())
            } else {
                Err(format!("{:?}", e.subsets))
            }
        }
    })
    .await;
    services
        .delete("web", &Default::default())
        .await
        .expect("delete the service");
    eventually("the endpoints are deleted", || {
        let endpoints = endpoints.clone();
        async move {
            match endpoints.get_opt("web").await.map_err(|e| e.to_string())? {
                None => Ok(()),
                Some(e) => Err(format!("{e:?}")),
            }
        }
    })
    .await;
    sim.stop().await.expect("stop");
}

#[tokio::test]
async fn kinds_that_are_not_simulated_cost_no_writes() {
    let sim = cluster("c6", &[]).await;
    let client = sim.client();
    let before = settled(&client, Duration::from_millis(600)).await;
    let api = Api::<ConfigMap>::namespaced(client.clone(), "default");
    for i in 0..100 {
        let cm: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": format!("cm-{i}")}, "data": {"k": "v"}}))
                .expect("a valid config map");
        api.create(&PostParams::default(), &cm).await.expect("create");
    }
    let after = settled(&client, Duration::from_millis(600)).await;
    assert_eq!(
        after - before,
        100,
        "one write per config map, none by the simulator"
    );
    sim.stop().await.expect("stop");
}
