//! Start-up and shutdown of the API server: open storage, build the registry, bind, serve, compact.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use fcp_storage::{
    Backend, Revision,
    embedded::EmbeddedBackend,
    etcd::{EtcdBackend, EtcdConfig},
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    ApiServerOptions,
    http::{AppState, router},
    registry::{Registry, event_ttl, namespaces, store::Store},
    resources::federation_profile,
};

/// How long shutdown waits for in-flight requests before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Why the server could not start or stopped with an error. Each variant renders as one line naming the
/// cause.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A flag value is invalid.
    #[error("invalid flag: {0}")]
    InvalidFlag(String),
    /// The storage backend could not be opened or reached.
    #[error("{0}")]
    Storage(#[from] fcp_storage::StorageError),
    /// A listener could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The built-in namespaces could not be created.
    #[error("cannot create the built-in namespaces: {0}")]
    Bootstrap(String),
    /// Serving failed.
    #[error("server failed: {0}")]
    Serve(std::io::Error),
}

/// A started API server.
#[derive(Debug)]
pub struct Server {
    insecure_address: Option<SocketAddr>,
    task: JoinHandle<Result<(), StartupError>>,
}

impl Server {
    /// Where the insecure (plain HTTP) port listens, when enabled.
    #[must_use]
    pub fn insecure_address(&self) -> Option<SocketAddr> {
        self.insecure_address
    }

    /// Waits until the server has stopped (after its shutdown token is cancelled).
    ///
    /// # Errors
    /// [`StartupError::Serve`] when serving failed.
    pub async fn wait(self) -> Result<(), StartupError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(StartupError::Serve(std::io::Error::other(e))),
        }
    }
}

/// Runs the API server until `shutdown` is cancelled, then stops accepting, finishes in-flight requests, closes
/// watches and returns.
///
/// # Errors
/// [`StartupError`] when the flags are invalid, storage cannot be opened or reached, or a port cannot be bound.
pub async fn run(options: ApiServerOptions, shutdown: CancellationToken) -> Result<(), StartupError> {
    start(options, shutdown).await?.wait().await
}

/// Opens storage, binds the listeners and starts serving in the background.
///
/// # Errors
/// As [`run`].
pub async fn start(options: ApiServerOptions, shutdown: CancellationToken) -> Result<Server, StartupError> {
    if options.secure_port != 0 {
        return Err(StartupError::InvalidFlag(
            "--secure-port: TLS serving is not implemented yet; use --secure-port=0 with --insecure-port"
                .to_owned(),
        ));
    }
    if options.insecure_port == 0 {
        return Err(StartupError::InvalidFlag(
            "nothing to serve: --insecure-port is 0 and TLS serving is not implemented yet".to_owned(),
        ));
    }
    if !options.etcd_prefix.starts_with('/') {
        return Err(StartupError::InvalidFlag(format!(
            "--etcd-prefix {:?} must start with '/'",
            options.etcd_prefix
        )));
    }
    let backend = open_storage(&options).await?;
    let address = SocketAddr::new(options.insecure_bind_address, options.insecure_port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| StartupError::Bind { address, source })?;
    let insecure_address = listener.local_addr().ok();
    let advertised = options.advertise_address.unwrap_or(address.ip());
    let registry = Arc::new(Registry::new(federation_profile()));
    // The OpenAPI documents take a moment to build: do it now, not on kubectl's first request.
    crate::openapi::spawn_prebuild(registry.clone());
    let mut store = Store::new(backend.clone(), &options.etcd_prefix);
    if options.watch_cache {
        store.enable_watch_caches(registry.all(), options.default_watch_cache_size, &shutdown);
    }
    let namespaces = registry
        .all()
        .find(|r| namespaces::is_namespaces(r))
        .map(|r| registry.lookup(r.group, r.version, r.plural).cloned());
    if let Some(Some(namespaces)) = &namespaces {
        store.enforce_namespace_lifecycle(namespaces.clone());
    }
    let store = Arc::new(store);
    if let Some(Some(namespaces)) = &namespaces {
        namespaces::bootstrap(&store, namespaces)
            .await
            .map_err(|e| StartupError::Bootstrap(e.to_string()))?;
        tokio::spawn(namespaces::run_finalizer(
            store.clone(),
            registry.clone(),
            shutdown.clone(),
        ));
    }
    if !options.event_ttl.is_zero()
        && let Some(events) = registry.lookup("", "v1", "events")
    {
        tokio::spawn(event_ttl::run_reaper(
            store.clone(),
            events.clone(),
            options.event_ttl,
            shutdown.clone(),
        ));
    }
    let state = AppState {
        registry,
        store,
        max_body_bytes: options.max_request_body_bytes,
        request_timeout: options.request_timeout,
        server_address: format!("{advertised}:{}", address.port()),
        shutdown: shutdown.clone(),
    };
    if !options.etcd_compaction_interval.is_zero() {
        tokio::spawn(compact_periodically(
            backend,
            options.etcd_compaction_interval,
            shutdown.clone(),
        ));
    }
    tracing::info!(address = %address, "federation-apiserver serving plain HTTP (insecure port: no authentication)");
    let app = router(state);
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
        let serve = async move { serve.await.map_err(StartupError::Serve) };
        tokio::pin!(serve);
        tokio::select! {
            result = &mut serve => result,
            () = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!("in-flight requests did not finish within {}s of shutdown", SHUTDOWN_GRACE.as_secs());
                Ok(())
            }
        }
    });
    Ok(Server {
        insecure_address,
        task,
    })
}

/// The backend the flags ask for: etcd when `--etcd-servers` is given, the embedded store otherwise.
///
/// # Errors
/// When etcd cannot be reached or the data directory cannot be used.
pub async fn open_storage(options: &ApiServerOptions) -> Result<Arc<dyn Backend>, StartupError> {
    if options.etcd_servers.is_empty() {
        let backend = EmbeddedBackend::open(&options.data_dir)?;
        tracing::info!(data_dir = %options.data_dir.display(), "using the embedded store");
        return Ok(Arc::new(backend));
    }
    let config = EtcdConfig {
        endpoints: options.etcd_servers.clone(),
        ca_file: options.etcd_cafile.clone(),
        cert_file: options.etcd_certfile.clone(),
        key_file: options.etcd_keyfile.clone(),
        dial_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(10),
    };
    let backend = EtcdBackend::connect(config).await?;
    tracing::info!(servers = ?options.etcd_servers, "using etcd");
    Ok(Arc::new(backend))
}

/// Compacts storage every `interval` to the revision seen one interval earlier, so that at least `interval`
/// of history stays available to watchers (kube-apiserver's policy).
async fn compact_periodically(backend: Arc<dyn Backend>, interval: Duration, shutdown: CancellationToken) {
    let mut previous: Option<Revision> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => return,
        }
        if let Some(revision) = previous {
            match backend.compact(revision).await {
                Ok(()) => tracing::debug!(%revision, "compacted storage"),
                Err(e) => tracing::warn!(%revision, error = %e, "storage compaction failed"),
            }
        }
        match backend.current_revision().await {
            Ok(revision) => previous = Some(revision),
            Err(e) => tracing::warn!(error = %e, "cannot read the storage revision for compaction"),
        }
    }
}
