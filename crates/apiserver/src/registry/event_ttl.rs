//! `--event-ttl`: events expire a fixed time after they were last recorded, as kube-apiserver's etcd leases
//! make them do. Here a reaper deletes them: every minute (or TTL/10, if shorter) it removes each event whose
//! last recorded time (`series.lastObservedTime`, `lastTimestamp`, `eventTime` or `creationTimestamp`,
//! whichever is latest) is older than the TTL.

use std::{sync::Arc, time::Duration};

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{
    ResourceDef, meta,
    store::{DeleteOptions, ListOptions, Store, Target},
};

/// Deletes expired events until `shutdown`. `events` is the core `v1` events resource (events.k8s.io shares
/// its storage).
pub async fn run_reaper(
    store: Arc<Store>,
    events: Arc<ResourceDef>,
    ttl: Duration,
    shutdown: CancellationToken,
) {
    let period = (ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = shutdown.cancelled() => return,
        }
        let now = Timestamp::now();
        let target = Target {
            resource: &events,
            namespace: None,
            user: None,
        };
        let list = match store.list(target, &ListOptions::default()).await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!(error = %e, "event reaper cannot list events");
                continue;
            }
        };
        let mut expired = 0usize;
        for event in list["items"].as_array().into_iter().flatten() {
            if !is_expired(event, now, ttl) {
                continue;
            }
            let (Some(name), namespace) = (
                meta::string_field(event, "name"),
                meta::string_field(event, "namespace"),
            ) else {
                continue;
            };
            let target = Target {
                resource: &events,
                namespace,
                user: None,
            };
            match store.delete(target, name, &DeleteOptions::default()).await {
                Ok(_) => expired += 1,
                Err(e) if e.code == 404 => {}
                Err(e) => tracing::warn!(error = %e, event = name, "event reaper cannot delete an event"),
            }
        }
        if expired > 0 {
            tracing::debug!(expired, "deleted expired events");
        }
    }
}

/// Whether `event` was last recorded more than `ttl` before `now`. Events without any timestamp never
/// expire here (they cannot be aged).
#[must_use]
pub fn is_expired(event: &Value, now: Timestamp, ttl: Duration) -> bool {
    let candidates = [
        &event["series"]["lastObservedTime"],
        &event["lastTimestamp"],
        &event["eventTime"],
        &event["metadata"]["creationTimestamp"],
    ];
    let last = candidates
        .iter()
        .filter_map(|v| v.as_str())
        .filter_map(|s| s.parse::<Timestamp>().ok())
        .max();
    let Ok(ttl) = k8s_openapi::jiff::SignedDuration::try_from(ttl) else {
        return false;
    };
    last.is_some_and(|last| now.duration_since(last) > ttl)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_latest_timestamp_decides() {
        let now: Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        let ttl = Duration::from_secs(3600);
        let old = json!({"metadata": {"creationTimestamp": "2026-01-01T10:00:00Z"}});
        assert!(is_expired(&old, now, ttl));
        let refreshed = json!({"metadata": {"creationTimestamp": "2026-01-01T10:00:00Z"}, "lastTimestamp": "2026-01-01T11:30:00Z"});
        assert!(!is_expired(&refreshed, now, ttl));
        let series = json!({"metadata": {"creationTimestamp": "2026-01-01T09:00:00Z"}, "series": {"lastObservedTime": "2026-01-01T11:59:00.000000Z"}});
        assert!(!is_expired(&series, now, ttl));
        assert!(!is_expired(&json!({"metadata": {}}), now, ttl));
    }
}
