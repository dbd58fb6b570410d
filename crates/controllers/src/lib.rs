//! The federation-controller-manager: controllers that push what users create in the federation apiserver
//! into the member clusters.
//!
//! * [`clusters`]: the cluster controller (health probes, Ready/Offline conditions, zones, member clients)
//!   and the [`clusters::ClusterView`] it publishes.
//! * [`propagation`]: one generic reconciler per federated kind over the type adapters in
//!   [`propagation::kinds`], with replica scheduling and status roll-up for workloads.
//! * [`leader_election`], [`status_server`] (`/healthz`, `/metrics`), [`metrics`], [`events`].
//! * [`options`]: the flags of `fcp federation-controller-manager`.
//!
//! It talks to the federation apiserver and the members over HTTP(S) with kube-rs clients only.
//! [`start`] returns once the status server listens; [`ControllerManager::wait`] runs until shutdown.

pub mod clusters;
pub mod events;
pub mod leader_election;
pub mod metrics;
pub mod options;
pub mod propagation;
pub mod status_server;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use fcp_api::names::{CLUSTER_SELECTOR_ANNOTATION, FEDERATION_CONTROL_PLANE_SELECTOR_VALUE};
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use metrics::Metrics;
pub use options::ControllerManagerOptions;

/// How long each write to a member may take.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the controller manager could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The federation apiserver's client could not be configured.
    #[error("federation apiserver client: {0}")]
    Client(String),
    /// The status server's address could not be bound.
    #[error("status server: cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Leadership was lost; the process should exit so a fresh candidate takes over.
    #[error("leadership lost")]
    LeadershipLost,
}

/// A running controller manager.
pub struct ControllerManager {
    status_address: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    task: JoinHandle<Result<(), Error>>,
}

impl ControllerManager {
    /// Where `/healthz` and `/metrics` are served, unless `--port=-1`.
    #[must_use]
    pub fn status_address(&self) -> Option<SocketAddr> {
        self.status_address
    }

    /// The live metrics.
    #[must_use]
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Runs until shutdown (or lost leadership).
    ///
    /// # Errors
    /// [`Error::LeadershipLost`].
    pub async fn wait(self) -> Result<(), Error> {
        match self.task.await {
            Ok(result) => result,
            Err(error) => {
                warn!(%error, "controller manager task ended abnormally");
                Ok(())
            }
        }
    }
}

/// The federation apiserver's client from `--kubeconfig` and/or `--master`, else in-cluster config.
///
/// # Errors
/// [`Error::Client`] naming the file or URL at fault.
pub async fn federation_client(options: &ControllerManagerOptions) -> Result<kube::Client, Error> {
    let mut config = match (&options.kubeconfig, &options.master) {
        (Some(path), _) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .map_err(|e| Error::Client(format!("reading kubeconfig {}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| Error::Client(format!("kubeconfig {}: {e}", path.display())))?
        }
        (None, Some(master)) => kube::Config::new(
            master
                .parse()
                .map_err(|e| Error::Client(format!("--master {master:?}: {e}")))?,
        ),
        (None, None) => kube::Config::incluster()
            .map_err(|e| Error::Client(format!("no --kubeconfig or --master, and not in a cluster: {e}")))?,
    };
    if let (Some(_), Some(master)) = (&options.kubeconfig, &options.master) {
        config.cluster_url = master
            .parse()
            .map_err(|e| Error::Client(format!("--master {master:?}: {e}")))?;
    }
    kube::Client::try_from(config).map_err(|e| Error::Client(e.to_string()))
}

/// Starts the controller manager with the client its flags name.
///
/// # Errors
/// As [`federation_client`] and [`start_with_client`].
pub async fn start(
    options: ControllerManagerOptions,
    shutdown: CancellationToken,
) -> Result<ControllerManager, Error> {
    let client = federation_client(&options).await?;
    start_with_client(options, client, shutdown).await
}

/// Starts the controller manager over `federation`: binds the status server, then (after winning the
/// election with `--leader-elect`) runs the cluster controller and every enabled propagation controller.
///
/// # Errors
/// [`Error::Bind`] when the status port is taken.
pub async fn start_with_client(
    options: ControllerManagerOptions,
    federation: kube::Client,
    shutdown: CancellationToken,
) -> Result<ControllerManager, Error> {
    let metrics = Arc::new(Metrics::default());
    let status = match u16::try_from(options.port) {
        Ok(port) => {
            let address = SocketAddr::new(options.address, port);
            Some(
                status_server::start(address, metrics.clone(), shutdown.clone())
                    .await
                    .map_err(|source| Error::Bind { address, source })?,
            )
        }
        Err(_) => None,
    };
    let status_address = status.as_ref().map(|(address, _)| *address);
    let task = tokio::spawn(run_controllers(
        options,
        federation,
        metrics.clone(),
        shutdown,
        status,
    ));
    Ok(ControllerManager {
        status_address,
        metrics,
        task,
    })
}

/// Runs the controller manager until `shutdown`.
///
/// # Errors
/// As [`start`] and [`ControllerManager::wait`].
pub async fn run(options: ControllerManagerOptions, shutdown: CancellationToken) -> Result<(), Error> {
    let manager = start(options, shutdown).await?;
    if let Some(address) = manager.status_address() {
        info!(%address, "serving /healthz and /metrics");
    }
    manager.wait().await
}

async fn run_controllers(
    options: ControllerManagerOptions,
    federation: kube::Client,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    status: Option<(SocketAddr, JoinHandle<()>)>,
) -> Result<(), Error> {
    let namespace = options.federation_only_namespace.clone();
    ensure_federation_only_namespace(&federation, &namespace, &shutdown).await;
    // Controllers stop on shutdown or when leadership is lost.
    let stop = shutdown.child_token();
    let lost = CancellationToken::new();
    let mut election = None;
    if options.leader_elect {
        let candidate = leader_election::LeaderElection::new(
            federation.clone(),
            &namespace,
            leader_election::default_identity(),
            options.leader_elect_lease_duration,
            options.leader_elect_renew_deadline,
            options.leader_elect_retry_period,
        );
        if !candidate.acquire(&shutdown).await {
            return finish(status).await;
        }
        let (shutdown, lost, stop) = (shutdown.clone(), lost.clone(), stop.clone());
        election = Some(tokio::spawn(async move {
            candidate.hold(&shutdown, &lost).await;
            stop.cancel();
        }));
    }
    if options.dns_provider.is_none() {
        info!("no --dns-provider: the DNS controller stays off");
    }
    let (cluster_controller, view) = clusters::ClusterController::new(
        federation.clone(),
        &namespace,
        options.cluster_monitor_period,
        metrics.clone(),
    );
    let mut tasks = vec![tokio::spawn(cluster_controller.run(stop.clone()))];
    let (events, events_task) = events::EventRecorder::start(federation.clone());
    let settings = propagation::PropagationSettings {
        workers: options.concurrent_replicaset_syncs.max(1),
        federation_only_namespace: namespace.clone(),
        operation_timeout: OPERATION_TIMEOUT,
    };
    for kind in propagation::kinds::all() {
        if !options.controllers.enabled(kind.controller()) {
            info!(
                controller = kind.controller(),
                "controller disabled by --controllers"
            );
            continue;
        }
        tasks.push(tokio::spawn(propagation::run(
            kind,
            federation.clone(),
            view.clone(),
            metrics.clone(),
            events.clone(),
            settings.clone(),
            stop.clone(),
        )));
    }
    drop(events);
    info!("controllers running");
    stop.cancelled().await;
    for task in tasks {
        let _ = task.await;
    }
    events_task.abort();
    if let Some(election) = election {
        let _ = election.await;
    }
    finish(status).await?;
    if lost.is_cancelled() && !shutdown.is_cancelled() {
        return Err(Error::LeadershipLost);
    }
    info!("controller manager stopped");
    Ok(())
}

async fn finish(status: Option<(SocketAddr, JoinHandle<()>)>) -> Result<(), Error> {
    if let Some((_, server)) = status {
        let _ = server.await;
    }
    Ok(())
}

/// Creates the federation-only namespace (marked never to be propagated) unless it exists; retries until
/// the apiserver answers or shutdown.
async fn ensure_federation_only_namespace(
    federation: &kube::Client,
    name: &str,
    shutdown: &CancellationToken,
) {
    let namespaces = Api::<Namespace>::all(federation.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            annotations: Some(
                [(
                    CLUSTER_SELECTOR_ANNOTATION.to_owned(),
                    FEDERATION_CONTROL_PLANE_SELECTOR_VALUE.to_owned(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    loop {
        match namespaces.create(&PostParams::default(), &namespace).await {
            Ok(_) => {
                info!(namespace = name, "created the federation-only namespace");
                return;
            }
            Err(kube::Error::Api(status)) if status.is_already_exists() => return,
            Err(error) => {
                warn!(%error, namespace = name, "creating the federation-only namespace failed; retrying")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
