//! `fcp federation-apiserver` flags, with the names federation v1 used (DESIGN.md §3.1).

use std::{net::IpAddr, path::PathBuf, time::Duration};

/// Flags of the federation apiserver.
///
/// Secure by default: HTTPS on 6443 with a self-signed certificate when none is given, no anonymous access,
/// RBAC authorization, NamespaceLifecycle admission; the plain-HTTP port is off unless asked for and binds
/// loopback.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiServerOptions {
    /// Which resources are served: the federation's (`fcp federation-apiserver`) or a member cluster's
    /// (`fcp sim-cluster`). Not a flag: the subcommand decides.
    #[arg(skip)]
    pub profile: Profile,

    /// etcd servers to connect to, comma separated (http://host:port). When absent, the embedded store under
    /// --data-dir is used.
    #[arg(long, value_delimiter = ',', value_name = "URLS")]
    pub etcd_servers: Vec<String>,

    /// The prefix of every key in etcd.
    #[arg(long, default_value = "/registry", value_name = "PREFIX")]
    pub etcd_prefix: String,

    /// CA bundle to verify the etcd servers' certificates.
    #[arg(long, value_name = "FILE")]
    pub etcd_cafile: Option<PathBuf>,

    /// Client certificate for etcd (PEM).
    #[arg(long, value_name = "FILE")]
    pub etcd_certfile: Option<PathBuf>,

    /// Client key for etcd (PEM).
    #[arg(long, value_name = "FILE")]
    pub etcd_keyfile: Option<PathBuf>,

    /// How often to compact storage history; 0 disables compaction. History of at least this long is kept.
    #[arg(long, default_value = "5m", value_parser = parse_duration, value_name = "DURATION")]
    pub etcd_compaction_interval: Duration,

    /// Directory of the embedded store (used when --etcd-servers is absent).
    #[arg(long, default_value = "fcp-data", value_name = "DIR")]
    pub data_dir: PathBuf,

    /// Port for plain HTTP without authentication or authorization: every request acts as a superuser
    /// (0 = off). For local development and tests only; keep it on loopback.
    #[arg(long, default_value_t = 0, value_name = "PORT")]
    pub insecure_port: u16,

    /// Address of the insecure port.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub insecure_bind_address: IpAddr,

    /// Port for HTTPS with authentication and authorization (0 = off).
    #[arg(long, default_value_t = 6443, value_name = "PORT")]
    pub secure_port: u16,

    /// Serving certificate (PEM, may include intermediates). Without it a self-signed CA and serving
    /// certificate are generated into --cert-dir (and reused on the next start).
    #[arg(long, value_name = "FILE", requires = "tls_private_key_file")]
    pub tls_cert_file: Option<PathBuf>,

    /// Private key of --tls-cert-file (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert_file")]
    pub tls_private_key_file: Option<PathBuf>,

    /// Where the generated self-signed CA and serving certificate are kept when --tls-cert-file is absent.
    #[arg(long, default_value = "fcp-certs", value_name = "DIR")]
    pub cert_dir: PathBuf,

    /// Lowest TLS version accepted: VersionTLS12 or VersionTLS13.
    #[arg(long, default_value = "VersionTLS12", value_name = "VERSION")]
    pub tls_min_version: String,

    /// Extra names (DNS names or IPs) for the generated serving certificate, comma separated.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub tls_sans: Vec<String>,

    /// CA bundle (PEM) for client certificates: a client presenting a certificate signed by it is the user
    /// named by the certificate's CommonName, in the groups named by its Organizations.
    #[arg(long, value_name = "FILE")]
    pub client_ca_file: Option<PathBuf>,

    /// Static bearer tokens, CSV lines `token,user,uid[,"group1,group2"]`.
    #[arg(long, value_name = "FILE")]
    pub token_auth_file: Option<PathBuf>,

    /// Static passwords for HTTP basic authentication, CSV lines `password,user,uid[,"group1,group2"]`.
    #[arg(long, value_name = "FILE")]
    pub basic_auth_file: Option<PathBuf>,

    /// Treat requests without credentials as user system:anonymous in group system:unauthenticated (they
    /// are still authorized). Off by default: such requests get 401.
    #[arg(long, default_value_t = false, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub anonymous_auth: bool,

    /// Authorizers, comma separated, asked in order until one decides: RBAC, AlwaysAllow, AlwaysDeny.
    #[arg(long, value_delimiter = ',', default_value = "RBAC", value_name = "MODES")]
    pub authorization_mode: Vec<String>,

    /// Admission plugins to enable in addition to the default ones (NamespaceLifecycle), comma separated.
    /// Known: NamespaceLifecycle, OwnerReferencesPermissionEnforcement, SchedulingPolicy.
    #[arg(long, value_delimiter = ',', value_name = "PLUGINS")]
    pub enable_admission_plugins: Vec<String>,

    /// Admission plugins to disable, comma separated.
    #[arg(long, value_delimiter = ',', value_name = "PLUGINS")]
    pub disable_admission_plugins: Vec<String>,

    /// Admission configuration (YAML or JSON): an AdmissionConfiguration with a `plugins` list of
    /// `{name, path | configuration}`; SchedulingPolicy reads `kubeconfig` and `retryBackoff` from it.
    #[arg(long, value_name = "FILE")]
    pub admission_control_config_file: Option<PathBuf>,

    /// Most non-mutating requests served at once; more get 429 with Retry-After (0 = no limit). Watches
    /// are not counted.
    #[arg(long, default_value_t = 400, value_name = "N")]
    pub max_requests_inflight: usize,

    /// Most mutating requests (create, update, patch, delete) served at once; more get 429 with
    /// Retry-After (0 = no limit).
    #[arg(long, default_value_t = 200, value_name = "N")]
    pub max_mutating_requests_inflight: usize,

    /// Address of the secure port.
    #[arg(long, default_value = "0.0.0.0", value_name = "IP")]
    pub bind_address: IpAddr,

    /// The address members of the federation use to reach this server (reported in discovery).
    #[arg(long, value_name = "IP")]
    pub advertise_address: Option<IpAddr>,

    /// How long events are kept after they were last recorded (0 keeps them forever).
    #[arg(long, default_value = "1h", value_parser = parse_duration, value_name = "DURATION")]
    pub event_ttl: Duration,

    /// Serve watches and resourceVersion=0 lists from an in-memory cache per resource.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub watch_cache: bool,

    /// How many recent changes each resource's watch cache keeps; a watch resuming from further back gets
    /// 410 Expired and re-lists.
    #[arg(long, default_value_t = 1000, value_name = "EVENTS")]
    pub default_watch_cache_size: usize,

    /// Largest request body accepted, in bytes (Kubernetes allows 3 MiB objects).
    #[arg(long, default_value_t = 3 * 1024 * 1024, value_name = "BYTES")]
    pub max_request_body_bytes: usize,

    /// How long a non-watch request may take before the server answers 504.
    #[arg(long, default_value = "60s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Duration,
}

/// Parses a Go-style duration: `90s`, `5m`, `1h30m`, `250ms`, or a bare number of seconds.
///
/// # Errors
/// A message naming what could not be parsed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "invalid duration {text:?}: expected a number before {rest:?}"
            ));
        }
        let number: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("invalid duration {text:?}: bad number"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let seconds = match unit {
            "h" => number * 3600.0,
            "m" => number * 60.0,
            "s" => number,
            "ms" => number / 1000.0,
            "us" | "µs" => number / 1_000_000.0,
            "ns" => number / 1_000_000_000.0,
            "" => return Err(format!("invalid duration {text:?}: missing unit (h, m, s, ms)")),
            other => return Err(format!("invalid duration {text:?}: unknown unit {other:?}")),
        };
        total += Duration::from_secs_f64(seconds);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("12"), Ok(Duration::from_secs(12)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("").is_err());
    }
}

/// The set of resources a server serves (DESIGN.md §5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Profile {
    /// The federation apiserver: federation/v1beta1 clusters plus the federated kinds.
    #[default]
    Federation,
    /// A member cluster (`fcp sim-cluster`): the federated kinds minus clusters, plus pods, nodes,
    /// endpoints and serviceaccounts.
    Member,
}
