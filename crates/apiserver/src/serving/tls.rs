//! The rustls configuration of the secure port: the serving certificate (given, or a self-signed CA and
//! certificate generated into the cert dir and reused), the minimum TLS version, ALPN and client
//! certificates.
//!
//! The ring crypto provider is chosen explicitly for everything built here; nothing depends on a
//! process-wide default provider. Key material is never logged nor put into an error.

use std::fmt::Display;
use std::fs;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::client::danger::ServerCertVerifier as _;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{RootCertStore, ServerConfig, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, DnsName, PrivateKeyDer, ServerName, UnixTime};

/// File names in the cert dir.
const CA_CERT: &str = "ca.crt";
const CA_KEY: &str = "ca.key";
const SERVING_CERT: &str = "apiserver.crt";
const SERVING_KEY: &str = "apiserver.key";

/// Lifetime of the generated CA and serving certificates.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
const SERVING_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Generated certificates start this long before "now", for clients whose clock is a little behind.
const BACKDATE: Duration = Duration::from_secs(3600);
/// A generated certificate expiring sooner than this is replaced at start-up.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Names the generated serving certificate always covers besides localhost, the loopback addresses, the
/// host name and the advertise address: the in-cluster service names.
const IN_CLUSTER_NAMES: &[&str] = &[
    "federation-apiserver",
    "federation-apiserver.federation-system",
    "federation-apiserver.federation-system.svc",
    "federation-apiserver.federation-system.svc.cluster.local",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// The `--tls-min-version` values, as kube-apiserver spells them.
const MIN_VERSION_VALUES: &str = "VersionTLS12, VersionTLS13";

/// What the TLS flags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Serving certificate chain (PEM, leaf first); given together with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// Private key of `cert_file` (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// Where the self-signed CA and serving certificate are generated (and reused) without `cert_file`.
    pub cert_dir: PathBuf,
    /// Extra names of the generated serving certificate: each an IP when it parses as one, else a DNS
    /// name (`*.` wildcards allowed).
    pub sans: Vec<String>,
    /// The address advertised to clients; the generated serving certificate covers it.
    pub advertise_address: Option<IpAddr>,
    /// `VersionTLS12` (TLS 1.2 and 1.3) or `VersionTLS13` (TLS 1.3 only).
    pub min_version: String,
    /// CA bundle (PEM) that client certificates must chain to; without it the server asks for none.
    pub client_ca_file: Option<PathBuf>,
}

impl TlsSettings {
    /// Self-signed serving from `cert_dir`, TLS 1.2+, no client certificates.
    #[must_use]
    pub fn self_signed(cert_dir: impl Into<PathBuf>) -> Self {
        Self {
            cert_file: None,
            key_file: None,
            cert_dir: cert_dir.into(),
            sans: Vec::new(),
            advertise_address: None,
            min_version: "VersionTLS12".to_owned(),
            client_ca_file: None,
        }
    }
}

/// The TLS configuration of the secure port and where its certificate came from.
#[derive(Debug, Clone)]
pub struct ServingTls {
    /// For [`serve_tls`](super::serve_tls).
    pub config: Arc<ServerConfig>,
    /// The CA that signed the generated serving certificate (`<cert dir>/ca.crt`); `None` when the
    /// certificate was given. Clients trust this file to verify the server.
    pub ca_file: Option<PathBuf>,
    /// The serving certificate in use (given, or `<cert dir>/apiserver.crt`).
    pub cert_file: PathBuf,
    /// Its private key (given, or `<cert dir>/apiserver.key`).
    pub key_file: PathBuf,
}

/// Why no TLS configuration could be built. Every variant renders as one line naming the file (or
/// setting) and the cause; never key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read, written or used; `what` names its role ("TLS certificate file").
    #[error("{what} {}: {cause}", path.display())]
    File {
        /// The file's role.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        cause: String,
    },
    /// The private key does not belong to the certificate.
    #[error("TLS private key file {} does not match the certificate in {}", key.display(), cert.display())]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The certificate was given without its key, or the key without its certificate.
    #[error("the TLS certificate file and the TLS private key file must be given together")]
    Incomplete,
    /// An unsupported or unknown minimum TLS version.
    #[error("TLS minimum version {value:?}: {cause}")]
    MinVersion {
        /// The value given.
        value: String,
        /// Why it cannot be used.
        cause: String,
    },
    /// An extra subject alternative name that is neither an IP address nor a DNS name.
    #[error("TLS subject alternative name {value:?}: {cause}")]
    Name {
        /// The value given.
        value: String,
        /// Why it cannot be used.
        cause: String,
    },
    /// Generating a certificate or building the rustls configuration failed.
    #[error("{0}")]
    Other(String),
}

impl TlsError {
    fn file(what: &'static str, path: &Path, cause: impl Display) -> Self {
        Self::File {
            what,
            path: path.to_owned(),
            cause: one_line(&cause.to_string()),
        }
    }
}

/// Builds the rustls configuration of the secure port from `settings`.
///
/// With `cert_file` and `key_file` they are loaded (a chain, leaf first; a PKCS#8, PKCS#1 or SEC1 key that
/// must match the leaf). Without them, `cert_dir` (created 0700) holds `ca.crt`/`ca.key`, a self-signed
/// CA (`CN=fcp-ca@<unix seconds>`, 10 years), and `apiserver.crt`/`apiserver.key`, a serving
/// certificate it signed (1 year) for localhost, 127.0.0.1, ::1, the host name, the advertise address,
/// the in-cluster service names and `sans`. Files from an earlier start are reused when they parse, match,
/// cover every name and do not expire within 30 days; otherwise the serving certificate is re-issued by the
/// same CA (or, when the CA itself is unusable, both are regenerated). Keys are written 0600, every file
/// through a temporary file and a rename.
///
/// ALPN offers `h2` and `http/1.1`. With `client_ca_file`, the server asks for a client certificate and
/// verifies any it gets against that bundle, but also accepts clients without one.
///
/// # Errors
/// A [`TlsError`] naming the file or setting at fault.
pub fn server_config(settings: &TlsSettings) -> Result<ServingTls, TlsError> {
    let versions = protocol_versions(&settings.min_version)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_verifier = match &settings.client_ca_file {
        None => None,
        Some(path) => Some(client_verifier(path, &provider)?),
    };
    let builder = Builder {
        provider,
        versions,
        client_verifier,
    };
    match (&settings.cert_file, &settings.key_file) {
        (Some(cert_file), Some(key_file)) => {
            let chain = read_chain("TLS certificate file", cert_file)?;
            let key = read_key("TLS private key file", key_file)?;
            if let Some(leaf) = chain.first() {
                warn_if_expired(cert_file, leaf);
            }
            let config = builder.build(chain, key).map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                    cert: cert_file.clone(),
                    key: key_file.clone(),
                },
                rustls::Error::InvalidCertificate(_) => TlsError::file("TLS certificate file", cert_file, e),
                e => TlsError::file("TLS private key file", key_file, e),
            })?;
            Ok(ServingTls {
                config: Arc::new(config),
                ca_file: None,
                cert_file: cert_file.clone(),
                key_file: key_file.clone(),
            })
        }
        (None, None) => self_signed(settings, &builder),
        _ => Err(TlsError::Incomplete),
    }
}

/// The protocol versions for a `--tls-min-version` value.
fn protocol_versions(min_version: &str) -> Result<&'static [&'static SupportedProtocolVersion], TlsError> {
    static TLS12_AND_13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
    static TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];
    match min_version {
        "VersionTLS12" => Ok(TLS12_AND_13),
        "VersionTLS13" => Ok(TLS13),
        "VersionTLS10" | "VersionTLS11" => Err(TlsError::MinVersion {
            value: min_version.to_owned(),
            cause: format!("rustls supports only TLS 1.2 and 1.3 (valid values: {MIN_VERSION_VALUES})"),
        }),
        _ => Err(TlsError::MinVersion {
            value: min_version.to_owned(),
            cause: format!("unknown version (valid values: {MIN_VERSION_VALUES})"),
        }),
    }
}

/// A verifier that checks client certificates against the CA bundle in `path` and lets clients without
/// a certificate through (they may authenticate another way).
fn client_verifier(
    path: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    const WHAT: &str = "client CA file";
    let certs = read_certs(WHAT, path)?;
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(TlsError::file(WHAT, path, "no usable CA certificates"));
    }
    if ignored > 0 {
        tracing::warn!(file = %path.display(), ignored, "client CA file: ignoring certificates that do not parse");
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| TlsError::file(WHAT, path, e))
}

/// Everything of a [`ServerConfig`] but its certificate.
struct Builder {
    provider: Arc<CryptoProvider>,
    versions: &'static [&'static SupportedProtocolVersion],
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl Builder {
    /// The configuration serving `chain` with `key`; fails when the key does not match the leaf.
    fn build(
        &self,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<ServerConfig, rustls::Error> {
        let builder = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(self.versions)?;
        let builder = match &self.client_verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier.clone()),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

// ---- files ---------------------------------------------------------------------------------------------

/// The certificates in a PEM file (at least one).
fn read_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = fs::read(path).map_err(|e| TlsError::file(what, path, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::file(what, path, format!("invalid PEM: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError::file(
            what,
            path,
            "no certificates (PEM \"CERTIFICATE\" blocks) found",
        ));
    }
    Ok(certs)
}

/// A certificate chain, leaf first, each one a well-formed X.509 certificate.
fn read_chain(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = read_certs(what, path)?;
    for (i, cert) in certs.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(cert) {
            return Err(TlsError::file(
                what,
                path,
                format!("certificate {} is not valid X.509: {e}", i + 1),
            ));
        }
    }
    Ok(certs)
}

/// The first private key in a PEM file (PKCS#8, PKCS#1 or SEC1).
fn read_key(what: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = fs::read(path).map_err(|e| TlsError::file(what, path, e))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::file(
            what,
            path,
            "no private key (PEM \"PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block) found",
        ),
        e => TlsError::file(what, path, format!("invalid PEM: {e}")),
    })
}

/// Logs when a given certificate is outside its validity period (clients will refuse it).
fn warn_if_expired(path: &Path, leaf: &CertificateDer<'_>) {
    if let Ok((_, cert)) = x509_parser::parse_x509_certificate(leaf) {
        let now = unix_now().as_secs();
        let validity = cert.validity();
        let not_after = validity.not_after.timestamp();
        if i64::try_from(now).is_ok_and(|now| now > not_after || now < validity.not_before.timestamp()) {
            tracing::warn!(
                file = %path.display(),
                not_after = %validity.not_after,
                "the TLS serving certificate is not valid now; clients will refuse it"
            );
        }
    }
}

/// Writes `contents` to `path` through a temporary file in the same directory (created with `mode`),
/// synced and renamed over `path`: a reader sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        TlsError::file("generated certificate file", path, e)
    })
}

// ---- self-signed ----------------------------------------------------------------------------------------

/// A name the serving certificate must cover.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    /// A lowercase DNS name, possibly `*.`-prefixed.
    Dns(String),
    Ip(IpAddr),
}

impl Name {
    fn to_san(&self) -> Result<SanType, TlsError> {
        match self {
            Self::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            Self::Dns(name) => name
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|e: rcgen::Error| TlsError::Name {
                    value: name.clone(),
                    cause: e.to_string(),
                }),
        }
    }
}

/// Parses an extra name: an IP when it parses as one, else a DNS name (`*.` wildcard allowed).
fn parse_name(value: &str) -> Result<Name, TlsError> {
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(Name::Ip(ip));
    }
    let lower = value.to_ascii_lowercase();
    let base = lower.strip_prefix("*.").unwrap_or(&lower);
    match DnsName::try_from(base) {
        Ok(_) => Ok(Name::Dns(lower)),
        Err(_) => Err(TlsError::Name {
            value: value.to_owned(),
            cause: "neither an IP address nor a valid DNS name".to_owned(),
        }),
    }
}

/// The host name, from the kernel or `$HOSTNAME`; `None` when unknown or not a valid DNS name.
fn hostname() -> Option<String> {
    let name = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().map(|s| s.trim().to_owned()))?;
    let name = name.to_ascii_lowercase();
    DnsName::try_from(name.as_str()).is_ok().then_some(name)
}

/// Every name the generated serving certificate must cover, without duplicates.
fn serving_names(settings: &TlsSettings) -> Result<Vec<Name>, TlsError> {
    let mut names = vec![
        Name::Dns("localhost".to_owned()),
        Name::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        Name::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    names.extend(hostname().map(Name::Dns));
    names.extend(settings.advertise_address.map(Name::Ip));
    names.extend(IN_CLUSTER_NAMES.iter().map(|n| Name::Dns((*n).to_owned())));
    for san in &settings.sans {
        let san = san.trim();
        if !san.is_empty() {
            names.push(parse_name(san)?);
        }
    }
    let mut unique: Vec<Name> = Vec::with_capacity(names.len());
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    Ok(unique)
}

/// The generated CA: its certificate and the issuer that signs serving certificates.
struct Ca {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    /// The end of its validity (Unix time): no certificate it signs outlives it.
    not_after: Duration,
}

/// Loads the generated CA and serving certificate from the cert dir, re-issuing or regenerating what is
/// missing, unusable or about to expire.
fn self_signed(settings: &TlsSettings, builder: &Builder) -> Result<ServingTls, TlsError> {
    let dir = &settings.cert_dir;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| TlsError::file("cert dir", dir, e))?;
    let names = serving_names(settings)?;
    let (ca_file, ca_key_file) = (dir.join(CA_CERT), dir.join(CA_KEY));
    let (cert_file, key_file) = (dir.join(SERVING_CERT), dir.join(SERVING_KEY));
    let now = unix_now();
    let served = |config: ServerConfig| ServingTls {
        config: Arc::new(config),
        ca_file: Some(ca_file.clone()),
        cert_file: cert_file.clone(),
        key_file: key_file.clone(),
    };

    let existing_ca = match load_ca(&ca_file, &ca_key_file, now) {
        Ok(ca) => Some(ca),
        Err(reason) => {
            if ca_file.exists() || ca_key_file.exists() {
                tracing::info!(dir = %dir.display(), reason = %reason, "replacing the generated CA");
            }
            None
        }
    };
    if let Some(ca) = &existing_ca {
        match load_serving(&cert_file, &key_file, ca, &names, now, builder) {
            Ok(config) => {
                tracing::info!(cert = %cert_file.display(), ca = %ca_file.display(), "reusing the generated serving certificate");
                return Ok(served(config));
            }
            Err(reason) => {
                tracing::info!(cert = %cert_file.display(), reason = %reason, "issuing a new serving certificate");
            }
        }
        // Re-issue with the same CA, so that clients trusting ca.crt keep working.
        let (chain, key_pem) = issue_serving(ca, &names, now)?;
        if verify_serving(ca, &chain, now).is_ok() {
            let config = builder
                .build(chain.clone(), private_key(&key_pem, &key_file)?)
                .map_err(|e| TlsError::Other(format!("generated serving certificate: {e}")))?;
            write_atomically(&key_file, key_pem.as_bytes(), 0o600)?;
            write_atomically(&cert_file, pem_chain(&chain).as_bytes(), 0o644)?;
            tracing::info!(cert = %cert_file.display(), ca = %ca_file.display(), "issued a serving certificate with the existing CA");
            return Ok(served(config));
        }
        tracing::info!(ca = %ca_file.display(), "the existing CA cannot sign verifiable certificates; replacing it");
    }

    let (ca, ca_key_pem) = generate_ca(now)?;
    let (chain, key_pem) = issue_serving(&ca, &names, now)?;
    let config = builder
        .build(chain.clone(), private_key(&key_pem, &key_file)?)
        .map_err(|e| TlsError::Other(format!("generated serving certificate: {e}")))?;
    // The CA first: a crash in between leaves a new CA and an old serving certificate, which the next
    // start re-issues.
    write_atomically(&ca_key_file, ca_key_pem.as_bytes(), 0o600)?;
    write_atomically(
        &ca_file,
        pem_chain(std::slice::from_ref(&ca.cert)).as_bytes(),
        0o644,
    )?;
    write_atomically(&key_file, key_pem.as_bytes(), 0o600)?;
    write_atomically(&cert_file, pem_chain(&chain).as_bytes(), 0o644)?;
    sync_dir(dir);
    tracing::info!(
        dir = %dir.display(),
        ca = %ca_file.display(),
        "generated a self-signed CA and serving certificate; clients should trust the CA file"
    );
    Ok(served(config))
}

/// The CA in `cert_path`/`key_path` when it is a CA, valid for at least [`RENEW_BEFORE`], its key
/// matches, and its subject is the single CommonName of a CA we generated; else why not.
fn load_ca(cert_path: &Path, key_path: &Path, now: Duration) -> Result<Ca, String> {
    let pem = fs::read(cert_path).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let cert = CertificateDer::from_pem_slice(&pem).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let (_, x509) =
        x509_parser::parse_x509_certificate(&cert).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    if !x509.is_ca() {
        return Err(format!("{}: not a CA certificate", cert_path.display()));
    }
    if !valid_between(x509.validity(), now, now + RENEW_BEFORE) {
        return Err(format!(
            "{}: expired or expiring within 30 days",
            cert_path.display()
        ));
    }
    let subject = x509.subject();
    let common_name = match (
        subject.iter_attributes().count(),
        subject.iter_common_name().next(),
    ) {
        (1, Some(cn)) => cn.as_str().map_err(|e| format!("{}: {e}", cert_path.display()))?,
        _ => return Err(format!("{}: not a CA generated by fcp", cert_path.display())),
    };
    let key_pem = fs::read_to_string(key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let key = KeyPair::from_pem(&key_pem)
        .map_err(|e| format!("{}: {}", key_path.display(), one_line(&e.to_string())))?;
    if rcgen::PublicKeyData::der_bytes(&key) != x509.public_key().subject_public_key.data.as_ref() {
        return Err(format!(
            "{} does not match {}",
            key_path.display(),
            cert_path.display()
        ));
    }
    let not_after =
        Duration::from_secs(u64::try_from(x509.validity().not_after.timestamp()).unwrap_or_default());
    Ok(Ca {
        issuer: Issuer::new(ca_params(common_name, now), key),
        cert,
        not_after,
    })
}

/// The serving configuration from the certificate and key in the cert dir, when they chain to `ca`, cover
/// `names`, stay valid for [`RENEW_BEFORE`] and match each other; else why not.
fn load_serving(
    cert_path: &Path,
    key_path: &Path,
    ca: &Ca,
    names: &[Name],
    now: Duration,
    builder: &Builder,
) -> Result<ServerConfig, String> {
    let pem = fs::read(cert_path).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    verify_serving(ca, &chain, now).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let leaf = chain
        .first()
        .ok_or_else(|| format!("{}: no certificate", cert_path.display()))?;
    let (_, leaf) =
        x509_parser::parse_x509_certificate(leaf).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let covered = covered_names(&leaf);
    if let Some(missing) = names.iter().find(|n| !covered.contains(n)) {
        return Err(format!("{}: does not cover {missing:?}", cert_path.display()));
    }
    let pem = fs::read(key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| format!("{}: {e}", key_path.display()))?;
    builder
        .build(chain, key)
        .map_err(|e| format!("{}: {e}", key_path.display()))
}

/// Whether `chain` is a serving certificate for localhost signed by `ca`, valid now and in
/// [`RENEW_BEFORE`] (webpki's checks: signature, validity, key usage, name).
fn verify_serving(ca: &Ca, chain: &[CertificateDer<'static>], now: Duration) -> Result<(), String> {
    let Some((leaf, intermediates)) = chain.split_first() else {
        return Err("no certificate".to_owned());
    };
    let mut roots = RootCertStore::empty();
    roots.add(ca.cert.clone()).map_err(|e| format!("CA: {e}"))?;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .map_err(|e| e.to_string())?;
    let localhost = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    for at in [now, now + RENEW_BEFORE] {
        verifier
            .verify_server_cert(
                leaf,
                intermediates,
                &localhost,
                &[],
                UnixTime::since_unix_epoch(at),
            )
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The DNS names (lowercased) and IPs in a certificate's subject alternative names.
fn covered_names(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<Name> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(sans)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    sans.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(dns) => Some(Name::Dns(dns.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => <[u8; 4]>::try_from(*bytes)
                    .ok()
                    .map(|b| Name::Ip(IpAddr::from(b))),
                16 => <[u8; 16]>::try_from(*bytes)
                    .ok()
                    .map(|b| Name::Ip(IpAddr::from(b))),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Whether a certificate is valid over the whole of `[from, until]` (Unix times).
fn valid_between(validity: &x509_parser::certificate::Validity, from: Duration, until: Duration) -> bool {
    let (Ok(from), Ok(until)) = (i64::try_from(from.as_secs()), i64::try_from(until.as_secs())) else {
        return false;
    };
    validity.not_before.timestamp() <= from && until <= validity.not_after.timestamp()
}

/// The parameters of the CA named `common_name`: what its issuer signs with.
fn ca_params(common_name: &str, now: Duration) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, now.saturating_sub(BACKDATE), now + CA_VALIDITY);
    params
}

/// A new CA `CN=fcp-ca@<unix seconds>` and its private key (PKCS#8 PEM).
fn generate_ca(now: Duration) -> Result<(Ca, String), TlsError> {
    let generate = || -> Result<(Ca, String), rcgen::Error> {
        let key = KeyPair::generate()?;
        let params = ca_params(&format!("fcp-ca@{}", now.as_secs()), now);
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        Ok((
            Ca {
                cert: cert.der().clone(),
                issuer: Issuer::new(params, key),
                not_after: now + CA_VALIDITY,
            },
            key_pem,
        ))
    };
    generate().map_err(|e| {
        TlsError::Other(format!(
            "cannot generate a self-signed CA: {}",
            one_line(&e.to_string())
        ))
    })
}

/// A new serving certificate for `names` signed by `ca`, and its private key (PKCS#8 PEM).
fn issue_serving(
    ca: &Ca,
    names: &[Name],
    now: Duration,
) -> Result<(Vec<CertificateDer<'static>>, String), TlsError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("fcp-apiserver@{}", now.as_secs()));
    params.subject_alt_names = names.iter().map(Name::to_san).collect::<Result<_, _>>()?;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(
        &mut params,
        now.saturating_sub(BACKDATE),
        (now + SERVING_VALIDITY).min(ca.not_after),
    );
    let issue = || -> Result<(Vec<CertificateDer<'static>>, String), rcgen::Error> {
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &ca.issuer)?;
        Ok((vec![cert.der().clone()], key.serialize_pem()))
    };
    issue().map_err(|e| {
        TlsError::Other(format!(
            "cannot generate a serving certificate: {}",
            one_line(&e.to_string())
        ))
    })
}

/// A generated private key as rustls takes it.
fn private_key(pem: &str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|e| TlsError::file("generated private key", path, e))
}

/// Certificates as PEM blocks.
fn pem_chain(chain: &[CertificateDer<'_>]) -> String {
    chain
        .iter()
        .map(|der| {
            let encoded = base64_lines(der);
            format!("-----BEGIN CERTIFICATE-----\n{encoded}-----END CERTIFICATE-----\n")
        })
        .collect()
}

/// Base64 in 64-column lines, each ending with a newline (the PEM body).
fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 64 + 1);
    for chunk in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// Makes the renames in `dir` durable (best effort).
fn sync_dir(dir: &Path) {
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Time since the Unix epoch (zero if the clock is before it).
fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Sets the validity period of `params` to `[from, until]` (Unix times).
fn set_validity(params: &mut CertificateParams, from: Duration, until: Duration) {
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + from;
    params.not_after = epoch + until;
}

/// `s` on one line (causes from other crates end up inside one-line errors).
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Test code: a panic is a failed assertion.

    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn not_after(path: &Path) -> i64 {
        let pem = fs::read(path).unwrap();
        let der = CertificateDer::from_pem_slice(&pem).unwrap();
        let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
        cert.validity().not_after.timestamp()
    }

    fn secs(d: Duration) -> i64 {
        i64::try_from(d.as_secs()).unwrap()
    }

    #[test]
    fn extra_names_are_ips_or_dns_names() {
        assert_eq!(
            parse_name("10.0.0.1").unwrap(),
            Name::Ip("10.0.0.1".parse().unwrap())
        );
        assert_eq!(
            parse_name("fd00::1").unwrap(),
            Name::Ip("fd00::1".parse().unwrap())
        );
        assert_eq!(
            parse_name("Fcp.Example.com").unwrap(),
            Name::Dns("fcp.example.com".to_owned())
        );
        assert_eq!(
            parse_name("*.example.com").unwrap(),
            Name::Dns("*.example.com".to_owned())
        );
        for bad in [
            "not a name",
            "-leading.example.com",
            "exa*mple.com",
            "é.example.com",
            "",
        ] {
            let err = parse_name(bad).unwrap_err();
            assert!(matches!(err, TlsError::Name { .. }), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_serving_certificate_expiring_within_30_days_is_reissued_by_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TlsSettings::self_signed(dir.path());
        server_config(&settings).unwrap();
        let ca_pem = fs::read(dir.path().join(CA_CERT)).unwrap();
        // Replace the serving certificate with one issued 355 days ago: it expires in 10 days.
        let now = unix_now();
        let ca = load_ca(&dir.path().join(CA_CERT), &dir.path().join(CA_KEY), now).unwrap();
        let names = serving_names(&settings).unwrap();
        let (chain, key_pem) = issue_serving(&ca, &names, now - (SERVING_VALIDITY - 10 * DAY)).unwrap();
        write_atomically(
            &dir.path().join(SERVING_CERT),
            pem_chain(&chain).as_bytes(),
            0o644,
        )
        .unwrap();
        write_atomically(&dir.path().join(SERVING_KEY), key_pem.as_bytes(), 0o600).unwrap();
        assert!(not_after(&dir.path().join(SERVING_CERT)) < secs(now + 11 * DAY));

        server_config(&settings).unwrap();
        assert_eq!(
            fs::read(dir.path().join(CA_CERT)).unwrap(),
            ca_pem,
            "the CA is kept"
        );
        assert!(
            not_after(&dir.path().join(SERVING_CERT)) > secs(now + 360 * DAY),
            "re-issued for a year"
        );
    }

    #[test]
    fn a_ca_expiring_within_30_days_is_regenerated() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TlsSettings::self_signed(dir.path());
        let now = unix_now();
        let (ca, ca_key_pem) = generate_ca(now - (CA_VALIDITY - 10 * DAY)).unwrap();
        let (chain, key_pem) = issue_serving(&ca, &serving_names(&settings).unwrap(), now).unwrap();
        write_atomically(&dir.path().join(CA_KEY), ca_key_pem.as_bytes(), 0o600).unwrap();
        write_atomically(
            &dir.path().join(CA_CERT),
            pem_chain(std::slice::from_ref(&ca.cert)).as_bytes(),
            0o644,
        )
        .unwrap();
        write_atomically(&dir.path().join(SERVING_KEY), key_pem.as_bytes(), 0o600).unwrap();
        write_atomically(
            &dir.path().join(SERVING_CERT),
            pem_chain(&chain).as_bytes(),
            0o644,
        )
        .unwrap();
        assert!(
            not_after(&dir.path().join(SERVING_CERT)) <= not_after(&dir.path().join(CA_CERT)),
            "no serving certificate outlives its CA"
        );

        server_config(&settings).unwrap();
        assert!(
            not_after(&dir.path().join(CA_CERT)) > secs(now + 3600 * DAY),
            "a new 10-year CA"
        );
        assert!(not_after(&dir.path().join(SERVING_CERT)) > secs(now + 360 * DAY));
    }
}
