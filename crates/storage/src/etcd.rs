//! The etcd v3 backend: the production store.
//!
//! Every operation is one etcd RPC in the shapes the Kubernetes API server uses (and that kine accepts):
//! create is `Txn If(mod_revision == 0) Then(Put)`, update is `Txn If(mod_revision == r) Then(Put) Else(Get)`,
//! delete is `Txn If(mod_revision == r) Then(DeleteRange) Else(Get)` or a plain `DeleteRange`, list is one
//! `Range` with a limit and a revision, watch is a prefix watch with `prev_kv`.
//!
//! Every unary RPC is bounded by [`EtcdConfig::request_timeout`], so an etcd outage turns into
//! [`StorageError::Unavailable`] instead of a hung request; the underlying gRPC channel reconnects on its own,
//! so the same [`EtcdBackend`] works again once etcd is back.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Certificate, Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType,
    GetOptions, Identity, KvClient, PutOptions, TlsOptions, Txn, TxnOp, TxnOpResponse, TxnResponse,
    WatchClient, WatchOptions, WatchResponse,
};
use futures::StreamExt;
use tracing::{debug, warn};

use crate::{
    Backend, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, StorageError, WatchEvent,
    WatchStream, prefix_range_end,
};

/// The largest response the client accepts (a big list can exceed gRPC's 4 MiB default); kube-apiserver
/// allows `math.MaxInt32` as well.
const MAX_RESPONSE_BYTES: usize = i32::MAX as usize;
/// HTTP/2 keep-alive ping interval on connections with open streams (watches). etcd's default
/// `--grpc-keepalive-min-time` is 5 s, so pings must be rarer than that.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// etcd's error text for a revision below the compaction point (`mvcc.ErrCompacted`).
const ERR_COMPACTED: &str = "required revision has been compacted";
/// etcd's error text for a revision above the current one (`mvcc.ErrFutureRev`).
const ERR_FUTURE_REVISION: &str = "required revision is a future revision";
/// The key read by [`Backend::current_revision`] (a count-only range, so nothing is transferred).
const REVISION_PROBE_KEY: &[u8] = b"\0";

/// How to reach etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// Client URLs (`http://host:port`, or `https://host:port` with TLS), as in `--etcd-servers`.
    pub endpoints: Vec<String>,
    /// PEM CA bundle that the server's certificate must chain to (`--etcd-cafile`). Without it, HTTPS
    /// endpoints are verified against the built-in web PKI roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (`--etcd-certfile`); needs `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file` (`--etcd-keyfile`).
    pub key_file: Option<PathBuf>,
    /// How long to wait for a TCP/TLS connection, and for the reachability check in
    /// [`EtcdBackend::connect`].
    pub dial_timeout: Duration,
    /// The limit on every request (a watch is bounded only while it is being established).
    pub request_timeout: Duration,
}

impl EtcdConfig {
    /// A plain-HTTP configuration with a 5 s dial timeout and a 10 s request timeout.
    #[must_use]
    pub fn new(endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            ca_file: None,
            cert_file: None,
            key_file: None,
            dial_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Whether any TLS file is configured (then the endpoints must be `https://`).
    fn uses_tls(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }
}

/// A [`Backend`] over an etcd v3 cluster (etcd 3.4 or later), through `etcd-client`.
///
/// Cloning is cheap and shares the connection.
#[derive(Clone)]
pub struct EtcdBackend {
    kv: KvClient,
    watch: WatchClient,
    /// The endpoints, comma-joined, for error messages.
    endpoints: String,
    request_timeout: Duration,
}

impl fmt::Debug for EtcdBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EtcdBackend")
            .field("endpoints", &self.endpoints)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl EtcdBackend {
    /// Connects to etcd and checks that it answers a (linearizable) read within `config.dial_timeout`.
    ///
    /// # Errors
    /// - [`StorageError::Internal`] for an unusable configuration: no endpoints, a TLS file that cannot be
    ///   read (the message names the file), a certificate without its key, TLS with an `http://` endpoint;
    /// - [`StorageError::Unavailable`] with `cannot reach etcd at <endpoints>: <cause>` when etcd does not
    ///   answer.
    #[tracing::instrument(name = "etcd_connect", skip_all, fields(endpoints = %config.endpoints.join(",")))]
    pub async fn connect(config: EtcdConfig) -> Result<Self> {
        if config.endpoints.is_empty() {
            return Err(StorageError::Internal("no etcd endpoints given".into()));
        }
        let endpoints = config.endpoints.join(",");
        let mut options = ConnectOptions::new()
            .with_connect_timeout(config.dial_timeout)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, config.request_timeout)
            // etcd answers pings on a connection without streams with GOAWAY ("too_many_pings").
            .with_keep_alive_while_idle(false);
        if config.uses_tls() {
            if let Some(plain) = config.endpoints.iter().find(|e| e.starts_with("http://")) {
                return Err(StorageError::Internal(format!(
                    "etcd TLS files are configured but endpoint {plain} is plain http; use https://"
                )));
            }
            options = options.with_tls(tls_options(&config)?);
        }
        let unreachable = |cause: &dyn fmt::Display| {
            StorageError::Unavailable(format!("cannot reach etcd at {endpoints}: {cause}"))
        };
        let client = tokio::time::timeout(
            config.dial_timeout,
            Client::connect(&config.endpoints, Some(options)),
        )
        .await
        .map_err(|_| unreachable(&format_args!("no connection within {:?}", config.dial_timeout)))?
        .map_err(|e| unreachable(&e))?;
        let backend = Self {
            kv: client.kv_client().max_decoding_message_size(MAX_RESPONSE_BYTES),
            watch: client
                .watch_client()
                .max_decoding_message_size(MAX_RESPONSE_BYTES),
            endpoints: endpoints.clone(),
            request_timeout: config.dial_timeout,
        };
        // etcd-client connects lazily: only a request shows whether etcd is there.
        let revision = backend.current_revision().await.map_err(|e| match e {
            StorageError::Unavailable(cause) | StorageError::Internal(cause) => unreachable(&cause),
            other => unreachable(&other),
        })?;
        debug!(%revision, "connected to etcd");
        Ok(Self {
            request_timeout: config.request_timeout,
            ..backend
        })
    }

    /// Runs one etcd request under the request timeout and maps its error.
    async fn call<T>(
        &self,
        what: &str,
        request: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.request_timeout, request).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(e)) => Err(map_error(what, e)),
            Err(_) => Err(StorageError::Unavailable(format!(
                "etcd at {} did not answer {what} within {:?}",
                self.endpoints, self.request_timeout
            ))),
        }
    }

    async fn txn(&self, what: &str, txn: Txn) -> Result<(TxnResponse, Revision)> {
        let mut kv = self.kv.clone();
        let response = self.call(what, kv.txn(txn)).await?;
        let revision = header_revision(response.header())?;
        Ok((response, revision))
    }

    /// The key as it is now, from the `Else(Get)` branch of a failed transaction.
    fn else_get(response: &TxnResponse) -> Result<Option<KeyValue>> {
        for op in response.op_responses() {
            if let TxnOpResponse::Get(get) = op {
                return get.kvs().first().map(convert_kv).transpose();
            }
        }
        Err(StorageError::Internal(
            "etcd transaction response lacks the Get of its else branch".into(),
        ))
    }

    /// Maps a list error to [`StorageError::FutureRevision`] with the current revision filled in.
    async fn with_current_revision(&self, error: StorageError, requested: Revision) -> StorageError {
        match error {
            StorageError::FutureRevision { .. } => StorageError::FutureRevision {
                requested,
                current: self.current_revision().await.unwrap_or(Revision::ZERO),
            },
            StorageError::Compacted { .. } => StorageError::Compacted {
                requested,
                compacted: Revision::ZERO,
            },
            other => other,
        }
    }
}

#[async_trait]
impl Backend for EtcdBackend {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let mut kv = self.kv.clone();
        let response = self.call("get", kv.get(key, None)).await?;
        response.kvs().first().map(convert_kv).transpose()
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let start = match &opts.start_key {
            Some(start) if !start.starts_with(prefix) => {
                return Err(StorageError::Internal(format!(
                    "list start key {start:?} is not under the prefix {prefix:?}"
                )));
            }
            Some(start) => start.as_bytes().to_vec(),
            None => range_start(prefix),
        };
        let limit = i64::try_from(opts.limit).unwrap_or(i64::MAX);
        let options = GetOptions::new()
            .with_range(range_end(prefix))
            .with_limit(limit)
            .with_revision(opts.revision.0);
        let mut kv = self.kv.clone();
        let response = match self.call("list", kv.get(start, Some(options))).await {
            Ok(response) => response,
            Err(e) => return Err(self.with_current_revision(e, opts.revision).await),
        };
        let header = header_revision(response.header())?;
        let items = response
            .kvs()
            .iter()
            .map(convert_kv)
            .collect::<Result<Vec<_>>>()?;
        let more = response.more();
        // `count` is the number of keys in [start, end) at the revision, regardless of the limit.
        let count = u64::try_from(response.count()).unwrap_or(0);
        let remaining = if more {
            count.saturating_sub(items.len() as u64)
        } else {
            0
        };
        let revision = if opts.revision == Revision::ZERO {
            header
        } else {
            opts.revision
        };
        Ok(ListResult {
            items,
            revision,
            more,
            remaining,
        })
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key, value.to_vec(), None)]);
        let (response, revision) = self.txn("create", txn).await?;
        if !response.succeeded() {
            return Err(StorageError::AlreadyExists { key: key.to_owned() });
        }
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision: revision,
            mod_revision: revision,
        })
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue> {
        if expected.0 <= 0 {
            // `mod_revision == 0` would match a missing key and create it.
            return match self.get(key).await? {
                None => Err(StorageError::NotFound { key: key.to_owned() }),
                Some(current) => Err(StorageError::Conflict {
                    key: key.to_owned(),
                    expected,
                    current: Some(Box::new(current)),
                }),
            };
        }
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected.0)])
            .and_then([TxnOp::put(
                key,
                value.to_vec(),
                Some(PutOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let (response, revision) = self.txn("update", txn).await?;
        if !response.succeeded() {
            return match Self::else_get(&response)? {
                None => Err(StorageError::NotFound { key: key.to_owned() }),
                Some(current) => Err(StorageError::Conflict {
                    key: key.to_owned(),
                    expected,
                    current: Some(Box::new(current)),
                }),
            };
        }
        let create_revision = response
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Put(put) => put.prev_key().map(|prev| Revision(prev.create_revision())),
                _ => None,
            })
            .ok_or_else(|| StorageError::Internal("etcd update response lacks the previous key".into()))?;
        Ok(KeyValue {
            key: key.to_owned(),
            value,
            create_revision,
            mod_revision: revision,
        })
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        let not_found = || StorageError::NotFound { key: key.to_owned() };
        let Some(expected) = expected else {
            let mut kv = self.kv.clone();
            let response = self
                .call(
                    "delete",
                    kv.delete(key, Some(DeleteOptions::new().with_prev_key())),
                )
                .await?;
            let revision = header_revision(response.header())?;
            let deleted = response.prev_kvs().first().ok_or_else(not_found)?;
            return Ok((convert_kv(deleted)?, revision));
        };
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected.0)])
            .and_then([TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()))])
            .or_else([TxnOp::get(key, None)]);
        let (response, revision) = self.txn("delete", txn).await?;
        if !response.succeeded() {
            return match Self::else_get(&response)? {
                None => Err(not_found()),
                Some(current) => Err(StorageError::Conflict {
                    key: key.to_owned(),
                    expected,
                    current: Some(Box::new(current)),
                }),
            };
        }
        // With `expected` = 0 the comparison matches a missing key and nothing is deleted.
        let deleted = response
            .op_responses()
            .into_iter()
            .find_map(|op| match op {
                TxnOpResponse::Delete(delete) => delete.prev_kvs().first().map(convert_kv),
                _ => None,
            })
            .ok_or_else(not_found)??;
        Ok((deleted, revision))
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        let start = if after == Revision::ZERO {
            self.current_revision().await?
        } else {
            after
        }
        .next();
        let options = WatchOptions::new()
            .with_range(range_end(prefix))
            .with_start_revision(start.0)
            .with_prev_key();
        let mut client = self.watch.clone();
        let stream = self
            .call("watch", client.watch(range_start(prefix), Some(options)))
            .await?;
        debug!(prefix, %start, "etcd watch started");
        let state = WatchState {
            stream,
            pending: VecDeque::new(),
            after,
            done: false,
        };
        Ok(futures::stream::unfold(state, WatchState::next).boxed())
    }

    async fn current_revision(&self) -> Result<Revision> {
        let mut kv = self.kv.clone();
        let response = self
            .call(
                "read",
                kv.get(REVISION_PROBE_KEY, Some(GetOptions::new().with_count_only())),
            )
            .await?;
        header_revision(response.header())
    }

    #[tracing::instrument(name = "etcd_compact", skip_all, fields(%revision))]
    async fn compact(&self, revision: Revision) -> Result<()> {
        if revision.0 <= 0 {
            return Ok(());
        }
        let mut kv = self.kv.clone();
        let options = CompactionOptions::new().with_physical();
        match self.call("compact", kv.compact(revision.0, Some(options))).await {
            Ok(_) => {
                debug!("etcd compacted");
                Ok(())
            }
            // Compacting at or below the current compaction point is a no-op.
            Err(StorageError::Compacted { .. }) => Ok(()),
            Err(StorageError::FutureRevision { .. }) => Err(StorageError::FutureRevision {
                requested: revision,
                current: self.current_revision().await.unwrap_or(Revision::ZERO),
            }),
            Err(e) => Err(e),
        }
    }
}

/// The state of a watch stream: the etcd watch and the events of its last response not yet handed out.
struct WatchState {
    stream: etcd_client::WatchStream,
    pending: VecDeque<WatchEvent>,
    /// The revision the caller watches after (for the `Compacted` error).
    after: Revision,
    done: bool,
}

impl WatchState {
    /// The next event, or an error that ends the stream. Dropping the state drops the gRPC stream, which
    /// cancels the watch in etcd.
    async fn next(mut self) -> Option<(Result<WatchEvent>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            let error = match self.stream.message().await {
                Ok(Some(response)) => match self.absorb(response) {
                    Ok(()) => continue,
                    Err(e) => e,
                },
                Ok(None) => StorageError::Unavailable("etcd closed the watch stream".into()),
                Err(e) => map_error("watch", e),
            };
            self.done = true;
            return Some((Err(error), self));
        }
    }

    /// Queues the events of one watch response, or turns a cancellation into an error.
    fn absorb(&mut self, response: WatchResponse) -> Result<()> {
        if response.canceled() {
            let compacted = response.compact_revision();
            if compacted > 0 {
                return Err(StorageError::Compacted {
                    requested: self.after,
                    compacted: Revision(compacted),
                });
            }
            return Err(StorageError::Internal(format!(
                "etcd cancelled the watch: {}",
                response.cancel_reason()
            )));
        }
        for event in response.events() {
            let kv = event
                .kv()
                .ok_or_else(|| StorageError::Internal("etcd watch event without kv".into()))?;
            let prev = event.prev_kv().map(convert_kv).transpose()?;
            let event = match event.event_type() {
                EventType::Put => WatchEvent {
                    kind: EventKind::Put,
                    kv: convert_kv(kv)?,
                    prev: if kv.version() == 1 { None } else { prev },
                },
                EventType::Delete => WatchEvent {
                    kind: EventKind::Delete,
                    kv: KeyValue {
                        key: key_string(kv.key())?,
                        value: Bytes::new(),
                        create_revision: prev.as_ref().map_or(Revision::ZERO, |p| p.create_revision),
                        mod_revision: Revision(kv.mod_revision()),
                    },
                    prev,
                },
            };
            self.pending.push_back(event);
        }
        Ok(())
    }
}

/// Client TLS from the configured PEM files.
fn tls_options(config: &EtcdConfig) -> Result<TlsOptions> {
    let mut tls = TlsOptions::new();
    match &config.ca_file {
        Some(ca) => tls = tls.ca_certificate(Certificate::from_pem(read_pem(ca, "CA")?)),
        None => tls = tls.with_webpki_roots(),
    }
    match (&config.cert_file, &config.key_file) {
        (Some(cert), Some(key)) => {
            tls = tls.identity(Identity::from_pem(
                read_pem(cert, "client certificate")?,
                read_pem(key, "client key")?,
            ));
        }
        (None, None) => {}
        (Some(cert), None) => {
            return Err(StorageError::Internal(format!(
                "etcd client certificate {} is configured without its key file",
                cert.display()
            )));
        }
        (None, Some(key)) => {
            return Err(StorageError::Internal(format!(
                "etcd client key {} is configured without its certificate file",
                key.display()
            )));
        }
    }
    Ok(tls)
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| StorageError::Internal(format!("cannot read etcd {what} file {}: {e}", path.display())))
}

/// The first key of the range of `prefix` (etcd rejects an empty key).
fn range_start(prefix: &str) -> Vec<u8> {
    if prefix.is_empty() {
        vec![0]
    } else {
        prefix.as_bytes().to_vec()
    }
}

/// The range end of `prefix`; etcd reads `"\0"` as "no upper bound".
fn range_end(prefix: &str) -> Vec<u8> {
    let end = prefix_range_end(prefix);
    if end.is_empty() { vec![0] } else { end }
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision> {
    header
        .map(|h| Revision(h.revision()))
        .ok_or_else(|| StorageError::Internal("etcd response without a header".into()))
}

fn key_string(key: &[u8]) -> Result<String> {
    String::from_utf8(key.to_vec())
        .map_err(|_| StorageError::Internal(format!("etcd returned a key that is not UTF-8: {key:?}")))
}

fn convert_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue> {
    Ok(KeyValue {
        key: key_string(kv.key())?,
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: Revision(kv.create_revision()),
        mod_revision: Revision(kv.mod_revision()),
    })
}

/// Translates an `etcd-client` error. The `Compacted` and `FutureRevision` errors carry placeholder
/// revisions that callers fill in.
fn map_error(what: &str, error: etcd_client::Error) -> StorageError {
    use std::error::Error as _;

    use etcd_client::Error;
    use tonic::Code;
    match error {
        Error::GRpcStatus(status) => {
            let message = status.message();
            if message.contains(ERR_COMPACTED) {
                return StorageError::Compacted {
                    requested: Revision::ZERO,
                    compacted: Revision::ZERO,
                };
            }
            if message.contains(ERR_FUTURE_REVISION) {
                return StorageError::FutureRevision {
                    requested: Revision::ZERO,
                    current: Revision::ZERO,
                };
            }
            let source = std::error::Error::source(&status);
            let detail = with_causes(message, source);
            match status.code() {
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted => {
                    StorageError::Unavailable(format!("etcd {what} failed: {detail}"))
                }
                // hyper and h2 failures (a connection reset mid-request) surface as `Unknown`.
                Code::Unknown if source.is_some() || message.contains("transport") => {
                    StorageError::Unavailable(format!("etcd {what} failed: {detail}"))
                }
                code => {
                    warn!(what, ?code, detail, "unexpected etcd error");
                    StorageError::Internal(format!("etcd {what} failed: {code:?}: {detail}"))
                }
            }
        }
        Error::TransportError(e) => StorageError::Unavailable(format!(
            "etcd {what} failed: {}",
            with_causes(&e.to_string(), e.source())
        )),
        Error::IoError(e) => StorageError::Unavailable(format!("etcd {what} failed: {e}")),
        other => StorageError::Internal(format!("etcd {what} failed: {other}")),
    }
}

/// `message: cause: cause…`, leaving out causes whose text is already there (hyper repeats itself).
fn with_causes(message: &str, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut text = message.to_owned();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_exactly_the_prefix() {
        assert_eq!(range_start("/a/b/"), b"/a/b/".to_vec());
        assert_eq!(range_end("/a/b/"), b"/a/b0".to_vec());
        assert_eq!(range_start(""), vec![0]);
        assert_eq!(range_end(""), vec![0]);
    }

    #[test]
    fn grpc_errors_map_to_storage_errors() {
        let status = |code, msg: &str| etcd_client::Error::GRpcStatus(tonic::Status::new(code, msg));
        assert!(matches!(
            map_error(
                "list",
                status(
                    tonic::Code::OutOfRange,
                    "etcdserver: mvcc: required revision has been compacted"
                )
            ),
            StorageError::Compacted { .. }
        ));
        assert!(matches!(
            map_error(
                "list",
                status(
                    tonic::Code::OutOfRange,
                    "etcdserver: mvcc: required revision is a future revision"
                )
            ),
            StorageError::FutureRevision { .. }
        ));
        assert!(map_error("get", status(tonic::Code::Unavailable, "connection refused")).is_unavailable());
        assert!(map_error("get", status(tonic::Code::DeadlineExceeded, "deadline")).is_unavailable());
        assert!(matches!(
            map_error(
                "get",
                status(tonic::Code::PermissionDenied, "etcdserver: permission denied")
            ),
            StorageError::Internal(_)
        ));
    }

    #[tokio::test]
    async fn unreadable_tls_file_is_named() {
        let mut config = EtcdConfig::new(vec!["https://127.0.0.1:1".into()]);
        config.ca_file = Some("/nonexistent/ca.pem".into());
        let error = EtcdBackend::connect(config).await.unwrap_err().to_string();
        assert!(
            error.contains("cannot read etcd CA file /nonexistent/ca.pem"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn tls_with_http_endpoint_is_rejected() {
        let mut config = EtcdConfig::new(vec!["http://127.0.0.1:1".into()]);
        config.ca_file = Some("/nonexistent/ca.pem".into());
        let error = EtcdBackend::connect(config).await.unwrap_err().to_string();
        assert!(error.contains("use https://"), "{error}");
    }
}
