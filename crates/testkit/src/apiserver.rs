//! An in-process federation apiserver on a free loopback port, over the embedded store or a real etcd.

use anyhow::Context;
use clap::Parser;
use fcp_apiserver::{ApiServerOptions, Server};
use tokio_util::sync::CancellationToken;

/// Parses apiserver flags the way `fcp federation-apiserver` does.
#[derive(Debug, Parser)]
struct Flags {
    #[command(flatten)]
    options: ApiServerOptions,
}

/// The apiserver options for `args` (flags as on the command line, without the program name).
///
/// # Errors
/// When clap rejects the flags.
pub fn options(args: &[&str]) -> anyhow::Result<ApiServerOptions> {
    let argv = std::iter::once("federation-apiserver").chain(args.iter().copied());
    Ok(Flags::try_parse_from(argv)
        .context("parse apiserver flags")?
        .options)
}

/// A running apiserver; it shuts down when dropped or [`TestApiServer::stop`]ped.
#[derive(Debug)]
pub struct TestApiServer {
    base_url: String,
    /// `https://127.0.0.1:<port>` when the secure port is on.
    secure_url: Option<String>,
    /// The CA of the generated serving certificate, when the server generated one.
    ca_file: Option<std::path::PathBuf>,
    shutdown: CancellationToken,
    server: Option<Server>,
    /// The embedded store's data directory, removed on drop.
    data_dir: Option<tempfile::TempDir>,
}

impl TestApiServer {
    /// Starts an apiserver on the embedded store in a fresh temporary data directory.
    ///
    /// # Errors
    /// When the server does not start.
    pub async fn embedded() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("fcp-test-apiserver-").tempdir()?;
        let data_dir = dir.path().join("data");
        let data_dir = data_dir.to_str().context("temp dir path is not UTF-8")?;
        let mut server = Self::start(&["--data-dir", data_dir]).await?;
        server.data_dir = Some(dir);
        Ok(server)
    }

    /// Starts an apiserver on the etcd at `endpoint`, keeping keys under `prefix`.
    ///
    /// # Errors
    /// When the server does not start (etcd unreachable, ...).
    pub async fn etcd(endpoint: &str, prefix: &str) -> anyhow::Result<Self> {
        Self::start(&["--etcd-servers", endpoint, "--etcd-prefix", prefix]).await
    }

    /// Starts an apiserver on the embedded store with the secure port on a free port (a self-signed
    /// certificate generated into a temporary `--cert-dir`) and the insecure port for set-up as a superuser;
    /// `args` add authentication and authorization flags.
    ///
    /// # Errors
    /// When the flags are invalid or the server does not start.
    pub async fn secure(args: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("fcp-test-apiserver-").tempdir()?;
        let data_dir = dir.path().join("data");
        let cert_dir = dir.path().join("certs");
        let data_dir = data_dir.to_str().context("temp dir path is not UTF-8")?;
        let cert_dir = cert_dir.to_str().context("temp dir path is not UTF-8")?;
        let port = crate::free_port().to_string();
        let mut all = vec![
            "--data-dir",
            data_dir,
            "--cert-dir",
            cert_dir,
            "--secure-port",
            port.as_str(),
            "--bind-address",
            "127.0.0.1",
        ];
        all.extend_from_slice(args);
        let mut server = Self::start(&all).await?;
        server.data_dir = Some(dir);
        Ok(server)
    }

    /// Starts an apiserver with extra flags; the insecure port is chosen here, and the secure port is off
    /// unless `args` set `--secure-port`.
    ///
    /// # Errors
    /// When the flags are invalid or the server does not start.
    pub async fn start(args: &[&str]) -> anyhow::Result<Self> {
        let port = crate::free_port().to_string();
        let mut all = vec!["--insecure-port", port.as_str()];
        if !args.iter().any(|a| a.starts_with("--secure-port")) {
            all.extend_from_slice(&["--secure-port", "0"]);
        }
        all.extend_from_slice(args);
        let shutdown = CancellationToken::new();
        let server = fcp_apiserver::start(options(&all)?, shutdown.clone())
            .await
            .context("start the apiserver")?;
        let address = server
            .insecure_address()
            .context("the insecure port is not listening")?;
        Ok(Self {
            base_url: format!("http://{address}"),
            secure_url: server.secure_address().map(|a| format!("https://{a}")),
            ca_file: server.generated_ca_file().map(std::path::Path::to_path_buf),
            shutdown,
            server: Some(server),
            data_dir: None,
        })
    }

    /// `http://127.0.0.1:<port>`.
    #[must_use]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `https://127.0.0.1:<port>` of the secure port, when it is on.
    #[must_use]
    pub fn secure_url(&self) -> Option<&str> {
        self.secure_url.as_deref()
    }

    /// The CA file that verifies the generated serving certificate, when the server generated one.
    #[must_use]
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_deref()
    }

    /// The URL of `path` (which starts with `/`).
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Shuts the server down gracefully and waits for it.
    ///
    /// # Errors
    /// When serving had failed.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.wait().await?;
        }
        Ok(())
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
