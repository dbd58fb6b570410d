//! API benchmark: the in-process apiserver over HTTP against the physical limit (raw etcd through
//! `etcd_client`), all measured in one run against one etcd.
//!
//! `cargo bench -p fcp-apiserver --bench api` (or `make bench`); needs `etcd` on `PATH` (Debian
//! `etcd-server`). `FCP_BENCH_OPS=N` sets the operation count of the 64-in-flight writes (default 10000); the
//! 1-in-flight writes do N/10, the lists N/50 per row, the watch N/10 updates (at most 1000, the apiserver's
//! default watch-cache window), every warm-up is 1/20 of its measurement. Started without `--bench` (as
//! `cargo test --benches` does), it makes a quick smoke pass instead.
//!
//! - Writes: raw etcd puts of a value as large as a stored ConfigMap, then `POST .../configmaps` of ConfigMaps
//!   with 1 KiB of data, on etcd and on the embedded store; `GET /healthz` at the same concurrency measures
//!   the HTTP client and server stack alone.
//! - Lists: 1,000 ConfigMaps, with `resourceVersion=0` (the watch cache) and without (a consistent read from
//!   etcd), against a raw etcd range of the same keys.
//! - Watch: 100 watchers on one collection from a listed resourceVersion, while ConfigMaps are merge-patched
//!   at 16 in flight; every patch stamps its start time under a sequence number it writes into `data.seq`,
//!   and each watcher times every event from that stamp to its arrival.
//!
//! The server runs in this process, on the same tokio runtime as the client: the RSS figures include the
//! client, and server, client and etcd share the cores. Every row also says where the CPU went, from `/proc`:
//! CPU microseconds per operation in this process (`proc us`: apiserver + client) and in etcd (`etcd us`),
//! and the share of the machine's capacity left idle (`idle%`) or taken by other processes (`other%`, which
//! should be 0 on a quiet machine).

use fcp_testkit::latency::Latencies;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use etcd_client::{Client, Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp};
use fcp_storage::Backend;
use fcp_storage::etcd::{EtcdBackend, EtcdConfig};
use fcp_testkit::apiserver::TestApiServer;
use fcp_testkit::etcd::TestEtcd;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

/// Bytes of `data` in every created ConfigMap.
const DATA_SIZE: usize = 1024;
/// Requests in flight for the concurrent writes.
const MANY: usize = 64;
/// Writes per 64-in-flight measurement under `cargo bench`.
const DEFAULT_OPS: usize = 10_000;
/// Writes per 64-in-flight measurement in a smoke pass.
const SMOKE_OPS: usize = 256;
/// Objects read by each list.
const LIST_OBJECTS: usize = 1_000;
/// Lists in flight for the concurrent list rows.
const LIST_MANY: usize = 8;
/// Watchers of the fan-out measurement under `cargo bench`.
const WATCHERS: usize = 100;
/// Watchers in a smoke pass.
const SMOKE_WATCHERS: usize = 10;
/// Most updates the watch measurement makes: the apiserver's default watch-cache window, so that a watcher
/// that falls behind by the whole run still gets every event instead of 410 Expired.
const MAX_WATCH_UPDATES: usize = 1_000;
/// Patches in flight during the watch measurement (each task patches its own ConfigMap).
const PATCH_IN_FLIGHT: usize = 16;
/// The longest the watchers may take to see every event after the patches are done.
const WATCH_TIMEOUT: Duration = Duration::from_secs(120);
/// Above this relative change between the first and the last raw-put measurement, the run is flagged noisy.
const DRIFT_WARNING: f64 = 0.15;
/// Above this share of the CPU taken by other processes during the run, the run is flagged noisy.
const OTHERS_WARNING: f64 = 10.0;
/// Width of the label column.
const LABEL: usize = 52;
/// The etcd key prefix the apiserver keeps its objects under.
const ETCD_PREFIX: &str = "/registry";
/// Namespace of the created ConfigMaps.
const CREATE_NS: &str = "bench";
/// Namespace holding exactly [`LIST_OBJECTS`] ConfigMaps.
const LIST_NS: &str = "bench-list";
/// Namespace of the watched ConfigMaps.
const WATCH_NS: &str = "bench-watch";

/// One operation: `(worker, index)` → done. Worker `w` of `n` is the `w`-th of the `n` tasks in flight; the
/// index counts operations across all workers.
type Op = Arc<dyn Fn(usize, usize) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// The operation counts of one run.
#[derive(Debug)]
struct Settings {
    smoke: bool,
    /// Raw puts (and healthz requests) before the first measurement.
    warmup: usize,
    ops_many: usize,
    warmup_many: usize,
    ops_one: usize,
    warmup_one: usize,
    lists: usize,
    watchers: usize,
    watch_updates: usize,
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        // `cargo bench` passes `--bench`; `cargo test --benches` runs the binary without it.
        let smoke = !std::env::args().any(|arg| arg == "--bench");
        let ops = match std::env::var("FCP_BENCH_OPS") {
            Ok(value) => value
                .trim()
                .parse::<usize>()
                .with_context(|| format!("FCP_BENCH_OPS={value:?} is not a whole number"))?,
            Err(std::env::VarError::NotPresent) if smoke => SMOKE_OPS,
            Err(std::env::VarError::NotPresent) => DEFAULT_OPS,
            Err(e) => return Err(e).context("read FCP_BENCH_OPS"),
        };
        ensure!(ops >= MANY, "FCP_BENCH_OPS must be at least {MANY}, got {ops}");
        let ops_one = (ops / 10).max(20);
        Ok(Self {
            smoke,
            warmup: ops / 2,
            ops_many: ops,
            warmup_many: (ops / 20).max(MANY),
            ops_one,
            warmup_one: (ops_one / 20).max(5),
            lists: (ops / 50).max(LIST_MANY),
            watchers: if smoke { SMOKE_WATCHERS } else { WATCHERS },
            watch_updates: (ops / 10).clamp(PATCH_IN_FLIGHT, MAX_WATCH_UPDATES),
        })
    }
}

/// The result of one measurement of `ops` operations.
#[derive(Debug, Clone, Copy)]
struct Stats {
    ops: usize,
    in_flight: usize,
    elapsed: Duration,
    latencies: Latencies,
    cpu: Cpu,
}

impl Stats {
    fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// The shared HTTP client and where the server is.
#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
    /// A bearer token sent with every request (the secure port).
    token: Option<String>,
}

impl Api {
    fn new(client: &reqwest::Client, server: &TestApiServer) -> Self {
        Self {
            client: client.clone(),
            base: server.base_url().to_owned(),
            token: None,
        }
    }

    /// The server's secure port, as the user of `token`, with a client trusting the server's CA.
    fn secure(server: &TestApiServer, token: &str) -> anyhow::Result<Self> {
        let ca = std::fs::read(server.ca_file().context("the server generated no CA")?)?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca)?)
            .http1_only()
            .pool_max_idle_per_host(MANY)
            .build()?;
        Ok(Self {
            client,
            base: server.secure_url().context("the secure port is off")?.to_owned(),
            token: Some(token.to_owned()),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `POST`s a JSON body and expects `201 Created`.
    async fn post(&self, path: &str, body: Vec<u8>) -> anyhow::Result<()> {
        let response = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        expect(response, StatusCode::CREATED, "POST", path).await?;
        Ok(())
    }

    /// `GET`s a path and returns the body of the `200 OK` response.
    async fn get(&self, path: &str) -> anyhow::Result<Bytes> {
        let response = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        expect(response, StatusCode::OK, "GET", path).await
    }
}

/// Reads the whole body (so that the connection goes back to the pool) and checks the status.
async fn expect(
    response: reqwest::Response,
    status: StatusCode,
    method: &str,
    path: &str,
) -> anyhow::Result<Bytes> {
    let got = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("read the response to {method} {path}"))?;
    ensure!(
        got == status,
        "{method} {path}: {got}, expected {status}: {}",
        String::from_utf8_lossy(&body)
    );
    Ok(body)
}

/// The unit of the CPU times in `/proc` (`USER_HZ`, 100 on Linux whatever the kernel's tick).
const USER_HZ: f64 = 100.0;

/// etcd's process id, for its CPU time.
static ETCD_PID: OnceLock<u32> = OnceLock::new();

/// CPU time counters at one moment, in seconds (zero where `/proc` could not be read).
#[derive(Debug, Clone, Copy, Default)]
struct CpuSample {
    /// This process: the apiserver and the benchmark client.
    this: f64,
    etcd: f64,
    /// The whole machine, all cores: busy, and busy plus idle.
    busy: f64,
    total: f64,
}

/// Where the CPU time went during one measurement.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    /// CPU microseconds this process (apiserver + client) spent per operation.
    this_per_op_us: f64,
    /// CPU microseconds etcd spent per operation.
    etcd_per_op_us: f64,
    /// Share of the machine's CPU capacity (all cores) this process used.
    this_percent: f64,
    /// Share of the machine's CPU capacity etcd used.
    etcd_percent: f64,
    /// Share of the machine's CPU capacity left idle.
    idle_percent: f64,
    /// Share of the machine's CPU capacity used by other processes (a busy neighbour makes the row
    /// unreliable).
    other_percent: f64,
}

impl CpuSample {
    fn now() -> Self {
        let process = |pid: &str| -> Option<f64> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // After the parenthesised command: state is field 3, utime 14, stime 15.
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks = |field: usize| fields.get(field - 3)?.parse::<f64>().ok();
            Some((ticks(14)? + ticks(15)?) / USER_HZ)
        };
        let machine = || -> Option<(f64, f64)> {
            let stat = std::fs::read_to_string("/proc/stat").ok()?;
            let line = stat.lines().find(|line| line.starts_with("cpu "))?;
            let ticks: Vec<f64> = line
                .split_whitespace()
                .skip(1)
                .take(8) // user nice system idle iowait irq softirq steal (guest time is inside user)
                .filter_map(|t| t.parse().ok())
                .collect();
            let total: f64 = ticks.iter().sum();
            let idle = ticks.get(3)? + ticks.get(4)?;
            Some(((total - idle) / USER_HZ, total / USER_HZ))
        };
        let (busy, total) = machine().unwrap_or_default();
        Self {
            this: process("self").unwrap_or_default(),
            etcd: ETCD_PID
                .get()
                .and_then(|pid| process(&pid.to_string()))
                .unwrap_or_default(),
            busy,
            total,
        }
    }

    /// The CPU spent since `earlier`, per operation of `ops`.
    fn since(&self, earlier: &Self, ops: usize) -> Cpu {
        let per_op = |seconds: f64| seconds * 1e6 / ops.max(1) as f64;
        let (this, etcd) = (self.this - earlier.this, self.etcd - earlier.etcd);
        let total = (self.total - earlier.total).max(f64::MIN_POSITIVE);
        let busy = self.busy - earlier.busy;
        Cpu {
            this_per_op_us: per_op(this),
            etcd_per_op_us: per_op(etcd),
            // `+ 0.0` turns a -0 into 0 for printing.
            idle_percent: (100.0 * (total - busy) / total).max(0.0) + 0.0,
            other_percent: (100.0 * (busy - this - etcd) / total).max(0.0) + 0.0,
            this_percent: 100.0 * this / total,
            etcd_percent: 100.0 * etcd / total,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let etcd = TestEtcd::start().context("start etcd for the benchmark")?;
    if let Some(pid) = etcd.pid() {
        ETCD_PID.get_or_init(|| pid);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("build the tokio runtime")?;
    runtime.block_on(run(&settings, &etcd))
}

#[allow(clippy::too_many_lines)] // One run, read top to bottom.
async fn run(settings: &Settings, etcd: &TestEtcd) -> anyhow::Result<()> {
    let s = settings;
    let mut memory = vec![("process start (etcd client not connected)", rss()?)];
    let endpoint = etcd.endpoint();
    let mut etcd_client = Client::connect([endpoint.as_str()], None)
        .await
        .with_context(|| format!("connect to etcd at {endpoint}"))?;
    let status = etcd_client.status().await.context("read etcd's status")?;
    let raw = etcd_client.kv_client();
    let server = TestApiServer::etcd(&endpoint, ETCD_PREFIX)
        .await
        .context("start the apiserver on etcd")?;
    // One client for everything: HTTP/1.1, a keep-alive pool with an idle connection per request in flight.
    let client = reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(usize::MAX)
        .build()
        .context("build the HTTP client")?;
    let api = Api::new(&client, &server);
    wait_ready(&api).await?;
    memory.push(("apiserver (etcd) started, idle", rss()?));

    for namespace in [CREATE_NS, LIST_NS, WATCH_NS] {
        api.post("/api/v1/namespaces", namespace_body(namespace))
            .await
            .with_context(|| format!("create namespace {namespace}"))?;
    }
    // The raw puts write as many bytes as etcd stores for one created ConfigMap.
    api.post(&configmaps(CREATE_NS), configmap_body("probe"))
        .await
        .context("create the probe ConfigMap")?;
    let probe_key = format!("{ETCD_PREFIX}/configmaps/{CREATE_NS}/probe");
    let stored = raw
        .clone()
        .get(probe_key.as_str(), None)
        .await
        .context("read the probe ConfigMap from etcd")?;
    let value_size = stored
        .kvs()
        .first()
        .with_context(|| format!("the probe ConfigMap is not at {probe_key} in etcd"))?
        .value()
        .len();
    let value = Bytes::from(vec![b'x'; value_size]);

    print_preamble(
        s,
        etcd,
        status.version(),
        &endpoint,
        server.base_url(),
        value_size,
    );
    let measured = Instant::now();
    let measured_cpu = CpuSample::now();

    // ---- writes -------------------------------------------------------------------------------------------
    // A fresh etcd is slower at first (its database file and Go heap grow), and so is a fresh connection
    // pool: warm both up before any table row.
    drive(s.warmup, MANY, raw_puts(&raw, "warmup", &value))
        .await
        .context("warm up etcd")?;
    drive(s.warmup, MANY, healthz(&api))
        .await
        .context("warm up the HTTP client")?;
    header(
        &format!("WRITES ({value_size} B in etcd per object)"),
        "ops",
        "ops/s",
        "ratio",
    );
    let raw_many = measure(
        raw_puts(&raw, "put-64/warmup", &value),
        raw_puts(&raw, "put-64/run", &value),
        s.warmup_many,
        s.ops_many,
        MANY,
    )
    .await?;
    row("raw etcd put (physical limit)", &raw_many, "1.00 (reference)");
    let raw_one = measure(
        raw_puts(&raw, "put-1/warmup", &value),
        raw_puts(&raw, "put-1/run", &value),
        s.warmup_one,
        s.ops_one,
        1,
    )
    .await?;
    row("raw etcd put (physical limit)", &raw_one, "1.00 (reference)");
    // What one API create asks of etcd: a consistent get of its namespace, then `If(mod_revision == 0)
    // Then(Put)` (see `Store::create`); each alone, then both in sequence as the apiserver does.
    let ns_key = format!("{ETCD_PREFIX}/namespaces/{CREATE_NS}");
    let mut get_txns = Vec::new();
    for (label, kind) in [
        ("raw etcd txn If(mod=0) Then(Put)", RawOp::Txn),
        ("raw etcd get (the namespace, consistent)", RawOp::Get),
        ("raw etcd get(namespace) + txn create", RawOp::GetTxn),
    ] {
        for (in_flight, warmup, ops, reference) in [
            (MANY, s.warmup_many, s.ops_many, &raw_many),
            (1, s.warmup_one, s.ops_one, &raw_one),
        ] {
            let tag = format!("{kind:?}-{in_flight}").to_ascii_lowercase();
            let stats = measure(
                raw_ops(kind, &raw, &ns_key, &format!("{tag}/warmup"), &value),
                raw_ops(kind, &raw, &ns_key, &format!("{tag}/run"), &value),
                warmup,
                ops,
                in_flight,
            )
            .await?;
            let ratio = ratio(&stats, reference, &format!("x raw etcd put@{in_flight}"));
            row(label, &stats, &ratio);
            if kind == RawOp::GetTxn {
                get_txns.push(stats);
            }
        }
    }
    // The same two calls through the storage backend the apiserver uses, without HTTP and the API's work.
    let backend: Arc<dyn Backend> = Arc::new(
        EtcdBackend::connect(EtcdConfig::new(vec![endpoint.clone()]))
            .await
            .with_context(|| format!("connect the etcd backend to {endpoint}"))?,
    );
    for (in_flight, warmup, ops, get_txn) in [
        (MANY, s.warmup_many, s.ops_many, &get_txns[0]),
        (1, s.warmup_one, s.ops_one, &get_txns[1]),
    ] {
        let stats = measure(
            backend_get_creates(&backend, &ns_key, &format!("backend-{in_flight}/warmup"), &value),
            backend_get_creates(&backend, &ns_key, &format!("backend-{in_flight}/run"), &value),
            warmup,
            ops,
            in_flight,
        )
        .await?;
        let ratio = ratio(&stats, get_txn, &format!("x raw get+txn@{in_flight}"));
        row("EtcdBackend get(namespace) + create", &stats, &ratio);
    }
    let mut health = Vec::new();
    for (in_flight, warmup, ops) in [(MANY, s.warmup_many, s.ops_many), (1, s.warmup_one, s.ops_one)] {
        let stats = measure(healthz(&api), healthz(&api), warmup, ops, in_flight).await?;
        row("GET /healthz (HTTP client + server, no storage)", &stats, "");
        health.push(stats);
    }
    let mut creates_etcd = Vec::new();
    for (in_flight, warmup, ops, reference, get_txn) in [
        (MANY, s.warmup_many, s.ops_many, &raw_many, &get_txns[0]),
        (1, s.warmup_one, s.ops_one, &raw_one, &get_txns[1]),
    ] {
        let stats = measure(
            creates(&api, CREATE_NS, &format!("w{in_flight}")),
            creates(&api, CREATE_NS, &format!("r{in_flight}")),
            warmup,
            ops,
            in_flight,
        )
        .await?;
        let ratio = format!(
            "{} ({:.2}x get+txn@{in_flight})",
            ratio(&stats, reference, &format!("x raw etcd put@{in_flight}")),
            stats.per_second() / get_txn.per_second()
        );
        row("POST configmaps (etcd)", &stats, &ratio);
        creates_etcd.push(stats);
    }
    memory.push(("after the creates on etcd", rss()?));

    {
        let embedded = TestApiServer::embedded()
            .await
            .context("start the apiserver on the embedded store")?;
        let embedded_api = Api::new(&client, &embedded);
        wait_ready(&embedded_api).await?;
        embedded_api
            .post("/api/v1/namespaces", namespace_body(CREATE_NS))
            .await
            .context("create the namespace on the embedded store")?;
        for (in_flight, warmup, ops, reference) in [
            (MANY, s.warmup_many, s.ops_many, &raw_many),
            (1, s.warmup_one, s.ops_one, &raw_one),
        ] {
            let stats = measure(
                creates(&embedded_api, CREATE_NS, &format!("w{in_flight}")),
                creates(&embedded_api, CREATE_NS, &format!("r{in_flight}")),
                warmup,
                ops,
                in_flight,
            )
            .await?;
            let ratio = ratio(
                &stats,
                reference,
                &format!("x raw etcd put@{in_flight} (other store!)"),
            );
            row("POST configmaps (embedded store)", &stats, &ratio);
        }
        embedded.stop().await.context("stop the embedded apiserver")?;
    }

    // The secure port: TLS, a bearer token, RBAC authorization (a RoleBinding to `edit`, not a superuser),
    // admission — against the same embedded store without them.
    {
        let dir = tempfile::tempdir().context("temp dir for the token file")?;
        let tokens = dir.path().join("tokens.csv");
        std::fs::write(&tokens, "bench-token,bench,1\n").context("write the token file")?;
        let tokens = tokens.to_str().context("temp dir path is not UTF-8")?;
        let secure = TestApiServer::secure(&["--token-auth-file", tokens])
            .await
            .context("start the apiserver with its secure port")?;
        let admin = Api::new(&client, &secure);
        wait_ready(&admin).await?;
        admin
            .post("/api/v1/namespaces", namespace_body(CREATE_NS))
            .await
            .context("create the namespace on the secure server")?;
        admin
            .post(
                &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{CREATE_NS}/rolebindings"),
                serde_json::to_vec(&serde_json::json!({
                    "metadata": {"name": "bench-edit"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bench"}],
                }))?,
            )
            .await
            .context("bind the bench user to edit")?;
        let user = Api::secure(&secure, "bench-token")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while user.get(&configmaps(CREATE_NS)).await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the RoleBinding did not take effect within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        header(
            "secure port (TLS + token + RBAC + admission), embedded store",
            "ops",
            "ops/s",
            "vs the insecure port",
        );
        for (in_flight, warmup, ops) in [(MANY, s.warmup_many, s.ops_many), (1, s.warmup_one, s.ops_one)] {
            let plain = measure(
                creates(&admin, CREATE_NS, &format!("pw{in_flight}")),
                creates(&admin, CREATE_NS, &format!("pr{in_flight}")),
                warmup,
                ops,
                in_flight,
            )
            .await?;
            row("POST configmaps, insecure port", &plain, "1.00");
            let secured = measure(
                creates(&user, CREATE_NS, &format!("sw{in_flight}")),
                creates(&user, CREATE_NS, &format!("sr{in_flight}")),
                warmup,
                ops,
                in_flight,
            )
            .await?;
            let ratio = ratio(&secured, &plain, &format!("x insecure@{in_flight}"));
            row("POST configmaps, secure port as an RBAC user", &secured, &ratio);
        }
        secure.stop().await.context("stop the secure apiserver")?;
    }

    let raw_again = measure(
        raw_puts(&raw, "put-64-again/warmup", &value),
        raw_puts(&raw, "put-64-again/run", &value),
        s.warmup_many,
        s.ops_many,
        MANY,
    )
    .await?;
    let drift = raw_again.per_second() / raw_many.per_second();
    row(
        "raw etcd put, again (drift check)",
        &raw_again,
        &format!("{drift:.2}x the first raw etcd put@{MANY}"),
    );
    if (drift - 1.0).abs() > DRIFT_WARNING {
        println!(
            "warning: raw etcd put@{MANY} moved by {:+.0}% during the run: this machine is noisy, read the \
             ratios with care",
            (drift - 1.0) * 100.0
        );
    }
    let create_ratio = creates_etcd[0].per_second() / raw_many.per_second();
    println!(
        "=> creates/s at {MANY} in flight / raw etcd puts/s at {MANY} in flight = {create_ratio:.2} (goal >= 0.8: {})",
        if create_ratio >= 0.8 { "met" } else { "NOT met" }
    );
    println!(
        "=> the HTTP stack alone (GET /healthz) does {:.0} requests/s at {MANY} in flight: {:.1}x the creates/s",
        health[0].per_second(),
        health[0].per_second() / creates_etcd[0].per_second()
    );

    // ---- lists --------------------------------------------------------------------------------------------
    drive(LIST_OBJECTS, MANY, creates(&api, LIST_NS, "item"))
        .await
        .context("create the ConfigMaps to list")?;
    let list_path = configmaps(LIST_NS);
    let cached_path = format!("{list_path}?resourceVersion=0");
    // The watch cache follows etcd asynchronously; wait until it holds every object (else the list below
    // would time a cache that is still filling).
    wait_for_cache(&api, &cached_path).await?;
    let list_prefix = format!("{ETCD_PREFIX}/configmaps/{LIST_NS}/");
    let sample = api.get(&list_path).await?;
    println!();
    header(
        &format!(
            "LISTS of {LIST_OBJECTS} ConfigMaps ({:.2} MiB of JSON)",
            sample.len() as f64 / 1_048_576.0
        ),
        "lists",
        "lists/s",
        "ratio",
    );
    let warmup = (s.lists / 10).max(1);
    // The body must be at least as large as the objects' data; the warm-ups count the items exactly.
    let min_body = LIST_OBJECTS * DATA_SIZE;
    let mut raw_ranges = Vec::new();
    for in_flight in [1, LIST_MANY] {
        let stats = measure(
            raw_ranges_op(&raw, &list_prefix),
            raw_ranges_op(&raw, &list_prefix),
            warmup,
            s.lists,
            in_flight,
        )
        .await?;
        row("raw etcd range (physical limit)", &stats, "1.00 (reference)");
        raw_ranges.push(stats);
    }
    for (label, path) in [
        ("GET configmaps?resourceVersion=0 (watch cache)", &cached_path),
        ("GET configmaps (consistent read from etcd)", &list_path),
    ] {
        for (in_flight, reference) in [(1, &raw_ranges[0]), (LIST_MANY, &raw_ranges[1])] {
            let stats = measure(
                lists(&api, path, None),
                lists(&api, path, Some(min_body)),
                warmup,
                s.lists,
                in_flight,
            )
            .await?;
            let ratio = format!(
                "{} ({:.2}x its p50 latency)",
                ratio(&stats, reference, &format!("x raw etcd range@{in_flight}")),
                ms(stats.latencies.p50) / ms(reference.latencies.p50)
            );
            row(label, &stats, &ratio);
        }
    }
    memory.push(("after the lists", rss()?));

    // ---- watch --------------------------------------------------------------------------------------------
    let watch = measure_watch(s, &api).await?;
    println!();
    header(
        &format!(
            "WATCH: {} watchers, {} merge PATCHes",
            s.watchers, s.watch_updates
        ),
        "count",
        "per s",
        "",
    );
    row("PATCH configmaps (merge patch, own object)", &watch.patches, "");
    row(
        "events delivered (patch start -> watcher has it)",
        &watch.delivery,
        &format!(
            "{} x {} = {} events, all delivered; last event {:.3} s after the first patch (patches done at \
             {:.3} s)",
            s.watchers,
            s.watch_updates,
            watch.delivery.ops,
            watch.delivery.elapsed.as_secs_f64(),
            watch.patches.elapsed.as_secs_f64()
        ),
    );
    println!(
        "{:<LABEL$} {:>9} {:>7} {:>10} {:>8.2} {:>8.2} {:>32}  the fan-out's own share (negative: before \
         the response)",
        "events delivered (patch response -> watcher has it)",
        s.watchers,
        watch.delivery.ops,
        "",
        watch.after_response.0,
        watch.after_response.1,
        ""
    );
    println!(
        "(the CPU columns of the watch rows count all the work meanwhile, the delivery to every watcher \
         included: per patch, and per event)"
    );
    memory.push(("after the watch (watchers closed)", rss()?));

    println!();
    println!("MEMORY of this process (apiserver + benchmark client; etcd is another process)");
    for (label, (rss, hwm)) in &memory {
        println!(
            "  {label:<45} VmRSS {:>7.1} MiB   VmHWM (peak) {:>7.1} MiB",
            *rss as f64 / 1024.0,
            *hwm as f64 / 1024.0
        );
    }
    let status = etcd_client.status().await.context("read etcd's status")?;
    println!(
        "etcd database after the run: {:.0} MiB ({:.0} MiB in use), revision {}",
        status.db_size() as f64 / 1_048_576.0,
        status.raft_used_db_size() as f64 / 1_048_576.0,
        status.header().map_or(0, |h| h.revision())
    );
    let cpu = CpuSample::now().since(&measured_cpu, 1);
    println!(
        "measured part (warm-ups and set-up included): {:.1} s; CPU capacity used: this process {:.0}%, etcd \
         {:.0}%, other processes {:.0}%, idle {:.0}%",
        measured.elapsed().as_secs_f64(),
        cpu.this_percent,
        cpu.etcd_percent,
        cpu.other_percent,
        cpu.idle_percent
    );
    if cpu.other_percent > OTHERS_WARNING {
        println!(
            "warning: other processes took {:.0}% of the CPU during the run (column other%): every figure above \
             is depressed by them, the ratios less so",
            cpu.other_percent
        );
    }
    server.stop().await.context("stop the apiserver")?;
    Ok(())
}

fn print_preamble(
    settings: &Settings,
    etcd: &TestEtcd,
    etcd_version: &str,
    endpoint: &str,
    server: &str,
    value_size: usize,
) {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("fcp apiserver benchmark");
    if settings.smoke {
        println!("SMOKE PASS (started without --bench): reduced counts, the numbers mean nothing");
    }
    println!(
        "etcd {etcd_version} at {endpoint} (single member, same machine, data in {}); {cores} cores",
        etcd.data_dir().display()
    );
    println!(
        "apiserver in this process at {server} (plain HTTP/1.1, etcd prefix {ETCD_PREFIX}); client: one \
         reqwest client, keep-alive pool; one tokio multi-thread runtime for both"
    );
    println!(
        "objects: ConfigMaps with {DATA_SIZE} B of data ({value_size} B as stored in etcd; raw puts write that \
         many bytes)"
    );
    println!(
        "counts: warm-up {} raw puts + {} GET /healthz; {} ops at {MANY} in flight (warm-up {}), {} ops at 1 \
         in flight (warm-up {}), {} lists per row (warm-up {}), {} watchers x {} updates; FCP_BENCH_OPS sets \
         the third",
        settings.warmup,
        settings.warmup,
        settings.ops_many,
        settings.warmup_many,
        settings.ops_one,
        settings.warmup_one,
        settings.lists,
        (settings.lists / 10).max(1),
        settings.watchers,
        settings.watch_updates
    );
    println!(
        "note: benchmarks on shared machines are noisy (etcd, the apiserver and this client share the \
         cores); compare runs on one machine"
    );
    println!();
}

/// Runs `ops` operations with `in_flight` tasks issuing them, and times each one and the whole.
async fn drive(ops: usize, in_flight: usize, op: Op) -> anyhow::Result<Stats> {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu = CpuSample::now();
    let start = Instant::now();
    let workers: Vec<_> = (0..in_flight)
        .map(|worker| {
            let op = Arc::clone(&op);
            let next = Arc::clone(&next);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(ops / in_flight + 1);
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= ops {
                        return anyhow::Ok(latencies);
                    }
                    let began = Instant::now();
                    op(worker, index).await?;
                    latencies.push(began.elapsed());
                }
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(ops);
    for worker in workers {
        latencies.extend(worker.await.context("a benchmark task panicked")??);
    }
    let elapsed = start.elapsed();
    Ok(Stats {
        ops,
        in_flight,
        elapsed,
        latencies: Latencies::of(latencies),
        cpu: CpuSample::now().since(&cpu, ops),
    })
}

/// A warm-up of `warmup` operations, then the measured `ops`.
async fn measure(
    warm: Op,
    measured: Op,
    warmup: usize,
    ops: usize,
    in_flight: usize,
) -> anyhow::Result<Stats> {
    drive(warmup, in_flight, warm).await.context("warm-up")?;
    drive(ops, in_flight, measured).await
}

/// Raw etcd puts of `value` to `/bench/<tag>/<index>`.
fn raw_puts(kv: &KvClient, tag: &str, value: &Bytes) -> Op {
    let (kv, tag, value) = (kv.clone(), tag.to_owned(), value.clone());
    Arc::new(move |_, index| {
        let mut kv = kv.clone();
        let key = format!("/bench/{tag}/{index:08}");
        // The etcd backend copies the value into a `Vec` for every write too.
        let value = value.to_vec();
        async move {
            kv.put(key, value, None).await.context("raw etcd put")?;
            Ok(())
        }
        .boxed()
    })
}

/// Parts of the storage round trips of one API create, straight to etcd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawOp {
    /// `If(mod_revision(key) == 0) Then(Put)` of the value to `/bench/<tag>/<index>`.
    Txn,
    /// A get of the namespace's key.
    Get,
    /// Both, one after the other.
    GetTxn,
}

/// `kind` of operation, with `value` written under `/bench/<tag>/` and `namespace_key` read.
fn raw_ops(kind: RawOp, kv: &KvClient, namespace_key: &str, tag: &str, value: &Bytes) -> Op {
    let (kv, namespace_key, tag, value) = (
        kv.clone(),
        namespace_key.to_owned(),
        tag.to_owned(),
        value.clone(),
    );
    Arc::new(move |_, index| {
        let mut kv = kv.clone();
        let namespace_key = namespace_key.clone();
        let key = format!("/bench/{tag}/{index:08}");
        let txn = Txn::new()
            .when([Compare::mod_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), value.to_vec(), None)]);
        async move {
            if kind != RawOp::Txn {
                let namespace = kv
                    .get(namespace_key.as_str(), None)
                    .await
                    .context("raw etcd get")?;
                ensure!(namespace.count() == 1, "{namespace_key} is not in etcd");
            }
            if kind != RawOp::Get {
                let response = kv.txn(txn).await.context("raw etcd txn")?;
                ensure!(response.succeeded(), "raw etcd txn: {key} exists");
            }
            Ok(())
        }
        .boxed()
    })
}

/// The storage calls of one API create through the apiserver's backend: [`Backend::get`] of `namespace_key`,
/// then [`Backend::create`] of `value` at `/bench/<tag>/<index>`.
fn backend_get_creates(backend: &Arc<dyn Backend>, namespace_key: &str, tag: &str, value: &Bytes) -> Op {
    let (backend, namespace_key, tag, value) = (
        Arc::clone(backend),
        namespace_key.to_owned(),
        tag.to_owned(),
        value.clone(),
    );
    Arc::new(move |_, index| {
        let (backend, namespace_key, value) = (Arc::clone(&backend), namespace_key.clone(), value.clone());
        let key = format!("/bench/{tag}/{index:08}");
        async move {
            let namespace = backend.get(&namespace_key).await.context("EtcdBackend::get")?;
            ensure!(namespace.is_some(), "{namespace_key} is not in etcd");
            backend
                .create(&key, value)
                .await
                .with_context(|| format!("EtcdBackend::create {key}"))?;
            Ok(())
        }
        .boxed()
    })
}

/// Raw etcd ranges over `prefix`, which must hold [`LIST_OBJECTS`] keys.
fn raw_ranges_op(kv: &KvClient, prefix: &str) -> Op {
    let (kv, prefix) = (kv.clone(), prefix.to_owned());
    Arc::new(move |_, _| {
        let mut kv = kv.clone();
        let prefix = prefix.clone();
        async move {
            let response = kv
                .get(prefix, Some(GetOptions::new().with_prefix()))
                .await
                .context("raw etcd range")?;
            let keys = response.kvs().len();
            ensure!(
                keys == LIST_OBJECTS,
                "a raw range returned {keys} keys, expected {LIST_OBJECTS}"
            );
            Ok(())
        }
        .boxed()
    })
}

/// `GET /healthz`.
fn healthz(api: &Api) -> Op {
    let api = api.clone();
    Arc::new(move |_, _| {
        let api = api.clone();
        async move {
            api.get("/healthz").await?;
            Ok(())
        }
        .boxed()
    })
}

/// `POST`s ConfigMaps `<tag>-<index>` into `namespace`.
fn creates(api: &Api, namespace: &str, tag: &str) -> Op {
    let (api, path, tag) = (api.clone(), configmaps(namespace), tag.to_owned());
    Arc::new(move |_, index| {
        let (api, path) = (api.clone(), path.clone());
        let body = configmap_body(&format!("{tag}-{index:08}"));
        async move { api.post(&path, body).await }.boxed()
    })
}

/// `GET`s a list of [`LIST_OBJECTS`] ConfigMaps. With `min_body`, checks only that the body is at least that
/// large (so that the client does not parse while it times); without, counts the items exactly.
fn lists(api: &Api, path: &str, min_body: Option<usize>) -> Op {
    let (api, path) = (api.clone(), path.to_owned());
    Arc::new(move |_, _| {
        let (api, path) = (api.clone(), path.clone());
        async move {
            let body = api.get(&path).await?;
            match min_body {
                Some(min) => ensure!(
                    body.len() >= min,
                    "GET {path}: {} bytes, expected at least {min}",
                    body.len()
                ),
                None => {
                    let items = count_items(&body).with_context(|| format!("GET {path}"))?;
                    ensure!(
                        items == LIST_OBJECTS,
                        "GET {path}: {items} items, expected {LIST_OBJECTS}"
                    );
                }
            }
            Ok(())
        }
        .boxed()
    })
}

fn count_items(body: &[u8]) -> anyhow::Result<usize> {
    #[derive(Deserialize)]
    struct List {
        items: Vec<serde::de::IgnoredAny>,
    }
    Ok(serde_json::from_slice::<List>(body)
        .context("the list is not JSON")?
        .items
        .len())
}

/// Waits until a list at `path` returns [`LIST_OBJECTS`] items.
async fn wait_for_cache(api: &Api, path: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let items = count_items(&api.get(path).await?)?;
        if items == LIST_OBJECTS {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "GET {path} still returns {items} of {LIST_OBJECTS} items after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the server answers `/readyz`.
async fn wait_ready(api: &Api) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match api.get("/readyz").await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e.context("the apiserver is not ready")),
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// The results of the watch fan-out.
struct WatchResult {
    /// The patches, as their tasks timed them.
    patches: Stats,
    /// Every event every watcher received: latency from its patch's start, count, and the time from the first
    /// patch to the last event.
    delivery: Stats,
    /// Median and 99th percentile, in milliseconds, of the time from the response to an event's patch to the
    /// event's arrival at a watcher (negative: it arrived before the response).
    after_response: (f64, f64),
}

/// The part of a watch event the benchmark reads.
#[derive(Deserialize)]
struct WatchEvent {
    #[serde(rename = "type")]
    kind: String,
    object: WatchObject,
}

#[derive(Deserialize)]
struct WatchObject {
    #[serde(default)]
    data: Option<WatchData>,
}

#[derive(Deserialize)]
struct WatchData {
    #[serde(default)]
    seq: Option<String>,
}

/// Creates one ConfigMap per patch task, starts the watchers from the listed resourceVersion, patches, and
/// collects what every watcher saw.
async fn measure_watch(s: &Settings, api: &Api) -> anyhow::Result<WatchResult> {
    let collection = configmaps(WATCH_NS);
    for worker in 0..PATCH_IN_FLIGHT {
        api.post(&collection, configmap_body(&watched(worker)))
            .await
            .context("create the watched ConfigMaps")?;
    }
    #[derive(Deserialize)]
    struct ListMeta {
        #[serde(rename = "resourceVersion")]
        resource_version: String,
    }
    #[derive(Deserialize)]
    struct List {
        metadata: ListMeta,
    }
    let list: List = serde_json::from_slice(&api.get(&collection).await?).context("the list is not JSON")?;
    let resource_version = list.metadata.resource_version;

    let updates = s.watch_updates;
    let base = Instant::now();
    // Nanoseconds after `base` at which patch `seq` started, plus one (zero: not started).
    let stamps: Arc<Vec<AtomicU64>> = Arc::new((0..updates).map(|_| AtomicU64::new(0)).collect());
    // Nanoseconds after `base` at which the response to patch `seq` arrived.
    let answered: Arc<Vec<AtomicU64>> = Arc::new((0..updates).map(|_| AtomicU64::new(0)).collect());
    let mut watchers = Vec::with_capacity(s.watchers);
    for _ in 0..s.watchers {
        let url = api.url(&format!(
            "{collection}?watch=true&resourceVersion={resource_version}"
        ));
        let response = api.client.get(&url).send().await.context("start a watch")?;
        ensure!(
            response.status() == StatusCode::OK,
            "watch: {}",
            response.status()
        );
        let stamps = Arc::clone(&stamps);
        watchers.push(tokio::spawn(watcher(response, updates, base, stamps)));
    }

    let cpu = CpuSample::now();
    let first_patch = base.elapsed();
    let patches = {
        let (api, collection) = (api.clone(), collection.clone());
        let (stamps, answered) = (Arc::clone(&stamps), Arc::clone(&answered));
        let op: Op = Arc::new(move |worker, index| {
            let url = api.url(&format!("{collection}/{}", watched(worker)));
            let body = json!({"data": {"seq": index.to_string()}}).to_string();
            let (client, stamps, answered) = (api.client.clone(), Arc::clone(&stamps), Arc::clone(&answered));
            async move {
                stamps[index].store(nanos(base.elapsed()) + 1, Ordering::Release);
                let response = client
                    .patch(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/merge-patch+json")
                    .body(body)
                    .send()
                    .await
                    .context("PATCH")?;
                answered[index].store(nanos(base.elapsed()), Ordering::Relaxed);
                expect(response, StatusCode::OK, "PATCH", &url).await?;
                Ok(())
            }
            .boxed()
        });
        drive(updates, PATCH_IN_FLIGHT, op)
            .await
            .context("the watched patches")?
    };

    let mut latencies = Vec::with_capacity(updates * s.watchers);
    let mut after_response = Vec::with_capacity(updates * s.watchers);
    let mut last = Duration::ZERO;
    for handle in watchers {
        let seen = tokio::time::timeout(WATCH_TIMEOUT, handle)
            .await
            .with_context(|| format!("a watcher did not see {updates} events within {WATCH_TIMEOUT:?}"))?
            .context("a watcher panicked")??;
        for (seq, arrived) in seen {
            last = last.max(arrived);
            let started = Duration::from_nanos(stamps[seq].load(Ordering::Relaxed) - 1);
            latencies.push(arrived.saturating_sub(started));
            let answered = answered[seq].load(Ordering::Relaxed);
            after_response.push(nanos(arrived) as f64 / 1e6 - answered as f64 / 1e6);
        }
    }
    let total = latencies.len();
    ensure!(
        total == s.watchers * updates,
        "{total} events delivered, expected {} x {updates}",
        s.watchers
    );
    Ok(WatchResult {
        patches,
        delivery: Stats {
            ops: total,
            in_flight: s.watchers,
            elapsed: last.saturating_sub(first_patch),
            // Everything from the first patch until every watcher is done, per event delivered.
            cpu: CpuSample::now().since(&cpu, total),
            latencies: Latencies::of(latencies),
        },
        after_response: percentiles_ms(after_response),
    })
}

/// Median and 99th percentile (nearest rank) of samples in milliseconds, which may be negative.
fn percentiles_ms(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_unstable_by(f64::total_cmp);
    let rank = |percent: usize| {
        let index = (samples.len() * percent).div_ceil(100).saturating_sub(1);
        samples.get(index).copied().unwrap_or_default()
    };
    (rank(50), rank(99))
}

/// Reads a watch until it has seen `updates` MODIFIED events, one for each sequence number; returns each
/// event's sequence number and when (after `base`) it arrived.
async fn watcher(
    response: reqwest::Response,
    updates: usize,
    base: Instant,
    stamps: Arc<Vec<AtomicU64>>,
) -> anyhow::Result<Vec<(usize, Duration)>> {
    let mut arrivals = Vec::with_capacity(updates);
    let mut seen = vec![false; updates];
    let mut buffer: Vec<u8> = Vec::new();
    let mut stream = response.bytes_stream();
    while arrivals.len() < updates {
        let Some(chunk) = stream.next().await else {
            bail!("the watch ended after {} of {updates} events", arrivals.len());
        };
        let chunk = chunk.context("read the watch")?;
        let arrived = base.elapsed();
        buffer.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = buffer[start..].iter().position(|&b| b == b'\n') {
            let line = &buffer[start..start + end];
            start += end + 1;
            let event: WatchEvent = serde_json::from_slice(line).with_context(|| {
                format!("a watch line is not an event: {}", String::from_utf8_lossy(line))
            })?;
            ensure!(
                event.kind == "MODIFIED",
                "a {} event, expected MODIFIED: {}",
                event.kind,
                String::from_utf8_lossy(line)
            );
            let seq: usize = event
                .object
                .data
                .and_then(|data| data.seq)
                .context("an event without data.seq")?
                .parse()
                .context("data.seq is not a number")?;
            ensure!(
                seq < updates && !seen[seq],
                "event seq {seq} is unexpected or repeated"
            );
            seen[seq] = true;
            ensure!(
                stamps[seq].load(Ordering::Acquire) > 0,
                "event seq {seq} arrived before its patch started"
            );
            arrivals.push((seq, arrived));
        }
        buffer.drain(..start);
    }
    Ok(arrivals)
}

fn configmaps(namespace: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/configmaps")
}

fn watched(worker: usize) -> String {
    format!("watched-{worker:02}")
}

fn namespace_body(name: &str) -> Vec<u8> {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        .to_string()
        .into_bytes()
}

fn configmap_body(name: &str) -> Vec<u8> {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"payload": "x".repeat(DATA_SIZE)},
    })
    .to_string()
    .into_bytes()
}

/// This process's resident set size and its peak, in KiB.
fn rss() -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in /proc/self/status"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn ratio(stats: &Stats, reference: &Stats, what: &str) -> String {
    format!("{:.2}{what}", stats.per_second() / reference.per_second())
}

fn header(title: &str, count: &str, rate: &str, ratio: &str) {
    println!(
        "{title:<LABEL$} {:>9} {count:>7} {rate:>10} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6}  {ratio}",
        "in flight", "p50 ms", "p99 ms", "proc us", "etcd us", "idle%", "other%"
    );
}

fn row(label: &str, stats: &Stats, ratio: &str) {
    let cpu = &stats.cpu;
    println!(
        "{label:<LABEL$} {:>9} {:>7} {:>10.0} {:>8.2} {:>8.2} {:>8.0} {:>8.0} {:>5.0} {:>6.0}  {ratio}",
        stats.in_flight,
        stats.ops,
        stats.per_second(),
        ms(stats.latencies.p50),
        ms(stats.latencies.p99),
        cpu.this_per_op_us,
        cpu.etcd_per_op_us,
        cpu.idle_percent,
        cpu.other_percent,
    );
}
