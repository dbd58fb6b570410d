//! Watches: a storage watch turned into Kubernetes watch events for one collection.
//!
//! A watch from resourceVersion N delivers every change after N. Without a resourceVersion (or with "0") it
//! first delivers the current state as synthetic ADDED events, then the changes after the revision that
//! state was read at. A revision that storage no longer has ends the stream with an ERROR event carrying a
//! 410 `Expired` Status (HTTP stays 200), which is what clients re-list on.

use std::time::Duration;

use fcp_storage::{EventKind, Revision, StorageError, WatchEvent as StorageEvent};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    ResourceDef,
    store::{ListOptions, Store, Target, matches, parse_resource_version},
};
use crate::error::ApiError;

/// One line of a watch response: `{"type": ..., "object": ...}`.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchLine {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    pub event_type: &'static str,
    /// The object (a `Status` for `ERROR`).
    pub object: Value,
}

impl WatchLine {
    fn error(err: &ApiError) -> Self {
        Self {
            event_type: "ERROR",
            object: err.to_status(),
        }
    }
}

/// What a watch request asks for.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Selectors; `limit` and `continue` are ignored for watches.
    pub list: ListOptions,
    /// Close the stream after this long.
    pub timeout: Option<Duration>,
}

/// How many events may queue for a slow client before the producer waits.
const WATCH_BUFFER: usize = 256;

/// Starts a watch and returns the receiving end of its events. The producer task stops when the receiver is
/// dropped (the client went away), the timeout passes, `shutdown` is cancelled, or storage fails.
///
/// # Errors
/// 400 for an unparsable resourceVersion. Everything that goes wrong after the response has started is
/// reported as an ERROR event instead.
pub fn start(
    store: std::sync::Arc<Store>,
    resource: std::sync::Arc<ResourceDef>,
    namespace: Option<String>,
    options: WatchOptions,
    shutdown: CancellationToken,
) -> Result<mpsc::Receiver<WatchLine>, ApiError> {
    let from = match options.list.resource_version.as_deref() {
        None | Some("" | "0") => None,
        Some(rv) => Some(parse_resource_version(rv)?),
    };
    let (tx, rx) = mpsc::channel(WATCH_BUFFER);
    let span = tracing::info_span!(
        "watch",
        resource = %resource.qualified_resource(),
        namespace = namespace.as_deref().unwrap_or(""),
        resource_version = ?from,
    );
    tokio::spawn(
        async move {
            let run = produce(&store, &resource, namespace.as_deref(), from, &options, &tx);
            let deadline = async {
                match options.timeout {
                    Some(timeout) => tokio::time::sleep(timeout).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = run => {}
                () = deadline => tracing::debug!("watch timed out"),
                () = shutdown.cancelled() => tracing::debug!("watch closed by shutdown"),
                () = tx.closed() => tracing::debug!("watch client went away"),
            }
        }
        .instrument(span),
    );
    Ok(rx)
}

async fn produce(
    store: &Store,
    resource: &ResourceDef,
    namespace: Option<&str>,
    from: Option<Revision>,
    options: &WatchOptions,
    tx: &mpsc::Sender<WatchLine>,
) {
    let target = Target { resource, namespace };
    let after = match from {
        Some(revision) => revision,
        None => match initial_state(store, target, options, tx).await {
            Ok(Some(revision)) => revision,
            Ok(None) => return,
            Err(err) => {
                let _ = tx.send(WatchLine::error(&err)).await;
                return;
            }
        },
    };
    let prefix = store.collection_prefix(target);
    let mut events = match store.backend().watch(&prefix, after).await {
        Ok(events) => events,
        Err(err) => {
            let _ = tx
                .send(WatchLine::error(&watch_error(err, resource, after)))
                .await;
            return;
        }
    };
    while let Some(event) = events.next().await {
        let line = match event {
            Ok(event) => match to_line(store, resource, &event, &options.list) {
                Ok(Some(line)) => line,
                Ok(None) => continue,
                Err(err) => WatchLine::error(&err),
            },
            Err(err) => WatchLine::error(&watch_error(err, resource, after)),
        };
        let is_error = line.event_type == "ERROR";
        if tx.send(line).await.is_err() || is_error {
            return;
        }
    }
}

/// Sends the current state as ADDED events; returns the revision it was read at (`None` when the client
/// went away).
async fn initial_state(
    store: &Store,
    target: Target<'_>,
    options: &WatchOptions,
    tx: &mpsc::Sender<WatchLine>,
) -> Result<Option<Revision>, ApiError> {
    let mut list_options = options.list.clone();
    list_options.limit = 0;
    list_options.continue_token = None;
    list_options.resource_version = None;
    list_options.resource_version_match = None;
    let list = store.list(target, &list_options).await?;
    let revision = list["metadata"]["resourceVersion"]
        .as_str()
        .map(parse_resource_version)
        .transpose()?;
    let items = match list {
        Value::Object(mut map) => map.remove("items"),
        _ => None,
    };
    for mut item in items
        .and_then(|i| match i {
            Value::Array(items) => Some(items),
            _ => None,
        })
        .unwrap_or_default()
    {
        if let Some(map) = item.as_object_mut() {
            map.insert("apiVersion".to_owned(), json!(target.resource.api_version()));
            map.insert("kind".to_owned(), json!(target.resource.kind));
        }
        if tx
            .send(WatchLine {
                event_type: "ADDED",
                object: item,
            })
            .await
            .is_err()
        {
            return Ok(None);
        }
    }
    Ok(Some(revision.unwrap_or(Revision::ZERO)))
}

/// Turns a storage event into a watch line, applying the selectors with kube's transition rules: an object
/// that stops matching is DELETED for this watcher, one that starts matching is ADDED.
fn to_line(
    store: &Store,
    resource: &ResourceDef,
    event: &StorageEvent,
    options: &ListOptions,
) -> Result<Option<WatchLine>, ApiError> {
    let revision = event.revision();
    let previous = event
        .prev
        .as_ref()
        .map(|prev| store.decode(resource, prev, Some(revision)))
        .transpose()?;
    let was_matching = previous.as_ref().is_some_and(|p| matches(p, options));
    match event.kind {
        EventKind::Delete => Ok(previous.filter(|_| was_matching).map(|object| WatchLine {
            event_type: "DELETED",
            object,
        })),
        EventKind::Put => {
            let object = store.decode(resource, &event.kv, None)?;
            let is_matching = matches(&object, options);
            let line = match (was_matching, is_matching) {
                (false, true) => Some(WatchLine {
                    event_type: "ADDED",
                    object,
                }),
                (true, true) => Some(WatchLine {
                    event_type: "MODIFIED",
                    object,
                }),
                (true, false) => {
                    let mut gone = object;
                    if let Some(prev) = previous {
                        gone = prev;
                    }
                    Some(WatchLine {
                        event_type: "DELETED",
                        object: gone,
                    })
                }
                (false, false) => None,
            };
            Ok(line)
        }
    }
}

fn watch_error(err: StorageError, resource: &ResourceDef, after: Revision) -> ApiError {
    match err {
        StorageError::Compacted { compacted, .. } => {
            ApiError::expired(format!("too old resource version: {after} ({compacted})"))
        }
        other => ApiError::from_storage(other, resource, ""),
    }
}
