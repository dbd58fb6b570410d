//! Integration tests of the simulated member cluster: real servers on free loopback ports over the embedded
//! store in temporary directories, driven with kube-rs and kubectl. Every wait polls with a deadline.

mod accounts;
mod kubectl;
mod nodes;
mod restart;
mod services;
mod workloads;

use std::{future::Future, time::Duration};

use fcp_testkit::simcluster::TestSimCluster;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client, api::ListParams};

/// How long any one expectation may take.
const DEADLINE: Duration = Duration::from_secs(30);
/// How often state is read again while waiting.
const POLL: Duration = Duration::from_millis(50);

/// A simulated cluster with `--ready-after 200ms` and `args`.
async fn cluster(name: &str, args: &[&str]) -> TestSimCluster {
    let mut all = vec!["--ready-after", "200ms"];
    all.extend_from_slice(args);
    TestSimCluster::start(name, &all)
        .await
        .expect("the simulated cluster starts")
}

/// Polls `check` until it returns `Some`, failing the test after [`DEADLINE`] with `what` and the last
/// value `describe` gave.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(last) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "timed out waiting for {what}; last seen: {last}"
                );
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The pods in `namespace` matching `selector`.
async fn pods(client: &Client, namespace: &str, selector: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&ListParams::default().labels(selector))
        .await
        .expect("list pods")
        .items
}

/// The pod's phase.
fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// The pod's condition of `type_`, as `(status, reason)`.
fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<(&'a str, Option<&'a str>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.as_str(), c.reason.as_deref()))
}

/// The storage revision now: the resourceVersion of a fresh list (a consistent read).
async fn revision(client: &Client) -> u64 {
    let list = Api::<k8s_openapi::api::core::v1::ConfigMap>::all(client.clone())
        .list(&ListParams::default())
        .await
        .expect("list configmaps");
    list.metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse().ok())
        .expect("a numeric list resourceVersion")
}

/// Waits until nothing is written for `quiet` (polling the revision), and returns the revision then.
async fn settled(client: &Client, quiet: Duration) -> u64 {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut last = revision(client).await;
    let mut since = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        let now = revision(client).await;
        if now != last {
            last = now;
            since = tokio::time::Instant::now();
        } else if since.elapsed() >= quiet {
            return last;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cluster kept writing (revision {last})"
        );
    }
}
