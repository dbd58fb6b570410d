//! A kube-rs client for one member cluster, from its Cluster object and credentials secret.
//!
//! The server address is the `serverAddressByClientCIDRs` entry whose CIDR holds the controller-manager's
//! address as the member sees it; outside a cluster that is unknown, so the entry for `0.0.0.0/0` (or else
//! the first) is used. The secret holds either `token` (+ `ca.crt`) or `kubeconfig`.

use std::{collections::BTreeMap, net::IpAddr, net::Ipv4Addr};

use fcp_api::Cluster;
use k8s_openapi::{ByteString, api::core::v1::Secret};
use kube::config::{KubeConfigOptions, Kubeconfig};
use secrecy::SecretString;

/// Why a member client could not be built. The message names the cluster's missing or bad part and never
/// carries credentials.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The Cluster lists no server address.
    #[error("cluster {0} has no serverAddressByClientCIDRs entry")]
    NoServerAddress(String),
    /// The credentials secret does not exist (yet).
    #[error("credentials secret {namespace}/{name} of cluster {cluster} not found")]
    SecretNotFound {
        /// The cluster.
        cluster: String,
        /// The secret's namespace.
        namespace: String,
        /// The secret's name.
        name: String,
    },
    /// The secret has neither `token` nor `kubeconfig`.
    #[error("credentials secret of cluster {0} holds neither a token nor a kubeconfig")]
    NoCredentials(String),
    /// The address, CA or kubeconfig is invalid.
    #[error("cluster {cluster}: {reason}")]
    Invalid {
        /// The cluster.
        cluster: String,
        /// What is wrong.
        reason: String,
    },
}

/// The address of the member's API server to use from here.
#[must_use]
pub fn server_address(cluster: &Cluster) -> Option<String> {
    let spec = &cluster.spec;
    let address = spec
        .server_address_for(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
        .or_else(|| {
            spec.server_address_by_client_cidrs
                .first()
                .map(|e| e.server_address.as_str())
        })?;
    if address.contains("://") {
        Some(address.to_owned())
    } else {
        Some(format!("https://{address}"))
    }
}

/// Builds the client config of `cluster` from its `secret` (looked up by the caller in the federation-only
/// namespace; `None` for a Cluster without `secretRef`, which gets an anonymous client). Connects lazily: a member that is down gives a client whose requests fail.
///
/// # Errors
/// [`ClientError`] naming what is missing or invalid.
pub async fn member_config(cluster: &Cluster, secret: Option<&Secret>) -> Result<kube::Config, ClientError> {
    let name = cluster.metadata.name.clone().unwrap_or_default();
    let invalid = |reason: String| ClientError::Invalid {
        cluster: name.clone(),
        reason,
    };
    let address = server_address(cluster).ok_or_else(|| ClientError::NoServerAddress(name.clone()))?;
    let Some(secret) = secret else {
        // No secretRef: an anonymous client (a member that allows anonymous requests, or plain HTTP).
        let url = address
            .parse()
            .map_err(|e| invalid(format!("invalid server address {address:?}: {e}")))?;
        let mut config = kube::Config::new(url);
        config.connect_timeout = Some(std::time::Duration::from_secs(5));
        config.read_timeout = None;
        return Ok(config);
    };
    let empty = BTreeMap::new();
    let data: &BTreeMap<String, ByteString> = secret.data.as_ref().unwrap_or(&empty);
    if let Some(ByteString(kubeconfig)) = data.get("kubeconfig") {
        let text =
            String::from_utf8(kubeconfig.clone()).map_err(|_| invalid("kubeconfig is not UTF-8".into()))?;
        let parsed = Kubeconfig::from_yaml(&text).map_err(|e| invalid(format!("invalid kubeconfig: {e}")))?;
        let mut config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
            .await
            .map_err(|e| invalid(format!("invalid kubeconfig: {e}")))?;
        config.cluster_url = address
            .parse()
            .map_err(|e| invalid(format!("invalid server address {address:?}: {e}")))?;
        return Ok(config);
    }
    let Some(ByteString(token)) = data.get("token") else {
        return Err(ClientError::NoCredentials(name));
    };
    let token = String::from_utf8(token.clone()).map_err(|_| invalid("token is not UTF-8".into()))?;
    let url = address
        .parse()
        .map_err(|e| invalid(format!("invalid server address {address:?}: {e}")))?;
    let mut config = kube::Config::new(url);
    config.auth_info.token = Some(SecretString::from(token.trim().to_owned()));
    if let Some(ByteString(ca)) = data.get("ca.crt").filter(|ca| !ca.0.is_empty()) {
        config.root_cert = Some(pem_certificates(ca).map_err(invalid)?);
    }
    config.connect_timeout = Some(std::time::Duration::from_secs(5));
    config.read_timeout = None;
    Ok(config)
}

/// The DER certificates of a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let certificates: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("ca.crt is not PEM: {e}"))?;
    if certificates.is_empty() {
        return Err("ca.crt holds no certificate".to_owned());
    }
    Ok(certificates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fcp_api::{ClusterSpec, ServerAddressByClientCIDR};

    fn cluster(addresses: &[(&str, &str)]) -> Cluster {
        Cluster {
            metadata: kube::api::ObjectMeta {
                name: Some("c1".into()),
                ..Default::default()
            },
            spec: ClusterSpec {
                server_address_by_client_cidrs: addresses
                    .iter()
                    .map(|(cidr, address)| ServerAddressByClientCIDR {
                        client_cidr: (*cidr).to_owned(),
                        server_address: (*address).to_owned(),
                    })
                    .collect(),
                secret_ref: None,
            },
            status: None,
        }
    }

    #[test]
    fn the_catch_all_address_wins_and_a_scheme_is_added() {
        let c = cluster(&[
            ("10.0.0.0/8", "10.1.1.1:443"),
            ("0.0.0.0/0", "https://1.2.3.4:6443"),
        ]);
        assert_eq!(server_address(&c).as_deref(), Some("https://1.2.3.4:6443"));
        let c = cluster(&[("10.0.0.0/8", "10.1.1.1:443")]);
        assert_eq!(server_address(&c).as_deref(), Some("https://10.1.1.1:443"));
        assert_eq!(server_address(&cluster(&[])), None);
    }

    #[tokio::test]
    async fn token_secrets_give_a_bearer_config_and_bad_secrets_a_clear_error() {
        let c = cluster(&[("0.0.0.0/0", "https://127.0.0.1:1")]);
        let secret = |pairs: &[(&str, &[u8])]| Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Default::default()
        };
        let config = member_config(&c, Some(&secret(&[("token", b"abc\n")])))
            .await
            .unwrap();
        assert_eq!(config.cluster_url.to_string(), "https://127.0.0.1:1/");
        assert!(config.auth_info.token.is_some());
        let err = member_config(&c, Some(&secret(&[]))).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "credentials secret of cluster c1 holds neither a token nor a kubeconfig"
        );
        let err = member_config(&c, Some(&secret(&[("token", b"t"), ("ca.crt", b"junk")])))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("ca.crt holds no certificate"), "{err}");
    }
}
