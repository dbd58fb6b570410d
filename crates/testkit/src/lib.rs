//! Test-only helpers shared by the crates' integration tests: a real etcd process on a free loopback port
//! ([`etcd::TestEtcd`]), an in-process federation apiserver on port 0 ([`apiserver::TestApiServer`]), simulated member
//! clusters (`simcluster::TestSimCluster`, feature `simcluster`).

#[cfg(feature = "apiserver")]
pub mod apiserver;
pub mod etcd;
pub mod latency;
pub mod pki;
#[cfg(feature = "simcluster")]
pub mod simcluster;

/// A free TCP port on 127.0.0.1 (bound and released; the caller should use it promptly).
///
/// # Panics
/// When no port can be bound, which only happens on a broken test machine.
#[must_use]
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local addr of a bound listener")
        .port()
}

/// `kubectl.1.<minor>` beside the real kubectl behind the version dispatcher on PATH.
///
/// # Panics
/// When kubectl is not on PATH or that version is missing: the tests need it.
#[must_use]
pub fn kubectl(minor: u32) -> std::path::PathBuf {
    let on_path = std::process::Command::new("sh")
        .args(["-c", "command -v kubectl"])
        .output()
        .expect("run sh");
    let on_path = String::from_utf8_lossy(&on_path.stdout).trim().to_owned();
    assert!(!on_path.is_empty(), "kubectl is not on PATH");
    let real = std::fs::canonicalize(&on_path).expect("resolve the kubectl symlink");
    let versioned = real.with_file_name(format!("kubectl.1.{minor}"));
    assert!(versioned.exists(), "{} is missing", versioned.display());
    versioned
}
