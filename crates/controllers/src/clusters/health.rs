//! The cluster controller (reference §3.4, with v1's defects §7.3 #8 fixed).
//!
//! Every `--cluster-monitor-period`, and at once when a Cluster's spec or labels or its credentials secret
//! change, it makes one *pass*: for every Cluster it (re)builds the member client when the Cluster or the
//! secret changed (and retries a client that could not be built, which v1 never did), `GET /healthz`, lists
//! the member's nodes for zones and region, and writes the status. Probes and writes run concurrently, each
//! bounded by a timeout, so one dead member does not delay the others.
//!
//! Conditions, exactly v1's:
//!
//! | probe | conditions |
//! |---|---|
//! | request failed | `Offline=True` `ClusterNotReachable` "cluster is not reachable" |
//! | body ≠ `ok` | `Ready=False` `ClusterNotReady` "/healthz responded without ok"; `Offline=False` `ClusterReachable` "cluster is reachable" |
//! | body = `ok` | `Ready=True` `ClusterReady` "/healthz responded with ok" |
//!
//! `lastProbeTime` is the probe's time; `lastTransitionTime` is carried over from the stored status when it
//! has the same number of conditions with the same type and status in the same positions
//! (case-insensitively), else it is the probe's time. A client that cannot be built is reported like an
//! unreachable member, with the cause in the message.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use fcp_api::{
    Cluster, ClusterCondition, ClusterStatus,
    cluster::{CONDITION_FALSE, CONDITION_TRUE, OFFLINE_CONDITION, READY_CONDITION},
    names::{REGION_LABEL, REGION_LABEL_BETA, ZONE_LABEL, ZONE_LABEL_BETA},
};
use futures::{StreamExt, future::join_all};
use k8s_openapi::{
    api::core::v1::{Node, Secret},
    apimachinery::pkg::apis::meta::v1::Time,
};
use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::{WatchStreamExt, reflector, watcher},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use super::{ClusterView, ClusterViewReceiver, MemberCluster, client::member_config};
use crate::metrics::Metrics;

/// What one `/healthz` probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// The request failed: the cause (logged, not written: v1's message is fixed).
    Unreachable(String),
    /// No client could be built from the Cluster and its secret: the cause, which is written.
    NoClient(String),
    /// The member answered, but not `ok`.
    NotReady,
    /// The member answered `ok`.
    Ready,
}

/// The client of one member, with what it was built from.
struct CachedClient {
    /// Cluster spec and secret version the client was built from.
    fingerprint: String,
    client: Result<kube::Client, String>,
    ready: bool,
    epoch: u64,
}

/// Probes members, writes Cluster status and publishes the [`ClusterView`].
pub struct ClusterController {
    federation: kube::Client,
    credentials_namespace: String,
    period: Duration,
    metrics: Arc<Metrics>,
    view: watch::Sender<ClusterView>,
    clients: BTreeMap<String, CachedClient>,
    next_epoch: u64,
}

impl ClusterController {
    /// A controller reading Clusters from `federation` and their secrets from `credentials_namespace`, with
    /// the receiving end of its view.
    #[must_use]
    pub fn new(
        federation: kube::Client,
        credentials_namespace: &str,
        period: Duration,
        metrics: Arc<Metrics>,
    ) -> (Self, ClusterViewReceiver) {
        let (view, receiver) = watch::channel(None);
        (
            Self {
                federation,
                credentials_namespace: credentials_namespace.to_owned(),
                period: period.max(Duration::from_millis(100)),
                metrics,
                view,
                clients: BTreeMap::new(),
                next_epoch: 1,
            },
            receiver,
        )
    }

    /// Another receiver of the view.
    #[must_use]
    pub fn subscribe(&self) -> ClusterViewReceiver {
        self.view.subscribe()
    }

    /// Runs until `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let (clusters, cluster_writer) = reflector::store::<Cluster>();
        let (secrets, secret_writer) = reflector::store::<Secret>();
        let cluster_events = reflector(
            cluster_writer,
            watcher(
                Api::<Cluster>::all(self.federation.clone()),
                watcher::Config::default(),
            ),
        )
        .default_backoff();
        let secret_events = reflector(
            secret_writer,
            watcher(
                Api::<Secret>::namespaced(self.federation.clone(), &self.credentials_namespace),
                watcher::Config::default(),
            ),
        )
        .default_backoff();
        let mut cluster_events = std::pin::pin!(cluster_events);
        let mut secret_events = std::pin::pin!(secret_events);
        let (mut clusters_listed, mut secrets_listed) = (false, false);
        let mut ticker = tokio::time::interval(self.period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_inputs = String::new();
        loop {
            let mut due = false;
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = ticker.tick() => due = true,
                event = cluster_events.next() => match event {
                    Some(Ok(watcher::Event::InitDone)) => clusters_listed = true,
                    Some(Ok(_)) => {}
                    Some(Err(error)) => warn!(%error, "watch of clusters failed; retrying"),
                    None => break,
                },
                event = secret_events.next() => match event {
                    Some(Ok(watcher::Event::InitDone)) => secrets_listed = true,
                    Some(Ok(_)) => {}
                    Some(Err(error)) => warn!(%error, "watch of credentials secrets failed; retrying"),
                    None => break,
                },
            }
            if !(clusters_listed && secrets_listed) {
                continue;
            }
            let clusters = clusters.state();
            let secrets: BTreeMap<String, Arc<Secret>> =
                secrets.state().into_iter().map(|s| (s.name_any(), s)).collect();
            let inputs = inputs_fingerprint(&clusters, &secrets);
            if !due && inputs == last_inputs && self.view.borrow().is_some() {
                continue;
            }
            last_inputs = inputs;
            self.pass(&clusters, &secrets)
                .instrument(info_span!("cluster_pass"))
                .await;
            if !due {
                ticker.reset();
            }
        }
    }

    /// Probes every cluster once, writes their status and publishes the view.
    async fn pass(&mut self, clusters: &[Arc<Cluster>], secrets: &BTreeMap<String, Arc<Secret>>) {
        let names: BTreeSet<String> = clusters.iter().map(|c| c.name_any()).collect();
        let forgotten: Vec<String> = self
            .clients
            .keys()
            .filter(|n| !names.contains(*n))
            .cloned()
            .collect();
        for name in forgotten {
            info!(cluster = %name, "cluster deleted; forgetting its client");
            self.clients.remove(&name);
            self.metrics.cluster_health(&name, None);
        }
        for cluster in clusters {
            self.refresh_client(cluster, secrets).await;
        }
        let timeout = (self.period / 2).clamp(Duration::from_millis(500), Duration::from_secs(10));
        let probes = clusters.iter().map(|cluster| {
            let name = cluster.name_any();
            let client = self.clients.get(&name).map(|c| c.client.clone());
            let federation = self.federation.clone();
            let metrics = self.metrics.clone();
            let span = info_span!("probe", cluster = %name);
            let cluster = cluster.clone();
            async move {
                let (probe, topology) = match client {
                    Some(Ok(client)) => {
                        metrics.probe();
                        let probe = probe_health(&client, timeout).await;
                        let topology = if probe == Probe::Ready {
                            node_topology(&client, timeout).await
                        } else {
                            None
                        };
                        (probe, topology)
                    }
                    Some(Err(reason)) => (Probe::NoClient(reason), None),
                    None => (Probe::NoClient("no client".to_owned()), None),
                };
                let status = next_status(
                    cluster.status.as_ref(),
                    &probe,
                    topology,
                    Time(jiff::Timestamp::now()),
                );
                if let Err(error) = write_status(&federation, &name, &status, timeout).await {
                    warn!(cluster = %name, %error, "writing cluster status failed; retrying next period");
                }
                (name, probe)
            }
            .instrument(span)
        });
        let results = join_all(probes).await;
        let mut members = BTreeMap::new();
        for (name, probe) in results {
            let ready = probe == Probe::Ready;
            self.metrics.cluster_health(&name, Some(ready));
            let Some(cached) = self.clients.get_mut(&name) else {
                continue;
            };
            if cached.ready != ready {
                match &probe {
                    Probe::Unreachable(reason) | Probe::NoClient(reason) => {
                        warn!(cluster = %name, %reason, "cluster is not reachable");
                    }
                    Probe::NotReady => warn!(cluster = %name, "cluster is not ready"),
                    Probe::Ready => info!(cluster = %name, "cluster is ready"),
                }
                cached.ready = ready;
                cached.epoch = self.next_epoch;
                self.next_epoch += 1;
            }
            let labels = clusters
                .iter()
                .find(|c| c.name_any() == name)
                .map(|c| c.labels().clone())
                .unwrap_or_default();
            members.insert(
                name.clone(),
                Arc::new(MemberCluster {
                    name,
                    labels,
                    ready,
                    client: cached.client.as_ref().ok().cloned(),
                    epoch: cached.epoch,
                }),
            );
        }
        self.publish(members);
    }

    /// Rebuilds the client of `cluster` when its spec or secret changed, or when the last build failed.
    async fn refresh_client(&mut self, cluster: &Cluster, secrets: &BTreeMap<String, Arc<Secret>>) {
        let name = cluster.name_any();
        let secret_name = cluster.spec.secret_ref.as_ref().map(|r| r.name.clone());
        let secret = secret_name.as_ref().and_then(|n| secrets.get(n));
        let fingerprint = client_fingerprint(cluster, secret.map(AsRef::as_ref));
        if let Some(cached) = self.clients.get(&name)
            && cached.fingerprint == fingerprint
            && cached.client.is_ok()
        {
            return;
        }
        let client = match (&secret_name, secret) {
            (Some(secret_name), None) => Err(super::client::ClientError::SecretNotFound {
                cluster: name.clone(),
                namespace: self.credentials_namespace.clone(),
                name: secret_name.clone(),
            }
            .to_string()),
            _ => match member_config(cluster, secret.map(AsRef::as_ref)).await {
                Ok(config) => kube::Client::try_from(config).map_err(|e| format!("cluster {name}: {e}")),
                Err(error) => Err(error.to_string()),
            },
        };
        match &client {
            Ok(_) => debug!(cluster = %name, "member client built"),
            Err(reason) => {
                warn!(cluster = %name, %reason, "member client cannot be built; retrying next period")
            }
        }
        let epoch = self.next_epoch;
        self.next_epoch += 1;
        let ready = self.clients.get(&name).is_some_and(|c| c.ready);
        self.clients.insert(
            name,
            CachedClient {
                fingerprint,
                client,
                ready,
                epoch,
            },
        );
    }

    /// Publishes `members` when a member's readiness, labels or client changed.
    fn publish(&self, members: BTreeMap<String, Arc<MemberCluster>>) {
        self.view.send_if_modified(|current| {
            let same = current.as_ref().is_some_and(|current| {
                current.len() == members.len()
                    && current.iter().zip(&members).all(|((a_name, a), (b_name, b))| {
                        a_name == b_name && a.ready == b.ready && a.epoch == b.epoch && a.labels == b.labels
                    })
            });
            if !same {
                *current = Some(Arc::new(members));
            }
            !same
        });
    }
}

/// What a pass depends on besides time: every Cluster's labels and spec and every secret's version.
fn inputs_fingerprint(clusters: &[Arc<Cluster>], secrets: &BTreeMap<String, Arc<Secret>>) -> String {
    let mut out = String::new();
    let mut sorted: Vec<&Arc<Cluster>> = clusters.iter().collect();
    sorted.sort_by_key(|c| c.name_any());
    for cluster in sorted {
        out.push_str(&cluster.name_any());
        out.push_str(&serde_json::to_string(cluster.labels()).unwrap_or_default());
        out.push_str(&serde_json::to_string(&cluster.spec).unwrap_or_default());
        out.push('\n');
    }
    for (name, secret) in secrets {
        out.push_str(name);
        out.push_str(secret.metadata.resource_version.as_deref().unwrap_or(""));
        out.push('\n');
    }
    out
}

/// What a member client is built from: the Cluster's spec and its secret's identity and version (never the
/// secret's content).
fn client_fingerprint(cluster: &Cluster, secret: Option<&Secret>) -> String {
    format!(
        "{}|{}|{}",
        serde_json::to_string(&cluster.spec).unwrap_or_default(),
        secret.and_then(|s| s.metadata.uid.as_deref()).unwrap_or(""),
        secret
            .and_then(|s| s.metadata.resource_version.as_deref())
            .unwrap_or("")
    )
}

/// `GET /healthz` on the member, bounded by `timeout`.
pub async fn probe_health(client: &kube::Client, timeout: Duration) -> Probe {
    let request = match http::Request::get("/healthz").body(Vec::new()) {
        Ok(request) => request,
        Err(error) => return Probe::Unreachable(error.to_string()),
    };
    match tokio::time::timeout(timeout, client.request_text(request)).await {
        Err(_) => Probe::Unreachable(format!("no answer within {timeout:?}")),
        Ok(Err(error)) => Probe::Unreachable(error.to_string()),
        Ok(Ok(body)) if body.trim().eq_ignore_ascii_case("ok") => Probe::Ready,
        Ok(Ok(_)) => Probe::NotReady,
    }
}

/// Zones and region of a member's nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    /// Sorted distinct zones; empty unless every node has a zone label.
    pub zones: Vec<String>,
    /// The first node's region.
    pub region: Option<String>,
}

/// Lists the member's nodes and reads their topology; `None` when the list fails (the stored values stay).
async fn node_topology(client: &kube::Client, timeout: Duration) -> Option<Topology> {
    let nodes = Api::<Node>::all(client.clone());
    match tokio::time::timeout(timeout, nodes.list(&ListParams::default())).await {
        Ok(Ok(list)) => Some(topology_of(&list.items)),
        Ok(Err(error)) => {
            warn!(%error, "listing member nodes failed; zones and region unchanged");
            None
        }
        Err(_) => {
            warn!("listing member nodes timed out; zones and region unchanged");
            None
        }
    }
}

/// Zones and region from node labels: `topology.kubernetes.io/*`, else `failure-domain.beta.kubernetes.io/*`.
/// Every node must carry a zone label, else zones and region are empty (v1, with a warning).
#[must_use]
pub fn topology_of(nodes: &[Node]) -> Topology {
    let label = |node: &Node, key: &str, beta: &str| -> Option<String> {
        let labels = node.metadata.labels.as_ref()?;
        labels
            .get(key)
            .or_else(|| labels.get(beta))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let mut zones = BTreeSet::new();
    for node in nodes {
        match label(node, ZONE_LABEL, ZONE_LABEL_BETA) {
            Some(zone) => {
                zones.insert(zone);
            }
            None => {
                warn!(node = %node.name_any(), "node has no zone label; cluster zones left empty");
                return Topology::default();
            }
        }
    }
    Topology {
        zones: zones.into_iter().collect(),
        region: nodes
            .first()
            .and_then(|n| label(n, REGION_LABEL, REGION_LABEL_BETA)),
    }
}

/// The conditions v1 writes for `probe` at time `now`.
#[must_use]
pub fn conditions_for(probe: &Probe, now: &Time) -> Vec<ClusterCondition> {
    let condition = |type_: &str, status: &str, reason: &str, message: String| ClusterCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
        reason: Some(reason.to_owned()),
        message: Some(message),
    };
    match probe {
        Probe::Unreachable(_) => vec![condition(
            OFFLINE_CONDITION,
            CONDITION_TRUE,
            "ClusterNotReachable",
            "cluster is not reachable".to_owned(),
        )],
        Probe::NoClient(cause) => vec![condition(
            OFFLINE_CONDITION,
            CONDITION_TRUE,
            "ClusterNotReachable",
            format!("cluster is not reachable: {cause}"),
        )],
        Probe::NotReady => vec![
            condition(
                READY_CONDITION,
                CONDITION_FALSE,
                "ClusterNotReady",
                "/healthz responded without ok".to_owned(),
            ),
            condition(
                OFFLINE_CONDITION,
                CONDITION_FALSE,
                "ClusterReachable",
                "cluster is reachable".to_owned(),
            ),
        ],
        Probe::Ready => vec![condition(
            READY_CONDITION,
            CONDITION_TRUE,
            "ClusterReady",
            "/healthz responded with ok".to_owned(),
        )],
    }
}

/// The status to write after `probe`: v1's conditions with transition times carried over from `stored`
/// when the conditions did not change, and zones/region from `topology` (or kept from `stored`).
#[must_use]
pub fn next_status(
    stored: Option<&ClusterStatus>,
    probe: &Probe,
    topology: Option<Topology>,
    now: Time,
) -> ClusterStatus {
    let mut conditions = conditions_for(probe, &now);
    if let Some(stored) = stored {
        let unchanged = stored.conditions.len() == conditions.len()
            && stored.conditions.iter().zip(&conditions).all(|(old, new)| {
                old.type_.eq_ignore_ascii_case(&new.type_) && old.status.eq_ignore_ascii_case(&new.status)
            });
        if unchanged {
            for (new, old) in conditions.iter_mut().zip(&stored.conditions) {
                if old.last_transition_time.is_some() {
                    new.last_transition_time.clone_from(&old.last_transition_time);
                }
            }
        }
    }
    let topology = topology.unwrap_or_else(|| Topology {
        zones: stored.map(|s| s.zones.clone()).unwrap_or_default(),
        region: stored.and_then(|s| s.region.clone()),
    });
    ClusterStatus {
        conditions,
        zones: topology.zones,
        region: topology.region,
    }
}

/// Writes `status` to `clusters/<name>/status` with a merge patch (empty zones and region are cleared).
async fn write_status(
    federation: &kube::Client,
    name: &str,
    status: &ClusterStatus,
    timeout: Duration,
) -> Result<(), String> {
    let patch = serde_json::json!({
        "status": {
            "conditions": status.conditions,
            "zones": status.zones,
            "region": status.region,
        }
    });
    let clusters = Api::<Cluster>::all(federation.clone());
    match tokio::time::timeout(
        timeout,
        clusters.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).expect("valid"))
    }

    fn node(labels: &[(&str, &str)]) -> Node {
        Node {
            metadata: kube::api::ObjectMeta {
                name: Some("n".into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                ),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn conditions_are_v1s_for_each_probe_result() {
        let now = at(100);
        let offline = conditions_for(&Probe::Unreachable("no answer within 1s".into()), &now);
        assert_eq!(offline.len(), 1);
        assert_eq!(
            (
                offline[0].type_.as_str(),
                offline[0].status.as_str(),
                offline[0].reason.as_deref()
            ),
            ("Offline", "True", Some("ClusterNotReachable"))
        );
        assert_eq!(offline[0].message.as_deref(), Some("cluster is not reachable"));
        let not_ready = conditions_for(&Probe::NotReady, &now);
        let summary: Vec<_> = not_ready
            .iter()
            .map(|c| {
                (
                    c.type_.as_str(),
                    c.status.as_str(),
                    c.reason.as_deref().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("Ready", "False", "ClusterNotReady"),
                ("Offline", "False", "ClusterReachable")
            ]
        );
        let ready = conditions_for(&Probe::Ready, &now);
        assert_eq!(ready[0].message.as_deref(), Some("/healthz responded with ok"));
    }

    #[test]
    fn transition_times_carry_over_only_when_conditions_are_unchanged() {
        let first = next_status(None, &Probe::Ready, None, at(100));
        let second = next_status(Some(&first), &Probe::Ready, None, at(200));
        assert_eq!(second.conditions[0].last_transition_time, Some(at(100)));
        assert_eq!(second.conditions[0].last_probe_time, Some(at(200)));
        let third = next_status(Some(&second), &Probe::Unreachable("x".into()), None, at(300));
        assert_eq!(third.conditions[0].last_transition_time, Some(at(300)));
        let mut lower = third;
        lower.conditions[0].status = "true".into();
        lower.conditions[0].type_ = "offline".into();
        let fourth = next_status(Some(&lower), &Probe::Unreachable("x".into()), None, at(400));
        assert_eq!(
            fourth.conditions[0].last_transition_time,
            Some(at(300)),
            "case-insensitive comparison"
        );
    }

    #[test]
    fn topology_reads_both_label_families_and_needs_a_zone_on_every_node() {
        let nodes = [
            node(&[(ZONE_LABEL, "b"), (REGION_LABEL, "r1")]),
            node(&[(ZONE_LABEL_BETA, "a"), (REGION_LABEL_BETA, "r2")]),
            node(&[(ZONE_LABEL, "b")]),
        ];
        assert_eq!(
            topology_of(&nodes),
            Topology {
                zones: vec!["a".into(), "b".into()],
                region: Some("r1".into())
            }
        );
        let missing = [node(&[(ZONE_LABEL, "a")]), node(&[])];
        assert_eq!(topology_of(&missing), Topology::default());
    }

    #[test]
    fn stored_zones_stay_when_nodes_could_not_be_listed() {
        let stored = ClusterStatus {
            zones: vec!["z".into()],
            region: Some("r".into()),
            ..Default::default()
        };
        let next = next_status(Some(&stored), &Probe::Ready, None, at(1));
        assert_eq!(
            (next.zones, next.region),
            (vec!["z".to_owned()], Some("r".to_owned()))
        );
    }
}
