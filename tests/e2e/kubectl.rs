//! The common kubectl verbs (`tests/kubectl/verbs.sh`) against the built `fcp federation-apiserver` on real
//! etcd, with kubectl 1.27, 1.30 and 1.33 (the versioned binaries beside the kubectl dispatcher).

use std::{path::PathBuf, process::Command};

use fcp_testkit::etcd::TestEtcd;

use crate::apiserver::Apiserver;

/// `kubectl.1.<minor>` (see [`fcp_testkit::kubectl`]).
fn kubectl(minor: u32) -> PathBuf {
    fcp_testkit::kubectl(minor)
}

/// Where the apiserver under test keeps its objects.
enum Backend {
    Etcd,
    Embedded,
}

fn run_verbs(minor: u32) {
    run_verbs_on(minor, Backend::Etcd);
}

fn run_verbs_on(minor: u32, backend: Backend) {
    let etcd;
    let data_dir;
    let server = match backend {
        Backend::Etcd => {
            etcd = TestEtcd::start().unwrap();
            Apiserver::spawn(&["--etcd-servers", &etcd.endpoint()])
        }
        Backend::Embedded => {
            data_dir = tempfile::tempdir().unwrap();
            Apiserver::spawn(&["--data-dir", data_dir.path().join("data").to_str().unwrap()])
        }
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kubectl/verbs.sh");
    let output = Command::new("bash")
        .arg(&script)
        .arg(kubectl(minor))
        .arg(&server.base)
        .output()
        .expect("run verbs.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "kubectl 1.{minor}:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ALL VERBS PASSED"), "{stdout}");
}

#[test]
fn kubectl_1_27_verbs() {
    run_verbs(27);
}

#[test]
fn kubectl_1_30_verbs() {
    run_verbs(30);
}

#[test]
fn kubectl_1_33_verbs() {
    run_verbs(33);
}

#[test]
fn kubectl_1_33_verbs_on_the_embedded_store() {
    run_verbs_on(33, Backend::Embedded);
}
