//! The flags of `fcp federation-controller-manager` (DESIGN.md §3.2; v1's names and defaults).

use std::{collections::BTreeMap, net::IpAddr, path::PathBuf, time::Duration};

/// How the controller manager runs. Every flag has v1's name; the defaults are v1's except where a note says
/// otherwise.
#[derive(Debug, Clone, clap::Args)]
pub struct ControllerManagerOptions {
    /// Kubeconfig of the federation apiserver (its current context is used). Without it and without
    /// --master, the in-cluster service account is used.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// URL of the federation apiserver; overrides the kubeconfig's server.
    #[arg(long, value_name = "URL")]
    pub master: Option<String>,

    /// The federation's name (used in DNS names by the DNS controller).
    #[arg(long, default_value = "", value_name = "NAME")]
    pub federation_name: String,

    /// DNS zone of the federation's records (e.g. example.com.).
    #[arg(long, default_value = "", value_name = "ZONE")]
    pub zone_name: String,

    /// Disambiguates zones with the same name at the DNS provider.
    #[arg(long, default_value = "", value_name = "ID")]
    pub zone_id: String,

    /// Suffix of service DNS records (default: --zone-name).
    #[arg(long, value_name = "SUFFIX")]
    pub service_dns_suffix: Option<String>,

    /// DNS provider: coredns, google-clouddns, aws-route53 or azure-azuredns. Without one the DNS controller
    /// stays off (with a warning); v1 crashed instead.
    #[arg(long, value_name = "PROVIDER", value_parser = ["coredns", "google-clouddns", "aws-route53", "azure-azuredns"])]
    pub dns_provider: Option<String>,

    /// The DNS provider's configuration file.
    #[arg(long, value_name = "FILE")]
    pub dns_provider_config: Option<PathBuf>,

    /// Controllers to turn on or off: `name=true|false,...` (configmaps, secrets, namespaces, daemonsets,
    /// deployments, replicasets). The cluster controller is always on.
    #[arg(long, value_name = "NAME=BOOL,...", value_parser = parse_controllers, default_value = "")]
    pub controllers: ControllerToggles,

    /// How often every member cluster's /healthz is probed and its Cluster status written.
    #[arg(long, default_value = "40s", value_parser = parse_duration, value_name = "DURATION")]
    pub cluster_monitor_period: Duration,

    /// Workers of the service controllers (services come with a later release; accepted now).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub concurrent_service_syncs: usize,

    /// Objects reconciled at once by each propagation controller (v1 accepted this flag and ran one worker).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub concurrent_replicaset_syncs: usize,

    /// Workers of the job controller (jobs come with a later release; accepted now).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub concurrent_job_syncs: usize,

    /// Requests per second to the federation apiserver. Accepted for v1 compatibility; kube-rs has no
    /// client-side limiter and fcp does not throttle yet.
    #[arg(long, default_value_t = 20.0, value_name = "QPS")]
    pub federated_api_qps: f32,

    /// Burst of requests to the federation apiserver (see --federated-api-qps).
    #[arg(long, default_value_t = 30, value_name = "N")]
    pub federated_api_burst: u32,

    /// Namespace of the federation apiserver that is never propagated: it holds the cluster credentials
    /// secrets and the leader-election Lease.
    #[arg(long, default_value = "federation-only", value_name = "NAMESPACE")]
    pub federation_only_namespace: String,

    /// Elect a leader through a Lease before running controllers (for several replicas).
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub leader_elect: bool,

    /// How long a leader's Lease is honoured by the others without a renewal.
    #[arg(long, default_value = "15s", value_parser = parse_duration, value_name = "DURATION")]
    pub leader_elect_lease_duration: Duration,

    /// How long the leader keeps trying to renew before it gives up leadership (and exits).
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub leader_elect_renew_deadline: Duration,

    /// How often candidates try to acquire, and the leader to renew, the Lease.
    #[arg(long, default_value = "2s", value_parser = parse_duration, value_name = "DURATION")]
    pub leader_elect_retry_period: Duration,

    /// Address of the status server (/healthz, /metrics).
    #[arg(long, default_value = "0.0.0.0", value_name = "IP")]
    pub address: IpAddr,

    /// Port of the status server (0 = a free port, -1 = off).
    #[arg(
        long,
        default_value_t = 10253,
        allow_negative_numbers = true,
        value_name = "PORT"
    )]
    pub port: i32,
}

/// The `--controllers` map: a controller absent from it is on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControllerToggles(pub BTreeMap<String, bool>);

impl ControllerToggles {
    /// Whether the controller named `name` runs.
    #[must_use]
    pub fn enabled(&self, name: &str) -> bool {
        self.0.get(name).copied().unwrap_or(true)
    }
}

fn parse_controllers(text: &str) -> Result<ControllerToggles, String> {
    let mut map = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| format!("{item:?} is not name=true|false"))?;
        let value = match value.trim() {
            "true" => true,
            "false" => false,
            other => return Err(format!("{name}={other}: the value must be true or false")),
        };
        map.insert(name.trim().to_owned(), value);
    }
    Ok(ControllerToggles(map))
}

/// Parses `500ms`, `1s`, `2m`, `1h` or a combination (`1m30s`).
///
/// # Errors
/// A one-line message naming what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err("empty duration".to_owned());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("{text:?} is not a duration like 500ms, 40s or 2m"));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("{text:?} is not a duration like 500ms, 40s or 2m"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => number / 1000.0,
            "s" => number,
            "m" => number * 60.0,
            "h" => number * 3600.0,
            _ => return Err(format!("{text:?} is not a duration like 500ms, 40s or 2m")),
        };
        total += Duration::from_secs_f64(seconds);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("40s"), Ok(Duration::from_secs(40)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("10").is_err());
    }

    #[test]
    fn controllers_flag_turns_named_controllers_off_and_leaves_the_rest_on() {
        let toggles = parse_controllers("secrets=false, deployments=true").expect("valid");
        assert!(!toggles.enabled("secrets"));
        assert!(toggles.enabled("deployments"));
        assert!(toggles.enabled("configmaps"));
        assert!(parse_controllers("secrets=maybe").is_err());
        assert!(parse_controllers("secrets").is_err());
    }
}
