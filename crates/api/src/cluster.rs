//! `federation/v1beta1` `Cluster`: a member cluster of the federation (cluster-scoped).
//!
//! The wire format is Federation v1's (`apis/federation/v1beta1/types.go`, reference/federation-v1.md §1.3),
//! and the Rust shape follows `k8s-openapi`, so `kube::Api<Cluster>` works like it does for built-in kinds.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use k8s_openapi::api::core::v1::LocalObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::de::{self, Deserializer};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::ServerAddressByClientCIDR;

use crate::validation::{FieldError, NameRule, validate_object_meta};

/// The API group of federation kinds.
pub const GROUP: &str = "federation";
/// The version of the federation API.
pub const VERSION: &str = "v1beta1";
/// `apiVersion` of federation objects: `federation/v1beta1`.
pub const API_VERSION: &str = "federation/v1beta1";

/// Condition type: the member apiserver answered `/healthz` (status `True`) or answered without `ok`
/// (status `False`).
pub const READY_CONDITION: &str = "Ready";
/// Condition type: the member apiserver could not be reached (status `True`).
pub const OFFLINE_CONDITION: &str = "Offline";
/// Condition status `True`.
pub const CONDITION_TRUE: &str = "True";
/// Condition status `False`.
pub const CONDITION_FALSE: &str = "False";
/// Condition status `Unknown`.
pub const CONDITION_UNKNOWN: &str = "Unknown";

/// The message Kubernetes gives for a malformed CIDR.
const INVALID_CIDR_MESSAGE: &str = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)";

/// A member cluster: where its apiserver is and which secret holds the credentials to reach it.
///
/// Serializes with `apiVersion: federation/v1beta1` and `kind: Cluster`; deserializes with or without them
/// but rejects any other value. `spec` is always present (Go's `ClusterSpec` is a value, not a pointer);
/// `status` is left out when `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cluster {
    /// Standard object metadata; the name is a DNS-1035 label.
    pub metadata: ObjectMeta,
    /// Where the cluster's apiserver is and how to authenticate.
    pub spec: ClusterSpec,
    /// Health and topology as last observed by the cluster controller; written via `clusters/status`.
    pub status: Option<ClusterStatus>,
}

/// A list of clusters (`kind: ClusterList`), as served by `GET /apis/federation/v1beta1/clusters`.
pub type ClusterList = k8s_openapi::List<Cluster>;

/// The desired state of a [`Cluster`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Where to reach the cluster's apiserver, per client network: the first entry whose `clientCIDR`
    /// contains the caller's IP wins (see [`ClusterSpec::server_address_for`]). Required, non-empty.
    /// kubefed writes one entry `{clientCIDR: "0.0.0.0/0", serverAddress: "https://…"}`.
    #[serde(
        rename = "serverAddressByClientCIDRs",
        default,
        deserialize_with = "null_as_default"
    )]
    pub server_address_by_client_cidrs: Vec<ServerAddressByClientCIDR>,
    /// A secret in the **host** cluster, in the federation's namespace, holding the credentials for this
    /// cluster (`token` + `ca.crt`, or `kubeconfig`). `None`: anonymous access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectReference>,
}

impl ClusterSpec {
    /// The server address for a client at `client_ip`: the **first** entry whose CIDR contains it (v1
    /// takes the first match, not the longest prefix). Entries with an unparsable CIDR are skipped.
    /// IPv4-mapped IPv6 addresses match IPv4 CIDRs.
    #[must_use]
    pub fn server_address_for(&self, client_ip: IpAddr) -> Option<&str> {
        let client_ip = match client_ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client_ip, IpAddr::V4),
            v4 => v4,
        };
        self.server_address_by_client_cidrs
            .iter()
            .find(|entry| Cidr::parse(&entry.client_cidr).is_some_and(|cidr| cidr.contains(client_ip)))
            .map(|entry| entry.server_address.as_str())
    }
}

/// The observed state of a [`Cluster`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// `Ready` and/or `Offline` conditions, in the order the cluster controller wrote them.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub conditions: Vec<ClusterCondition>,
    /// The sorted, distinct failure-domain zones of the cluster's nodes.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub zones: Vec<String>,
    /// The region of the cluster's first node.
    #[serde(default, skip_serializing_if = "is_none_or_empty")]
    pub region: Option<String>,
}

/// One observation about a cluster, e.g. `{type: Ready, status: "True", reason: ClusterReady}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterCondition {
    /// [`READY_CONDITION`] or [`OFFLINE_CONDITION`].
    #[serde(rename = "type")]
    pub type_: String,
    /// [`CONDITION_TRUE`], [`CONDITION_FALSE`] or [`CONDITION_UNKNOWN`].
    pub status: String,
    /// When the cluster was last probed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_probe_time: Option<Time>,
    /// When the condition last changed status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<Time>,
    /// A machine-readable CamelCase reason, e.g. `ClusterNotReachable`.
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub reason: Option<String>,
    /// A human-readable explanation.
    #[serde(skip_serializing_if = "is_none_or_empty")]
    pub message: Option<String>,
}

impl Cluster {
    /// A cluster named `name` with `spec` and no status.
    #[must_use]
    pub fn new(name: impl Into<String>, spec: ClusterSpec) -> Self {
        Self {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec,
            status: None,
        }
    }

    /// Whether the cluster has a `Ready` condition with status `True` — the only clusters that receive
    /// writes (v1's `isClusterReady`).
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.status
            .iter()
            .flat_map(|s| &s.conditions)
            .any(|c| c.type_ == READY_CONDITION && c.status == CONDITION_TRUE)
    }
}

impl k8s_openapi::Resource for Cluster {
    const API_VERSION: &'static str = API_VERSION;
    const GROUP: &'static str = GROUP;
    const KIND: &'static str = "Cluster";
    const VERSION: &'static str = VERSION;
    const URL_PATH_SEGMENT: &'static str = "clusters";
    type Scope = k8s_openapi::ClusterResourceScope;
}

impl k8s_openapi::ListableResource for Cluster {
    const LIST_KIND: &'static str = "ClusterList";
}

impl k8s_openapi::Metadata for Cluster {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl Serialize for Cluster {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = 4 + usize::from(self.status.is_some());
        let mut state = serializer.serialize_struct("Cluster", fields)?;
        state.serialize_field("apiVersion", <Self as k8s_openapi::Resource>::API_VERSION)?;
        state.serialize_field("kind", <Self as k8s_openapi::Resource>::KIND)?;
        state.serialize_field("metadata", &self.metadata)?;
        state.serialize_field("spec", &self.spec)?;
        if let Some(status) = &self.status {
            state.serialize_field("status", status)?;
        }
        state.end()
    }
}

impl<'de> Deserialize<'de> for Cluster {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// The wire form: `apiVersion` and `kind` optional, `null` accepted for every field.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(default)]
            api_version: Option<String>,
            #[serde(default)]
            kind: Option<String>,
            #[serde(default)]
            metadata: Option<ObjectMeta>,
            #[serde(default)]
            spec: Option<ClusterSpec>,
            #[serde(default)]
            status: Option<ClusterStatus>,
        }

        let wire = Wire::deserialize(deserializer)?;
        let expect = |actual: Option<&str>, expected: &'static str| match actual {
            Some(actual) if actual != expected => {
                Err(de::Error::invalid_value(de::Unexpected::Str(actual), &expected))
            }
            _ => Ok(()),
        };
        expect(
            wire.api_version.as_deref(),
            <Self as k8s_openapi::Resource>::API_VERSION,
        )?;
        expect(wire.kind.as_deref(), <Self as k8s_openapi::Resource>::KIND)?;
        Ok(Self {
            metadata: wire.metadata.unwrap_or_default(),
            spec: wire.spec.unwrap_or_default(),
            status: wire.status,
        })
    }
}

/// Decodes `null` or a missing field as the default, as Go does for slices.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Go's `omitempty` on a string: neither absent nor empty strings are written.
fn is_none_or_empty(value: &Option<String>) -> bool {
    value.as_deref().is_none_or(str::is_empty)
}

// ---------------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------------

/// Validates a cluster on creation as v1's `ValidateCluster`: metadata (cluster-scoped, name a DNS-1035
/// label) plus [`validate_cluster_spec`].
#[must_use]
pub fn validate_cluster(cluster: &Cluster) -> Vec<FieldError> {
    let mut errors = validate_object_meta(&cluster.metadata, false, NameRule::Dns1035Label);
    errors.extend(validate_cluster_spec(&cluster.spec));
    errors
}

/// Validates a cluster's spec alone (for callers that validate metadata themselves): at least one
/// `serverAddressByClientCIDRs` entry; each non-empty `clientCIDR` a CIDR (IPv4 or IPv6, prefix length in
/// range); each `serverAddress` non-empty.
#[must_use]
pub fn validate_cluster_spec(spec: &ClusterSpec) -> Vec<FieldError> {
    let path = "spec.serverAddressByClientCIDRs";
    let mut errors = Vec::new();
    if spec.server_address_by_client_cidrs.is_empty() {
        errors.push(FieldError::required(path, ""));
    }
    for (i, entry) in spec.server_address_by_client_cidrs.iter().enumerate() {
        if !entry.client_cidr.is_empty() && Cidr::parse(&entry.client_cidr).is_none() {
            errors.push(FieldError::invalid(
                format!("{path}[{i}].clientCIDR"),
                Some(&entry.client_cidr),
                INVALID_CIDR_MESSAGE,
            ));
        }
        if entry.server_address.is_empty() {
            errors.push(FieldError::required(format!("{path}[{i}].serverAddress"), ""));
        }
    }
    errors
}

/// An IP network `address/prefix`, parsed as Kubernetes' `ParseCIDRSloppy` does: host bits may be set,
/// IPv4 octets may have leading zeros, IPv6 zones are rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cidr {
    address: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = text.split_once('/')?;
        let address = parse_ip_sloppy(address)?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        // Decimal digits only (no sign), as Go's dtoi; leading zeros are fine.
        if prefix.is_empty() || prefix.len() > 8 || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let prefix_len: u32 = prefix.parse().ok()?;
        (prefix_len <= max).then(|| Self {
            address,
            prefix_len: u8::try_from(prefix_len).unwrap_or(u8::MAX),
        })
    }

    fn contains(self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix_len)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_len))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix_len)
    }
}

/// Parses an IP address, accepting IPv4 octets with leading zeros (read as decimal) like Go before 1.17.
fn parse_ip_sloppy(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let digits = part.trim_start_matches('0');
        *octet = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
    }
    parts.next().is_none().then(|| IpAddr::V4(Ipv4Addr::from(octets)))
}

#[cfg(test)]
mod tests {
    use k8s_openapi::{List, Resource};
    use serde_json::json;

    use super::*;

    fn entry(cidr: &str, address: &str) -> ServerAddressByClientCIDR {
        ServerAddressByClientCIDR {
            client_cidr: cidr.to_owned(),
            server_address: address.to_owned(),
        }
    }

    fn cluster(name: &str, entries: Vec<ServerAddressByClientCIDR>) -> Cluster {
        Cluster::new(
            name,
            ClusterSpec {
                server_address_by_client_cidrs: entries,
                secret_ref: None,
            },
        )
    }

    fn messages(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(FieldError::message).collect()
    }

    #[test]
    fn resource_constants() {
        assert_eq!(Cluster::API_VERSION, "federation/v1beta1");
        assert_eq!(Cluster::GROUP, "federation");
        assert_eq!(Cluster::KIND, "Cluster");
        assert_eq!(Cluster::VERSION, "v1beta1");
        assert_eq!(Cluster::URL_PATH_SEGMENT, "clusters");
        assert_eq!(
            <Cluster as k8s_openapi::ListableResource>::LIST_KIND,
            "ClusterList"
        );
        fn cluster_scoped<T: Resource<Scope = k8s_openapi::ClusterResourceScope>>() {}
        cluster_scoped::<Cluster>();
        let mut c = cluster("c1", vec![]);
        k8s_openapi::Metadata::metadata_mut(&mut c).uid = Some("u".into());
        assert_eq!(k8s_openapi::Metadata::metadata(&c).uid.as_deref(), Some("u"));
    }

    #[test]
    fn serializes_like_go() {
        let mut c = Cluster::new(
            "c1",
            ClusterSpec {
                server_address_by_client_cidrs: vec![entry("0.0.0.0/0", "https://10.0.0.1:443")],
                secret_ref: Some(LocalObjectReference {
                    name: "c1-secret".into(),
                }),
            },
        );
        assert_eq!(
            serde_json::to_value(&c).expect("serializes"),
            json!({
                "apiVersion": "federation/v1beta1",
                "kind": "Cluster",
                "metadata": {"name": "c1"},
                "spec": {
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://10.0.0.1:443"}],
                    "secretRef": {"name": "c1-secret"}
                }
            })
        );

        c.spec = ClusterSpec::default();
        c.status = Some(ClusterStatus {
            conditions: vec![ClusterCondition {
                type_: READY_CONDITION.into(),
                status: CONDITION_TRUE.into(),
                last_probe_time: Some(Time("2024-05-01T10:00:00Z".parse().expect("timestamp"))),
                last_transition_time: None,
                reason: Some("ClusterReady".into()),
                message: Some(String::new()),
            }],
            zones: vec![],
            region: Some(String::new()),
        });
        assert_eq!(
            serde_json::to_value(&c).expect("serializes"),
            json!({
                "apiVersion": "federation/v1beta1",
                "kind": "Cluster",
                "metadata": {"name": "c1"},
                "spec": {"serverAddressByClientCIDRs": []},
                "status": {
                    "conditions": [{
                        "type": "Ready",
                        "status": "True",
                        "lastProbeTime": "2024-05-01T10:00:00Z",
                        "reason": "ClusterReady"
                    }]
                }
            })
        );
    }

    #[test]
    fn deserializes_with_or_without_type_meta() {
        let full = json!({
            "apiVersion": "federation/v1beta1",
            "kind": "Cluster",
            "metadata": {"name": "c1", "labels": {"prefix": "test"}},
            "spec": {
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://c1"}],
                "secretRef": {"name": "s"}
            },
            "status": {
                "conditions": [
                    {"type": "Offline", "status": "True", "reason": "ClusterNotReachable",
                     "message": "cluster is not reachable", "lastProbeTime": "2024-05-01T10:00:00Z",
                     "lastTransitionTime": null}
                ],
                "zones": ["a", "b"],
                "region": "r"
            },
            "somethingNew": 1
        });
        let c: Cluster = serde_json::from_value(full.clone()).expect("full object");
        assert_eq!(c.metadata.name.as_deref(), Some("c1"));
        assert_eq!(
            c.spec.server_address_by_client_cidrs,
            vec![entry("0.0.0.0/0", "https://c1")]
        );
        assert_eq!(c.spec.secret_ref, Some(LocalObjectReference { name: "s".into() }));
        let status = c.status.as_ref().expect("status");
        assert_eq!(status.conditions[0].type_, OFFLINE_CONDITION);
        assert_eq!(status.conditions[0].last_transition_time, None);
        assert_eq!(status.zones, vec!["a", "b"]);
        assert_eq!(status.region.as_deref(), Some("r"));
        assert!(!c.is_ready());

        let mut round_trip = serde_json::to_value(&c).expect("serializes");
        round_trip["somethingNew"] = json!(1);
        round_trip["status"]["conditions"][0]["lastTransitionTime"] = json!(null);
        assert_eq!(round_trip, full);

        let bare: Cluster =
            serde_json::from_value(json!({"metadata": {"name": "c2"}})).expect("no type meta");
        assert_eq!(bare, Cluster::new("c2", ClusterSpec::default()));

        let nulls: Cluster = serde_json::from_value(json!({
            "metadata": null,
            "spec": {"serverAddressByClientCIDRs": null},
            "status": {"conditions": null, "zones": null}
        }))
        .expect("nulls");
        assert!(nulls.spec.server_address_by_client_cidrs.is_empty());
        assert_eq!(nulls.status, Some(ClusterStatus::default()));
    }

    #[test]
    fn rejects_a_different_kind_or_api_version() {
        let wrong_kind = serde_json::from_value::<Cluster>(json!({"kind": "ConfigMap"})).unwrap_err();
        assert_eq!(
            wrong_kind.to_string(),
            "invalid value: string \"ConfigMap\", expected Cluster"
        );
        let wrong_version = serde_json::from_value::<Cluster>(json!({"apiVersion": "v1"})).unwrap_err();
        assert_eq!(
            wrong_version.to_string(),
            "invalid value: string \"v1\", expected federation/v1beta1"
        );
    }

    #[test]
    fn lists_use_the_cluster_list_kind() {
        let list = List::<Cluster> {
            items: vec![cluster("c1", vec![entry("0.0.0.0/0", "https://c1")])],
            ..List::default()
        };
        let value = serde_json::to_value(&list).expect("serializes");
        assert_eq!(value["kind"], "ClusterList");
        assert_eq!(value["apiVersion"], "federation/v1beta1");
        assert_eq!(value["items"][0]["kind"], "Cluster");
        let back: ClusterList = serde_json::from_value(value).expect("deserializes");
        assert_eq!(back, list);
    }

    #[test]
    fn readiness_needs_ready_true() {
        let with = |conditions: &[(&str, &str)]| {
            let mut c = cluster("c", vec![]);
            c.status = Some(ClusterStatus {
                conditions: conditions
                    .iter()
                    .map(|(t, s)| ClusterCondition {
                        type_: (*t).into(),
                        status: (*s).into(),
                        ..Default::default()
                    })
                    .collect(),
                ..ClusterStatus::default()
            });
            c.is_ready()
        };
        assert!(with(&[("Ready", "True")]));
        assert!(!with(&[("Ready", "False"), ("Offline", "False")]));
        assert!(!with(&[("Offline", "True")]));
        assert!(!with(&[("ready", "true")]));
        assert!(!cluster("c", vec![]).is_ready());
    }

    #[test]
    fn valid_cluster_passes() {
        let c = cluster(
            "c1",
            vec![entry("0.0.0.0/0", "https://c1:443"), entry("", "c1.internal")],
        );
        assert!(validate_cluster(&c).is_empty());
        let v6 = cluster("c2", vec![entry("2001:db8::/64", "[2001:db8::1]:6443")]);
        assert!(validate_cluster(&v6).is_empty());
    }

    #[test]
    fn cluster_name_is_a_dns1035_label() {
        let errors = validate_cluster(&cluster("1cluster", vec![entry("0.0.0.0/0", "s")]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].path, "metadata.name");
        assert!(errors[0].detail.starts_with("a DNS-1035 label"));
        assert_eq!(
            validate_cluster(&cluster("my.cluster", vec![entry("0.0.0.0/0", "s")])).len(),
            1
        );

        let mut namespaced = cluster("c1", vec![entry("0.0.0.0/0", "s")]);
        namespaced.metadata.namespace = Some("default".into());
        assert_eq!(
            messages(&validate_cluster(&namespaced)),
            vec!["metadata.namespace: Forbidden: not allowed on this type"]
        );
    }

    #[test]
    fn spec_requires_addresses() {
        assert_eq!(
            messages(&validate_cluster(&cluster("c1", vec![]))),
            vec!["spec.serverAddressByClientCIDRs: Required value"]
        );
        let errors = validate_cluster_spec(&ClusterSpec {
            server_address_by_client_cidrs: vec![entry("10.0.0.0/33", ""), entry("0.0.0.0/0", "ok")],
            secret_ref: None,
        });
        assert_eq!(
            messages(&errors),
            vec![
                "spec.serverAddressByClientCIDRs[0].clientCIDR: Invalid value: \"10.0.0.0/33\": must be a valid CIDR \
                 value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                "spec.serverAddressByClientCIDRs[0].serverAddress: Required value",
            ]
        );
    }

    #[test]
    fn cidr_parsing_follows_kubernetes() {
        for good in [
            "0.0.0.0/0",
            "10.0.0.0/8",
            "10.1.2.3/8",
            "192.168.1.0/24",
            "1.2.3.4/32",
            "010.001.0.0/16",
            "10.0.0.0/08",
            "::/0",
            "2001:db8::/64",
            "::ffff:1.2.3.4/128",
            "fe80::1/10",
        ] {
            assert!(Cidr::parse(good).is_some(), "{good:?} should parse");
        }
        for bad in [
            "",
            "10.0.0.0",
            "10.0.0.0/",
            "/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.256/8",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "fe80::1%eth0/64",
            "host.example.com/24",
            "1.2.3.4.5/8",
            "10.0.0.0/ 8",
        ] {
            assert!(Cidr::parse(bad).is_none(), "{bad:?} should not parse");
        }
        assert_eq!(
            Cidr::parse("010.001.0.0/16").map(|c| c.to_string()).as_deref(),
            Some("10.1.0.0/16")
        );
    }

    #[test]
    fn picks_the_first_matching_server_address() {
        let spec = ClusterSpec {
            server_address_by_client_cidrs: vec![
                entry("not-a-cidr", "skipped"),
                entry("10.0.0.0/8", "internal"),
                entry("10.1.0.0/16", "more-specific-but-later"),
                entry("2001:db8::/32", "v6"),
                entry("0.0.0.0/0", "public"),
            ],
            secret_ref: None,
        };
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(spec.server_address_for(ip("10.1.2.3")), Some("internal"));
        assert_eq!(spec.server_address_for(ip("192.168.0.1")), Some("public"));
        assert_eq!(spec.server_address_for(ip("::ffff:10.9.9.9")), Some("internal"));
        assert_eq!(spec.server_address_for(ip("2001:db8:1::5")), Some("v6"));
        assert_eq!(spec.server_address_for(ip("2002::1")), None);
        assert_eq!(ClusterSpec::default().server_address_for(ip("10.0.0.1")), None);
    }
}
