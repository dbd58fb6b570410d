//! The official Python `kubernetes` client (PyPI), unmodified, against the federation apiserver: runs
//! `tests/python/test_client.py` with `FCP_URL` pointing at a server on the embedded store and on a real etcd.
//!
//! Needs `python3` with the `kubernetes` package (`pip install kubernetes`); the test fails, not skips, when
//! it is missing.

use std::{path::PathBuf, process::Stdio, time::Duration};

use fcp_testkit::{apiserver::TestApiServer, etcd::TestEtcd};

/// The script's own watch and wait timeouts are far shorter; this only catches a hang.
const SUITE_TIMEOUT: Duration = Duration::from_secs(300);

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/test_client.py")
}

/// Runs the Python suite against `url`; panics with its whole output when it fails.
async fn run_suite(backend: &str, url: &str) {
    // A fresh temp dir: the dynamic client caches discovery under $TMPDIR, keyed by host and port.
    let tmp = tempfile::Builder::new().prefix("fcp-python-").tempdir().unwrap();
    let child = tokio::process::Command::new("python3")
        .arg(script())
        .env("FCP_URL", url)
        .env("TMPDIR", tmp.path())
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 (install Python 3 and `pip install kubernetes`): {e}")
        });
    let output = tokio::time::timeout(SUITE_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("the Python client suite on {backend} did not finish within {SUITE_TIMEOUT:?}")
        })
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python client suite failed on {backend} ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    // Shown with `--nocapture`: which tests ran and which are waiting for features.
    println!("--- Python client suite on {backend} ---\n{stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_suite() {
    let server = TestApiServer::embedded().await.unwrap();
    run_suite("the embedded store", server.base_url()).await;
    server.stop().await.unwrap();

    let etcd = TestEtcd::start().unwrap();
    let server = TestApiServer::etcd(&etcd.endpoint(), "/registry").await.unwrap();
    run_suite("etcd", server.base_url()).await;
    server.stop().await.unwrap();
}
