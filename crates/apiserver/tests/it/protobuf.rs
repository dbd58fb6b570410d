//! kubectl's create generators against the apiserver: kubectl 1.33 sends protobuf bodies, kubectl 1.27 sends
//! JSON for the same commands. Both must create the same objects (read back with `kubectl get -o json`).
//!
//! Needs the versioned kubectl binaries beside the kubectl dispatcher on PATH; fails (never skips) without them.

use std::path::{Path, PathBuf};

use fcp_testkit::apiserver::TestApiServer;
use serde_json::{Value, json};

/// `kubectl.1.<minor>` (see [`fcp_testkit::kubectl`]).
fn kubectl_binary(minor: u32) -> PathBuf {
    fcp_testkit::kubectl(minor)
}

struct Kubectl {
    binary: PathBuf,
    server: String,
    cache: tempfile::TempDir,
}

impl Kubectl {
    fn new(minor: u32, server: &str) -> Self {
        Self {
            binary: kubectl_binary(minor),
            server: server.to_owned(),
            cache: tempfile::tempdir().unwrap(),
        }
    }

    /// Runs kubectl and returns its stdout; a failure fails the test with kubectl's output.
    async fn run(&self, args: &[&str]) -> String {
        let output = tokio::process::Command::new(&self.binary)
            .arg(format!("--server={}", self.server))
            .arg(format!("--cache-dir={}", self.cache.path().display()))
            .args(args)
            .env("KUBECONFIG", "/dev/null")
            .output()
            .await
            .expect("run kubectl");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{} {args:?} failed:\n{stdout}\n{}",
            self.binary.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    async fn get(&self, args: &[&str]) -> Value {
        let mut all = vec!["get", "-o", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.run(&all).await).unwrap()
    }
}

/// Creates the same objects with `kubectl` in namespace `ns`; cluster-scoped names end in `-{ns}`.
async fn create_all(kubectl: &Kubectl, ns: &str, binary_file: &Path) {
    let binary_file = format!("bin={}", binary_file.display());
    let cr = format!("reader-{ns}");
    let crb = format!("readers-{ns}");
    let commands: Vec<Vec<&str>> = vec![
        vec!["create", "namespace", ns],
        vec![
            "-n",
            ns,
            "create",
            "configmap",
            "cm",
            "--from-literal=a=b",
            "--from-file",
            &binary_file,
        ],
        vec![
            "-n",
            ns,
            "create",
            "secret",
            "generic",
            "sec",
            "--from-literal=user=admin",
            "--from-literal=empty=",
        ],
        vec![
            "-n",
            ns,
            "create",
            "deployment",
            "web",
            "--image=nginx",
            "--replicas=0",
            "--port=80",
        ],
        vec![
            "-n",
            ns,
            "create",
            "deployment",
            "cmd",
            "--image=busybox",
            "--",
            "sleep",
            "10",
        ],
        vec![
            "-n",
            ns,
            "create",
            "service",
            "clusterip",
            "svc",
            "--tcp=80:8080",
            "--tcp=443:https",
        ],
        vec![
            "-n",
            ns,
            "create",
            "job",
            "job",
            "--image=busybox",
            "--",
            "echo",
            "hi",
        ],
        vec![
            "-n",
            ns,
            "create",
            "ingress",
            "ing",
            "--class=nginx",
            "--rule=foo.com/bar*=svc:80,tls=tls-secret",
            "--rule=/=svc:https",
            "--annotation=a=b",
        ],
        vec![
            "-n",
            ns,
            "create",
            "role",
            "role",
            "--verb=get,list",
            "--resource=configmaps,deployments.apps",
        ],
        vec![
            "-n",
            ns,
            "create",
            "rolebinding",
            "rb",
            "--role=role",
            "--user=u",
            "--serviceaccount=default:sa",
        ],
        vec![
            "create",
            "clusterrole",
            &cr,
            "--verb=get",
            "--resource=configmaps",
            "--non-resource-url=/logs",
        ],
        vec![
            "create",
            "clusterrolebinding",
            &crb,
            "--clusterrole",
            &cr,
            "--user=u",
            "--group=g",
        ],
        vec![
            "-n",
            ns,
            "autoscale",
            "deployment",
            "web",
            "--min=1",
            "--max=3",
            "--cpu-percent=50",
        ],
    ];
    for args in commands {
        kubectl.run(&args).await;
    }
}

/// The fields the server sets differently on each create, or that name the object's own namespace or name.
fn normalize(mut object: Value) -> Value {
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "managedFields",
            "namespace",
            "name",
            "selfLink",
        ] {
            meta.remove(key);
        }
        if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
            labels.remove("kubernetes.io/metadata.name");
        }
    }
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        for key in ["clusterIP", "clusterIPs"] {
            spec.remove(key);
        }
    }
    if object["roleRef"]["kind"] == "ClusterRole" {
        object["roleRef"]["name"] = json!("<name>");
    }
    // A Job's selector and labels carry its uid.
    strip_uid_labels(&mut object);
    object
}

fn strip_uid_labels(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.ends_with("controller-uid"));
            map.values_mut().for_each(strip_uid_labels);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_uid_labels),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_33_protobuf_creates_equal_kubectl_1_27_json_creates() {
    let server = TestApiServer::embedded().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let binary_file = dir.path().join("blob");
    std::fs::write(&binary_file, [0u8, 1, 2, 0xff, 0xfe, b'k', b'8', b's', 0]).unwrap();
    let new = Kubectl::new(33, server.base_url());
    let old = Kubectl::new(27, server.base_url());
    create_all(&new, "pb", &binary_file).await;
    create_all(&old, "js", &binary_file).await;

    // What kubectl 1.33 created (through protobuf), field by field.
    let get = |args: &'static [&'static str]| new.get(args);
    let cm = get(&["-n", "pb", "configmap", "cm"]).await;
    assert_eq!(cm["data"], json!({"a": "b"}));
    assert_eq!(cm["binaryData"], json!({"bin": "AAEC//5rOHMA"}));
    let secret = get(&["-n", "pb", "secret", "sec"]).await;
    assert_eq!(secret["data"], json!({"user": "YWRtaW4=", "empty": ""}));
    let deployment = get(&["-n", "pb", "deployment", "web"]).await;
    assert_eq!(
        deployment["spec"]["replicas"], 0,
        "replicas: 0 is a pointer set to zero: {deployment}"
    );
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(
        deployment["spec"]["selector"],
        json!({"matchLabels": {"app": "web"}})
    );
    let cmd = get(&["-n", "pb", "deployment", "cmd"]).await;
    assert_eq!(
        cmd["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["sleep", "10"])
    );
    let service = get(&["-n", "pb", "service", "svc"]).await;
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(service["spec"]["ports"][1]["targetPort"], "https");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    let job = get(&["-n", "pb", "job", "job"]).await;
    assert_eq!(
        job["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["echo", "hi"])
    );
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    let ingress = get(&["-n", "pb", "ingress", "ing"]).await;
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ingress["spec"]["tls"],
        json!([{"hosts": ["foo.com"], "secretName": "tls-secret"}])
    );
    let path = &ingress["spec"]["rules"][0]["http"]["paths"][0];
    assert_eq!(path["pathType"], "Prefix");
    assert_eq!(
        path["backend"]["service"],
        json!({"name": "svc", "port": {"number": 80}})
    );
    assert_eq!(
        ingress["spec"]["rules"][1]["http"]["paths"][0]["backend"]["service"]["port"],
        json!({"name": "https"})
    );
    let role = get(&["-n", "pb", "role", "role"]).await;
    assert_eq!(role["rules"][0]["verbs"], json!(["get", "list"]));
    let rb = get(&["-n", "pb", "rolebinding", "rb"]).await;
    assert_eq!(rb["subjects"].as_array().map(Vec::len), Some(2), "{rb}");
    let cr = get(&["clusterrole", "reader-pb"]).await;
    assert_eq!(cr["rules"][1]["nonResourceURLs"], json!(["/logs"]));
    let crb = get(&["clusterrolebinding", "readers-pb"]).await;
    assert_eq!(crb["roleRef"]["name"], "reader-pb");
    let hpa = get(&["-n", "pb", "hpa", "web"]).await;
    assert_eq!(hpa["spec"]["maxReplicas"], 3);
    assert_eq!(hpa["spec"]["minReplicas"], 1);
    let ns = get(&["namespace", "pb"]).await;
    assert_eq!(ns["status"]["phase"], "Active");

    // Everything equals what kubectl 1.27 created through JSON.
    let pairs: &[(&[&str], &[&str])] = &[
        (&["namespace", "pb"], &["namespace", "js"]),
        (&["clusterrole", "reader-pb"], &["clusterrole", "reader-js"]),
        (
            &["clusterrolebinding", "readers-pb"],
            &["clusterrolebinding", "readers-js"],
        ),
    ];
    let namespaced = [
        "configmap/cm",
        "secret/sec",
        "deployment/web",
        "deployment/cmd",
        "service/svc",
        "job/job",
        "ingress/ing",
        "role/role",
        "rolebinding/rb",
        "hpa/web",
    ];
    let mut compared = Vec::new();
    for (a, b) in pairs {
        compared.push((new.get(a).await, new.get(b).await, format!("{a:?}")));
    }
    for object in namespaced {
        let a = new.get(&["-n", "pb", object]).await;
        let b = new.get(&["-n", "js", object]).await;
        compared.push((a, b, object.to_owned()));
    }
    for (protobuf, json, what) in compared {
        assert_eq!(
            normalize(protobuf.clone()),
            normalize(json.clone()),
            "{what}: created from protobuf (kubectl 1.33)\n{}\nfrom JSON (kubectl 1.27)\n{}",
            serde_json::to_string_pretty(&protobuf).unwrap(),
            serde_json::to_string_pretty(&json).unwrap()
        );
    }
    server.stop().await.unwrap();
}
