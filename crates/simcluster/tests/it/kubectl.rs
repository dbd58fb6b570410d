//! kubectl sees the simulated cluster like any other.

use std::process::Command;

use super::{
    cluster,
    workloads::{create_deployment, deployment, deployment_ready},
};

/// Runs `kubectl.1.33 <args>` against `server` and returns its stdout.
fn kubectl(dir: &std::path::Path, server: &str, args: &[&str]) -> String {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: {server}\n\
             contexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim\n\
             users:\n- name: sim\n  user: {{}}\ncurrent-context: sim\n"
        ),
    )
    .expect("write the kubeconfig");
    let output = Command::new(fcp_testkit::kubectl(33))
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(args)
        .output()
        .expect("run kubectl");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn kubectl_gets_nodes_and_pods() {
    let sim = cluster("k1", &["--nodes", "2"]).await;
    let client = sim.client();
    create_deployment(&client, &deployment("web", 2)).await;
    deployment_ready(&client, "web", 2, 2).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let server = sim.base_url().to_owned();
    let nodes = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        let server = server.clone();
        move || kubectl(&dir, &server, &["get", "nodes", "-o", "wide"])
    })
    .await
    .expect("kubectl get nodes");
    for node in ["k1-node-0", "k1-node-1"] {
        let line = nodes
            .lines()
            .find(|l| l.starts_with(node))
            .unwrap_or_else(|| panic!("{node} missing from:\n{nodes}"));
        assert!(line.contains(" Ready "), "{line}");
        assert!(line.contains("v1.33.0-sim"), "{line}");
    }
    let pods = tokio::task::spawn_blocking({
        let dir = dir.path().to_owned();
        move || kubectl(&dir, &server, &["get", "pods", "-o", "wide"])
    })
    .await
    .expect("kubectl get pods");
    let running: Vec<&str> = pods.lines().filter(|l| l.starts_with("web-")).collect();
    assert_eq!(running.len(), 2, "{pods}");
    for line in running {
        assert!(line.contains("Running") && line.contains("1/1"), "{line}");
    }
    sim.stop().await.expect("stop");
}
