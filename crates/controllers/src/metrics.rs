//! The controller-manager's Prometheus metrics, rendered by hand in the text exposition format (0.0.4).
//!
//! Counters are atomics; the per-cluster health gauge and per-controller series sit behind one mutex that
//! is taken once per reconcile or probe, never across an await.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// Per-controller figures.
#[derive(Debug, Default, Clone)]
struct ControllerSeries {
    reconciles: u64,
    errors: u64,
    duration_seconds_sum: f64,
    queue_depth: u64,
}

/// Every metric the controller-manager exports.
#[derive(Debug, Default)]
pub struct Metrics {
    member_writes: AtomicU64,
    probes: AtomicU64,
    controllers: Mutex<BTreeMap<&'static str, ControllerSeries>>,
    cluster_ready: Mutex<BTreeMap<String, bool>>,
}

/// One exported metric family: name, type, help text and how to read a controller's value.
type MetricFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ControllerSeries) -> String,
);

impl Metrics {
    /// A write (create, update or delete) sent to a member cluster.
    pub fn member_write(&self) {
        self.member_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes sent to member clusters since start.
    #[must_use]
    pub fn member_writes(&self) -> u64 {
        self.member_writes.load(Ordering::Relaxed)
    }

    /// One health probe of a member.
    pub fn probe(&self) {
        self.probes.fetch_add(1, Ordering::Relaxed);
    }

    /// One reconcile of `controller`, how long it took and whether it failed.
    pub fn reconcile(&self, controller: &'static str, took: Duration, failed: bool) {
        let mut controllers = self
            .controllers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let series = controllers.entry(controller).or_default();
        series.reconciles += 1;
        series.errors += u64::from(failed);
        series.duration_seconds_sum += took.as_secs_f64();
    }

    /// The number of keys waiting in `controller`'s queue.
    pub fn queue_depth(&self, controller: &'static str, depth: usize) {
        let mut controllers = self
            .controllers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        controllers.entry(controller).or_default().queue_depth = depth as u64;
    }

    /// The health of member `cluster` after a probe; `None` forgets a deleted cluster.
    pub fn cluster_health(&self, cluster: &str, ready: Option<bool>) {
        let mut clusters = self
            .cluster_ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match ready {
            Some(ready) => {
                clusters.insert(cluster.to_owned(), ready);
            }
            None => {
                clusters.remove(cluster);
            }
        }
    }

    /// The exposition text for `/metrics`.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP fcp_member_writes_total Creates, updates and deletes sent to member clusters."
        );
        let _ = writeln!(out, "# TYPE fcp_member_writes_total counter");
        let _ = writeln!(out, "fcp_member_writes_total {}", self.member_writes());
        let _ = writeln!(
            out,
            "# HELP fcp_cluster_probes_total Health probes of member clusters."
        );
        let _ = writeln!(out, "# TYPE fcp_cluster_probes_total counter");
        let _ = writeln!(
            out,
            "fcp_cluster_probes_total {}",
            self.probes.load(Ordering::Relaxed)
        );
        let controllers = self
            .controllers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let families: [MetricFamily; 4] = [
            (
                "fcp_reconciles_total",
                "counter",
                "Reconciles per controller.",
                |s| s.reconciles.to_string(),
            ),
            (
                "fcp_reconcile_errors_total",
                "counter",
                "Failed reconciles per controller.",
                |s| s.errors.to_string(),
            ),
            (
                "fcp_reconcile_duration_seconds_sum",
                "counter",
                "Time spent reconciling per controller.",
                |s| format!("{:.6}", s.duration_seconds_sum),
            ),
            (
                "fcp_queue_depth",
                "gauge",
                "Keys waiting in each controller's queue.",
                |s| s.queue_depth.to_string(),
            ),
        ];
        for (name, kind, help, value) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (controller, series) in &controllers {
                let _ = writeln!(out, "{name}{{controller=\"{controller}\"}} {}", value(series));
            }
        }
        let _ = writeln!(
            out,
            "# HELP fcp_cluster_ready Whether each member cluster was Ready at its last probe."
        );
        let _ = writeln!(out, "# TYPE fcp_cluster_ready gauge");
        let clusters = self
            .cluster_ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (cluster, ready) in clusters.iter() {
            let _ = writeln!(
                out,
                "fcp_cluster_ready{{cluster=\"{}\"}} {}",
                escape_label(cluster),
                u8::from(*ready)
            );
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_family() {
        let metrics = Metrics::default();
        metrics.member_write();
        metrics.reconcile("clusters", Duration::from_millis(5), true);
        metrics.cluster_health("c1", Some(true));
        metrics.cluster_health("c2", Some(false));
        metrics.cluster_health("c2", None);
        let text = metrics.render();
        assert!(text.contains("fcp_member_writes_total 1\n"), "{text}");
        assert!(
            text.contains("fcp_reconcile_errors_total{controller=\"clusters\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("fcp_cluster_ready{cluster=\"c1\"} 1\n"), "{text}");
        assert!(!text.contains("c2"), "{text}");
    }
}
