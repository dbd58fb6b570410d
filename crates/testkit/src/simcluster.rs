//! In-process simulated member clusters (`fcp sim-cluster`) on free loopback ports, over the embedded store.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use fcp_simcluster::{SimCluster, SimClusterOptions};
use tokio_util::sync::CancellationToken;

/// Parses sim-cluster flags the way `fcp sim-cluster` does.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    options: SimClusterOptions,
}

/// The sim-cluster options for `args` (flags as on the command line, without the program name).
///
/// # Errors
/// When clap rejects the flags.
pub fn options(args: &[&str]) -> anyhow::Result<SimClusterOptions> {
    let argv = std::iter::once("sim-cluster").chain(args.iter().copied());
    Ok(Flags::try_parse_from(argv)
        .context("parse sim-cluster flags")?
        .options)
}

/// A running simulated cluster with a kube-rs client for its plain-HTTP port; it shuts down when dropped
/// or [`TestSimCluster::stop`]ped.
pub struct TestSimCluster {
    name: String,
    base_url: String,
    secure_url: Option<String>,
    ca_file: Option<PathBuf>,
    client: kube::Client,
    shutdown: CancellationToken,
    cluster: Option<SimCluster>,
    /// The temporary directory of the data and certificates, removed on drop (none with [`Self::start_in`]).
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TestSimCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSimCluster")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl TestSimCluster {
    /// Starts cluster `name` on the embedded store in a fresh temporary directory, the insecure port on a
    /// free port and the secure port off unless `extra_args` set `--secure-port` (the certificate then
    /// goes into the temporary directory). `extra_args` are any further sim-cluster or apiserver flags,
    /// e.g. `["--ready-after", "200ms", "--pod-capacity", "2"]`. Returns once the nodes exist.
    ///
    /// # Errors
    /// When the flags are invalid or the cluster does not start.
    pub async fn start(name: &str, extra_args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("fcp-test-simcluster-")
            .tempdir()?;
        let mut cluster = Self::start_in(name, dir.path(), extra_args).await?;
        cluster._dir = Some(dir);
        Ok(cluster)
    }

    /// Like [`Self::start`], keeping the store in `dir/data` and certificates in `dir/certs`: starting
    /// again over the same `dir` restarts the same cluster.
    ///
    /// # Errors
    /// When the flags are invalid or the cluster does not start.
    pub async fn start_in(name: &str, dir: &Path, extra_args: &[&str]) -> anyhow::Result<Self> {
        let data_dir = dir.join("data");
        let cert_dir = dir.join("certs");
        let data_dir = data_dir.to_str().context("temp dir path is not UTF-8")?;
        let cert_dir = cert_dir.to_str().context("temp dir path is not UTF-8")?;
        let port = crate::free_port().to_string();
        let mut args = vec!["--name", name];
        if !extra_args.iter().any(|a| a.starts_with("--insecure-port")) {
            args.extend_from_slice(&["--insecure-port", port.as_str()]);
        }
        if !extra_args.iter().any(|a| a.starts_with("--data-dir")) {
            args.extend_from_slice(&["--data-dir", data_dir]);
        }
        if !extra_args.iter().any(|a| a.starts_with("--cert-dir")) {
            args.extend_from_slice(&["--cert-dir", cert_dir]);
        }
        if !extra_args.iter().any(|a| a.starts_with("--secure-port")) {
            args.extend_from_slice(&["--secure-port", "0"]);
        }
        args.extend_from_slice(extra_args);
        let shutdown = CancellationToken::new();
        let cluster = fcp_simcluster::start(options(&args)?, shutdown.clone())
            .await
            .with_context(|| format!("start simulated cluster {name}"))?;
        let address = cluster
            .insecure_address()
            .context("the insecure port is not listening")?;
        let base_url = format!("http://{address}");
        let client = kube::Client::try_from(kube::Config::new(
            base_url.parse().context("parse the cluster URL")?,
        ))
        .context("build a kube-rs client")?;
        Ok(Self {
            name: name.to_owned(),
            base_url,
            secure_url: cluster.secure_address().map(|a| format!("https://{a}")),
            ca_file: cluster.generated_ca_file().map(Path::to_path_buf),
            client,
            shutdown,
            cluster: Some(cluster),
            _dir: None,
        })
    }

    /// The cluster's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `http://127.0.0.1:<port>` (no authentication: every request is a superuser).
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `https://127.0.0.1:<port>` of the secure port, when it is on.
    #[must_use]
    pub fn secure_url(&self) -> Option<&str> {
        self.secure_url.as_deref()
    }

    /// The CA of the generated serving certificate, when the secure port is on.
    #[must_use]
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// A kube-rs client for [`Self::base_url`].
    #[must_use]
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The URL of `path` (which starts with `/`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Shuts the cluster down gracefully and waits for it.
    ///
    /// # Errors
    /// When serving had failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(cluster) = self.cluster.take() {
            cluster.wait().await?;
        }
        Ok(())
    }
}

impl Drop for TestSimCluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
