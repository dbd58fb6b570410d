//! The kubeconfig that points at the policy engine: the part of client-go's loading this plugin needs
//! (`current-context` → context → cluster and user; no merging of several files, no overrides).

use std::{
    fmt,
    path::{Path, PathBuf},
};

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::Url;
use serde::Deserialize;

/// Where and how to reach the policy engine, from a kubeconfig.
#[derive(Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The cluster's `server`, used as-is (path included): queries are POSTed to it.
    pub server: Url,
    /// PEM of the CAs to trust (`certificate-authority` or `-data`); `None`: the built-in web roots.
    pub ca_pem: Option<Vec<u8>>,
    /// `insecure-skip-tls-verify`: do not check the server's certificate.
    pub insecure_skip_tls_verify: bool,
    /// The credentials sent with every query.
    pub credentials: Credentials,
    /// PEM of the client certificate followed by its key (`client-certificate`/`client-key`, or `-data`).
    pub client_identity_pem: Option<Vec<u8>>,
}

/// `url` without the user name and password it may carry, for logs and messages.
#[must_use]
pub fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    // Both only fail for URLs that cannot have credentials, which then have none to hide.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.to_string()
}

/// HTTP credentials of the user.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// None besides a client certificate, if any.
    None,
    /// `Authorization: Bearer` (`token` or the content of `tokenFile`).
    Bearer(String),
    /// `Authorization: Basic` (`username`/`password`).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
}

impl fmt::Debug for Endpoint {
    /// Never shows secrets: credentials and client keys are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("server", &redacted(&self.server))
            .field("custom_ca", &self.ca_pem.is_some())
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("credentials", &self.credentials)
            .field("client_certificate", &self.client_identity_pem.is_some())
            .finish()
    }
}

impl fmt::Debug for Credentials {
    /// Never shows secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::Basic { username, .. } => write!(f, "Basic({username:?}, <redacted>)"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct KubeconfigFile {
    clusters: Option<Vec<Named<Cluster>>>,
    users: Option<Vec<Named<AuthInfo>>>,
    contexts: Option<Vec<Named<Context>>>,
    current_context: Option<String>,
}

/// One named entry; the value is under `cluster`, `user` or `context`.
#[derive(Debug, Deserialize)]
struct Named<T> {
    name: Option<String>,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: Option<T>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Cluster {
    server: Option<String>,
    certificate_authority: Option<String>,
    certificate_authority_data: Option<String>,
    insecure_skip_tls_verify: Option<bool>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct AuthInfo {
    token: Option<String>,
    #[serde(rename = "tokenFile", alias = "token-file")]
    token_file: Option<String>,
    username: Option<String>,
    password: Option<String>,
    client_certificate: Option<String>,
    client_certificate_data: Option<String>,
    client_key: Option<String>,
    client_key_data: Option<String>,
    exec: Option<serde_json::Value>,
    auth_provider: Option<serde_json::Value>,
}

impl fmt::Debug for AuthInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthInfo(<redacted>)")
    }
}

#[derive(Debug, Default, Deserialize)]
struct Context {
    cluster: Option<String>,
    user: Option<String>,
}

/// Reads the kubeconfig at `path`: the cluster and user of its `current-context`. Relative file paths in it
/// (`certificate-authority`, `tokenFile`, `client-certificate`, `client-key`) are relative to its directory,
/// as client-go resolves them.
///
/// # Errors
/// One line naming the kubeconfig and the cause: unreadable or invalid file, no or unknown current context,
/// missing cluster or user, no or invalid `server`, unreadable or invalid certificate/key/token files,
/// both a token and a username/password, a certificate without its key, a CA together with
/// `insecure-skip-tls-verify`, or `exec`/`auth-provider` credentials (not supported). Never contains secrets.
pub fn load(path: &Path) -> Result<Endpoint, String> {
    let shown = path.display();
    let content =
        std::fs::read_to_string(path).map_err(|e| format!("cannot read kubeconfig {shown}: {e}"))?;
    let base = path.parent().unwrap_or_else(|| Path::new(""));
    parse(&content, base).map_err(|e| format!("kubeconfig {shown}: {e}"))
}

/// Parses a kubeconfig whose relative paths are relative to `base`.
pub(super) fn parse(content: &str, base: &Path) -> Result<Endpoint, String> {
    // An empty file is an empty kubeconfig, which has no current context.
    let file: KubeconfigFile = if content.trim().is_empty() {
        KubeconfigFile::default()
    } else {
        serde_yaml_ng::from_str(content).map_err(|e| format!("invalid kubeconfig: {e}"))?
    };
    let context_name = file.current_context.unwrap_or_default();
    if context_name.is_empty() {
        return Err("current-context is not set".to_owned());
    }
    let context = find(file.contexts.unwrap_or_default(), &context_name)
        .ok_or_else(|| format!("context {context_name:?} (the current-context) not found"))?;
    let cluster_name = context.cluster.unwrap_or_default();
    let cluster = find(file.clusters.unwrap_or_default(), &cluster_name)
        .ok_or_else(|| format!("cluster {cluster_name:?} of context {context_name:?} not found"))?;
    let user_name = context.user.unwrap_or_default();
    let user = if user_name.is_empty() {
        AuthInfo::default()
    } else {
        find(file.users.unwrap_or_default(), &user_name)
            .ok_or_else(|| format!("user {user_name:?} of context {context_name:?} not found"))?
    };

    let server = cluster.server.unwrap_or_default();
    if server.is_empty() {
        return Err(format!("cluster {cluster_name:?} has no server"));
    }
    let server =
        Url::parse(&server).map_err(|e| format!("cluster {cluster_name:?}: invalid server URL: {e}"))?;
    if !matches!(server.scheme(), "http" | "https") {
        return Err(format!(
            "cluster {cluster_name:?}: the server URL must be http or https, not {}",
            server.scheme()
        ));
    }
    let ca_pem = data_or_file(
        cluster.certificate_authority_data.as_deref(),
        cluster.certificate_authority.as_deref(),
        base,
        "certificate-authority",
    )?;
    let insecure_skip_tls_verify = cluster.insecure_skip_tls_verify.unwrap_or(false);
    if insecure_skip_tls_verify && ca_pem.is_some() {
        return Err(format!(
            "cluster {cluster_name:?}: specifying a root certificates file with the insecure flag is not allowed"
        ));
    }

    if user.exec.is_some() || user.auth_provider.is_some() {
        return Err(format!(
            "user {user_name:?}: exec and auth-provider credentials are not supported; use a token, a client certificate or a username and password"
        ));
    }
    let token = match (
        user.token.filter(|t| !t.is_empty()),
        user.token_file.filter(|f| !f.is_empty()),
    ) {
        (Some(token), _) => Some(token),
        (None, Some(file)) => {
            let file = base.join(file);
            let token = std::fs::read_to_string(&file).map_err(|e| {
                format!(
                    "user {user_name:?}: cannot read tokenFile {}: {e}",
                    file.display()
                )
            })?;
            Some(token.trim().to_owned())
        }
        (None, None) => None,
    };
    let username = user.username.unwrap_or_default();
    let password = user.password.unwrap_or_default();
    let credentials = match token {
        Some(_) if !username.is_empty() || !password.is_empty() => {
            return Err(format!(
                "user {user_name:?}: username/password or bearer token may be set, but not both"
            ));
        }
        Some(token) => Credentials::Bearer(token),
        None if !username.is_empty() || !password.is_empty() => Credentials::Basic { username, password },
        None => Credentials::None,
    };
    let certificate = data_or_file(
        user.client_certificate_data.as_deref(),
        user.client_certificate.as_deref(),
        base,
        "client-certificate",
    )?;
    let key = data_or_file(
        user.client_key_data.as_deref(),
        user.client_key.as_deref(),
        base,
        "client-key",
    )?;
    let client_identity_pem = match (certificate, key) {
        (Some(mut certificate), Some(key)) => {
            certificate.push(b'\n');
            certificate.extend_from_slice(&key);
            Some(certificate)
        }
        (None, None) => None,
        _ => {
            return Err(format!(
                "user {user_name:?}: client-certificate and client-key must be given together"
            ));
        }
    };
    Ok(Endpoint {
        server,
        ca_pem,
        insecure_skip_tls_verify,
        credentials,
        client_identity_pem,
    })
}

/// The value of the entry named `name` (an entry without a value is an empty one, as in client-go).
fn find<T: Default>(entries: Vec<Named<T>>, name: &str) -> Option<T> {
    entries
        .into_iter()
        .find(|e| e.name.as_deref() == Some(name))
        .map(|e| e.value.unwrap_or_default())
}

/// The bytes of `<field>-data` (base64, preferred as in client-go) or of the file `<field>`.
fn data_or_file(
    data: Option<&str>,
    file: Option<&str>,
    base: &Path,
    field: &str,
) -> Result<Option<Vec<u8>>, String> {
    if let Some(data) = data.filter(|d| !d.is_empty()) {
        let compact: String = data.split_whitespace().collect();
        return STANDARD
            .decode(compact)
            .map(Some)
            .map_err(|e| format!("{field}-data is not valid base64: {e}"));
    }
    match file.filter(|f| !f.is_empty()) {
        Some(file) => {
            let file: PathBuf = base.join(file);
            std::fs::read(&file)
                .map(Some)
                .map_err(|e| format!("cannot read {field} {}: {e}", file.display()))
        }
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const V1_TEST_KUBECONFIG: &str = "
clusters:
  - name: foo
    cluster:
      server: https://example.com/some/path/to/decision
users:
  - name: alice
    user:
      token: deadbeef
contexts:
  - name: default
    context:
      cluster: foo
      user: alice
current-context: default
";

    fn kubeconfig(cluster: &str, user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n{cluster}\nusers:\n- name: u\n  user:\n{user}\n\
             contexts:\n- name: ctx\n  context: {{cluster: c, user: u}}\ncurrent-context: ctx\n"
        )
    }

    #[test]
    fn v1_kubeconfig_gives_server_and_token() {
        let endpoint = parse(V1_TEST_KUBECONFIG, Path::new("/nowhere")).unwrap();
        assert_eq!(
            endpoint.server.as_str(),
            "https://example.com/some/path/to/decision"
        );
        assert_eq!(endpoint.credentials, Credentials::Bearer("deadbeef".to_owned()));
        assert_eq!(endpoint.ca_pem, None);
        assert!(!endpoint.insecure_skip_tls_verify);
        assert_eq!(endpoint.client_identity_pem, None);
        let shown = format!("{endpoint:?}");
        assert!(!shown.contains("deadbeef"), "{shown}");
    }

    #[test]
    fn the_server_is_used_as_is() {
        let endpoint = parse(
            &kubeconfig(
                "    server: http://opa:8181/v0/data/kubernetes/placement",
                "    {}",
            ),
            Path::new(""),
        )
        .unwrap();
        assert_eq!(
            endpoint.server.as_str(),
            "http://opa:8181/v0/data/kubernetes/placement"
        );
        assert_eq!(endpoint.credentials, Credentials::None);

        let with_userinfo = parse(
            &kubeconfig("    server: https://bob:hunter2@engine/decide", "    {}"),
            Path::new(""),
        )
        .unwrap();
        assert_eq!(redacted(&with_userinfo.server), "https://engine/decide");
        assert!(!format!("{with_userinfo:?}").contains("hunter2"));
    }

    #[test]
    fn files_are_relative_to_the_kubeconfig_and_data_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "CA FILE").unwrap();
        std::fs::write(dir.path().join("token"), "secret-token\n").unwrap();
        std::fs::write(dir.path().join("cert.pem"), "CERT").unwrap();
        std::fs::write(dir.path().join("key.pem"), "KEY").unwrap();
        let content = kubeconfig(
            "    server: https://engine:8443\n    certificate-authority: ca.pem",
            "    tokenFile: token\n    client-certificate: cert.pem\n    client-key: key.pem",
        );
        let path = dir.path().join("kubeconfig");
        std::fs::write(&path, content).unwrap();
        let endpoint = load(&path).unwrap();
        assert_eq!(endpoint.ca_pem.as_deref(), Some(&b"CA FILE"[..]));
        assert_eq!(
            endpoint.credentials,
            Credentials::Bearer("secret-token".to_owned())
        );
        assert_eq!(endpoint.client_identity_pem.as_deref(), Some(&b"CERT\nKEY"[..]));

        let data = kubeconfig(
            &format!(
                "    server: https://engine:8443\n    certificate-authority: ca.pem\n    certificate-authority-data: {}",
                STANDARD.encode("CA DATA")
            ),
            &format!(
                "    username: bob\n    password: hunter2\n    client-certificate-data: {}\n    client-key-data: {}",
                STANDARD.encode("C"),
                STANDARD.encode("K")
            ),
        );
        let endpoint = parse(&data, dir.path()).unwrap();
        assert_eq!(endpoint.ca_pem.as_deref(), Some(&b"CA DATA"[..]));
        assert_eq!(
            endpoint.credentials,
            Credentials::Basic {
                username: "bob".to_owned(),
                password: "hunter2".to_owned()
            }
        );
        assert_eq!(endpoint.client_identity_pem.as_deref(), Some(&b"C\nK"[..]));
        assert!(!format!("{endpoint:?}").contains("hunter2"));
    }

    #[test]
    fn bad_kubeconfigs_are_one_line_errors_without_secrets() {
        let base = Path::new("/nowhere");
        let cases = [
            ("", "current-context is not set"),
            ("clusters: [", "invalid kubeconfig"),
            (
                "current-context: x\n",
                "context \"x\" (the current-context) not found",
            ),
            (
                "contexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x\n",
                "cluster \"c\" of context \"x\" not found",
            ),
            (
                "clusters: [{name: c, cluster: {server: ''}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
                "user \"u\" of context \"x\" not found",
            ),
            (&kubeconfig("    {}", "    {}"), "has no server"),
            (
                &kubeconfig("    server: ftp://x", "    {}"),
                "must be http or https",
            ),
            (
                &kubeconfig("    server: not a url", "    {}"),
                "invalid server URL",
            ),
            (
                &kubeconfig(
                    "    server: https://x\n    insecure-skip-tls-verify: true\n    certificate-authority-data: QUJD",
                    "    {}",
                ),
                "insecure flag is not allowed",
            ),
            (
                &kubeconfig(
                    "    server: https://x\n    certificate-authority-data: '!!'",
                    "    {}",
                ),
                "certificate-authority-data is not valid base64",
            ),
            (
                &kubeconfig(
                    "    server: https://x\n    certificate-authority: missing.pem",
                    "    {}",
                ),
                "cannot read certificate-authority /nowhere/missing.pem",
            ),
            (
                &kubeconfig("    server: https://x", "    token: hunter2\n    username: bob"),
                "not both",
            ),
            (
                &kubeconfig("    server: https://x", "    client-certificate-data: QUJD"),
                "must be given together",
            ),
            (
                &kubeconfig("    server: https://x", "    exec: {command: get-token}"),
                "not supported",
            ),
            (
                &kubeconfig("    server: https://x", "    tokenFile: no-such-token"),
                "cannot read tokenFile",
            ),
        ];
        for (content, expected) in cases {
            let err = parse(content, base).unwrap_err();
            assert!(
                err.contains(expected),
                "{content:?}: {err:?} should contain {expected:?}"
            );
            assert!(!err.contains('\n') && !err.contains("hunter2"), "{err}");
        }
        let err = load(Path::new(
            "/kube-federation-scheduling-policy-file-not-found-test",
        ))
        .unwrap_err();
        assert!(
            err.starts_with("cannot read kubeconfig /kube-federation-scheduling-policy-file-not-found-test")
        );
    }
}
