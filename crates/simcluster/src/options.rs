//! `fcp sim-cluster` flags: the simulator's own plus every apiserver flag.

use std::time::Duration;

use fcp_apiserver::{ApiServerOptions, options::parse_duration};

/// Most nodes one simulated cluster may have (node IPs are `10.<c>.0.<1..=254>`).
pub const MAX_NODES: usize = 254;

/// A simulated member cluster: the API server with the member profile plus a simulator. It is NOT a
/// cluster: there is no kubelet, no scheduler, no container runtime and no network; nothing runs.
#[derive(Debug, Clone, clap::Args)]
#[command(
    about = "Run a simulated member cluster (a simulator, not a cluster: nothing runs)",
    long_about = "Run a simulated member cluster, like kwok: the API server with the member profile \
(the federated kinds plus pods, nodes, endpoints and serviceaccounts) and a small simulator that talks to \
it over HTTP.\n\n\
This is a simulator, not a cluster. There is no kubelet, no scheduler, no container runtime and no \
network: no container is ever started. Every status is made up by the simulator: it creates the \
nodes, creates pods for Deployments, ReplicaSets, DaemonSets and Jobs and marks them Running and Ready \
(or Succeeded, for Jobs) after --ready-after, keeps pods beyond --pod-capacity Pending and \
Unschedulable, reports workload status, gives LoadBalancer services an ingress IP, fills Endpoints \
and mints token secrets for service accounts (those tokens are not accepted by this API server).\n\n\
The simulator uses a loopback plain-HTTP port: when --insecure-port is not given, one is opened on \
127.0.0.1 on a free port. Use a fresh --data-dir per cluster; restarting with the same --data-dir \
continues where the cluster left off."
)]
pub struct SimClusterOptions {
    /// The cluster's name; it names the nodes (`<name>-node-<i>`) and picks the cluster's address
    /// ranges (pod, node and load-balancer IPs).
    #[arg(long, value_name = "NAME")]
    pub name: String,

    /// How many nodes to simulate (at most 254).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub nodes: usize,

    /// Zones of the nodes, comma separated; nodes are spread over them round-robin.
    /// Default: one zone, `zone-<name>`.
    #[arg(long, value_delimiter = ',', value_name = "ZONES")]
    pub zone: Vec<String>,

    /// Region of every node.
    #[arg(long, default_value = "region-1", value_name = "REGION")]
    pub region: String,

    /// How many pods the whole cluster can run; pods beyond it stay Pending with
    /// PodScheduled=False, reason Unschedulable. Default: unlimited (each node then reports 110 pods of
    /// capacity, which is not enforced).
    #[arg(long, value_name = "N")]
    pub pod_capacity: Option<usize>,

    /// How long a scheduled pod takes to become Running and Ready (and a Job's running pod to succeed):
    /// 500ms, 1s, 2m.
    #[arg(long, default_value = "1s", value_parser = parse_duration, value_name = "DURATION")]
    pub ready_after: Duration,

    /// The API server's flags.
    #[command(flatten)]
    pub apiserver: ApiServerOptions,
}

impl SimClusterOptions {
    /// The zones nodes are spread over: `--zone`, or `zone-<name>` when none is given.
    #[must_use]
    pub fn zones(&self) -> Vec<String> {
        let zones: Vec<String> = self
            .zone
            .iter()
            .map(|z| z.trim().to_owned())
            .filter(|z| !z.is_empty())
            .collect();
        if zones.is_empty() {
            vec![format!("zone-{}", self.name)]
        } else {
            zones
        }
    }

    /// Checks the simulator's own flags (the apiserver checks its own when it starts).
    ///
    /// # Errors
    /// A message naming the flag.
    pub fn validate(&self) -> Result<(), String> {
        if !is_dns_label(&self.name) {
            return Err(format!(
                "--name {:?}: must be a DNS label (lower-case letters, digits and '-', at most 50 characters)",
                self.name
            ));
        }
        if self.nodes > MAX_NODES {
            return Err(format!("--nodes {}: at most {MAX_NODES}", self.nodes));
        }
        if self.region.trim().is_empty() {
            return Err("--region: must not be empty".to_owned());
        }
        Ok(())
    }
}

/// Whether `name` can prefix node names: a DNS label short enough to leave room for `-node-<i>`.
fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 50
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        options: SimClusterOptions,
    }

    fn parse(args: &[&str]) -> SimClusterOptions {
        Cli::try_parse_from(std::iter::once("sim-cluster").chain(args.iter().copied()))
            .expect("flags parse")
            .options
    }

    #[test]
    fn defaults() {
        let options = parse(&["--name", "c1"]);
        assert_eq!(options.nodes, 3);
        assert_eq!(options.zones(), vec!["zone-c1".to_owned()]);
        assert_eq!(options.region, "region-1");
        assert_eq!(options.pod_capacity, None);
        assert_eq!(options.ready_after, Duration::from_secs(1));
        assert_eq!(options.apiserver.insecure_port, 0);
        assert!(options.validate().is_ok());
    }

    #[test]
    fn zones_are_a_comma_list_and_apiserver_flags_work() {
        let options = parse(&[
            "--name",
            "c2",
            "--zone",
            "a,b",
            "--ready-after",
            "200ms",
            "--pod-capacity",
            "2",
            "--insecure-port",
            "1234",
        ]);
        assert_eq!(options.zones(), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(options.ready_after, Duration::from_millis(200));
        assert_eq!(options.pod_capacity, Some(2));
        assert_eq!(options.apiserver.insecure_port, 1234);
    }

    #[test]
    fn validation() {
        assert!(parse(&["--name", "Bad_Name"]).validate().is_err());
        assert!(parse(&["--name", "c", "--nodes", "255"]).validate().is_err());
        assert!(
            Cli::try_parse_from(["sim-cluster"]).is_err(),
            "--name is required"
        );
    }

    #[test]
    fn help_says_it_is_a_simulator() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("This is a simulator, not a cluster"), "{help}");
        assert!(help.contains("loopback plain-HTTP port"), "{help}");
    }
}
