//! A real etcd (the Debian `etcd-server` binary) on free loopback ports, in a temporary data directory, for
//! tests. It is killed when the [`TestEtcd`] is dropped.
//!
//! Tests that need etcd must fail, not skip, when the binary is missing: [`TestEtcd::start`] returns an error
//! that says how to install it.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// How long etcd may take to answer its health check after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often readiness is polled while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// How many times a start is retried with fresh ports when etcd exits early (a port taken in between).
const START_ATTEMPTS: usize = 3;

/// Server-side TLS for a [`TestEtcd`]: etcd serves its client URL over HTTPS and requires client certificates
/// signed by `trusted_ca_file`.
#[derive(Debug, Clone)]
pub struct EtcdServerTls {
    /// PEM certificate of the server (valid for `127.0.0.1`).
    pub cert_file: PathBuf,
    /// PEM private key of the server.
    pub key_file: PathBuf,
    /// PEM CA that client certificates must chain to.
    pub trusted_ca_file: PathBuf,
    /// PEM client certificate and key that the readiness check presents (signed by `trusted_ca_file`).
    pub client_cert_file: PathBuf,
    /// The key of `client_cert_file`.
    pub client_key_file: PathBuf,
}

/// One etcd process serving `http://127.0.0.1:<port>` (or `https://` with [`TestEtcd::start_tls`]), with its
/// data directory in a temporary directory that lives as long as this value.
#[derive(Debug)]
pub struct TestEtcd {
    binary: PathBuf,
    child: Option<Child>,
    /// Holds `data/` (etcd's data directory) and `etcd.log` (its stdout and stderr, appended across restarts).
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    tls: Option<EtcdServerTls>,
}

impl TestEtcd {
    /// Starts etcd on free loopback ports in a fresh data directory and waits until it reports healthy.
    ///
    /// # Errors
    /// When `etcd` is not on `PATH` ("etcd not found on PATH: install Debian etcd-server"), when it exits
    /// during start-up or when it does not become healthy within 30 s; the error includes the end of its log.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(None)
    }

    /// Like [`TestEtcd::start`], but the client URL is `https://127.0.0.1:<port>` with the given server
    /// certificate, and clients must present a certificate signed by `tls.trusted_ca_file`.
    ///
    /// # Errors
    /// As [`TestEtcd::start`]; also when `etcdctl` (used for the TLS readiness check) is missing.
    pub fn start_tls(tls: EtcdServerTls) -> anyhow::Result<Self> {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<EtcdServerTls>) -> anyhow::Result<Self> {
        let binary = find_on_path("etcd").context("etcd not found on PATH: install Debian etcd-server")?;
        if tls.is_some() {
            find_on_path("etcdctl").context("etcdctl not found on PATH: install Debian etcd-client")?;
        }
        let dir = tempfile::Builder::new()
            .prefix("fcp-test-etcd-")
            .tempdir()
            .context("create a temp dir")?;
        let mut etcd = Self {
            binary,
            child: None,
            dir,
            client_port: 0,
            peer_port: 0,
            tls,
        };
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            etcd.client_port = crate::free_port();
            etcd.peer_port = crate::free_port();
            match etcd.spawn_and_wait() {
                Ok(()) => return Ok(etcd),
                Err(e) => {
                    tracing::warn!("etcd did not start, retrying on other ports: {e:#}");
                    etcd.kill();
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("etcd did not start")))
    }

    /// The client URL, e.g. `http://127.0.0.1:23790`.
    #[must_use]
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// etcd's data directory.
    #[must_use]
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The process id while etcd runs.
    #[must_use]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills etcd (SIGKILL, which etcd survives without losing acknowledged writes) and waits for it to exit.
    /// The data directory is kept. Stopping a stopped etcd does nothing.
    ///
    /// # Errors
    /// When the process cannot be killed or waited for.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("kill etcd")?;
            child.wait().context("wait for etcd to exit")?;
        }
        Ok(())
    }

    /// Stops etcd if it runs, then starts it again on the same ports with the same data directory and waits
    /// until it is healthy.
    ///
    /// # Errors
    /// As [`TestEtcd::start`] (no retry on other ports: clients expect the same endpoint).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        self.spawn_and_wait().inspect_err(|_| self.kill())
    }

    fn spawn_and_wait(&mut self) -> anyhow::Result<()> {
        let log_path = self.log_path();
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("open {}", log_path.display()))?;
        let log_err = log.try_clone().context("clone the etcd log file handle")?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let client_url = format!("{scheme}://127.0.0.1:{}", self.client_port);
        let peer_url = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.binary);
        command
            .arg("--name=test")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .arg("--logger=zap")
            .arg("--log-outputs=stderr")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        if let Some(tls) = &self.tls {
            command
                .arg(format!("--cert-file={}", tls.cert_file.display()))
                .arg(format!("--key-file={}", tls.key_file.display()))
                .arg(format!("--trusted-ca-file={}", tls.trusted_ca_file.display()))
                .arg("--client-cert-auth");
        }
        let child = command
            .spawn()
            .with_context(|| format!("spawn {}", self.binary.display()))?;
        self.child = Some(child);
        self.wait_healthy()
    }

    fn wait_healthy(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait().context("poll the etcd process")?
            {
                self.child = None;
                bail!(
                    "etcd exited during start-up ({status}); log tail:\n{}",
                    self.log_tail()
                );
            }
            if self.is_healthy() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "etcd at {} did not become healthy within {START_TIMEOUT:?}; log tail:\n{}",
                    self.endpoint(),
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Whether etcd answers its health check (a plain `GET /health`, or `etcdctl endpoint health` over TLS).
    fn is_healthy(&self) -> bool {
        match &self.tls {
            None => http_health(self.client_port),
            Some(tls) => Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .arg(format!("--endpoints={}", self.endpoint()))
                .arg(format!("--cacert={}", tls.trusted_ca_file.display()))
                .arg(format!("--cert={}", tls.client_cert_file.display()))
                .arg(format!("--key={}", tls.client_key_file.display()))
                .arg("--dial-timeout=1s")
                .arg("--command-timeout=2s")
                .args(["endpoint", "health"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success()),
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// The last 40 lines of etcd's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for TestEtcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `GET /health` on the client port; etcd answers `{"health":"true"}` once it has a leader and serves.
fn http_health(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(1));
    if stream.set_read_timeout(timeout).is_err() || stream.set_write_timeout(timeout).is_err() {
        return false;
    }
    let request = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") && response.contains(r#""health":"true""#)
}

/// The first executable file named `name` in the directories of `PATH`.
fn find_on_path(name: &str) -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| anyhow::anyhow!("{name} is not in any directory of PATH"))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}
