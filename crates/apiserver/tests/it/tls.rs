//! HTTPS serving (`fcp_apiserver::serving`) with real clients: reqwest (rustls) and curl (OpenSSL).
//!
//! Each test serves a tiny router with `serve_tls` on 127.0.0.1:0; `/whoami` echoes the
//! `ClientCertificate` extension (`cn=<CN> o=<O,...>`) or `none`. Certificates come from
//! `fcp_testkit::pki::TestPki` or from `server_config`'s self-signed generation into a temporary cert dir.
//! The curl cases print a note and skip only when curl is not installed (it is in CI).

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::routing::get;
use fcp_apiserver::serving::{ClientCertificate, TlsError, TlsSettings, serve_tls, server_config};
use fcp_testkit::pki::{IssuedCert, TestPki};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `cn=<CN> o=<O,...>` for a verified client certificate, else `none`.
async fn whoami(request: Request) -> String {
    match request.extensions().get::<ClientCertificate>() {
        Some(cert) => format!("cn={} o={}", cert.common_name, cert.organizations.join(",")),
        None => "none".to_owned(),
    }
}

/// The peer IP from the `ConnectInfo` extension.
async fn peer(request: Request) -> String {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => addr.ip().to_string(),
        None => "unknown".to_owned(),
    }
}

/// Answers after a second: an in-flight request during shutdown.
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(1)).await;
    "slow done"
}

/// A `serve_tls` task on 127.0.0.1:0.
struct Served {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(config: Arc<rustls::ServerConfig>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/whoami", get(whoami))
            .route("/peer", get(peer))
            .route("/slow", get(slow));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve_tls(listener, config, app, shutdown.clone()));
        Self { addr, shutdown, task }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.port())
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("serve_tls returns within 5 s of shutdown")
            .unwrap()
            .unwrap();
    }
}

/// A reqwest client trusting only `ca_pem`, presenting `identity` when given; `localhost` and
/// `fcp.example.com` resolve to `addr`.
fn client(ca_pem: &str, identity: Option<&IssuedCert>, addr: SocketAddr) -> reqwest::Client {
    client_builder(ca_pem, identity, addr).build().unwrap()
}

fn client_builder(ca_pem: &str, identity: Option<&IssuedCert>, addr: SocketAddr) -> reqwest::ClientBuilder {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .resolve("localhost", addr)
        .resolve("fcp.example.com", addr)
        .resolve("other.example.com", addr)
        .timeout(REQUEST_TIMEOUT);
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.identity_pem().as_bytes()).unwrap());
    }
    builder
}

/// GET `url`: the body of a 200, or the error's chain as text.
async fn get_body(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let response = client.get(url).send().await.map_err(|e| format!("{e:?}"))?;
    assert_eq!(response.status(), 200, "GET {url}");
    response.text().await.map_err(|e| format!("{e:?}"))
}

fn self_signed(cert_dir: &Path) -> TlsSettings {
    TlsSettings::self_signed(cert_dir)
}

fn read_pem(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

// ---- curl ---------------------------------------------------------------------------------------------

/// Whether curl can run; prints why a curl case is skipped when not.
fn have_curl() -> bool {
    let ok = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("curl is not installed: skipping the curl half of this test");
    }
    ok
}

/// Runs curl (asynchronously: the server runs on this test's runtime); success, stdout and stderr.
async fn curl(args: &[impl AsRef<std::ffi::OsStr>]) -> (bool, String, String) {
    let output = tokio::process::Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// ---- tests --------------------------------------------------------------------------------------------

#[tokio::test]
async fn self_signed_certificates_are_generated_then_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let cert_dir = tmp.path().join("state").join("certs");
    let first = server_config(&self_signed(&cert_dir)).unwrap();
    assert_eq!(first.ca_file.as_deref(), Some(cert_dir.join("ca.crt").as_path()));
    assert_eq!(first.cert_file, cert_dir.join("apiserver.crt"));
    assert_eq!(first.key_file, cert_dir.join("apiserver.key"));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cert_dir), 0o700, "cert dir mode");
    assert_eq!(mode(&cert_dir.join("ca.key")), 0o600, "ca.key mode");
    assert_eq!(mode(&cert_dir.join("apiserver.key")), 0o600, "apiserver.key mode");
    let mut files: Vec<String> = std::fs::read_dir(&cert_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        ["apiserver.crt", "apiserver.key", "ca.crt", "ca.key"],
        "no temporary files left"
    );
    let ca = read_pem(&cert_dir.join("ca.crt"));
    let serving = read_pem(&cert_dir.join("apiserver.crt"));
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    // The next start reuses both.
    let second = server_config(&self_signed(&cert_dir)).unwrap();
    assert_eq!(second.ca_file, first.ca_file);
    assert_eq!(read_pem(&cert_dir.join("ca.crt")), ca, "CA reused");
    assert_eq!(
        read_pem(&cert_dir.join("apiserver.crt")),
        serving,
        "serving certificate reused"
    );

    // A new name re-issues the serving certificate with the same CA.
    let mut with_name = self_signed(&cert_dir);
    with_name.sans = vec!["fcp.example.com".to_owned()];
    server_config(&with_name).unwrap();
    assert_eq!(
        read_pem(&cert_dir.join("ca.crt")),
        ca,
        "CA kept when a name is added"
    );
    let reissued = read_pem(&cert_dir.join("apiserver.crt"));
    assert_ne!(
        reissued, serving,
        "serving certificate re-issued for the new name"
    );
    server_config(&with_name).unwrap();
    assert_eq!(
        read_pem(&cert_dir.join("apiserver.crt")),
        reissued,
        "and then reused"
    );

    // A serving key that no longer matches: re-issued, CA kept.
    std::fs::copy(cert_dir.join("ca.key"), cert_dir.join("apiserver.key")).unwrap();
    server_config(&with_name).unwrap();
    assert_eq!(read_pem(&cert_dir.join("ca.crt")), ca);
    assert_ne!(read_pem(&cert_dir.join("apiserver.crt")), reissued);

    // An unreadable CA: everything regenerated.
    std::fs::write(cert_dir.join("ca.crt"), "garbage").unwrap();
    let third = server_config(&with_name).unwrap();
    assert_eq!(third.ca_file, first.ca_file);
    let new_ca = read_pem(&cert_dir.join("ca.crt"));
    assert!(new_ca.starts_with("-----BEGIN CERTIFICATE-----") && new_ca != ca);
}

#[tokio::test]
async fn generated_certificate_covers_localhost_loopback_and_extra_names() {
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = self_signed(tmp.path());
    settings.sans = vec!["fcp.example.com".to_owned(), "10.1.2.3".to_owned()];
    let tls = server_config(&settings).unwrap();
    let ca = read_pem(tls.ca_file.as_deref().unwrap());
    let served = Served::start(tls.config).await;
    let client = client(&ca, None, served.addr);
    for host in ["localhost", "127.0.0.1", "fcp.example.com"] {
        assert_eq!(
            get_body(&client, &served.url(host, "/whoami")).await.as_deref(),
            Ok("none"),
            "{host}"
        );
    }
    assert_eq!(
        get_body(&client, &served.url("127.0.0.1", "/peer"))
            .await
            .as_deref(),
        Ok("127.0.0.1")
    );
    let uncovered = get_body(&client, &served.url("other.example.com", "/whoami")).await;
    assert!(
        uncovered.is_err(),
        "a name outside the certificate must fail verification: {uncovered:?}"
    );

    if have_curl() {
        let ca_file = tls.ca_file.as_deref().unwrap().to_str().unwrap();
        let resolve = format!("localhost:{}:127.0.0.1", served.port());
        for url in [
            served.url("127.0.0.1", "/whoami"),
            served.url("localhost", "/whoami"),
        ] {
            let (ok, out, err) =
                curl(&["--cacert", ca_file, "--resolve", resolve.as_str(), url.as_str()]).await;
            assert!(ok, "curl {url}: {err}");
            assert_eq!(out, "none");
        }
    }
    served.stop().await;
}

#[tokio::test]
async fn given_certificate_and_key_are_served() {
    let pki = TestPki::new().unwrap();
    let serving = pki.serving(&["localhost", "127.0.0.1"]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let settings = TlsSettings {
        cert_file: Some(serving.cert_file.clone()),
        key_file: Some(serving.key_file.clone()),
        ..self_signed(&tmp.path().join("unused"))
    };
    let tls = server_config(&settings).unwrap();
    assert_eq!(tls.ca_file, None);
    assert_eq!(tls.cert_file, serving.cert_file);
    assert!(
        !tmp.path().join("unused").exists(),
        "nothing generated when a certificate is given"
    );
    let served = Served::start(tls.config).await;
    let client = client(pki.ca_pem(), None, served.addr);
    for host in ["localhost", "127.0.0.1"] {
        assert_eq!(
            get_body(&client, &served.url(host, "/whoami")).await.as_deref(),
            Ok("none"),
            "{host}"
        );
    }
    // Another CA does not verify it.
    let other = TestPki::new().unwrap();
    let untrusting = self::client(other.ca_pem(), None, served.addr);
    assert!(
        get_body(&untrusting, &served.url("localhost", "/whoami"))
            .await
            .is_err()
    );
    served.stop().await;
}

#[tokio::test]
async fn alpn_negotiates_http2_and_http1_still_works() {
    if !have_curl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let tls = server_config(&self_signed(tmp.path())).unwrap();
    let ca_file = tls.ca_file.clone().unwrap();
    let ca_file = ca_file.to_str().unwrap();
    let served = Served::start(tls.config).await;
    let url = served.url("127.0.0.1", "/whoami");
    let (ok, out, err) = curl(&[
        "--http2",
        "--cacert",
        ca_file,
        "-w",
        "\n%{http_version}",
        url.as_str(),
    ])
    .await;
    assert!(ok, "curl --http2: {err}");
    assert_eq!(out, "none\n2", "HTTP/2 by ALPN");
    let (ok, out, err) = curl(&[
        "--http1.1",
        "--cacert",
        ca_file,
        "-w",
        "\n%{http_version}",
        url.as_str(),
    ])
    .await;
    assert!(ok, "curl --http1.1: {err}");
    assert_eq!(out, "none\n1.1");
    // reqwest (HTTP/1.1 only here) on the same server.
    let ca = read_pem(tls.ca_file.as_deref().unwrap());
    assert_eq!(
        get_body(&client(&ca, None, served.addr), &url).await.as_deref(),
        Ok("none")
    );
    served.stop().await;
}

#[tokio::test]
async fn min_version_tls13_rejects_a_tls12_only_client() {
    let tmp = tempfile::tempdir().unwrap();
    let default = server_config(&self_signed(tmp.path())).unwrap();
    let ca_file = default.ca_file.clone().unwrap();
    let ca = read_pem(&ca_file);
    let tls13 = server_config(&TlsSettings {
        min_version: "VersionTLS13".to_owned(),
        ..self_signed(tmp.path())
    })
    .unwrap();
    let (tls12_server, tls13_server) = (
        Served::start(default.config).await,
        Served::start(tls13.config).await,
    );

    let tls12_client = |addr| {
        client_builder(&ca, None, addr)
            .max_tls_version(reqwest::tls::Version::TLS_1_2)
            .build()
            .unwrap()
    };
    let accepted = get_body(
        &tls12_client(tls12_server.addr),
        &tls12_server.url("localhost", "/whoami"),
    )
    .await;
    assert_eq!(accepted.as_deref(), Ok("none"), "TLS 1.2 accepted by default");
    let refused = get_body(
        &tls12_client(tls13_server.addr),
        &tls13_server.url("localhost", "/whoami"),
    )
    .await;
    assert!(refused.is_err(), "TLS 1.2 refused with VersionTLS13: {refused:?}");
    let tls13_client = client(&ca, None, tls13_server.addr);
    assert_eq!(
        get_body(&tls13_client, &tls13_server.url("localhost", "/whoami"))
            .await
            .as_deref(),
        Ok("none"),
        "TLS 1.3 accepted with VersionTLS13"
    );

    if have_curl() {
        let ca_file = ca_file.to_str().unwrap();
        let tls12 = |url: String| {
            ["--tlsv1.2", "--tls-max", "1.2", "--cacert", ca_file, url.as_str()].map(str::to_owned)
        };
        let (ok, out, err) = curl(&tls12(tls12_server.url("127.0.0.1", "/whoami"))).await;
        assert!(
            ok && out == "none",
            "curl --tls-max 1.2 against the default: {err}"
        );
        let (ok, _, _) = curl(&tls12(tls13_server.url("127.0.0.1", "/whoami"))).await;
        assert!(!ok, "curl --tls-max 1.2 against VersionTLS13 must fail");
    }
    tls12_server.stop().await;
    tls13_server.stop().await;
}

#[test]
fn min_version_values() {
    let tmp = tempfile::tempdir().unwrap();
    for old in ["VersionTLS10", "VersionTLS11"] {
        let err = server_config(&TlsSettings {
            min_version: old.to_owned(),
            ..self_signed(tmp.path())
        })
        .unwrap_err();
        assert!(matches!(err, TlsError::MinVersion { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.contains(old) && message.contains("only TLS 1.2 and 1.3"),
            "{message}"
        );
    }
    let message = server_config(&TlsSettings {
        min_version: "tls1.2".to_owned(),
        ..self_signed(tmp.path())
    })
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("\"tls1.2\"") && message.contains("VersionTLS12, VersionTLS13"),
        "{message}"
    );
    assert!(!message.contains('\n'));
    assert!(
        !tmp.path().join("ca.crt").exists(),
        "flags are checked before anything is generated"
    );
}

#[tokio::test]
async fn client_certificates_identify_the_user_when_signed_by_the_client_ca() {
    let clients = TestPki::new().unwrap();
    let strangers = TestPki::with_name("another-ca").unwrap();
    let alice = clients.client("alice", &["team-a", "system:masters"]).unwrap();
    let bob = clients.client("bob", &[]).unwrap();
    let mallory = strangers.client("mallory", &["system:masters"]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let tls = server_config(&TlsSettings {
        client_ca_file: Some(clients.ca_file().to_path_buf()),
        ..self_signed(tmp.path())
    })
    .unwrap();
    let ca_file = tls.ca_file.clone().unwrap();
    let ca = read_pem(&ca_file);
    let served = Served::start(tls.config).await;
    let url = served.url("localhost", "/whoami");

    let as_alice = client(&ca, Some(&alice), served.addr);
    assert_eq!(
        get_body(&as_alice, &url).await.as_deref(),
        Ok("cn=alice o=team-a,system:masters")
    );
    let as_bob = client(&ca, Some(&bob), served.addr);
    assert_eq!(get_body(&as_bob, &url).await.as_deref(), Ok("cn=bob o="));
    let anonymous = client(&ca, None, served.addr);
    assert_eq!(
        get_body(&anonymous, &url).await.as_deref(),
        Ok("none"),
        "no certificate is allowed"
    );
    let as_mallory = client(&ca, Some(&mallory), served.addr);
    let refused = get_body(&as_mallory, &url).await;
    assert!(
        refused.is_err(),
        "a certificate from another CA fails the handshake: {refused:?}"
    );

    if have_curl() {
        let ca_file = ca_file.to_str().unwrap();
        let url = served.url("127.0.0.1", "/whoami");
        let with = |cert: &IssuedCert| {
            vec![
                "--cert".to_owned(),
                cert.cert_file.display().to_string(),
                "--key".to_owned(),
                cert.key_file.display().to_string(),
                "--cacert".to_owned(),
                ca_file.to_owned(),
                url.clone(),
            ]
        };
        let (ok, out, err) = curl(&with(&alice)).await;
        assert!(ok, "curl as alice: {err}");
        assert_eq!(out, "cn=alice o=team-a,system:masters");
        let (ok, out, _) = curl(&with(&mallory)).await;
        assert!(!ok, "curl as mallory must fail, got {out:?}");
        let (ok, out, err) = curl(&["--cacert", ca_file, url.as_str()]).await;
        assert!(ok, "curl without a certificate: {err}");
        assert_eq!(out, "none");
    }
    served.stop().await;
}

#[tokio::test]
async fn without_a_client_ca_no_certificate_is_asked_for() {
    let clients = TestPki::new().unwrap();
    let alice = clients.client("alice", &["team-a"]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let tls = server_config(&self_signed(tmp.path())).unwrap();
    let ca = read_pem(tls.ca_file.as_deref().unwrap());
    let served = Served::start(tls.config).await;
    let as_alice = client(&ca, Some(&alice), served.addr);
    assert_eq!(
        get_body(&as_alice, &served.url("localhost", "/whoami"))
            .await
            .as_deref(),
        Ok("none")
    );
    served.stop().await;
}

#[test]
fn bad_files_give_one_line_errors_naming_the_file() {
    let pki = TestPki::new().unwrap();
    let serving = pki.serving(&["localhost"]).unwrap();
    let other = pki.serving(&["localhost"]).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let garbage = tmp.path().join("garbage.pem");
    std::fs::write(&garbage, "this is not PEM\n").unwrap();
    let truncated = tmp.path().join("truncated.crt");
    std::fs::write(&truncated, &serving.cert_pem[..serving.cert_pem.len() / 2]).unwrap();
    let missing = tmp.path().join("missing.crt");
    let given = |cert: &Path, key: &Path| TlsSettings {
        cert_file: Some(cert.to_path_buf()),
        key_file: Some(key.to_path_buf()),
        ..self_signed(&tmp.path().join("certs"))
    };
    let check = |settings: TlsSettings, names: &[&Path], cause: &str| {
        let message = server_config(&settings).unwrap_err().to_string();
        assert!(!message.contains('\n'), "one line: {message}");
        for name in names {
            assert!(
                message.contains(&name.display().to_string()),
                "{message} names {}",
                name.display()
            );
        }
        assert!(message.contains(cause), "{message} says {cause:?}");
        assert!(!message.contains("PRIVATE KEY-----") && !message.contains(&other.key_pem[40..80]));
    };

    check(given(&missing, &serving.key_file), &[&missing], "No such file");
    check(given(&garbage, &serving.key_file), &[&garbage], "no certificates");
    check(given(&truncated, &serving.key_file), &[&truncated], "invalid PEM");
    check(given(&serving.cert_file, &garbage), &[&garbage], "no private key");
    check(given(&serving.cert_file, &missing), &[&missing], "No such file");
    check(
        given(&serving.cert_file, &other.key_file),
        &[&serving.cert_file, &other.key_file],
        "does not match",
    );
    check(
        TlsSettings {
            client_ca_file: Some(garbage.clone()),
            ..self_signed(&tmp.path().join("certs"))
        },
        &[&garbage],
        "client CA file",
    );
    let incomplete = TlsSettings {
        cert_file: Some(serving.cert_file),
        ..self_signed(&tmp.path().join("certs"))
    };
    assert!(matches!(server_config(&incomplete), Err(TlsError::Incomplete)));
    let bad_san = TlsSettings {
        sans: vec!["not a name".to_owned()],
        ..self_signed(&tmp.path().join("certs"))
    };
    assert!(matches!(server_config(&bad_san), Err(TlsError::Name { .. })));
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_returns_promptly() {
    let tmp = tempfile::tempdir().unwrap();
    let tls = server_config(&self_signed(tmp.path())).unwrap();
    let ca = read_pem(tls.ca_file.as_deref().unwrap());
    let served = Served::start(tls.config).await;
    let client = client(&ca, None, served.addr);
    // An idle keep-alive connection, and a TCP connection that never starts its handshake.
    assert_eq!(
        get_body(&client, &served.url("localhost", "/whoami"))
            .await
            .as_deref(),
        Ok("none")
    );
    let _stalled = tokio::net::TcpStream::connect(served.addr).await.unwrap();
    // The stalled handshake does not hold up other connections.
    let fresh = self::client(&ca, None, served.addr);
    assert_eq!(
        get_body(&fresh, &served.url("127.0.0.1", "/whoami"))
            .await
            .as_deref(),
        Ok("none")
    );

    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = served.url("localhost", "/slow");
        async move { get_body(&client, &url).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let addr = served.addr;
    let started = Instant::now();
    served.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped in {:?}",
        started.elapsed()
    );
    assert_eq!(
        in_flight.await.unwrap().as_deref(),
        Ok("slow done"),
        "the in-flight request completes"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}
