//! HTTPS serving of the secure port: rustls in front of the axum router, HTTP/1.1 and HTTP/2.
//!
//! - [`tls::server_config`] builds the rustls configuration from `--tls-cert-file`/`--tls-private-key-file`,
//!   or from a self-signed CA and serving certificate generated into (and reused from) `--cert-dir`; it
//!   also sets the minimum TLS version, ALPN (`h2`, `http/1.1`) and, with `--client-ca-file`, optional
//!   client certificates.
//! - [`serve_tls`] accepts TCP connections, completes the TLS handshake (10 s limit) in a task per
//!   connection and serves the router with hyper's auto builder (HTTP/1.1 or HTTP/2 by ALPN or preface,
//!   with upgrades), until its shutdown token is cancelled.
//!
//! Every request served here carries two extensions:
//! - [`axum::extract::ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo): the peer address;
//! - [`ClientCertificate`], only when the client presented a certificate that rustls verified against the
//!   client CA. A connection without a certificate (or a server without a client CA) has none; such a
//!   client may still authenticate another way (a bearer token). A certificate from another CA never
//!   gets this far: its handshake fails.

pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

pub use tls::{ServingTls, TlsError, TlsSettings, server_config};

/// How long a client has to complete the TLS handshake after connecting.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the accept loop pauses after an accept error such as EMFILE (too many open files).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The identity in a client certificate that rustls verified against `--client-ca-file`: the subject's
/// CommonName (the user name; the last CN when there are several, as in kube-apiserver; empty when there
/// is none) and all its Organization values (the groups), in certificate order. Present in a request's
/// extensions only for such a verified certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's CommonName.
    pub common_name: String,
    /// The subject's Organization values.
    pub organizations: Vec<String>,
}

impl ClientCertificate {
    /// The identity in a DER certificate; an error names what could not be read.
    fn from_der(der: &[u8]) -> Result<Self, String> {
        let (_, certificate) =
            x509_parser::parse_x509_certificate(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let subject = certificate.subject();
        // The last CN, as Go's crypto/x509 (and so kube-apiserver) reads it.
        let common_name = match subject.iter_common_name().last() {
            None => String::new(),
            Some(cn) => cn
                .as_str()
                .map_err(|e| format!("unreadable CommonName: {e}"))?
                .to_owned(),
        };
        let organizations = subject
            .iter_organization()
            .map(|o| {
                o.as_str()
                    .map(str::to_owned)
                    .map_err(|e| format!("unreadable Organization: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            common_name,
            organizations,
        })
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled.
///
/// Each accepted connection (TCP_NODELAY set) gets its own task: the TLS handshake must finish within
/// [`HANDSHAKE_TIMEOUT`]; a failed or slow handshake is logged at debug level with the peer address and
/// only closes that connection. Accept errors (EMFILE and the like) are logged and retried after a short
/// pause; they never end the loop. Requests carry the extensions described in the [module docs](self).
///
/// When `shutdown` is cancelled the listener is closed at once, connections still in their handshake are
/// dropped, and every served connection is asked to finish gracefully (idle HTTP/1.1 connections close,
/// HTTP/2 connections get GOAWAY, in-flight requests complete). It returns `Ok(())` once all of them have
/// ended: the caller bounds that wait (long watches end on their own when they watch the same token).
///
/// # Errors
/// None at present: every failure is per connection and logged; the `Result` leaves room for fatal
/// listener errors.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) if is_connection_error(&err) => {
                tracing::debug!(error = %err, "connection closed before it was accepted");
                continue;
            }
            Err(err) => {
                tracing::warn!(error = %err, "accepting a TLS connection failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => continue,
                }
            }
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(peer = %peer, error = %err, "cannot set TCP_NODELAY");
        }
        tokio::spawn(serve_connection(
            stream,
            peer,
            acceptor.clone(),
            app.clone(),
            graceful.watcher(),
            shutdown.clone(),
        ));
    }
    drop(listener);
    tracing::debug!(
        connections = graceful.count(),
        "TLS listener closed; draining connections"
    );
    graceful.shutdown().await;
    Ok(())
}

/// One connection: handshake, then HTTP until the client leaves or a graceful shutdown ends it.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    watcher: Watcher,
    shutdown: CancellationToken,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        () = shutdown.cancelled() => return,
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                tracing::debug!(peer = %peer, error = %err, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %peer, timeout = ?HANDSHAKE_TIMEOUT, "TLS handshake timed out");
                return;
            }
        },
    };
    // rustls returns peer certificates only after verifying them, and only when client auth is on.
    let certificate = match stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
    {
        None => None,
        Some(leaf) => match ClientCertificate::from_der(leaf) {
            Ok(certificate) => Some(certificate),
            Err(cause) => {
                // Refused rather than served as anonymous: the client meant to authenticate.
                tracing::debug!(peer = %peer, cause = %cause, "verified client certificate is unreadable; closing");
                return;
            }
        },
    };
    let service = tower::service_fn(move |mut request: axum::http::Request<Incoming>| {
        let extensions = request.extensions_mut();
        extensions.insert(ConnectInfo(peer));
        if let Some(certificate) = &certificate {
            extensions.insert(certificate.clone());
        }
        app.clone().oneshot(request)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer enables hyper's HTTP/1 header read timeout (30 s), against clients that trickle headers.
    builder.http1().timer(TokioTimer::new());
    let connection =
        builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
    if let Err(err) = watcher.watch(connection).await {
        tracing::debug!(peer = %peer, error = %err, "connection ended with an error");
    }
}

/// Errors of one connection that `accept` reports; the next accept works.
fn is_connection_error(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
