//! Start-up and shutdown of the API server: open storage, build the registry, bind, serve, compact.

use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use axum::middleware;

use fcp_storage::{
    Backend, Revision,
    embedded::EmbeddedBackend,
    etcd::{EtcdBackend, EtcdConfig},
};
use tokio::{net::TcpListener, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    ApiServerOptions,
    admission::{
        self, AdmissionChain, AdmissionPlugin, owner_references::OwnerReferencesPermissionEnforcement,
        scheduling_policy::SchedulingPolicy,
    },
    auth::{
        authn::Authenticator,
        authz::{AlwaysAllow, AlwaysDeny, Authorizer, AuthorizerChain},
        filter::{self, InflightLimits, Security},
        rbac,
    },
    http::{AppState, router},
    options::Profile,
    registry::{Registry, event_ttl, namespaces, store::Store},
    resources::{federation_profile, member_profile},
    serving::tls::{self, TlsSettings},
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
    secure_address: Option<SocketAddr>,
    ca_file: Option<PathBuf>,
    tasks: Vec<JoinHandle<Result<(), StartupError>>>,
}

impl Server {
    /// Where the insecure (plain HTTP) port listens, when enabled.
    #[must_use]
    pub fn insecure_address(&self) -> Option<SocketAddr> {
        self.insecure_address
    }

    /// Where the secure (HTTPS) port listens, when enabled.
    #[must_use]
    pub fn secure_address(&self) -> Option<SocketAddr> {
        self.secure_address
    }

    /// The CA that signed the generated serving certificate (under `--cert-dir`), when the server generated
    /// its own; clients trust this file to verify the server.
    #[must_use]
    pub fn generated_ca_file(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// Waits until the server has stopped (after its shutdown token is cancelled).
    ///
    /// # Errors
    /// [`StartupError::Serve`] when serving failed.
    pub async fn wait(self) -> Result<(), StartupError> {
        let mut result = Ok(());
        for task in self.tasks {
            let outcome = match task.await {
                Ok(outcome) => outcome,
                Err(e) => Err(StartupError::Serve(std::io::Error::other(e))),
            };
            if result.is_ok() {
                result = outcome;
            }
        }
        result
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

/// The authorization modes of `--authorization-mode`, checked.
fn authorization_modes(options: &ApiServerOptions) -> Result<Vec<String>, StartupError> {
    let modes: Vec<String> = options
        .authorization_mode
        .iter()
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    if modes.is_empty() {
        return Err(StartupError::InvalidFlag(
            "--authorization-mode: at least one mode is required (RBAC, AlwaysAllow, AlwaysDeny)".to_owned(),
        ));
    }
    for mode in &modes {
        if !AUTHORIZATION_MODES.contains(&mode.as_str()) {
            return Err(StartupError::InvalidFlag(format!(
                "--authorization-mode: unknown mode {mode:?} (known: {})",
                AUTHORIZATION_MODES.join(", ")
            )));
        }
    }
    Ok(modes)
}

/// Modes `--authorization-mode` accepts.
const AUTHORIZATION_MODES: [&str; 3] = ["RBAC", "AlwaysAllow", "AlwaysDeny"];

/// Opens storage, binds the listeners and starts serving in the background.
///
/// # Errors
/// As [`run`].
pub async fn start(options: ApiServerOptions, shutdown: CancellationToken) -> Result<Server, StartupError> {
    if options.insecure_port == 0 && options.secure_port == 0 {
        return Err(StartupError::InvalidFlag(
            "nothing to serve: both --secure-port and --insecure-port are 0".to_owned(),
        ));
    }
    if !options.etcd_prefix.starts_with('/') {
        return Err(StartupError::InvalidFlag(format!(
            "--etcd-prefix {:?} must start with '/'",
            options.etcd_prefix
        )));
    }
    // Everything that only needs the flags is checked before storage is touched.
    let modes = authorization_modes(&options)?;
    let plugins = admission::enabled_plugins(
        &options.enable_admission_plugins,
        &options.disable_admission_plugins,
    )
    .map_err(|e| StartupError::InvalidFlag(format!("--enable-admission-plugins: {e}")))?;
    let scheduling_policy_config = if plugins.contains(&admission::SCHEDULING_POLICY) {
        let file = options.admission_control_config_file.as_deref().ok_or_else(|| {
            StartupError::InvalidFlag(
                "SchedulingPolicy: --admission-control-config-file not specified or invalid".to_owned(),
            )
        })?;
        let config = admission::scheduling_policy::plugin_config(file, admission::SCHEDULING_POLICY)
            .map_err(|e| StartupError::InvalidFlag(format!("SchedulingPolicy: {e}")))?
            .ok_or_else(|| {
                StartupError::InvalidFlag(format!(
                    "SchedulingPolicy: {} has no configuration for the plugin",
                    file.display()
                ))
            })?;
        Some(config)
    } else {
        None
    };
    let authenticator = Arc::new(
        Authenticator::new(
            options.token_auth_file.as_deref(),
            options.basic_auth_file.as_deref(),
            options.client_ca_file.is_some(),
            options.anonymous_auth,
        )
        .map_err(|e| StartupError::InvalidFlag(e.to_string()))?,
    );
    let secure_bind = SocketAddr::new(options.bind_address, options.secure_port);
    let tls = if options.secure_port == 0 {
        None
    } else {
        let settings = TlsSettings {
            cert_file: options.tls_cert_file.clone(),
            key_file: options.tls_private_key_file.clone(),
            cert_dir: options.cert_dir.clone(),
            sans: options.tls_sans.clone(),
            advertise_address: options.advertise_address,
            min_version: options.tls_min_version.clone(),
            client_ca_file: options.client_ca_file.clone(),
        };
        Some(tls::server_config(&settings).map_err(|e| StartupError::InvalidFlag(e.to_string()))?)
    };

    let backend = open_storage(&options).await?;
    let insecure_listener = if options.insecure_port == 0 {
        None
    } else {
        let address = SocketAddr::new(options.insecure_bind_address, options.insecure_port);
        Some(
            TcpListener::bind(address)
                .await
                .map_err(|source| StartupError::Bind { address, source })?,
        )
    };
    let secure_listener = if tls.is_some() {
        Some(
            TcpListener::bind(secure_bind)
                .await
                .map_err(|source| StartupError::Bind {
                    address: secure_bind,
                    source,
                })?,
        )
    } else {
        None
    };
    let insecure_address = insecure_listener.as_ref().and_then(|l| l.local_addr().ok());
    let secure_address = secure_listener.as_ref().and_then(|l| l.local_addr().ok());
    let registry = Arc::new(Registry::new(match options.profile {
        Profile::Federation => federation_profile(),
        Profile::Member => member_profile(),
    }));
    // The OpenAPI documents take a moment to build: do it now, not on kubectl's first request.
    crate::openapi::spawn_prebuild(registry.clone());
    let mut store = Store::new(backend.clone(), &options.etcd_prefix);
    if options.watch_cache {
        store.enable_watch_caches(registry.all(), options.default_watch_cache_size, &shutdown);
    }
    let namespaces = registry
        .all()
        .find(|r| namespaces::is_namespaces(r))
        .and_then(|r| registry.lookup(r.group, r.version, r.plural).cloned());
    if let Some(namespaces) = &namespaces
        && plugins.contains(&admission::NAMESPACE_LIFECYCLE)
    {
        store.enforce_namespace_lifecycle(namespaces.clone());
    }
    let store = Arc::new(store);
    if let Some(namespaces) = &namespaces {
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

    // Authorization: the chain of --authorization-mode; RBAC's policy is bootstrapped and loaded first.
    let rbac = if modes.iter().any(|m| m == "RBAC") {
        Some(
            rbac::start(store.clone(), registry.clone(), shutdown.clone())
                .await
                .map_err(|e| StartupError::Bootstrap(format!("RBAC: {e}")))?,
        )
    } else {
        None
    };
    let mut authorizers: Vec<Arc<dyn Authorizer>> = Vec::new();
    for mode in &modes {
        match mode.as_str() {
            "AlwaysAllow" => authorizers.push(Arc::new(AlwaysAllow)),
            "AlwaysDeny" => authorizers.push(Arc::new(AlwaysDeny)),
            _ => {
                if let Some(rbac) = &rbac {
                    authorizers.push(rbac.authorizer());
                }
            }
        }
    }
    let authorizer: Arc<dyn Authorizer> = Arc::new(AuthorizerChain::new(authorizers));

    // Admission, in the recommended order (NamespaceLifecycle is the store's own check).
    let mut admission_plugins: Vec<Arc<dyn AdmissionPlugin>> = Vec::new();
    if plugins.contains(&admission::OWNER_REFERENCES_PERMISSION_ENFORCEMENT) {
        admission_plugins.push(Arc::new(OwnerReferencesPermissionEnforcement::new(
            authorizer.clone(),
            registry.clone(),
        )));
    }
    if let Some(config) = &scheduling_policy_config {
        let plugin = SchedulingPolicy::from_config(config, &registry)
            .map_err(|e| StartupError::InvalidFlag(format!("SchedulingPolicy: {e}")))?;
        admission_plugins.push(Arc::new(plugin));
    }
    if let Some(rbac) = &rbac {
        admission_plugins.push(rbac.escalation_check(authorizer.clone()));
    }
    let chain = AdmissionChain::new(admission_plugins);
    tracing::info!(admission = ?plugins, checks = ?chain.names(), authorization = ?modes, "request handling configured");
    store.set_admission(Arc::new(chain));

    let advertised_ip = options.advertise_address.unwrap_or_else(|| {
        secure_address
            .or(insecure_address)
            .map_or(options.bind_address, |a| a.ip())
    });
    let advertised_port = secure_address.or(insecure_address).map_or(0, |a| a.port());
    let state = AppState {
        registry,
        store,
        max_body_bytes: options.max_request_body_bytes,
        request_timeout: options.request_timeout,
        server_address: format!("{advertised_ip}:{advertised_port}"),
        shutdown: shutdown.clone(),
        authorizer: authorizer.clone(),
    };
    if !options.etcd_compaction_interval.is_zero() {
        tokio::spawn(compact_periodically(
            backend,
            options.etcd_compaction_interval,
            shutdown.clone(),
        ));
    }
    let limits = Arc::new(InflightLimits::new(
        options.max_requests_inflight,
        options.max_mutating_requests_inflight,
    ));
    let mut tasks = Vec::new();
    let mut ca_file = None;
    if let (Some(listener), Some(tls)) = (secure_listener, tls) {
        if !authenticator.has_credentials() && !options.anonymous_auth {
            tracing::warn!(
                "no --client-ca-file, --token-auth-file or --basic-auth-file: every request to the secure port will get 401"
            );
        }
        let security = Security {
            authenticator: Some(authenticator.clone()),
            authorizer: authorizer.clone(),
            limits: limits.clone(),
        };
        let app = router(state.clone()).layer(middleware::from_fn_with_state(security, filter::apply));
        tracing::info!(address = ?secure_address, "federation-apiserver serving HTTPS");
        ca_file.clone_from(&tls.ca_file);
        tasks.push(spawn_serving(
            crate::serving::serve_tls(listener, tls.config, app, shutdown.clone()),
            shutdown.clone(),
        ));
    }
    if let Some(listener) = insecure_listener {
        let security = Security {
            authenticator: None,
            authorizer,
            limits,
        };
        let app = router(state).layer(middleware::from_fn_with_state(security, filter::apply));
        tracing::warn!(address = ?insecure_address, "federation-apiserver serving plain HTTP on the insecure port: no authentication, every request acts as a superuser");
        let serve = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
        tasks.push(spawn_serving(serve.into_future(), shutdown.clone()));
    }
    Ok(Server {
        insecure_address,
        secure_address,
        ca_file,
        tasks,
    })
}

/// Runs one listener until it stops, or until `SHUTDOWN_GRACE` after `shutdown` (in-flight requests that
/// take longer are abandoned).
fn spawn_serving(
    serve: impl Future<Output = std::io::Result<()>> + Send + 'static,
    shutdown: CancellationToken,
) -> JoinHandle<Result<(), StartupError>> {
    tokio::spawn(async move {
        tokio::pin!(serve);
        tokio::select! {
            result = &mut serve => result.map_err(StartupError::Serve),
            () = async { shutdown.cancelled().await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
                tracing::warn!("in-flight requests did not finish within {}s of shutdown", SHUTDOWN_GRACE.as_secs());
                Ok(())
            }
        }
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
