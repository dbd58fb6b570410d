//! Integration tests of the controller manager: a real federation apiserver (embedded store, loopback) and
//! real simulated member clusters (`fcp_simcluster`), the controller manager in-process over kube-rs.

mod clusters;
mod propagation;
mod restart;
mod scheduling;

use std::{collections::BTreeMap, future::Future, path::Path, time::Duration};

use anyhow::{Context as _, bail};
use clap::Parser;
use fcp_api::{Cluster, ClusterSpec, ServerAddressByClientCIDR};
use fcp_controllers::{ControllerManager, ControllerManagerOptions};
use fcp_testkit::{apiserver::TestApiServer, simcluster::TestSimCluster};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use tokio_util::sync::CancellationToken;

/// How long anything may take to converge on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(60);
/// The monitor period the tests run with.
pub const MONITOR_PERIOD: &str = "1s";

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    options: ControllerManagerOptions,
}

/// Controller-manager options from flags.
pub fn options(args: &[&str]) -> anyhow::Result<ControllerManagerOptions> {
    let mut argv = vec![
        "federation-controller-manager",
        "--port",
        "0",
        "--address",
        "127.0.0.1",
    ];
    argv.extend_from_slice(args);
    Ok(Flags::try_parse_from(argv)?.options)
}

/// A running controller manager and its stop switch.
pub struct Manager {
    pub manager: Option<ControllerManager>,
    pub shutdown: CancellationToken,
}

impl Manager {
    /// Starts one against `client` with extra flags.
    pub async fn start(client: &kube::Client, args: &[&str]) -> anyhow::Result<Self> {
        let mut all = vec!["--cluster-monitor-period", MONITOR_PERIOD];
        all.extend_from_slice(args);
        let shutdown = CancellationToken::new();
        let manager =
            fcp_controllers::start_with_client(options(&all)?, client.clone(), shutdown.clone()).await?;
        Ok(Self {
            manager: Some(manager),
            shutdown,
        })
    }

    /// Member writes issued so far.
    pub fn member_writes(&self) -> u64 {
        self.manager.as_ref().map_or(0, |m| m.metrics().member_writes())
    }

    /// The `/metrics` text.
    pub fn metrics_text(&self) -> String {
        self.manager
            .as_ref()
            .map(|m| m.metrics().render())
            .unwrap_or_default()
    }

    /// Stops it and waits until it stopped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(manager) = self.manager.take() {
            tokio::time::timeout(DEADLINE, manager.wait())
                .await
                .context("manager did not stop")??;
        }
        Ok(())
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A federation apiserver, its members and a controller manager.
pub struct Federation {
    pub api: TestApiServer,
    pub client: kube::Client,
    pub members: Vec<TestSimCluster>,
    pub manager: Option<Manager>,
}

impl Federation {
    /// `count` members named cluster-1…, each joined with labels `cluster=<i>`, and a controller manager.
    pub async fn start(count: usize, sim_args: &[&str]) -> anyhow::Result<Self> {
        let mut federation = Self::without_manager(count, sim_args).await?;
        federation.manager = Some(Manager::start(&federation.client, &[]).await?);
        Ok(federation)
    }

    /// Like [`Federation::start`] with each member's own sim-cluster flags (`cluster-<i>` gets
    /// `member_args[i - 1]`).
    pub async fn start_each(member_args: &[&[&str]]) -> anyhow::Result<Self> {
        let mut federation = Self::without_manager_each(member_args).await?;
        federation.manager = Some(Manager::start(&federation.client, &[]).await?);
        Ok(federation)
    }

    /// Like [`Federation::start`] without starting the controller manager.
    pub async fn without_manager(count: usize, sim_args: &[&str]) -> anyhow::Result<Self> {
        Self::without_manager_each(&vec![sim_args; count]).await
    }

    async fn without_manager_each(member_args: &[&[&str]]) -> anyhow::Result<Self> {
        let api = TestApiServer::embedded().await?;
        let client = kube::Client::try_from(kube::Config::new(api.base_url().parse()?))?;
        let mut members = Vec::new();
        for (i, sim_args) in (1..).zip(member_args) {
            let member = TestSimCluster::start(&format!("cluster-{i}"), sim_args).await?;
            join(
                &client,
                &format!("cluster-{i}"),
                member.base_url(),
                &[("cluster", &i.to_string())],
            )
            .await?;
            members.push(member);
        }
        Ok(Self {
            api,
            client,
            members,
            manager: None,
        })
    }

    /// The member named `cluster-<i>` (1-based).
    pub fn member(&self, i: usize) -> kube::Client {
        self.members[i - 1].client()
    }

    /// Waits until every member's Cluster is Ready.
    pub async fn wait_ready(&self) -> anyhow::Result<()> {
        let clusters = Api::<Cluster>::all(self.client.clone());
        for i in 1..=self.members.len() {
            let name = format!("cluster-{i}");
            eventually(&format!("{name} Ready"), || async {
                Ok(clusters.get(&name).await?.is_ready().then_some(()))
            })
            .await?;
        }
        Ok(())
    }
}

/// Registers a Cluster `name` at `address` (no credentials secret: the insecure port needs none).
pub async fn join(
    client: &kube::Client,
    name: &str,
    address: &str,
    labels: &[(&str, &str)],
) -> anyhow::Result<()> {
    let mut cluster = Cluster::new(
        name,
        ClusterSpec {
            server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
                client_cidr: "0.0.0.0/0".into(),
                server_address: address.to_owned(),
            }],
            secret_ref: None,
        },
    );
    cluster.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    );
    Api::<Cluster>::all(client.clone())
        .create(&PostParams::default(), &cluster)
        .await
        .with_context(|| format!("create cluster {name}"))?;
    Ok(())
}

/// Polls `check` until it yields a value, failing after [`DEADLINE`] with `what`. Errors from `check`
/// count as "not yet" (a member may be restarting) and the last one is reported.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if tokio::time::Instant::now() > deadline {
            match last_error {
                Some(error) => bail!("timed out waiting for {what}; last error: {error:#}"),
                None => bail!("timed out waiting for {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A ConfigMap `name` in `namespace` with `data`.
pub fn config_map(namespace: &str, name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        ),
        ..ConfigMap::default()
    }
}

/// The `data` of ConfigMap `namespace/name` in `client`'s cluster, `None` when absent.
pub async fn config_map_data(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<Option<BTreeMap<String, String>>> {
    Ok(Api::<ConfigMap>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await?
        .map(|c| c.data.unwrap_or_default()))
}

/// Creates namespace `name` in the federation.
pub async fn create_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let namespace = k8s_openapi::api::core::v1::Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        ..Default::default()
    };
    Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(())
}

/// A temporary directory for a member that is stopped and started again.
pub fn member_dir() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new().prefix("fcp-test-member-").tempdir()?)
}

/// Starts member `name` in `dir` on `port` (so a restart keeps its address).
pub async fn start_member_in(
    name: &str,
    dir: &Path,
    port: u16,
    extra: &[&str],
) -> anyhow::Result<TestSimCluster> {
    let port = port.to_string();
    let mut args = vec!["--insecure-port", port.as_str(), "--ready-after", "100ms"];
    args.extend_from_slice(extra);
    TestSimCluster::start_in(name, dir, &args).await
}
