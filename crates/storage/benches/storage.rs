//! Storage benchmark: the etcd backend and the embedded backend against the physical limit (raw etcd through
//! `etcd_client`), all measured in one run against one etcd.
//!
//! `cargo bench -p fcp-storage --bench storage` (or `make bench`); needs `etcd` on `PATH` (Debian
//! `etcd-server`). `FCP_BENCH_OPS=N` sets the operation count of the 64-in-flight writes (default 20000); the
//! 1-in-flight writes do N/10, the watch delivers N/2 events, every warm-up is 1/20 of its measurement.
//! Started without `--bench` (as `cargo test --benches` does), it makes a quick smoke pass instead.
//!
//! Every write carries a 1 KiB value to a distinct key (update: each of 64 tasks rewrites its own key).
//! Latencies are per operation, measured by the task that issued it; ops/s is the operation count over the
//! wall-clock time of the whole measurement.

use fcp_testkit::latency::Latencies;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use bytes::Bytes;
use etcd_client::{Client, Compare, CompareOp, GetOptions, KvClient, Txn, TxnOp, WatchOptions};
use fcp_storage::embedded::EmbeddedBackend;
use fcp_storage::etcd::{EtcdBackend, EtcdConfig};
use fcp_storage::{Backend, ListOptions, Revision};
use fcp_testkit::etcd::TestEtcd;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

/// The size of every written value.
const VALUE_SIZE: usize = 1024;
/// Requests in flight for the concurrent measurements.
const MANY: usize = 64;
/// Writes per 64-in-flight measurement under `cargo bench`.
const DEFAULT_OPS: usize = 20_000;
/// Writes per 64-in-flight measurement in a smoke pass.
const SMOKE_OPS: usize = 256;
/// Keys read by each list.
const LIST_KEYS: usize = 1_000;
/// Timed lists per backend under `cargo bench` (plus a tenth as warm-up).
const LIST_ITERATIONS: usize = 200;
/// Timed lists per backend in a smoke pass.
const SMOKE_LIST_ITERATIONS: usize = 10;
/// The longest a watcher may take to see every event after the writes are done.
const WATCH_TIMEOUT: Duration = Duration::from_secs(300);
/// Above this relative change between the first and the last raw-put measurement, the run is flagged noisy.
const DRIFT_WARNING: f64 = 0.15;
/// Width of the label column.
const LABEL: usize = 46;

/// One operation: `(worker, index)` → done. Worker `w` of `n` is the `w`-th of the `n` tasks in flight; the
/// index counts operations across all workers.
type Op = Arc<dyn Fn(usize, usize) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// The operation counts of one run.
#[derive(Debug)]
struct Settings {
    smoke: bool,
    /// Raw puts before the first measurement.
    etcd_warmup: usize,
    ops_many: usize,
    warmup_many: usize,
    ops_one: usize,
    warmup_one: usize,
    list_iterations: usize,
    watch_events: usize,
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
            etcd_warmup: ops / 2,
            ops_many: ops,
            warmup_many: (ops / 20).max(MANY),
            ops_one,
            warmup_one: (ops_one / 20).max(5),
            list_iterations: if smoke {
                SMOKE_LIST_ITERATIONS
            } else {
                LIST_ITERATIONS
            },
            watch_events: (ops / 2).max(MANY),
        })
    }
}

/// The result of one write measurement.
#[derive(Debug, Clone, Copy)]
struct WriteStats {
    ops: usize,
    elapsed: Duration,
    latencies: Latencies,
}

impl WriteStats {
    fn per_second(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }
}

/// The result of one watch measurement.
#[derive(Debug, Clone, Copy)]
struct WatchStats {
    events: usize,
    /// From the first write to the acknowledgement of the last one.
    writes_done: Duration,
    /// From the first write to the watcher receiving the last event.
    delivered: Duration,
}

impl WatchStats {
    fn per_second(&self) -> f64 {
        self.events as f64 / self.delivered.as_secs_f64()
    }
}

fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let etcd = TestEtcd::start().context("start etcd for the benchmark")?;
    // On the same disk as etcd's data directory (both under the temp dir); `run` prints whether they share a
    // file system.
    let embedded_dir = tempfile::Builder::new()
        .prefix("fcp-bench-embedded-")
        .tempdir()
        .context("create a temp dir for the embedded store")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("build the tokio runtime")?;
    runtime.block_on(run(&settings, &etcd, embedded_dir.path()))
}

async fn run(settings: &Settings, etcd: &TestEtcd, embedded_dir: &Path) -> anyhow::Result<()> {
    let endpoint = etcd.endpoint();
    let mut client = Client::connect([endpoint.as_str()], None)
        .await
        .with_context(|| format!("connect to etcd at {endpoint}"))?;
    let status = client.status().await.context("read etcd's status")?;
    let raw = client.kv_client();
    let etcd_backend: Arc<dyn Backend> = Arc::new(
        EtcdBackend::connect(EtcdConfig::new(vec![endpoint.clone()]))
            .await
            .with_context(|| format!("connect the etcd backend to {endpoint}"))?,
    );
    let embedded: Arc<dyn Backend> = Arc::new(
        EmbeddedBackend::open(embedded_dir)
            .with_context(|| format!("open the embedded store in {}", embedded_dir.display()))?,
    );
    let value = Bytes::from(vec![b'x'; VALUE_SIZE]);

    print_preamble(settings, etcd, status.version(), &endpoint, embedded_dir)?;

    // ---- writes -------------------------------------------------------------------------------------------
    let s = settings;
    // A fresh etcd is slower at first (its database file and Go heap grow): warm it up before any table row.
    drive(s.etcd_warmup, MANY, raw_puts(&raw, "etcd-warmup", &value))
        .await
        .context("warm up etcd")?;
    println!(
        "{:<LABEL$} {:>9} {:>7} {:>10} {:>8} {:>8}  ratio",
        "WRITES (1 KiB values)", "in flight", "ops", "ops/s", "p50 ms", "p99 ms"
    );
    let raw_many = measure_writes(
        raw_puts(&raw, "raw-put-64/warmup", &value),
        raw_puts(&raw, "raw-put-64/run", &value),
        s.warmup_many,
        s.ops_many,
        MANY,
    )
    .await?;
    write_row(
        "raw etcd put (physical limit)",
        MANY,
        &raw_many,
        "1.00 (reference)",
    );
    let raw_one = measure_writes(
        raw_puts(&raw, "raw-put-1/warmup", &value),
        raw_puts(&raw, "raw-put-1/run", &value),
        s.warmup_one,
        s.ops_one,
        1,
    )
    .await?;
    write_row("raw etcd put (physical limit)", 1, &raw_one, "1.00 (reference)");
    // The shape of `EtcdBackend::create` without the backend: tells etcd's cost of a txn from ours.
    let mut raw_txns = Vec::new();
    for (in_flight, warmup, ops, reference) in [
        (MANY, s.warmup_many, s.ops_many, &raw_many),
        (1, s.warmup_one, s.ops_one, &raw_one),
    ] {
        let stats = measure_writes(
            raw_txn_creates(&raw, &format!("raw-txn-{in_flight}/warmup"), &value),
            raw_txn_creates(&raw, &format!("raw-txn-{in_flight}/run"), &value),
            warmup,
            ops,
            in_flight,
        )
        .await?;
        let ratio = ratio(
            stats.per_second(),
            reference.per_second(),
            &format!("x raw etcd put@{in_flight}"),
        );
        write_row("raw etcd txn If(mod=0) Then(Put)", in_flight, &stats, &ratio);
        raw_txns.push(stats);
    }

    for (name, backend, versus) in [
        ("EtcdBackend::create", &etcd_backend, ""),
        ("EmbeddedBackend::create", &embedded, " (other store!)"),
    ] {
        let tag = name.to_ascii_lowercase().replace("::", "-");
        for (in_flight, warmup, ops, reference, raw_txn) in [
            (MANY, s.warmup_many, s.ops_many, &raw_many, &raw_txns[0]),
            (1, s.warmup_one, s.ops_one, &raw_one, &raw_txns[1]),
        ] {
            let stats = measure_writes(
                creates(backend, &format!("{tag}-{in_flight}/warmup"), &value),
                creates(backend, &format!("{tag}-{in_flight}/run"), &value),
                warmup,
                ops,
                in_flight,
            )
            .await?;
            let mut ratio = ratio(
                stats.per_second(),
                reference.per_second(),
                &format!("x raw etcd put@{in_flight}{versus}"),
            );
            if versus.is_empty() {
                let txn = stats.per_second() / raw_txn.per_second();
                ratio.push_str(&format!(" ({txn:.2}x raw etcd txn@{in_flight})"));
            }
            write_row(name, in_flight, &stats, &ratio);
        }
    }

    for (name, backend, versus) in [
        ("EtcdBackend::update (CAS, own key)", &etcd_backend, ""),
        (
            "EmbeddedBackend::update (CAS, own key)",
            &embedded,
            " (other store!)",
        ),
    ] {
        let tag = if name.starts_with("Etcd") {
            "etcd-update"
        } else {
            "embedded-update"
        };
        let op = updates(backend, tag, &value).await?;
        let stats = measure_writes(Arc::clone(&op), op, s.warmup_many, s.ops_many, MANY).await?;
        let ratio = ratio(
            stats.per_second(),
            raw_many.per_second(),
            &format!("x raw etcd put@{MANY}{versus}"),
        );
        write_row(name, MANY, &stats, &ratio);
    }

    let raw_again = measure_writes(
        raw_puts(&raw, "raw-put-64-again/warmup", &value),
        raw_puts(&raw, "raw-put-64-again/run", &value),
        s.warmup_many,
        s.ops_many,
        MANY,
    )
    .await?;
    let drift = raw_again.per_second() / raw_many.per_second();
    write_row(
        "raw etcd put, again (drift check)",
        MANY,
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

    // ---- lists --------------------------------------------------------------------------------------------
    println!();
    println!(
        "{:<LABEL$} {:>9} {:>7} {:>10} {:>8} {:>8}  ratio",
        format!("LISTS of {LIST_KEYS} keys x 1 KiB"),
        "in flight",
        "lists",
        "lists/s",
        "p50 ms",
        "p99 ms"
    );
    for backend in [&etcd_backend, &embedded] {
        drive(LIST_KEYS, MANY, creates(backend, "list/items", &value))
            .await
            .context("write the keys to list")?;
    }
    let warmup = (s.list_iterations / 10).max(1);
    let prefix = "/bench/list/items/";
    let raw_range = measure_reads(warmup, s.list_iterations, || {
        let mut kv = raw.clone();
        async move {
            let response = kv
                .get(prefix, Some(GetOptions::new().with_prefix()))
                .await
                .context("raw etcd range")?;
            Ok(response.kvs().len())
        }
        .boxed()
    })
    .await?;
    read_row(
        "raw etcd range (physical limit)",
        s.list_iterations,
        &raw_range,
        "1.00 (reference)",
    );
    for (name, backend, versus) in [
        ("EtcdBackend::list", &etcd_backend, "raw etcd range"),
        (
            "EmbeddedBackend::list",
            &embedded,
            "raw etcd range (other store!)",
        ),
    ] {
        let stats = measure_reads(warmup, s.list_iterations, || {
            let backend = Arc::clone(backend);
            async move {
                let list = backend
                    .list(prefix, ListOptions::default())
                    .await
                    .context("list")?;
                Ok(list.items.len())
            }
            .boxed()
        })
        .await?;
        let ratio = ratio(
            ms(stats.latencies.p50),
            ms(raw_range.latencies.p50),
            &format!("x p50 latency of {versus}"),
        );
        read_row(name, s.list_iterations, &stats, &ratio);
    }

    // ---- watch --------------------------------------------------------------------------------------------
    println!();
    println!(
        "{:<LABEL$} {:>9} {:>10} {:>13} {:>13}  ratio",
        format!("WATCH: creates at {MANY} in flight, 1 watcher"),
        "events",
        "events/s",
        "writes done s",
        "last event s"
    );
    let raw_watch = {
        let revision = raw
            .clone()
            .get("/bench/", Some(GetOptions::new().with_prefix().with_count_only()))
            .await
            .context("read etcd's revision")?
            .header()
            .context("etcd response without a header")?
            .revision();
        let prefix = "/bench/watch-raw/run/";
        let options = WatchOptions::new()
            .with_prefix()
            .with_prev_key()
            .with_start_revision(revision + 1);
        let stream = client
            .watch_client()
            .watch(prefix, Some(options))
            .await
            .context("start a raw etcd watch")?;
        let events = stream
            .map(|response| {
                let response = response.context("raw etcd watch")?;
                if response.canceled() {
                    bail!("etcd cancelled the watch: {}", response.cancel_reason());
                }
                Ok(response.events().len())
            })
            .boxed();
        measure_watch(s.watch_events, raw_puts(&raw, "watch-raw/run", &value), events).await?
    };
    watch_row(
        "raw etcd put + watch (physical limit)",
        &raw_watch,
        "1.00 (reference)",
    );
    for (name, backend, tag, versus) in [
        (
            "EtcdBackend::create + watch",
            &etcd_backend,
            "watch-etcd",
            "raw etcd",
        ),
        (
            "EmbeddedBackend::create + watch",
            &embedded,
            "watch-embedded",
            "raw etcd (other store!)",
        ),
    ] {
        let events = backend
            .watch(&format!("/bench/{tag}/run/"), Revision::ZERO)
            .await
            .with_context(|| format!("start a watch on {name}"))?
            .map(|event| event.map(|_| 1).context("watch"))
            .boxed();
        let stats = measure_watch(
            s.watch_events,
            creates(backend, &format!("{tag}/run"), &value),
            events,
        )
        .await?;
        let ratio = ratio(
            stats.per_second(),
            raw_watch.per_second(),
            &format!("x events/s of {versus}"),
        );
        watch_row(name, &stats, &ratio);
    }

    println!();
    let status = client.status().await.context("read etcd's status")?;
    println!(
        "etcd database after the run: {:.0} MiB ({:.0} MiB in use), revision {}",
        status.db_size() as f64 / 1_048_576.0,
        status.raft_used_db_size() as f64 / 1_048_576.0,
        status.header().map_or(0, |h| h.revision())
    );
    Ok(())
}

fn print_preamble(
    settings: &Settings,
    etcd: &TestEtcd,
    etcd_version: &str,
    endpoint: &str,
    embedded_dir: &Path,
) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let etcd_data = etcd.data_dir();
    let device = |path: &Path| {
        std::fs::metadata(path)
            .map(|meta| meta.dev())
            .with_context(|| format!("stat {}", path.display()))
    };
    let same_fs = device(&etcd_data)? == device(embedded_dir)?;
    println!("fcp storage benchmark");
    if settings.smoke {
        println!("SMOKE PASS (started without --bench): reduced counts, the numbers mean nothing");
    }
    println!(
        "etcd {etcd_version} at {endpoint} (single member, same machine); {cores} cores; tokio multi-thread runtime"
    );
    println!(
        "data: etcd {} | embedded {} ({})",
        etcd_data.display(),
        embedded_dir.display(),
        if same_fs {
            "same file system"
        } else {
            "DIFFERENT file systems"
        }
    );
    println!(
        "counts: etcd warm-up {} puts; {} ops at {MANY} in flight (warm-up {}), {} ops at 1 in flight \
         (warm-up {}), {} lists (warm-up {}), {} watch events; FCP_BENCH_OPS sets the second",
        settings.etcd_warmup,
        settings.ops_many,
        settings.warmup_many,
        settings.ops_one,
        settings.warmup_one,
        settings.list_iterations,
        (settings.list_iterations / 10).max(1),
        settings.watch_events
    );
    println!(
        "note: benchmarks on shared CI machines are noisy (and etcd and this client share the cores); \
         compare runs on one machine"
    );
    println!();
    Ok(())
}

/// Runs `ops` operations with `in_flight` tasks issuing them, and times each one and the whole.
async fn drive(ops: usize, in_flight: usize, op: Op) -> anyhow::Result<WriteStats> {
    let next = Arc::new(AtomicUsize::new(0));
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
    Ok(WriteStats {
        ops,
        elapsed,
        latencies: Latencies::of(latencies),
    })
}

/// A warm-up of `warmup` operations, then the measured `ops`.
async fn measure_writes(
    warm: Op,
    measured: Op,
    warmup: usize,
    ops: usize,
    in_flight: usize,
) -> anyhow::Result<WriteStats> {
    drive(warmup, in_flight, warm).await.context("warm-up")?;
    drive(ops, in_flight, measured).await
}

/// Times `iterations` sequential reads (after `warmup` untimed ones); each must return [`LIST_KEYS`] keys.
async fn measure_reads(
    warmup: usize,
    iterations: usize,
    read: impl Fn() -> BoxFuture<'static, anyhow::Result<usize>>,
) -> anyhow::Result<WriteStats> {
    for _ in 0..warmup {
        read().await?;
    }
    let mut latencies = Vec::with_capacity(iterations);
    let start = Instant::now();
    for _ in 0..iterations {
        let began = Instant::now();
        let keys = read().await?;
        latencies.push(began.elapsed());
        ensure!(
            keys == LIST_KEYS,
            "a list returned {keys} keys, expected {LIST_KEYS}"
        );
    }
    Ok(WriteStats {
        ops: iterations,
        elapsed: start.elapsed(),
        latencies: Latencies::of(latencies),
    })
}

/// Writes `events` keys with `writes` at [`MANY`] in flight while one task consumes `watch` (which yields the
/// number of events in each item) until it has seen them all.
async fn measure_watch(
    events: usize,
    writes: Op,
    mut watch: BoxStream<'static, anyhow::Result<usize>>,
) -> anyhow::Result<WatchStats> {
    let consumer = tokio::spawn(async move {
        let mut seen = 0;
        while seen < events {
            match watch.next().await {
                Some(batch) => seen += batch?,
                None => bail!("the watch ended after {seen} of {events} events"),
            }
        }
        anyhow::Ok(Instant::now())
    });
    let start = Instant::now();
    drive(events, MANY, writes).await.context("watched writes")?;
    let writes_done = start.elapsed();
    let last = tokio::time::timeout(WATCH_TIMEOUT, consumer)
        .await
        .with_context(|| format!("the watcher did not see {events} events within {WATCH_TIMEOUT:?}"))?
        .context("the watch task panicked")??;
    Ok(WatchStats {
        events,
        writes_done,
        delivered: last.duration_since(start),
    })
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

/// Raw etcd transactions in the shape of [`EtcdBackend::create`]: `If(mod_revision(key) == 0) Then(Put)`, of
/// `value` to `/bench/<tag>/<index>`.
fn raw_txn_creates(kv: &KvClient, tag: &str, value: &Bytes) -> Op {
    let (kv, tag, value) = (kv.clone(), tag.to_owned(), value.clone());
    Arc::new(move |_, index| {
        let mut kv = kv.clone();
        let key = format!("/bench/{tag}/{index:08}");
        let txn = Txn::new()
            .when([Compare::mod_revision(key.as_str(), CompareOp::Equal, 0)])
            .and_then([TxnOp::put(key.as_str(), value.to_vec(), None)]);
        async move {
            let response = kv.txn(txn).await.context("raw etcd txn")?;
            ensure!(response.succeeded(), "raw etcd txn: {key} exists");
            Ok(())
        }
        .boxed()
    })
}

/// [`Backend::create`] of `value` at `/bench/<tag>/<index>`.
fn creates(backend: &Arc<dyn Backend>, tag: &str, value: &Bytes) -> Op {
    let (backend, tag, value) = (Arc::clone(backend), tag.to_owned(), value.clone());
    Arc::new(move |_, index| {
        let backend = Arc::clone(&backend);
        let key = format!("/bench/{tag}/{index:08}");
        let value = value.clone();
        async move {
            backend
                .create(&key, value)
                .await
                .with_context(|| format!("create {key}"))?;
            Ok(())
        }
        .boxed()
    })
}

/// Creates [`MANY`] keys `/bench/<tag>/<worker>`, and returns the operation by which worker `w` updates key `w`
/// (compare-and-swap on the revision of its previous update).
async fn updates(backend: &Arc<dyn Backend>, tag: &str, value: &Bytes) -> anyhow::Result<Op> {
    let mut revisions = Vec::with_capacity(MANY);
    for worker in 0..MANY {
        let key = format!("/bench/{tag}/{worker:02}");
        let created = backend
            .create(&key, value.clone())
            .await
            .with_context(|| format!("create {key}"))?;
        revisions.push(AtomicI64::new(created.mod_revision.0));
    }
    let revisions = Arc::new(revisions);
    let (backend, tag, value) = (Arc::clone(backend), tag.to_owned(), value.clone());
    Ok(Arc::new(move |worker, _| {
        let (backend, revisions, value) = (Arc::clone(&backend), Arc::clone(&revisions), value.clone());
        let key = format!("/bench/{tag}/{worker:02}");
        async move {
            // Only worker `w` touches key `w`, so the revision it read is current.
            let expected = Revision(revisions[worker].load(Ordering::Relaxed));
            let updated = backend
                .update(&key, expected, value)
                .await
                .with_context(|| format!("update {key} at revision {expected}"))?;
            revisions[worker].store(updated.mod_revision.0, Ordering::Relaxed);
            Ok(())
        }
        .boxed()
    }))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn ratio(value: f64, reference: f64, what: &str) -> String {
    format!("{:.2}{what}", value / reference)
}

fn write_row(label: &str, in_flight: usize, stats: &WriteStats, ratio: &str) {
    println!(
        "{label:<LABEL$} {in_flight:>9} {:>7} {:>10.0} {:>8.2} {:>8.2}  {ratio}",
        stats.ops,
        stats.per_second(),
        ms(stats.latencies.p50),
        ms(stats.latencies.p99)
    );
}

fn read_row(label: &str, iterations: usize, stats: &WriteStats, ratio: &str) {
    println!(
        "{label:<LABEL$} {:>9} {iterations:>7} {:>10.1} {:>8.2} {:>8.2}  {ratio}",
        1,
        stats.per_second(),
        ms(stats.latencies.p50),
        ms(stats.latencies.p99)
    );
}

fn watch_row(label: &str, stats: &WatchStats, ratio: &str) {
    println!(
        "{label:<LABEL$} {:>9} {:>10.0} {:>13.3} {:>13.3}  {ratio}",
        stats.events,
        stats.per_second(),
        stats.writes_done.as_secs_f64(),
        stats.delivered.as_secs_f64()
    );
}
