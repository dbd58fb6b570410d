//! PATCH over HTTP: JSON patch, merge patch, strategic merge patch, server-side apply and managedFields, with
//! raw requests and with the real kubectl (1.33 and 1.27; those tests fail when kubectl is missing).

use std::{path::PathBuf, process::Command};

use fcp_testkit::apiserver::TestApiServer;
use serde_json::{Value, json};

use crate::client::{Client, Reply};

const CM: &str = "/api/v1/namespaces/default/configmaps";
const SVC: &str = "/api/v1/namespaces/default/services";
const DEPLOY: &str = "/apis/apps/v1/namespaces/default/deployments";

async fn patch(client: &Client, path: &str, content_type: &str, body: &Value) -> Reply {
    client
        .send(
            "PATCH",
            path,
            Some(content_type),
            Some(body.to_string().into_bytes()),
        )
        .await
}

async fn apply(client: &Client, path: &str, query: &str, body: &str) -> Reply {
    client
        .send(
            "PATCH",
            &format!("{path}?{query}"),
            Some("application/apply-patch+yaml"),
            Some(body.as_bytes().to_vec()),
        )
        .await
}

fn deployment(name: &str, replicas: i64, containers: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}
        }
    })
}

fn container_names(object: &Value) -> Vec<String> {
    object["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn json_patch_with_go_semantics() {
    let server = TestApiServer::embedded().await.unwrap();
    let client = Client::new(server.base_url());
    let created = client
        .post(CM, &json!({"metadata": {"name": "jp"}, "data": {"a": "1"}}))
        .await;
    assert_eq!(created.code, 201, "{}", created.body);
    let path = format!("{CM}/jp");

    // kube-rs's finalizer(): test that the absent list is null, then add it.
    let add = json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/x"]}
    ]);
    let reply = patch(&client, &path, "application/json-patch+json", &add).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert_eq!(reply.body["metadata"]["finalizers"], json!(["example.com/x"]));

    // The same patch again: the test fails now.
    let reply = patch(&client, &path, "application/json-patch+json", &add).await;
    reply.assert_status(422, "Invalid");
    assert_eq!(
        reply.body["message"],
        "the server rejected our request due to an error in our request"
    );

    // Removal by index after a test, as the helper does.
    let remove = json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "example.com/x"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
        {"op": "replace", "path": "/data/a", "value": "2"},
        {"op": "add", "path": "/data/b", "value": "3"}
    ]);
    let reply = patch(&client, &path, "application/json-patch+json", &remove).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert!(
        reply.body["metadata"].get("finalizers").is_none(),
        "{}",
        reply.body
    );
    assert_eq!(reply.body["data"], json!({"a": "2", "b": "3"}));

    // remove of a missing key fails; a malformed document is a 400.
    let reply = patch(
        &client,
        &path,
        "application/json-patch+json",
        &json!([{"op": "remove", "path": "/data/nope"}]),
    )
    .await;
    reply.assert_status(422, "Invalid");
    let reply = patch(
        &client,
        &path,
        "application/json-patch+json",
        &json!({"op": "add"}),
    )
    .await;
    reply.assert_status(400, "BadRequest");
    // force is only for apply.
    let reply = client
        .send(
            "PATCH",
            &format!("{path}?force=true"),
            Some("application/merge-patch+json"),
            Some(b"{}".to_vec()),
        )
        .await;
    reply.assert_status(422, "Invalid");
    assert_eq!(
        reply.body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn strategic_merge_patch_merges_by_keys() {
    let server = TestApiServer::embedded().await.unwrap();
    let client = Client::new(server.base_url());

    // The Python e2e expectation: a Service port patch merges to two ports.
    let svc = json!({"metadata": {"name": "s"}, "spec": {"selector": {"app": "s"}, "ports": [{"port": 80, "targetPort": 80, "name": "main"}]}});
    assert_eq!(client.post(SVC, &svc).await.code, 201);
    let reply = patch(
        &client,
        &format!("{SVC}/s"),
        "application/strategic-merge-patch+json",
        &json!({"spec": {"ports": [{"port": 8080, "targetPort": 8080, "name": "alt"}]}}),
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    let ports: Vec<i64> = reply.body["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["port"].as_i64().unwrap())
        .collect();
    assert_eq!(ports.len(), 2, "{}", reply.body);
    assert!(ports.contains(&80) && ports.contains(&8080));

    // kubectl client-side apply: $setElementOrder, $retainKeys and a $patch: delete item.
    let containers =
        json!([{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}, {"name": "c", "image": "c:1"}]);
    let created = client.post(DEPLOY, &deployment("web", 1, &containers)).await;
    assert_eq!(created.code, 201, "{}", created.body);
    let csa = json!({
        "spec": {
            "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
            "template": {"spec": {
                "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                "containers": [{"name": "a", "image": "a:2"}, {"$patch": "delete", "name": "b"}]
            }}
        }
    });
    let reply = patch(
        &client,
        &format!("{DEPLOY}/web"),
        "application/strategic-merge-patch+json",
        &csa,
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert_eq!(container_names(&reply.body), ["c", "a"]);
    assert_eq!(
        reply.body["spec"]["template"]["spec"]["containers"][1]["image"],
        "a:2"
    );
    assert_eq!(reply.body["spec"]["strategy"], json!({"type": "Recreate"}));
    assert!(!reply.body.to_string().contains('$'), "{}", reply.body);

    // Finalizers merge as a set.
    let reply = patch(
        &client,
        &format!("{DEPLOY}/web"),
        "application/strategic-merge-patch+json",
        &json!({"metadata": {"finalizers": ["x/y"]}}),
    )
    .await;
    assert_eq!(reply.body["metadata"]["finalizers"], json!(["x/y"]));
    let reply = patch(
        &client,
        &format!("{DEPLOY}/web"),
        "application/strategic-merge-patch+json",
        &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x/y"]}}),
    )
    .await;
    assert!(
        reply.body["metadata"].get("finalizers").is_none(),
        "{}",
        reply.body
    );

    // The federation Cluster kind has no strategic merge (kubectl sends merge patches for it).
    let reply = patch(
        &client,
        "/apis/federation/v1beta1/clusters/c",
        "application/strategic-merge-patch+json",
        &json!({}),
    )
    .await;
    reply.assert_status(415, "UnsupportedMediaType");
    // A malformed strategic merge patch is a 400.
    let reply = patch(
        &client,
        &format!("{DEPLOY}/web"),
        "application/strategic-merge-patch+json",
        &json!({"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}),
    )
    .await;
    reply.assert_status(400, "BadRequest");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn server_side_apply_creates_updates_conflicts_and_forces() {
    let server = TestApiServer::embedded().await.unwrap();
    let client = Client::new(server.base_url());
    let path = format!("{DEPLOY}/ssa");
    let yaml = |replicas: i64, image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\nspec:\n  replicas: {replicas}\n  selector:\n    matchLabels: {{app: ssa}}\n  template:\n    metadata:\n      labels: {{app: ssa}}\n    spec:\n      containers:\n      - name: c\n        image: {image}\n"
        )
    };

    // fieldManager is required.
    let reply = apply(&client, &path, "", &yaml(1, "nginx")).await;
    reply.assert_status(422, "Invalid");
    assert_eq!(
        reply.body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );

    // Create (201), with an Apply entry.
    let reply = apply(&client, &path, "fieldManager=mgr", &yaml(1, "nginx")).await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    let managed = &reply.body["metadata"]["managedFields"];
    assert_eq!(managed[0]["manager"], "mgr", "{managed}");
    assert_eq!(managed[0]["operation"], "Apply");
    assert_eq!(managed[0]["fieldsType"], "FieldsV1");
    assert!(
        managed[0]["fieldsV1"]["f:spec"]["f:replicas"].is_object(),
        "{managed}"
    );
    assert!(reply.body["metadata"]["uid"].is_string());

    // Update by the same manager (200).
    let reply = apply(&client, &path, "fieldManager=mgr", &yaml(2, "nginx:2")).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert_eq!(reply.body["spec"]["replicas"], 2);

    // Another manager changing replicas conflicts.
    let other = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\nspec:\n  replicas: 5\n";
    let reply = apply(&client, &path, "fieldManager=other&force=false", other).await;
    reply.assert_status(409, "Conflict");
    assert_eq!(
        reply.body["message"],
        "Apply failed with 1 conflict: conflict with \"mgr\": .spec.replicas"
    );
    assert_eq!(
        reply.body["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": "conflict with \"mgr\"", "field": ".spec.replicas"}])
    );

    // A merge patch by an Update manager takes the field; the applier then conflicts with it.
    let reply = client
        .send(
            "PATCH",
            &format!("{path}?fieldManager=scaler"),
            Some("application/merge-patch+json"),
            Some(br#"{"spec":{"replicas":3}}"#.to_vec()),
        )
        .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    let reply = apply(&client, &path, "fieldManager=mgr", &yaml(2, "nginx:2")).await;
    reply.assert_status(409, "Conflict");
    assert_eq!(
        reply.body["details"]["causes"][0]["message"],
        "conflict with \"scaler\" using apps/v1"
    );

    // force=true takes it.
    let reply = apply(&client, &path, "fieldManager=other&force=true", other).await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert_eq!(reply.body["spec"]["replicas"], 5);
    let managers: Vec<&str> = reply.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert!(
        managers.contains(&"other") && managers.contains(&"mgr"),
        "{managers:?}"
    );

    // mgr stops applying the image's container field... and its label: they go.
    let reply = apply(
        &client,
        &path,
        "fieldManager=mgr",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\n  labels: {team: a}\nspec:\n  selector:\n    matchLabels: {app: ssa}\n  template:\n    metadata:\n      labels: {app: ssa}\n    spec:\n      containers:\n      - name: c\n        image: nginx:2\n",
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert_eq!(reply.body["metadata"]["labels"], json!({"team": "a"}));
    let reply = apply(
        &client,
        &path,
        "fieldManager=mgr",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ssa\nspec:\n  selector:\n    matchLabels: {app: ssa}\n  template:\n    metadata:\n      labels: {app: ssa}\n    spec:\n      containers:\n      - name: c\n        image: nginx:2\n",
    )
    .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    assert!(reply.body["metadata"].get("labels").is_none(), "{}", reply.body);
    // replicas is still owned by "other".
    assert_eq!(reply.body["spec"]["replicas"], 5);

    // A kind/name mismatch is a 400; SSA works on the federation Cluster kind too.
    let reply = apply(
        &client,
        &path,
        "fieldManager=mgr",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n",
    )
    .await;
    reply.assert_status(400, "BadRequest");
    server.stop().await.unwrap();
}

#[tokio::test]
async fn non_apply_writes_record_update_entries() {
    let server = TestApiServer::embedded().await.unwrap();
    let client = Client::new(server.base_url());
    let reply = client
        .send(
            "POST",
            &format!("{CM}?fieldManager=creator"),
            Some("application/json"),
            Some(
                json!({"metadata": {"name": "mf"}, "data": {"a": "1"}})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(reply.code, 201, "{}", reply.body);
    let managed = &reply.body["metadata"]["managedFields"];
    assert_eq!(managed[0]["manager"], "creator", "{}", reply.body);
    assert_eq!(managed[0]["operation"], "Update");
    assert_eq!(managed[0]["apiVersion"], "v1");
    assert_eq!(managed[0]["fieldsV1"], json!({"f:data": {".": {}, "f:a": {}}}));

    // A PUT without managedFields keeps them and records the writer (User-Agent product by default).
    let mut body = reply.body.clone();
    body["metadata"].as_object_mut().unwrap().remove("managedFields");
    body["data"]["b"] = json!("2");
    let reply = client
        .send(
            "PUT",
            &format!("{CM}/mf"),
            Some("application/json"),
            Some(body.to_string().into_bytes()),
        )
        .await;
    assert_eq!(reply.code, 200, "{}", reply.body);
    let managers: Vec<&str> = reply.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers.len(), 2, "{}", reply.body);
    assert_eq!(managers[0], "creator");
    // An over-long fieldManager is rejected.
    let long = "m".repeat(129);
    let reply = client
        .send(
            "POST",
            &format!("{CM}?fieldManager={long}"),
            Some("application/json"),
            Some(json!({"metadata": {"name": "mf2"}}).to_string().into_bytes()),
        )
        .await;
    reply.assert_status(422, "Invalid");
    server.stop().await.unwrap();
}

/// `kubectl.1.<minor>` (see [`fcp_testkit::kubectl`]).
fn kubectl(minor: u32) -> PathBuf {
    fcp_testkit::kubectl(minor)
}

/// Runs kubectl against `server`; returns (success, stdout + stderr).
fn run(kubectl: &PathBuf, server: &str, cache: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(kubectl)
        .arg(format!("--server={server}"))
        .arg(format!("--cache-dir={}", cache.display()))
        .arg("--kubeconfig=/dev/null")
        .args(args)
        .output()
        .expect("run kubectl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

async fn kubectl_patch_and_apply(minor: u32) {
    let kubectl = kubectl(minor);
    let server = TestApiServer::embedded().await.unwrap();
    let base = server.base_url().to_owned();
    let client = Client::new(&base);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let kubectl_ok = |args: Vec<String>| {
        let (kubectl, base, cache) = (kubectl.clone(), base.clone(), cache.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                run(&kubectl, &base, &cache, &args)
            })
            .await
            .unwrap()
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    assert_eq!(
        client
            .post(CM, &json!({"metadata": {"name": "k"}, "data": {"a": "1"}}))
            .await
            .code,
        201
    );
    for (kind, patch) in [
        ("json", r#"[{"op":"add","path":"/data/j","value":"1"}]"#),
        ("merge", r#"{"data":{"m":"1"}}"#),
        ("strategic", r#"{"data":{"s":"1"}}"#),
    ] {
        let (ok, out) = kubectl_ok(args(&[
            "-n",
            "default",
            "patch",
            "configmap",
            "k",
            "--type",
            kind,
            "-p",
            patch,
        ]))
        .await;
        assert!(ok, "kubectl 1.{minor} patch --type={kind}: {out}");
    }
    let cm = client.get(&format!("{CM}/k")).await;
    assert_eq!(cm.body["data"], json!({"a": "1", "j": "1", "m": "1", "s": "1"}));

    // Client-side apply twice: the second changes a value and drops a key.
    let file = dir.path().join("cm.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\n  namespace: default\ndata:\n  a: \"1\"\n  b: \"2\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap().to_owned();
    let (ok, out) = kubectl_ok(args(&["apply", "--validate=false", "-f", &f])).await;
    assert!(ok, "kubectl 1.{minor} apply: {out}");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: csa\n  namespace: default\ndata:\n  a: \"9\"\n",
    )
    .unwrap();
    let (ok, out) = kubectl_ok(args(&["apply", "--validate=false", "-f", &f])).await;
    assert!(ok, "kubectl 1.{minor} apply (2nd): {out}");
    let csa = client.get(&format!("{CM}/csa")).await;
    assert_eq!(csa.body["data"], json!({"a": "9"}), "{}", csa.body);

    // Client-side apply of a Deployment twice (strategic merge patch with directives).
    let deploy = dir.path().join("deploy.yaml");
    let deploy_yaml = |image: &str, sidecar: bool| {
        let mut y = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: default\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: main\n        image: {image}\n        env:\n        - {{name: A, value: \"1\"}}\n"
        );
        if sidecar {
            y.push_str("      - name: side\n        image: busybox\n");
        }
        y
    };
    std::fs::write(&deploy, deploy_yaml("nginx:1", true)).unwrap();
    let d = deploy.to_str().unwrap().to_owned();
    let (ok, out) = kubectl_ok(args(&["apply", "--validate=false", "-f", &d])).await;
    assert!(ok, "kubectl 1.{minor} apply deployment: {out}");
    std::fs::write(&deploy, deploy_yaml("nginx:2", false)).unwrap();
    let (ok, out) = kubectl_ok(args(&["apply", "--validate=false", "-f", &d])).await;
    assert!(ok, "kubectl 1.{minor} apply deployment (2nd): {out}");
    let web = client.get(&format!("{DEPLOY}/web")).await;
    assert_eq!(container_names(&web.body), ["main"], "{}", web.body);
    assert_eq!(
        web.body["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:2"
    );

    // Server-side apply twice, then a conflicting manager, then force.
    let ssa = dir.path().join("ssa.yaml");
    std::fs::write(
        &ssa,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: default\ndata:\n  a: \"1\"\n",
    )
    .unwrap();
    let s = ssa.to_str().unwrap().to_owned();
    let (ok, out) = kubectl_ok(args(&["apply", "--server-side", "--validate=false", "-f", &s])).await;
    assert!(ok, "kubectl 1.{minor} apply --server-side: {out}");
    std::fs::write(
        &ssa,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: default\ndata:\n  a: \"2\"\n",
    )
    .unwrap();
    let (ok, out) = kubectl_ok(args(&["apply", "--server-side", "--validate=false", "-f", &s])).await;
    assert!(ok, "kubectl 1.{minor} apply --server-side (2nd): {out}");
    assert_eq!(
        client.get(&format!("{CM}/ssa")).await.body["data"],
        json!({"a": "2"})
    );
    std::fs::write(
        &ssa,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n  namespace: default\ndata:\n  a: \"3\"\n",
    )
    .unwrap();
    let (ok, out) = kubectl_ok(args(&[
        "apply",
        "--server-side",
        "--validate=false",
        "--field-manager=other",
        "-f",
        &s,
    ]))
    .await;
    assert!(!ok, "a conflicting apply must fail: {out}");
    assert!(out.contains("conflict"), "kubectl 1.{minor}: {out}");
    let (ok, out) = kubectl_ok(args(&[
        "apply",
        "--server-side",
        "--validate=false",
        "--field-manager=other",
        "--force-conflicts",
        "-f",
        &s,
    ]))
    .await;
    assert!(ok, "kubectl 1.{minor} apply --force-conflicts: {out}");
    assert_eq!(
        client.get(&format!("{CM}/ssa")).await.body["data"],
        json!({"a": "3"})
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn kubectl_1_33_patch_and_apply() {
    kubectl_patch_and_apply(33).await;
}

#[tokio::test]
async fn kubectl_1_27_patch_and_apply() {
    kubectl_patch_and_apply(27).await;
}
