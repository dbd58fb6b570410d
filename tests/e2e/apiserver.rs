//! The built `fcp federation-apiserver` as a process: durability across kill -9 on the embedded store, real
//! etcd, graceful shutdown, and one-line errors for bad flags, an unwritable data dir and an unreachable etcd.
//!
//! The binary is `$FCP_BIN`, or `target/debug/fcp` of this workspace (`make test` builds it first).

use std::{
    path::PathBuf,
    process::{Child, Command, ExitStatus, Output, Stdio},
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
            .args(if args.iter().any(|a| a.starts_with("--secure-port")) {
                &[][..]
            } else {
                &["--secure-port", "0"][..]
            })
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
    let status = signal_and_wait(&mut server.child, "TERM", Duration::from_secs(20))
        .expect("fcp did not exit within 20 s of SIGTERM");
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
        "--secure-port",
        "0",
        "--data-dir",
        under_a_file.to_str().unwrap(),
    ]);
    assert_one_line_error(&output, under_a_file.to_str().unwrap());

    let dead = format!("http://127.0.0.1:{}", free_port());
    let (output, took) = run_fcp(&[
        "federation-apiserver",
        "--insecure-port",
        &port,
        "--secure-port",
        "0",
        "--etcd-servers",
        &dead,
    ]);
    assert_one_line_error(&output, &dead);
    assert!(
        took < Duration::from_secs(20),
        "an unreachable etcd is reported within the dial timeout, took {took:?}"
    );
}

/// The binary secure by default: HTTPS with a generated certificate (reused on restart), 401 without
/// credentials, a token from `--token-auth-file` in system:masters works with curl, one audit line per
/// mutating request naming user, verb, resource and code, and no token or secret value in the logs.
#[test]
fn secure_by_default_with_audit_lines_and_no_secrets_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "S3cr3tT0ken-e2e,admin,1,\"system:masters\"\n").unwrap();
    let log = dir.path().join("stderr.log");
    let port = free_port().to_string();
    let cert_dir = dir.path().join("certs");
    let data_dir = dir.path().join("data");
    let spawn = || {
        Command::new(fcp_binary())
            .current_dir(dir.path())
            .args([
                "federation-apiserver",
                "--bind-address",
                "127.0.0.1",
                "--secure-port",
                &port,
            ])
            .args(["--cert-dir", cert_dir.to_str().unwrap()])
            .args(["--data-dir", data_dir.to_str().unwrap()])
            .args(["--token-auth-file", tokens.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&log)
                    .unwrap(),
            ))
            .spawn()
            .expect("spawn fcp")
    };
    let ca = cert_dir.join("ca.crt");
    let url = |path: &str| format!("https://127.0.0.1:{port}{path}");
    let curl = |args: &[&str]| -> (String, String) {
        let output = Command::new("curl")
            .args(["-sS", "--cacert", ca.to_str().unwrap(), "-w", "\n%{http_code}"])
            .args(args)
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or((&text, ""));
        (code.to_owned(), body.to_owned())
    };
    let wait_ready = |child: &mut Child| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                child.try_wait().unwrap().is_none(),
                "fcp exited: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            if ca.exists() && curl(&[&url("/healthz")]).0 == "401" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the secure port did not answer within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let mut child = spawn();
    wait_ready(&mut child);
    let (code, body) = curl(&[&url("/api/v1/namespaces")]);
    assert_eq!(code, "401", "{body}");
    let auth = "Authorization: Bearer S3cr3tT0ken-e2e";
    let secret = json!({"metadata": {"name": "db"}, "stringData": {"password": "hunter2-e2e"}});
    let (code, body) = curl(&[
        "-X",
        "POST",
        "-H",
        auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        &secret.to_string(),
        &url("/api/v1/namespaces/default/secrets"),
    ]);
    assert_eq!(code, "201", "{body}");
    let (code, _) = curl(&[
        "-X",
        "DELETE",
        "-H",
        auth,
        &url("/api/v1/namespaces/default/secrets/db"),
    ]);
    assert_eq!(code, "200");
    let (code, _) = curl(&["-H", auth, &url("/api/v1/namespaces/default/secrets")]);
    assert_eq!(code, "200");
    // The generated certificate is kept and reused by the next start.
    let first_cert = std::fs::read(cert_dir.join("apiserver.crt")).unwrap();
    let key_mode = std::fs::metadata(cert_dir.join("apiserver.key")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode.permissions()) & 0o077,
        0,
        "the key is private"
    );
    stop_gracefully(&mut child);
    let mut child = spawn();
    wait_ready(&mut child);
    assert_eq!(std::fs::read(cert_dir.join("apiserver.crt")).unwrap(), first_cert);
    stop_gracefully(&mut child);

    let logs = std::fs::read_to_string(&log).unwrap();
    let audit: Vec<&str> = logs.lines().filter(|l| l.contains("audit")).collect();
    let create = audit
        .iter()
        .find(|l| l.contains("verb=create") && l.contains("resource=secrets"))
        .unwrap_or_else(|| panic!("no audit line for the create:\n{logs}"));
    for field in ["user=admin", "namespace=default", "code=201"] {
        assert!(create.contains(field), "{field} missing from {create}");
    }
    assert!(
        audit
            .iter()
            .any(|l| l.contains("verb=delete") && l.contains("name=db") && l.contains("code=200")),
        "no audit line for the delete:\n{logs}"
    );
    assert!(
        !audit.iter().any(|l| l.contains("verb=list")),
        "reads get no audit line:\n{logs}"
    );
    for secret in ["S3cr3tT0ken-e2e", "hunter2-e2e", "aHVudGVyMi1lMmU"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

/// SIGTERM and wait: a graceful stop.
fn stop_gracefully(child: &mut Child) {
    signal_and_wait(child, "TERM", Duration::from_secs(30)).expect("fcp did not stop within 30 s of SIGTERM");
}

/// Sends `signal` (`TERM`, `INT`, …) to `child` and polls until it exits: its exit status, or `None` when it
/// is still running after `within`.
pub(crate) fn signal_and_wait(child: &mut Child, signal: &str, within: Duration) -> Option<ExitStatus> {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "SIG{signal} sent");
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
