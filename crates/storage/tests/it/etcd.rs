//! The etcd backend against a real etcd: the conformance suite, durability across an etcd restart, an etcd
//! outage (requests fail fast with `Unavailable`, the same backend recovers), a wrong endpoint, and TLS with
//! client certificates.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fcp_storage::etcd::{EtcdBackend, EtcdConfig};
use fcp_storage::{Backend, Revision, StorageError, conformance};
use fcp_testkit::etcd::{EtcdServerTls, TestEtcd};
use futures::StreamExt;

fn config(etcd: &TestEtcd) -> EtcdConfig {
    EtcdConfig::new(vec![etcd.endpoint()])
}

async fn setup() -> (TestEtcd, Box<dyn Backend>) {
    let etcd = TestEtcd::start().expect("start etcd");
    let backend = EtcdBackend::connect(config(&etcd))
        .await
        .expect("connect to etcd");
    (etcd, Box::new(backend))
}

all_conformance_tests!();

#[tokio::test]
async fn run_all_in_one_store() {
    let (_etcd, backend) = setup().await;
    conformance::run_all(backend.as_ref(), "/registry/all/").await;
}

#[tokio::test]
async fn durability_across_etcd_restart() {
    let (mut etcd, backend) = setup().await;
    let etcd_ref = &mut etcd;
    conformance::durability_across_reopen(backend, "/registry/durable/", |old| async move {
        drop(old);
        etcd_ref.restart().expect("restart etcd");
        Box::new(EtcdBackend::connect(config(etcd_ref)).await.expect("reconnect")) as Box<dyn Backend>
    })
    .await;
}

/// While etcd is down, requests fail with `Unavailable` within the request timeout and open watches end with an
/// error; once etcd is back on the same port and data, the same backend works again.
#[tokio::test]
async fn outage_is_unavailable_and_the_backend_recovers() {
    let mut etcd = TestEtcd::start().expect("start etcd");
    let timeout = Duration::from_secs(2);
    let backend = EtcdBackend::connect(EtcdConfig {
        request_timeout: timeout,
        ..config(&etcd)
    })
    .await
    .expect("connect");
    let kv = backend
        .create("/registry/outage/a", Bytes::from_static(b"1"))
        .await
        .expect("create");
    let mut watch = backend
        .watch("/registry/outage/", Revision::ZERO)
        .await
        .expect("watch");

    etcd.stop().expect("stop etcd");
    let started = Instant::now();
    let error = backend
        .get("/registry/outage/a")
        .await
        .expect_err("get while etcd is down");
    eprintln!(
        "get while etcd is down failed after {:?}: {error}",
        started.elapsed()
    );
    assert!(error.is_unavailable(), "expected Unavailable, got {error:?}");
    assert!(
        started.elapsed() < timeout + Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    let error = backend
        .update("/registry/outage/a", kv.mod_revision, Bytes::from_static(b"2"))
        .await;
    assert!(
        error.as_ref().is_err_and(StorageError::is_unavailable),
        "update while down: {error:?}"
    );
    match tokio::time::timeout(Duration::from_secs(30), watch.next()).await {
        Ok(None) => {}
        Ok(Some(Err(e))) => {
            assert!(e.is_unavailable(), "watch error while down: {e:?}");
            eprintln!("watch while etcd is down: {e}");
        }
        Ok(Some(Ok(event))) => panic!("unexpected watch event while etcd is down: {event:?}"),
        Err(_) => panic!("the watch neither ended nor failed within 30 s of etcd going away"),
    }

    etcd.restart().expect("restart etcd");
    let restarted = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(20);
    let read = loop {
        match backend.get("/registry/outage/a").await {
            Ok(read) => break read,
            Err(e) if e.is_unavailable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the backend did not recover after etcd came back: {e:?}"),
        }
    };
    eprintln!("recovered {:?} after the restart", restarted.elapsed());
    assert_eq!(read, Some(kv.clone()), "data survives the outage");
    let updated = backend
        .update("/registry/outage/a", kv.mod_revision, Bytes::from_static(b"2"))
        .await
        .expect("update");
    assert!(updated.mod_revision > kv.mod_revision);
    let mut watch = backend
        .watch("/registry/outage/", kv.mod_revision)
        .await
        .expect("watch after recovery");
    let event = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("event in time");
    assert_eq!(event.expect("event").expect("no error").kv, updated);
}

/// Dropping a watch stream cancels the watch in etcd: nothing leaks on the server.
#[tokio::test]
async fn dropped_watches_are_cancelled_in_etcd() {
    let (etcd, backend) = setup().await;
    let mut watches = Vec::new();
    for i in 0..3 {
        watches.push(
            backend
                .watch(&format!("/registry/leak/{i}/"), Revision::ZERO)
                .await
                .expect("watch"),
        );
    }
    wait_for_watchers(&etcd, 3).await;
    drop(watches);
    wait_for_watchers(&etcd, 0).await;
}

/// Waits until etcd reports `expected` watchers (its `etcd_debugging_mvcc_watcher_total` gauge).
async fn wait_for_watchers(etcd: &TestEtcd, expected: u64) {
    let address = etcd.endpoint().trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = http_get(&address, "/metrics").await;
        let watchers = metrics
            .lines()
            .find_map(|line| line.strip_prefix("etcd_debugging_mvcc_watcher_total "))
            .and_then(|value| value.trim().parse::<f64>().ok())
            .expect("etcd reports etcd_debugging_mvcc_watcher_total");
        if watchers == expected as f64 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "etcd still has {watchers} watchers, expected {expected}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn http_get(address: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect to etcd's client port");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read response");
    response
}

/// A frozen etcd (SIGSTOP: connections stay open, nothing answers) turns requests into `Unavailable` after the
/// request timeout instead of hanging them; when it resumes, the backend works again.
#[tokio::test]
async fn frozen_etcd_times_out_and_the_backend_recovers() {
    let etcd = TestEtcd::start().expect("start etcd");
    let timeout = Duration::from_secs(1);
    let backend = EtcdBackend::connect(EtcdConfig {
        request_timeout: timeout,
        ..config(&etcd)
    })
    .await
    .expect("connect");
    let kv = backend
        .create("/registry/frozen/a", Bytes::from_static(b"1"))
        .await
        .expect("create");
    let pid = etcd.pid().expect("etcd runs").to_string();
    let signal = |name: &str| {
        let status = Command::new("kill")
            .args([name, &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {name} {pid}");
    };

    signal("-STOP");
    let started = Instant::now();
    let error = backend
        .get("/registry/frozen/a")
        .await
        .expect_err("get from a frozen etcd");
    let elapsed = started.elapsed();
    signal("-CONT");
    assert!(error.is_unavailable(), "expected Unavailable, got {error:?}");
    assert!(
        elapsed >= timeout && elapsed < timeout + Duration::from_secs(1),
        "took {elapsed:?}"
    );
    assert!(
        error.to_string().contains("did not answer get within 1s"),
        "{error}"
    );

    assert_eq!(
        backend
            .get("/registry/frozen/a")
            .await
            .expect("get after SIGCONT"),
        Some(kv)
    );
}

/// Something that accepts connections but never speaks gRPC: connect gives up after the dial timeout.
#[tokio::test]
async fn silent_endpoint_is_a_clear_error_within_the_dial_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("local addr"));
    let config = EtcdConfig {
        dial_timeout: Duration::from_secs(1),
        ..EtcdConfig::new(vec![endpoint.clone()])
    };
    let started = Instant::now();
    let error = EtcdBackend::connect(config)
        .await
        .expect_err("nothing answers there");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        error
            .to_string()
            .contains(&format!("cannot reach etcd at {endpoint}")),
        "{error}"
    );
    drop(listener);
}

#[tokio::test]
async fn wrong_endpoint_is_a_clear_error_within_the_dial_timeout() {
    let endpoint = format!("http://127.0.0.1:{}", fcp_testkit::free_port());
    let config = EtcdConfig {
        dial_timeout: Duration::from_secs(2),
        ..EtcdConfig::new(vec![endpoint.clone()])
    };
    let started = Instant::now();
    let error = EtcdBackend::connect(config)
        .await
        .expect_err("nothing listens there");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let message = error.to_string();
    assert!(
        message.contains(&format!("cannot reach etcd at {endpoint}")),
        "{message}"
    );
    assert!(error.is_unavailable(), "{error:?}");
    eprintln!("after {:?}: {message}", started.elapsed());
}

#[tokio::test]
async fn missing_tls_file_is_named() {
    let config = EtcdConfig {
        ca_file: Some(PathBuf::from("/nonexistent/etcd-ca.pem")),
        ..EtcdConfig::new(vec!["https://127.0.0.1:2379".into()])
    };
    let message = EtcdBackend::connect(config)
        .await
        .expect_err("missing CA file")
        .to_string();
    assert!(message.contains("/nonexistent/etcd-ca.pem"), "{message}");
}

/// etcd serving TLS and requiring client certificates: the backend connects with `--etcd-cafile`,
/// `--etcd-certfile` and `--etcd-keyfile`, and fails clearly without a client certificate.
#[tokio::test]
async fn tls_with_client_certificates() {
    let certs = tempfile::tempdir().expect("temp dir");
    let tls = make_certificates(certs.path());
    let etcd = TestEtcd::start_tls(tls.clone()).expect("start etcd with TLS");
    let config = EtcdConfig {
        ca_file: Some(tls.trusted_ca_file.clone()),
        cert_file: Some(tls.client_cert_file.clone()),
        key_file: Some(tls.client_key_file.clone()),
        ..config(&etcd)
    };
    let backend = EtcdBackend::connect(config.clone())
        .await
        .expect("connect over TLS");
    let kv = backend
        .create("/registry/tls/a", Bytes::from_static(b"secret"))
        .await
        .expect("create over TLS");
    assert_eq!(backend.get("/registry/tls/a").await.expect("get"), Some(kv));

    let without_client_cert = EtcdConfig {
        cert_file: None,
        key_file: None,
        dial_timeout: Duration::from_secs(2),
        ..config
    };
    let error = EtcdBackend::connect(without_client_cert)
        .await
        .expect_err("etcd requires a client certificate");
    assert!(
        error
            .to_string()
            .contains("cannot reach etcd at https://127.0.0.1:"),
        "{error}"
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with the `openssl` tool.
fn make_certificates(dir: &Path) -> EtcdServerTls {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &key,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=fcp-test-ca",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .expect("write server.ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("write client.ext");
    for name in ["server", "client"] {
        let (key_file, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        openssl(
            &[
                &["req"][..],
                &key,
                &[
                    "-keyout",
                    &key_file,
                    "-out",
                    &csr,
                    "-subj",
                    &format!("/CN=fcp-test-{name}"),
                ],
            ]
            .concat(),
        );
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            &ext,
        ]);
    }
    EtcdServerTls {
        cert_file: dir.join("server.pem"),
        key_file: dir.join("server.key"),
        trusted_ca_file: dir.join("ca.pem"),
        client_cert_file: dir.join("client.pem"),
        client_key_file: dir.join("client.key"),
    }
}
