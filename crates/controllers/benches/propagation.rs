//! Propagation benchmark: the controller manager pushing ConfigMaps from a federation apiserver into 10
//! simulated member clusters, against the physical limit (raw etcd through `etcd_client`) measured in the
//! same run on the same etcd.
//!
//! `cargo bench -p fcp-controllers --bench propagation` (or `make bench`); needs `etcd` on `PATH` (Debian
//! `etcd-server`). `FCP_BENCH_OBJECTS=N` sets the object count (default 1000) and `FCP_BENCH_CLUSTERS=N` the
//! member count (default 10). Started without `--bench` (as `cargo test --benches` does) it makes a quick
//! smoke pass with 3 members and 30 objects.
//!
//! One etcd holds everything: the federation apiserver's keys under `/federation` and each member's under
//! `/cluster-<i>`, so every write of the federation, of the controller manager and of the members lands on
//! the etcd whose raw figures are the floor. Everything else (11 apiservers, the simulators, the
//! controller manager, the kube-rs clients that create and watch) runs in this process on the same 2 cores.
//!
//! - Latency, idle: objects created one at a time, each waited for in every member. The floor is two
//!   sequential raw puts: the create in the federation, then the copies, written in parallel.
//! - Latency and throughput, burst: every object created at 16 in flight; each object's latency runs from
//!   the start of its create to the moment the last member's watch delivers its copy. The floor is the
//!   raw put throughput at 64 in flight for the burst's writes: one per object in the federation plus one
//!   per object and member.
//! - Restart: the controller manager stopped and started again with every object in sync; the time until
//!   every object was reconciled and the queues are empty, and the member writes it issued (goal: 0).
//!   The floor is one raw range read of every key in etcd.

use fcp_testkit::latency::Latencies;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail, ensure};
use clap::Parser;
use etcd_client::{Client as EtcdClient, GetOptions};
use fcp_api::{Cluster, ClusterSpec, ServerAddressByClientCIDR};
use fcp_controllers::{ControllerManager, ControllerManagerOptions};
use fcp_testkit::{apiserver::TestApiServer, etcd::TestEtcd, simcluster::TestSimCluster};
use futures::{StreamExt as _, TryStreamExt as _};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
    runtime::{WatchStreamExt as _, watcher},
};
use tokio_util::sync::CancellationToken;

/// The namespace of the benchmark's ConfigMaps.
const NAMESPACE: &str = "bench";
/// Creates in flight during the burst.
const CREATE_IN_FLIGHT: usize = 16;
/// Raw puts in flight for the throughput floor.
const RAW_IN_FLIGHT: usize = 64;
/// Bytes of `data` in every ConfigMap.
const DATA_SIZE: usize = 256;
/// How long any phase may take before the run is declared stuck.
const PHASE_TIMEOUT: Duration = Duration::from_secs(600);
/// Width of the label column.
const LABEL: usize = 50;

/// The sizes of one run.
struct Settings {
    smoke: bool,
    clusters: usize,
    objects: usize,
    idle_objects: usize,
}

fn env_count(name: &str, default: usize) -> anyhow::Result<usize> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse::<usize>()
            .with_context(|| format!("{name}={value:?} is not a whole number")),
        Err(std::env::VarError::NotPresent) => Ok(default),
        Err(e) => Err(e).with_context(|| format!("read {name}")),
    }
}

impl Settings {
    fn from_env() -> anyhow::Result<Self> {
        // `cargo bench` passes `--bench`; `cargo test --benches` runs the binary without it.
        let smoke = !std::env::args().any(|arg| arg == "--bench");
        let clusters = env_count("FCP_BENCH_CLUSTERS", if smoke { 3 } else { 10 })?;
        let objects = env_count("FCP_BENCH_OBJECTS", if smoke { 30 } else { 1000 })?;
        ensure!(
            (1..=50).contains(&clusters),
            "FCP_BENCH_CLUSTERS must be 1..=50, got {clusters}"
        );
        ensure!(
            objects >= 10,
            "FCP_BENCH_OBJECTS must be at least 10, got {objects}"
        );
        Ok(Self {
            smoke,
            clusters,
            objects,
            idle_objects: (objects / 10).max(10),
        })
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(label: &str, figures: &str) {
    println!("{label:<LABEL$} {figures}");
}

/// Resident set size of this process in MiB, from `/proc/self/status`.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmRSS:")
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

// ---------------------------------------------------------------------------------------------------------
// The floor: raw etcd.

/// Raw put latency at 1 in flight and throughput at [`RAW_IN_FLIGHT`], with values as large as a stored
/// ConfigMap of the benchmark.
async fn raw_puts(endpoint: &str, ops: usize) -> anyhow::Result<(Latencies, f64)> {
    let client = EtcdClient::connect([endpoint], None)
        .await
        .context("connect to etcd")?;
    let value = vec![b'x'; DATA_SIZE + 400];
    let mut kv = client.kv_client();
    let mut samples = Vec::with_capacity(ops);
    for i in 0..ops {
        let started = Instant::now();
        kv.put(format!("/raw/one/{i}"), value.clone(), None).await?;
        samples.push(started.elapsed());
    }
    let many = ops * 4;
    let started = Instant::now();
    futures::stream::iter(0..many)
        .map(|i| {
            let mut kv = client.kv_client();
            let value = value.clone();
            async move { kv.put(format!("/raw/many/{i}"), value, None).await.map(|_| ()) }
        })
        .buffer_unordered(RAW_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    let per_second = many as f64 / started.elapsed().as_secs_f64();
    let mut kv = client.kv_client();
    kv.delete("/raw/", Some(etcd_client::DeleteOptions::new().with_prefix()))
        .await?;
    Ok((Latencies::of(samples), per_second))
}

/// Raw range reads of every apiserver's keys (one read per prefix, as each apiserver lists its own):
/// `(keys, total time)`.
async fn raw_read_everything(endpoint: &str, prefixes: &[String]) -> anyhow::Result<(usize, Duration)> {
    let client = EtcdClient::connect([endpoint], None)
        .await
        .context("connect to etcd")?;
    let mut kv = client.kv_client();
    let mut keys = 0;
    let mut took = Duration::ZERO;
    for prefix in prefixes {
        let started = Instant::now();
        let response = kv
            .get(format!("{prefix}/"), Some(GetOptions::new().with_prefix()))
            .await?;
        took += started.elapsed();
        keys += response.kvs().len();
    }
    Ok((keys, took))
}

// ---------------------------------------------------------------------------------------------------------
// The federation under test.

#[derive(Parser)]
struct Flags {
    #[command(flatten)]
    options: ControllerManagerOptions,
}

async fn start_manager(client: &kube::Client) -> anyhow::Result<(ControllerManager, CancellationToken)> {
    let options = Flags::try_parse_from([
        "federation-controller-manager",
        "--port",
        "0",
        "--address",
        "127.0.0.1",
        "--cluster-monitor-period",
        "2s",
    ])?
    .options;
    let shutdown = CancellationToken::new();
    let manager = fcp_controllers::start_with_client(options, client.clone(), shutdown.clone()).await?;
    Ok((manager, shutdown))
}

async fn join(client: &kube::Client, name: &str, address: &str) -> anyhow::Result<()> {
    let cluster = Cluster::new(
        name,
        ClusterSpec {
            server_address_by_client_cidrs: vec![ServerAddressByClientCIDR {
                client_cidr: "0.0.0.0/0".into(),
                server_address: address.to_owned(),
            }],
            secret_ref: None,
        },
    );
    Api::<Cluster>::all(client.clone())
        .create(&PostParams::default(), &cluster)
        .await
        .with_context(|| format!("create cluster {name}"))?;
    Ok(())
}

/// Polls `check` every 20 ms until it is true, failing after [`PHASE_TIMEOUT`].
async fn wait_for<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + PHASE_TIMEOUT;
    loop {
        if check().await.unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// When each object's copy arrived in each member, from one watch per member.
#[derive(Default)]
struct Arrivals {
    /// Object name → (members that have it, when the last one arrived).
    seen: Mutex<HashMap<String, (usize, Instant)>>,
}

impl Arrivals {
    fn record(&self, name: String) {
        let now = Instant::now();
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = seen.entry(name).or_insert((0, now));
        entry.0 += 1;
        entry.1 = now;
    }

    /// When `name` reached all `members`, if it has.
    fn complete(&self, name: &str, members: usize) -> Option<Instant> {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.get(name)
            .filter(|(count, _)| *count >= members)
            .map(|(_, at)| *at)
    }

    fn completed(&self, members: usize) -> usize {
        let seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.values().filter(|(count, _)| *count >= members).count()
    }
}

/// Watches ConfigMaps of [`NAMESPACE`] in `member`, recording the first sight of each.
fn watch_member(member: kube::Client, arrivals: Arc<Arrivals>, stop: CancellationToken) {
    tokio::spawn(async move {
        let api = Api::<ConfigMap>::namespaced(member, NAMESPACE);
        let mut known = std::collections::HashSet::new();
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()).default_backoff());
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => return,
                event = events.next() => event,
            };
            match event {
                Some(Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object))) => {
                    if let Some(name) = object.metadata.name
                        && known.insert(name.clone())
                    {
                        arrivals.record(name);
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => eprintln!("member watch: {error}"),
                None => return,
            }
        }
    });
}

fn config_map(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some([("payload".to_owned(), "x".repeat(DATA_SIZE))].into()),
        ..ConfigMap::default()
    }
}

fn reconciles(metrics: &str, controller: &str) -> u64 {
    metric(
        metrics,
        &format!("fcp_reconciles_total{{controller=\"{controller}\"}}"),
    )
}

fn metric(metrics: &str, series: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

fn queue_depths(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("fcp_queue_depth{"))
        .filter_map(|line| line.rsplit(' ').next())
        .filter_map(|v| v.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let etcd = TestEtcd::start()?;
    let endpoint = etcd.endpoint();
    println!(
        "propagation benchmark{}: {} simulated members, {} ConfigMaps of {DATA_SIZE} B, one etcd for all",
        if settings.smoke { " (smoke pass)" } else { "" },
        settings.clusters,
        settings.objects
    );

    let raw_ops = if settings.smoke { 100 } else { 1000 };
    let (raw_latency, raw_per_second) = raw_puts(&endpoint, raw_ops).await?;
    row(
        "raw etcd put, 1 in flight",
        &format!(
            "p50 {:.2} ms  p99 {:.2} ms",
            ms(raw_latency.p50),
            ms(raw_latency.p99)
        ),
    );
    row(
        &format!("raw etcd put, {RAW_IN_FLIGHT} in flight"),
        &format!("{raw_per_second:.0} puts/s"),
    );

    let federation = TestApiServer::etcd(&endpoint, "/federation").await?;
    let client = kube::Client::try_from(kube::Config::new(federation.base_url().parse()?))?;
    let mut members = Vec::new();
    for i in 1..=settings.clusters {
        let name = format!("cluster-{i}");
        let prefix = format!("/{name}");
        let member =
            TestSimCluster::start(&name, &["--etcd-servers", &endpoint, "--etcd-prefix", &prefix]).await?;
        join(&client, &name, member.base_url()).await?;
        members.push(member);
    }
    let rss_before = rss_mib();
    let (manager, shutdown) = start_manager(&client).await?;
    let clusters = Api::<Cluster>::all(client.clone());
    wait_for("every member Ready", || async {
        let list = clusters.list(&Default::default()).await?;
        Ok(list.items.iter().filter(|c| c.is_ready()).count() == settings.clusters)
    })
    .await?;
    Api::<Namespace>::all(client.clone())
        .create(
            &PostParams::default(),
            &Namespace {
                metadata: ObjectMeta {
                    name: Some(NAMESPACE.to_owned()),
                    ..ObjectMeta::default()
                },
                ..Namespace::default()
            },
        )
        .await?;
    for member in &members {
        let namespaces = Api::<Namespace>::all(member.client());
        wait_for("the namespace in every member", || async {
            Ok(namespaces.get_opt(NAMESPACE).await?.is_some())
        })
        .await?;
    }

    let arrivals = Arc::new(Arrivals::default());
    let stop_watches = CancellationToken::new();
    // The member watches end with this function, whichever way it returns.
    let _stop_watches_on_return = stop_watches.clone().drop_guard();
    for member in &members {
        watch_member(member.client(), arrivals.clone(), stop_watches.clone());
    }
    let configmaps = Api::<ConfigMap>::namespaced(client.clone(), NAMESPACE);

    // Idle: one object at a time.
    let mut idle = Vec::with_capacity(settings.idle_objects);
    for i in 0..settings.idle_objects {
        let name = format!("idle-{i}");
        let started = Instant::now();
        configmaps
            .create(&PostParams::default(), &config_map(&name))
            .await?;
        let deadline = Instant::now() + PHASE_TIMEOUT;
        let arrived = loop {
            if let Some(at) = arrivals.complete(&name, settings.clusters) {
                break at;
            }
            ensure!(Instant::now() < deadline, "{name} did not reach every member");
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        idle.push(arrived.saturating_duration_since(started));
    }
    let idle = Latencies::of(idle);
    let idle_floor = raw_latency.p50 * 2;
    row(
        &format!(
            "propagation, idle ({} objects, one at a time)",
            settings.idle_objects
        ),
        &format!(
            "p50 {:.1} ms  p99 {:.1} ms  ({:.0}x the floor of 2 raw puts, {:.2} ms)",
            ms(idle.p50),
            ms(idle.p99),
            idle.p50.as_secs_f64() / idle_floor.as_secs_f64(),
            ms(idle_floor)
        ),
    );

    // Burst: every object at CREATE_IN_FLIGHT in flight.
    let writes_before = manager.metrics().member_writes();
    let starts = Arc::new(Mutex::new(HashMap::new()));
    let started = Instant::now();
    futures::stream::iter(0..settings.objects)
        .map(|i| {
            let configmaps = configmaps.clone();
            let starts = starts.clone();
            async move {
                let name = format!("object-{i}");
                let object = config_map(&name);
                starts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(name, Instant::now());
                configmaps
                    .create(&PostParams::default(), &object)
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(CREATE_IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    let created = started.elapsed();
    let total = settings.idle_objects + settings.objects;
    wait_for("every object in every member", || async {
        Ok(arrivals.completed(settings.clusters) >= total)
    })
    .await?;
    let propagated = started.elapsed();
    let burst_writes = manager.metrics().member_writes() - writes_before;
    let starts = starts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let burst = Latencies::of(
        starts
            .iter()
            .filter_map(|(name, start)| {
                arrivals
                    .complete(name, settings.clusters)
                    .map(|at| at.saturating_duration_since(*start))
            })
            .collect(),
    );
    let floor_writes = settings.objects * (settings.clusters + 1);
    let burst_floor = Duration::from_secs_f64(floor_writes as f64 / raw_per_second);
    row(
        &format!(
            "propagation, burst ({} objects, {CREATE_IN_FLIGHT} creates in flight)",
            settings.objects
        ),
        &format!("p50 {:.0} ms  p99 {:.0} ms", ms(burst.p50), ms(burst.p99)),
    );
    row(
        "  all created / all in every member",
        &format!(
            "{:.2} s / {:.2} s  ({:.0} objects/s; {:.1}x the floor of {floor_writes} raw puts, {:.2} s)",
            created.as_secs_f64(),
            propagated.as_secs_f64(),
            settings.objects as f64 / propagated.as_secs_f64(),
            propagated.as_secs_f64() / burst_floor.as_secs_f64(),
            burst_floor.as_secs_f64()
        ),
    );
    row(
        "  member writes issued",
        &format!(
            "{burst_writes} for {} copies",
            settings.objects * settings.clusters
        ),
    );
    row(
        "  RSS of this process (all servers + manager)",
        &format!("{:.0} MiB (before the manager: {rss_before:.0} MiB)", rss_mib()),
    );

    // Restart with everything in sync.
    let before_restart = manager.metrics().member_writes();
    shutdown.cancel();
    manager.wait().await?;
    let started = Instant::now();
    let (manager, shutdown) = start_manager(&client).await?;
    wait_for("every object reconciled after the restart", || async {
        let text = manager.metrics().render();
        Ok(reconciles(&text, "configmaps") >= total as u64 && queue_depths(&text) == 0)
    })
    .await?;
    let restart = started.elapsed();
    let restart_writes = manager.metrics().member_writes();
    let prefixes: Vec<String> = std::iter::once("/federation".to_owned())
        .chain((1..=settings.clusters).map(|i| format!("/cluster-{i}")))
        .collect();
    let (keys, read_all) = raw_read_everything(&endpoint, &prefixes).await?;
    row(
        &format!(
            "restart in sync ({total} objects x {} members)",
            settings.clusters
        ),
        &format!(
            "{:.2} s to reconcile all, {restart_writes} member writes (goal 0; {:.0}x the floor: raw reads of all {keys} keys, {:.0} ms)",
            restart.as_secs_f64(),
            restart.as_secs_f64() / read_all.as_secs_f64(),
            ms(read_all)
        ),
    );
    ensure!(
        before_restart >= (settings.objects * settings.clusters) as u64,
        "fewer member writes than copies before the restart"
    );
    stop_watches.cancel();
    shutdown.cancel();
    manager.wait().await?;
    for member in members {
        member.stop().await?;
    }
    federation.stop().await?;
    if restart_writes != 0 {
        bail!("the restart issued {restart_writes} member writes; nothing had changed");
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(settings))
}
