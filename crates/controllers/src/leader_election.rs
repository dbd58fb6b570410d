//! Leader election on a `coordination.k8s.io/v1` Lease (client-go's `leaderelection` semantics): a
//! candidate takes the Lease when it is free or its holder has not renewed within the lease duration; the
//! leader renews every retry period and gives up leadership when it could not renew for the renew deadline.
//! Every write is a compare-and-swap on the Lease's resourceVersion, so two candidates never both win.
//! On shutdown the leader releases the Lease so a successor need not wait for it to expire.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::MicroTime,
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// The Lease's name.
pub const LEASE_NAME: &str = "federation-controller-manager";

/// One candidate.
pub struct LeaderElection {
    leases: Api<Lease>,
    identity: String,
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
}

impl LeaderElection {
    /// A candidate named `identity` for the Lease in `namespace`.
    #[must_use]
    pub fn new(
        client: kube::Client,
        namespace: &str,
        identity: String,
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Self {
        Self {
            leases: Api::namespaced(client, namespace),
            identity,
            lease_duration,
            renew_deadline,
            retry_period: retry_period.max(Duration::from_millis(100)),
        }
    }

    /// This candidate's identity.
    #[must_use]
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Waits until this candidate holds the Lease; `false` when `shutdown` came first.
    pub async fn acquire(&self, shutdown: &CancellationToken) -> bool {
        let mut announced = false;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(true) => {
                    info!(identity = %self.identity, "became leader");
                    return true;
                }
                Ok(false) if !announced => {
                    info!(identity = %self.identity, "another controller-manager leads; waiting");
                    announced = true;
                }
                Ok(false) => {}
                Err(error) => debug!(%error, "leader election attempt failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = tokio::time::sleep(self.retry_period) => {}
            }
        }
    }

    /// Renews the Lease until `shutdown` (then releases it) or until renewing failed for the renew
    /// deadline, when `lost` is cancelled.
    pub async fn hold(&self, shutdown: &CancellationToken, lost: &CancellationToken) {
        let mut last_renewal = Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => {
                    self.release().await;
                    return;
                }
                () = tokio::time::sleep(self.retry_period) => {}
            }
            match self.try_acquire_or_renew().await {
                Ok(true) => last_renewal = Instant::now(),
                Ok(false) => {
                    warn!(identity = %self.identity, "the Lease was taken over; leadership lost");
                    lost.cancel();
                    return;
                }
                Err(error) => debug!(%error, "renewing the Lease failed"),
            }
            if last_renewal.elapsed() > self.renew_deadline {
                warn!(identity = %self.identity, deadline = ?self.renew_deadline, "could not renew the Lease; leadership lost");
                lost.cancel();
                return;
            }
        }
    }

    /// One attempt: `Ok(true)` when this candidate holds the Lease afterwards.
    async fn try_acquire_or_renew(&self) -> Result<bool, kube::Error> {
        let now = MicroTime(Timestamp::now());
        let seconds = i32::try_from(self.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(existing) = self.leases.get_opt(LEASE_NAME).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(LEASE_NAME.to_owned()),
                    ..ObjectMeta::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.leases.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.is_already_exists() => Ok(false),
                Err(error) => Err(error),
            };
        };
        let spec = existing.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let mine = holder == self.identity;
        if !mine && !holder.is_empty() && !expired(&spec) {
            return Ok(false);
        }
        let mut lease = existing;
        let mut next = spec.clone();
        if !mine {
            next.acquire_time = Some(now.clone());
            next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        next.holder_identity = Some(self.identity.clone());
        next.lease_duration_seconds = Some(seconds);
        next.renew_time = Some(now);
        lease.spec = Some(next);
        match self
            .leases
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.is_conflict() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Gives the Lease up (holder cleared), if this candidate still holds it.
    async fn release(&self) {
        let Ok(Some(mut lease)) = self.leases.get_opt(LEASE_NAME).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        match self
            .leases
            .replace(LEASE_NAME, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => info!(identity = %self.identity, "released the Lease"),
            Err(error) => debug!(%error, "releasing the Lease failed"),
        }
    }
}

/// Whether the holder's last renewal is older than its lease duration.
fn expired(spec: &LeaseSpec) -> bool {
    let Some(MicroTime(renewed)) = spec.renew_time.as_ref() else {
        return true;
    };
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    renewed
        .checked_add(jiff::SignedDuration::from_secs(duration))
        .is_ok_and(|until| until < Timestamp::now())
}

/// A unique identity: the host name and a per-process suffix.
#[must_use]
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let nanos = Timestamp::now().subsec_nanosecond();
    format!("{host}_{}_{nanos:x}", std::process::id())
}
