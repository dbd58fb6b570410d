//! A throwaway PKI for TLS tests: a CA in a temporary directory that issues client and serving
//! certificates, each written as PEM files next to it. Two [`TestPki`]s are two unrelated CAs (for the
//! "certificate from an untrusted CA" case).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};

/// A CA (ECDSA P-256, valid from an hour ago for a year) whose files live in a temporary directory
/// removed on drop.
pub struct TestPki {
    dir: tempfile::TempDir,
    ca_file: PathBuf,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
    issued: AtomicUsize,
}

/// A certificate issued by a [`TestPki`], with its private key (PKCS#8), as files and as PEM text.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate (PEM).
    pub cert_file: PathBuf,
    /// Its private key (PEM, PKCS#8).
    pub key_file: PathBuf,
    /// The content of `cert_file`.
    pub cert_pem: String,
    /// The content of `key_file`.
    pub key_pem: String,
}

/// A client certificate (extended key usage clientAuth).
pub type ClientCert = IssuedCert;
/// A serving certificate (extended key usage serverAuth).
pub type ServingCert = IssuedCert;

impl IssuedCert {
    /// Certificate and key in one PEM text, as `reqwest::Identity::from_pem` takes them.
    #[must_use]
    pub fn identity_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

impl TestPki {
    /// A new CA named `fcp-test-ca`, its certificate written as `ca.crt` in a new temporary directory.
    ///
    /// # Errors
    /// When the key or certificate cannot be generated or written.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_name("fcp-test-ca")
    }

    /// A new CA with CommonName `common_name`.
    ///
    /// # Errors
    /// When the key or certificate cannot be generated or written.
    pub fn with_name(common_name: &str) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("fcp-test-pki").tempdir()?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params);
        let cert = params.self_signed(&key)?;
        let ca_pem = cert.pem();
        let ca_file = dir.path().join("ca.crt");
        std::fs::write(&ca_file, &ca_pem).with_context(|| format!("writing {}", ca_file.display()))?;
        Ok(Self {
            dir,
            ca_file,
            ca_pem,
            issuer: Issuer::new(params, key),
            issued: AtomicUsize::new(0),
        })
    }

    /// The temporary directory holding every file of this PKI.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate file (PEM).
    #[must_use]
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The CA certificate (PEM).
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// A client certificate for user `common_name` in groups `organizations` (one O per group).
    ///
    /// # Errors
    /// When the key or certificate cannot be generated or written.
    pub fn client(&self, common_name: &str, organizations: &[&str]) -> anyhow::Result<ClientCert> {
        anyhow::ensure!(
            organizations.len() <= MAX_ORGANIZATIONS,
            "at most {MAX_ORGANIZATIONS} organizations"
        );
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, common_name);
        // rcgen keeps one value per attribute type: each O goes in under a placeholder type, renamed to O
        // in `issue`.
        for (i, organization) in organizations.iter().enumerate() {
            params
                .distinguished_name
                .push(DnType::CustomDnType(placeholder_oid(i)), *organization);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params, "client", organizations.len())
    }

    /// A serving certificate for `names` (each an IP SAN when it parses as an IP, else a DNS SAN).
    ///
    /// # Errors
    /// When a name is invalid, or the key or certificate cannot be generated or written.
    pub fn serving(&self, names: &[&str]) -> anyhow::Result<ServingCert> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "fcp-test-serving");
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params, "serving", 0)
    }

    /// Signs `params` with a new key, renaming the first `placeholders` placeholder attribute types to O;
    /// writes `<kind>-<n>.crt` and `<kind>-<n>.key`.
    fn issue(
        &self,
        mut params: CertificateParams,
        kind: &str,
        placeholders: usize,
    ) -> anyhow::Result<IssuedCert> {
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        let der = if placeholders == 0 {
            cert.der().to_vec()
        } else {
            self.rename_placeholders(cert.der(), placeholders)?
        };
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let cert_file = self.dir.path().join(format!("{kind}-{n}.crt"));
        let key_file = self.dir.path().join(format!("{kind}-{n}.key"));
        let issued = IssuedCert {
            cert_pem: pem("CERTIFICATE", &der),
            key_pem: key.serialize_pem(),
            cert_file,
            key_file,
        };
        std::fs::write(&issued.cert_file, &issued.cert_pem)
            .with_context(|| format!("writing {}", issued.cert_file.display()))?;
        std::fs::write(&issued.key_file, &issued.key_pem)
            .with_context(|| format!("writing {}", issued.key_file.display()))?;
        Ok(issued)
    }
}

/// How many O values a client certificate may have (placeholder OIDs 2.5.4.100 to 2.5.4.127 encode in the
/// same 3 bytes as O, 2.5.4.10).
const MAX_ORGANIZATIONS: usize = 28;

/// The placeholder attribute type of the `i`th Organization.
fn placeholder_oid(i: usize) -> Vec<u64> {
    vec![2, 5, 4, 100 + i as u64]
}

impl TestPki {
    /// `der` with the first `count` placeholder attribute types renamed to Organization (2.5.4.10), its
    /// to-be-signed part signed again by this CA.
    fn rename_placeholders(&self, der: &[u8], count: usize) -> anyhow::Result<Vec<u8>> {
        let (outer_header, _) = tlv(der, 0)?;
        let (tbs_header, tbs_len) = tlv(der, outer_header)?;
        let tbs_end = outer_header + tbs_header + tbs_len;
        let mut tbs = der[outer_header..tbs_end].to_vec();
        for i in 0..count {
            // OBJECT IDENTIFIER, length 3, 2.5.4.(100 + i)
            let placeholder = [0x06, 0x03, 0x55, 0x04, 100 + u8::try_from(i)?];
            let at: Vec<usize> = tbs
                .windows(5)
                .enumerate()
                .filter(|(_, w)| *w == placeholder)
                .map(|(at, _)| at)
                .collect();
            anyhow::ensure!(
                at.len() == 1,
                "placeholder attribute {i} found {} times",
                at.len()
            );
            tbs[at[0] + 4] = 0x0a;
        }
        let (algorithm_header, algorithm_len) = tlv(der, tbs_end)?;
        let algorithm = &der[tbs_end..tbs_end + algorithm_header + algorithm_len];
        let signature = rcgen::SigningKey::sign(self.issuer.key(), &tbs)?;
        let mut bit_string = vec![0];
        bit_string.extend_from_slice(&signature);
        let mut body = tbs;
        body.extend_from_slice(algorithm);
        body.extend(encode_tlv(0x03, &bit_string));
        Ok(encode_tlv(0x30, &body))
    }
}

/// The header length and content length of the DER element at `at`.
fn tlv(der: &[u8], at: usize) -> anyhow::Result<(usize, usize)> {
    let first = *der.get(at + 1).context("truncated DER")?;
    if first < 0x80 {
        return Ok((2, usize::from(first)));
    }
    let n = usize::from(first & 0x7f);
    anyhow::ensure!((1..=4).contains(&n), "unsupported DER length");
    let bytes = der.get(at + 2..at + 2 + n).context("truncated DER")?;
    let len = bytes.iter().fold(0usize, |len, b| (len << 8) | usize::from(*b));
    Ok((2 + n, len))
}

/// A DER element.
fn encode_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A PEM block.
fn pem(label: &str, der: &[u8]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Valid from an hour ago for a year.
fn set_validity(params: &mut CertificateParams) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    params.not_before = epoch + now.saturating_sub(Duration::from_secs(3600));
    params.not_after = epoch + now + Duration::from_secs(365 * 24 * 3600);
}
