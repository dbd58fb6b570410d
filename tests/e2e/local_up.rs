//! The built `fcp local-up --clusters 3` as a user runs it: kubectl 1.33 against the kubeconfig it writes sees
//! three Ready clusters, a Deployment of 8 with the README's preferences split 4/2/2 across the members and its
//! status rolled up to 8 ready, a ConfigMap in every member, deletion reaching the members, and Ctrl-C
//! (SIGINT) stopping everything with status 0.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::apiserver::{fcp_binary, signal_and_wait};

/// How long anything may take on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(90);

/// A running `fcp local-up`; killed on drop if the test did not stop it.
struct LocalUp {
    child: Child,
    dir: tempfile::TempDir,
}

impl LocalUp {
    fn spawn(clusters: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(dir.path().join("stdout.log")).unwrap();
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let child = Command::new(fcp_binary())
            .args(["local-up", "--clusters", &clusters.to_string()])
            .arg("--dir")
            .arg(dir.path().join("state"))
            .args(["--ready-after", "500ms", "--cluster-monitor-period", "1s"])
            .stdout(stdout)
            .stderr(stderr)
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn fcp local-up");
        Self { child, dir }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("state/kubeconfig")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// Both logs, for a failure message.
    fn logs(&self) -> String {
        format!(
            "--- stdout\n{}\n--- stderr (last 4000 bytes)\n{}",
            self.log("stdout.log"),
            tail(&self.log("stderr.log"), 4000)
        )
    }

    /// kubectl 1.33 with the written kubeconfig: `(success, stdout, stderr)`.
    fn kubectl(&self, args: &[&str]) -> (bool, String, String) {
        let output = Command::new(fcp_testkit::kubectl(33))
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .args(["--request-timeout", "10s"])
            .args(args)
            .output()
            .expect("run kubectl");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// kubectl that must succeed.
    fn kubectl_ok(&self, args: &[&str]) -> String {
        let (ok, stdout, stderr) = self.kubectl(args);
        assert!(ok, "kubectl {args:?} failed: {stderr}\n{}", self.logs());
        stdout
    }

    /// Polls `probe` until it returns `Some`, failing with `what` and the logs at the deadline.
    fn eventually<T>(&mut self, what: &str, mut probe: impl FnMut(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(value) = probe(self) {
                return value;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "fcp local-up exited ({status}) while waiting for {what}\n{}",
                    self.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for LocalUp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut start = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// The `Ready` condition's status of each cluster in a `kubectl get clusters -o json` list.
fn ready_clusters(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|cluster| {
            cluster["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
        .filter_map(|cluster| cluster["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn local_up_three_clusters_split_a_deployment_and_stop_on_ctrl_c() {
    let mut local = LocalUp::spawn(3);
    local.eventually("the kubeconfig", |l| l.kubeconfig().exists().then_some(()));
    assert_eq!(
        file_mode(&local.kubeconfig()),
        0o600,
        "the kubeconfig holds tokens"
    );
    let contexts = local.eventually("the kubeconfig's contexts", |l| {
        let (ok, stdout, _) = l.kubectl(&["config", "get-contexts", "-o", "name"]);
        (ok && stdout.lines().count() == 4).then_some(stdout)
    });
    let mut contexts: Vec<&str> = contexts.lines().collect();
    contexts.sort_unstable();
    assert_eq!(contexts, ["cluster-1", "cluster-2", "cluster-3", "federation"]);

    // Every member joined and healthy.
    local.eventually("three Ready clusters", |l| {
        let (ok, stdout, _) = l.kubectl(&["get", "clusters", "-o", "json"]);
        let mut ready = ready_clusters(&json(&stdout));
        ready.sort_unstable();
        (ok && ready == ["cluster-1", "cluster-2", "cluster-3"]).then_some(())
    });
    let banner = local.log("stdout.log");
    assert!(
        banner.contains("SIMULATED"),
        "the banner says the members are simulated: {banner}"
    );
    assert!(
        banner.contains(&local.kubeconfig().display().to_string()),
        "the banner names the kubeconfig: {banner}"
    );

    // The README's walk-through: 8 replicas, cluster-1 weighted 2, the rest 1.
    local.kubectl_ok(&["create", "deployment", "web", "--image=nginx", "--replicas=8"]);
    local.kubectl_ok(&[
        "annotate",
        "deployment",
        "web",
        r#"federation.kubernetes.io/deployment-preferences={"rebalance":true,"clusters":{"cluster-1":{"weight":2},"*":{"weight":1}}}"#,
    ]);
    for (member, replicas) in [("cluster-1", "4"), ("cluster-2", "2"), ("cluster-3", "2")] {
        local.eventually(&format!("web with {replicas} replicas in {member}"), |l| {
            let (ok, stdout, _) = l.kubectl(&[
                "--context",
                member,
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.spec.replicas}/{.status.readyReplicas}",
            ]);
            (ok && stdout == format!("{replicas}/{replicas}")).then_some(())
        });
    }
    let status = local.eventually("web's status rolled up to 8 ready", |l| {
        let (ok, stdout, _) = l.kubectl(&["get", "deployment", "web", "-o", "json"]);
        let deployment = json(&stdout);
        let status = &deployment["status"];
        (ok && status["readyReplicas"] == 8
            && status["availableReplicas"] == 8
            && status["observedGeneration"] == deployment["metadata"]["generation"])
            .then(|| status.clone())
    });
    assert_eq!(status["replicas"], 8, "{status}");
    assert_eq!(status["updatedReplicas"], 8, "{status}");
    let rollout = local.kubectl_ok(&["rollout", "status", "deployment/web", "--timeout=30s"]);
    assert!(rollout.contains("successfully rolled out"), "{rollout}");
    let events = local.kubectl_ok(&[
        "get",
        "events",
        "--field-selector",
        "involvedObject.name=web",
        "-o",
        "jsonpath={.items[*].reason}",
    ]);
    assert!(
        events.contains("CreateInCluster"),
        "events on the federated deployment: {events}"
    );

    // A ConfigMap reaches every member.
    local.kubectl_ok(&["create", "configmap", "settings", "--from-literal=greeting=hello"]);
    for member in ["cluster-1", "cluster-2", "cluster-3"] {
        local.eventually(&format!("settings in {member}"), |l| {
            let (ok, stdout, _) = l.kubectl(&[
                "--context",
                member,
                "get",
                "configmap",
                "settings",
                "-o",
                "jsonpath={.data.greeting}",
            ]);
            (ok && stdout == "hello").then_some(())
        });
    }

    // Deleting the federated deployment deletes its copies (the default delete options).
    local.kubectl_ok(&["delete", "deployment", "web", "--wait=false"]);
    for member in ["cluster-1", "cluster-2", "cluster-3"] {
        local.eventually(&format!("web gone from {member}"), |l| {
            let (ok, _, stderr) = l.kubectl(&["--context", member, "get", "deployment", "web"]);
            (!ok && stderr.contains("NotFound")).then_some(())
        });
    }
    local.eventually("web gone from the federation", |l| {
        let (ok, _, stderr) = l.kubectl(&["get", "deployment", "web"]);
        (!ok && stderr.contains("NotFound")).then_some(())
    });

    // Ctrl-C stops everything cleanly.
    let Some(exit) = signal_and_wait(&mut local.child, "INT", Duration::from_secs(30)) else {
        panic!(
            "fcp local-up did not stop within 30 s of SIGINT\n{}",
            local.logs()
        );
    };
    assert!(exit.success(), "Ctrl-C exits 0, got {exit}\n{}", local.logs());
    assert!(
        local.log("stdout.log").contains("local federation stopped"),
        "{}",
        local.logs()
    );
    let stderr = local.log("stderr.log");
    for context in ["federation", "cluster-1"] {
        let token_line = std::fs::read_to_string(local.kubeconfig())
            .unwrap()
            .lines()
            .skip_while(|line| !line.contains(&format!("name: {context}-admin")))
            .find_map(|line| line.trim().strip_prefix("token: ").map(str::to_owned))
            .unwrap();
        assert!(
            !stderr.contains(&token_line),
            "the {context} token leaked into the logs"
        );
    }
}
