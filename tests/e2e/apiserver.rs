//! The built `fcp federation-apiserver` as a process: durability across kill -9 on the embedded store, real
//! etcd, graceful shutdown, and one-line errors for bad flags, an unwritable data dir and an unreachable etcd.
//!
//! The binary is `$FCP_BIN`, or `target/debug/fcp` of this workspace (`make test` builds it first).

use std::{
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use fcp_testkit::{etcd::TestEtcd, free_port};
use serde_json::{Value, json};

/// The fcp binary under test.
pub(crate) fn fcp_binary() -> PathBuf {
    let path = std::env::var_os("FCP_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/fcp"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "{} does not exist: run `cargo build -p fcp` first (make test does)",
        path.display()
    );
    path
}

/// A running `fcp federation-apiserver`; killed on drop.
pub(crate) struct Apiserver {
    child: Child,
    pub(crate) base: String,
}

impl Apiserver {
    pub(crate) fn spawn(args: &[&str]) -> Self {
        let port = free_port();
        let child = Command::new(fcp_binary())
            .arg("federation-apiserver")
            .args(["--insecure-port", &port.to_string()])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn fcp");
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, body)) = send(reqwest::Method::GET, &format!("{}/healthz", self.base), None)
                && body == "ok"
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fcp did not become healthy within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill9(mut self) {
        self.child.kill().expect("SIGKILL fcp");
        self.child.wait().expect("reap fcp");
    }
}

impl Drop for Apiserver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blocking HTTP for these process-level tests: one request on a throwaway current-thread runtime.
fn send(method: reqwest::Method, url: &str, body: Option<String>) -> reqwest::Result<(u16, String)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let mut request = reqwest::Client::new()
            .request(method, url)
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await?;
        let code = response.status().as_u16();
        Ok((code, response.text().await?))
    })
}

fn get(base: &str, path: &str) -> (u16, Value) {
    let (code, body) = send(reqwest::Method::GET, &format!("{base}{path}"), None).expect("GET");
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let (code, body) = send(
        reqwest::Method::POST,
        &format!("{base}{path}"),
        Some(body.to_string()),
    )
    .expect("POST");
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn run_fcp(args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new(fcp_binary()).args(args).output().expect("run fcp");
    (output, started.elapsed())
}

/// The one-line error contract: non-zero exit, a single stderr line starting with `error:` that mentions
/// `needle`.
fn assert_one_line_error(output: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!output.status.success(), "expected failure, stderr: {stderr}");
    let errors: Vec<&&str> = lines.iter().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "exactly one error line expected, got: {stderr}");
    assert!(
        errors[0].contains(needle),
        "error line should mention {needle:?}: {stderr}"
    );
}

#[test]
fn an_object_survives_kill_9_on_the_embedded_store_with_the_same_resource_version() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_dir = data_dir.to_str().unwrap();
    let server = Apiserver::spawn(&["--data-dir", data_dir]);
    let collection = "/api/v1/namespaces/default/configmaps";
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (code, body) = post(
            &server.base,
            collection,
            &json!({"metadata": {"name": format!("cm-{i}")}, "data": {"i": i.to_string()}}),
        );
        assert_eq!(code, 201, "{body}");
        acknowledged.push(body);
    }
    server.kill9();

    let server = Apiserver::spawn(&["--data-dir", data_dir]);
    for before in &acknowledged {
        let name = before["metadata"]["name"].as_str().unwrap();
        let (code, after) = get(&server.base, &format!("{collection}/{name}"));
        assert_eq!(code, 200, "{name} lost after kill -9: {after}");
        assert_eq!(
            after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"],
            "{name}"
        );
        assert_eq!(after["metadata"]["uid"], before["metadata"]["uid"], "{name}");
        assert_eq!(after["data"], before["data"], "{name}");
    }
    // Revisions continue after the restart rather than starting over.
    let (code, next) = post(
        &server.base,
        collection,
        &json!({"metadata": {"name": "after-restart"}}),
    );
    assert_eq!(code, 201);
    let last_before: i64 = acknowledged.last().unwrap()["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let first_after: i64 = next["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first_after > last_before, "{first_after} <= {last_before}");
}

#[test]
fn the_binary_serves_from_real_etcd_and_stops_gracefully_on_sigterm() {
    let etcd = TestEtcd::start().unwrap();
    let mut server = Apiserver::spawn(&["--etcd-servers", &etcd.endpoint()]);
    let (code, body) = post(
        &server.base,
        "/apis/apps/v1/namespaces/default/deployments",
        &json!({
            "metadata": {"name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}
        }),
    );
    assert_eq!(code, 201, "{body}");
    let (code, list) = get(&server.base, "/apis/apps/v1/namespaces/default/deployments");
    assert_eq!(code, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // An open watch must not keep the process from stopping.
    let watch_url = format!("{}/api/v1/namespaces/default/configmaps?watch=true", server.base);
    let watcher = std::thread::spawn(move || send(reqwest::Method::GET, &watch_url, None));
    std::thread::sleep(Duration::from_millis(300));
    let sent = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "SIGTERM sent");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "fcp did not exit within 20 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let (code, _) = watcher.join().unwrap().expect("the watch response ended cleanly");
    assert_eq!(code, 200);
}

#[test]
fn bad_flags_an_unwritable_data_dir_and_an_unreachable_etcd_are_one_line_errors() {
    let port = free_port().to_string();
    let (output, _) = run_fcp(&["federation-apiserver", "--insecure-port", &port, "--no-such-flag"]);
    assert_one_line_error(&output, "--no-such-flag");

    let (output, _) = run_fcp(&["federation-apiserver", "--insecure-port", "not-a-port"]);
    assert_one_line_error(&output, "not-a-port");

    let file = tempfile::NamedTempFile::new().unwrap();
    let under_a_file = file.path().join("data");
    let (output, _) = run_fcp(&[
        "federation-apiserver",
        "--insecure-port",
        &port,
        "--data-dir",
        under_a_file.to_str().unwrap(),
    ]);
    assert_one_line_error(&output, under_a_file.to_str().unwrap());

    let dead = format!("http://127.0.0.1:{}", free_port());
    let (output, took) = run_fcp(&[
        "federation-apiserver",
        "--insecure-port",
        &port,
        "--etcd-servers",
        &dead,
    ]);
    assert_one_line_error(&output, &dead);
    assert!(
        took < Duration::from_secs(20),
        "an unreachable etcd is reported within the dial timeout, took {took:?}"
    );
}
