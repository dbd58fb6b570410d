//! A simulated member cluster (`fcp sim-cluster`), like kwok: the API server with the member profile plus a
//! small simulator that talks to it over HTTP with a kube-rs client, as a real cluster's controllers and
//! kubelets would. It stands in for a cluster on a machine that has none; nothing runs.
//!
//! What is simulated ([`sim`] modules): nodes (labels, Ready, capacity, node info); a `default`
//! ServiceAccount per namespace and a token Secret per ServiceAccount; pods for Deployments, ReplicaSets,
//! DaemonSets and Jobs, scheduled round-robin over the nodes up to `--pod-capacity` (the rest Pending and
//! Unschedulable), Running and Ready after `--ready-after` (Job pods then Succeeded); workload status;
//! load-balancer ingress and Endpoints for Services.
//!
//! What is not: containers, probes, restarts, failures, `minReadySeconds`, paused Deployments, taints and
//! affinity other than node selectors and daemon set pinning, EndpointSlices, HPA metrics, garbage
//! collection of kinds other than the simulated workloads' pods, and TokenReview of the minted tokens.
//!
//! Cost: one task for the simulator and one polling its eleven watches; no polling loops, only timers for
//! pods that become ready and for retrying failed writes. Objects of kinds it does not simulate
//! (ConfigMaps, ...) cost nothing.
//! It writes only differences, so a restart over the same `--data-dir` writes nothing when nothing changed.

mod cache;
mod names;
pub mod options;
mod sim;

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::Path,
    sync::Arc,
    time::Duration,
};

use fcp_apiserver::{Profile, Server, StartupError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use options::SimClusterOptions;

/// How long [`start`] waits for the simulator's first sync and the nodes.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often [`start`] tries another free loopback port for the simulator when the one it picked was taken.
const PORT_ATTEMPTS: usize = 5;

/// Why a simulated cluster could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A simulator flag is invalid.
    #[error("invalid flag: {0}")]
    InvalidFlag(String),
    /// The API server did not start or failed.
    #[error(transparent)]
    ApiServer(#[from] StartupError),
    /// The simulator's client could not be built.
    #[error("simulator client: {0}")]
    Client(String),
    /// The simulator did not finish its first sync in time.
    #[error(
        "the simulator did not become ready within {0:?} (are pods, nodes, endpoints and serviceaccounts served?)"
    )]
    NotReady(Duration),
    /// The simulator task failed.
    #[error("simulator failed: {0}")]
    Simulator(String),
}

/// A running simulated cluster: its API server and simulator. Stops when the shutdown token given to
/// [`start`] is cancelled.
#[derive(Debug)]
pub struct SimCluster {
    name: String,
    server: Server,
    simulator: JoinHandle<()>,
}

impl SimCluster {
    /// The cluster's name (`--name`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the plain-HTTP port listens: always on, the simulator uses it.
    #[must_use]
    pub fn insecure_address(&self) -> Option<SocketAddr> {
        self.server.insecure_address()
    }

    /// Where the HTTPS port listens, when enabled.
    #[must_use]
    pub fn secure_address(&self) -> Option<SocketAddr> {
        self.server.secure_address()
    }

    /// The CA of the generated serving certificate, when the server generated one.
    #[must_use]
    pub fn generated_ca_file(&self) -> Option<&Path> {
        self.server.generated_ca_file()
    }

    /// Waits until the simulator and the server have stopped (after the shutdown token is cancelled).
    ///
    /// # Errors
    /// When serving failed or the simulator task panicked.
    pub async fn wait(self) -> Result<(), Error> {
        let simulator = self.simulator.await;
        self.server.wait().await?;
        simulator.map_err(|e| Error::Simulator(e.to_string()))
    }
}

/// Starts the API server with the member profile, then the simulator against it; returns once the
/// simulator has listed every kind it simulates and the nodes exist as configured (or with
/// [`Error::NotReady`] after a minute). Without `--insecure-port`, a plain-HTTP port is opened on a free
/// loopback port for the simulator.
///
/// # Errors
/// [`Error`] when a flag is invalid, the server does not start or the simulator does not get ready.
pub async fn start(options: SimClusterOptions, shutdown: CancellationToken) -> Result<SimCluster, Error> {
    options.validate().map_err(Error::InvalidFlag)?;
    let mut apiserver = options.apiserver.clone();
    apiserver.profile = Profile::Member;
    let pick_port = apiserver.insecure_port == 0;
    if pick_port {
        apiserver.insecure_bind_address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    }
    let server_shutdown = shutdown.child_token();
    let mut attempt = 0;
    let server = loop {
        attempt += 1;
        if pick_port {
            apiserver.insecure_port =
                free_loopback_port().map_err(|e| Error::Client(format!("no free loopback port: {e}")))?;
        }
        match fcp_apiserver::start(apiserver.clone(), server_shutdown.clone()).await {
            Ok(server) => break server,
            Err(StartupError::Bind { .. }) if pick_port && attempt < PORT_ATTEMPTS => {}
            Err(e) => return Err(e.into()),
        }
    };
    let Some(address) = server.insecure_address() else {
        server_shutdown.cancel();
        return Err(Error::Client("the insecure port is not listening".to_owned()));
    };
    let connect = if address.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port())
    } else {
        address
    };
    let client = match client_for(connect) {
        Ok(client) => client,
        Err(e) => {
            server_shutdown.cancel();
            return Err(e);
        }
    };
    let ca_pem = match server.generated_ca_file() {
        Some(file) => std::fs::read(file).unwrap_or_else(|e| {
            tracing::warn!(file = %file.display(), error = %e, "cannot read the generated CA; token secrets get an empty ca.crt");
            Vec::new()
        }),
        None => Vec::new(),
    };
    let config = Arc::new(sim::Config {
        name: options.name.clone(),
        nodes: options.nodes,
        zones: options.zones(),
        region: options.region.clone(),
        pod_capacity: options.pod_capacity,
        ready_after: options.ready_after,
        ca_pem,
        plan: names::AddressPlan::new(&options.name),
    });
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let simulator_shutdown = shutdown.child_token();
    let simulator = tokio::spawn(sim::run(config, client, ready_tx, simulator_shutdown.clone()));
    tracing::info!(cluster = %options.name, %address, nodes = options.nodes, "simulated member cluster starting (a simulator, not a cluster)");
    let outcome = tokio::select! {
        ready = tokio::time::timeout(READY_TIMEOUT, ready_rx) => match ready {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(Error::Simulator("stopped before it was ready".to_owned())),
            Err(_) => Err(Error::NotReady(READY_TIMEOUT)),
        },
        () = shutdown.cancelled() => Ok(()),
    };
    if let Err(e) = outcome {
        simulator_shutdown.cancel();
        server_shutdown.cancel();
        return Err(e);
    }
    tracing::info!(cluster = %options.name, "simulated member cluster ready");
    Ok(SimCluster {
        name: options.name,
        server,
        simulator,
    })
}

/// [`start`], then [`SimCluster::wait`]: runs until `shutdown` is cancelled.
///
/// # Errors
/// As [`start`] and [`SimCluster::wait`].
pub async fn run(options: SimClusterOptions, shutdown: CancellationToken) -> Result<(), Error> {
    start(options, shutdown).await?.wait().await
}

/// A free port on 127.0.0.1 (bound and released).
fn free_loopback_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A kube-rs client for the plain-HTTP port at `address`.
fn client_for(address: SocketAddr) -> Result<kube::Client, Error> {
    let url = format!("http://{address}")
        .parse()
        .map_err(|e| Error::Client(format!("{e}")))?;
    kube::Client::try_from(kube::Config::new(url)).map_err(|e| Error::Client(e.to_string()))
}
