//! Member clusters: who they are, whether they are healthy, and how to talk to them.
//!
//! * [`client`]: a kube-rs client for one member from its Cluster object and credentials secret.
//! * [`health`]: the cluster controller, probing every member's `/healthz` each
//!   `--cluster-monitor-period`, writing `Ready`/`Offline` conditions, zones and region to the Cluster's
//!   status, and publishing the [`ClusterView`] every other controller works from.
//!
//! The view is *observation*, kept apart from the Cluster objects (intent): a propagation controller never
//! reads Cluster status, it reads the view, which changes only when a member's readiness, labels or client
//! change. A status write that only refreshes `lastProbeTime` therefore wakes nobody.

pub mod client;
pub mod health;

use std::{collections::BTreeMap, sync::Arc};

pub use health::ClusterController;

/// One registered member cluster as the controllers see it.
#[derive(Clone)]
pub struct MemberCluster {
    /// The Cluster object's name.
    pub name: String,
    /// The Cluster object's labels (what cluster selectors match).
    pub labels: BTreeMap<String, String>,
    /// Whether its last probe answered `ok`. Only ready clusters receive writes; an unready one blocks the
    /// cascading deletion of objects that may have copies there.
    pub ready: bool,
    /// Its client; `None` while the client cannot be built (no secret yet, bad address ...).
    pub client: Option<kube::Client>,
    /// Changes whenever the client is rebuilt or readiness flips, so per-member watches know to restart.
    pub epoch: u64,
}

impl MemberCluster {
    /// The client of a ready member, `None` otherwise.
    #[must_use]
    pub fn ready_client(&self) -> Option<&kube::Client> {
        self.client.as_ref().filter(|_| self.ready)
    }
}

impl std::fmt::Debug for MemberCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberCluster")
            .field("name", &self.name)
            .field("labels", &self.labels)
            .field("ready", &self.ready)
            .field("has_client", &self.client.is_some())
            .field("epoch", &self.epoch)
            .finish()
    }
}

/// Every registered member, by name; `None` until the cluster controller's first pass completed (before
/// that nobody knows which members are ready, and propagation must not conclude anything).
pub type ClusterView = Option<Arc<BTreeMap<String, Arc<MemberCluster>>>>;

/// Subscribers' end of the view.
pub type ClusterViewReceiver = tokio::sync::watch::Receiver<ClusterView>;
