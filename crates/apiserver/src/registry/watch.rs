//! Watches: Kubernetes watch events for one collection, served from the watch cache (or, while the cache is
//! not ready, from a storage watch of its own).
//!
//! - `resourceVersion=N`: every change after N.
//! - no resourceVersion, or `0`: the current state first as synthetic ADDED events (a consistent read from
//!   storage when unset, the cache's copy for `0`), then the changes after it.
//! - `sendInitialEvents=true` (with `resourceVersionMatch=NotOlderThan`): the current state, then a BOOKMARK
//!   annotated `k8s.io/initial-events-end: "true"` carrying the state's revision, then changes.
//! - `allowWatchBookmarks=true`: a BOOKMARK with the latest revision delivered, every minute and before a
//!   timeout closes the stream.
//! - A revision nobody has any more ends the stream with an ERROR event carrying a 410 `Expired` Status; HTTP
//!   stays 200 (clients re-list on it).

use std::{sync::Arc, time::Duration};

use fcp_storage::{EventKind, Revision, StorageError, WatchEvent as StorageEvent};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{
    ResourceDef,
    cache::{CacheError, CachedEvent, CachedObject},
    store::{ListOptions, Store, Target, matches, parse_resource_version},
};
use crate::error::ApiError;

/// How often a watch with `allowWatchBookmarks=true` gets a BOOKMARK.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// How many events may queue for a slow client before the producer waits.
const WATCH_BUFFER: usize = 256;

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

    fn bookmark(resource: &ResourceDef, revision: Revision, initial_events_end: bool) -> Self {
        let mut metadata = json!({"resourceVersion": revision.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        Self {
            event_type: "BOOKMARK",
            object: json!({"kind": resource.kind, "apiVersion": resource.api_version(), "metadata": metadata}),
        }
    }
}

/// What a watch request asks for.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Selectors and resourceVersion; `limit` and `continue` are ignored for watches.
    pub list: ListOptions,
    /// Close the stream after this long.
    pub timeout: Option<Duration>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`, when given.
    pub send_initial_events: Option<bool>,
}

impl WatchOptions {
    /// Checks the combinations kube-apiserver rejects (422 on `ListOptions`).
    ///
    /// # Errors
    /// 422 Invalid naming the offending option.
    pub fn validate(&self) -> Result<(), ApiError> {
        let invalid = |message: &str| ApiError::invalid_options(message);
        let rv_match = self.list.resource_version_match.as_deref();
        match self.send_initial_events {
            Some(true) if rv_match != Some("NotOlderThan") => Err(invalid(
                "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            )),
            None if rv_match.is_some() => Err(invalid(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            )),
            _ => Ok(()),
        }
    }
}

/// Starts a watch and returns the receiving end of its events. The producer task stops when the receiver is
/// dropped (the client went away), the timeout passes, `shutdown` is cancelled, or an error was sent.
///
/// # Errors
/// 400 for an unparsable resourceVersion, 422 for invalid option combinations. Everything that goes wrong
/// after the response has started is reported as an ERROR event instead.
pub fn start(
    store: Arc<Store>,
    resource: Arc<ResourceDef>,
    namespace: Option<String>,
    options: WatchOptions,
    shutdown: CancellationToken,
) -> Result<mpsc::Receiver<WatchLine>, ApiError> {
    options.validate()?;
    let from = match options.list.resource_version.as_deref() {
        None | Some("") => Start::Latest,
        Some("0") => Start::Any,
        Some(rv) => Start::After(parse_resource_version(rv)?),
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
            let mut watch = Producer {
                store: &store,
                resource: &resource,
                namespace: namespace.as_deref(),
                options: &options,
                tx: &tx,
                position: Revision::ZERO,
            };
            let timeout = options.timeout;
            let run = watch.run(from);
            tokio::pin!(run);
            let deadline = async {
                match timeout {
                    Some(timeout) => tokio::time::sleep(timeout).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut run => {}
                () = deadline => {
                    tracing::debug!("watch timed out");
                }
                () = shutdown.cancelled() => tracing::debug!("watch closed by shutdown"),
                () = tx.closed() => tracing::debug!("watch client went away"),
            }
        }
        .instrument(span),
    );
    Ok(rx)
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// No resourceVersion: a consistent read of the current state.
    Latest,
    /// `resourceVersion=0`: any recent state (the cache's).
    Any,
    /// `resourceVersion=N`: the changes after N.
    After(Revision),
}

/// The state of one watch: what it sends to, and the revision it has delivered up to.
struct Producer<'a> {
    store: &'a Store,
    resource: &'a ResourceDef,
    namespace: Option<&'a str>,
    options: &'a WatchOptions,
    tx: &'a mpsc::Sender<WatchLine>,
    position: Revision,
}

/// The watch ended: the client went away or an ERROR was sent.
struct Closed;

impl Producer<'_> {
    async fn run(&mut self, from: Start) {
        let _ = self.stream(from).await;
    }

    async fn stream(&mut self, from: Start) -> Result<(), Closed> {
        let initial = matches!(
            (from, self.options.send_initial_events),
            (_, Some(true)) | (Start::Latest | Start::Any, None)
        );
        self.position = match from {
            Start::After(revision) => revision,
            Start::Latest | Start::Any => Revision::ZERO,
        };
        if initial {
            let use_cache = matches!(from, Start::Any | Start::After(_));
            self.send_initial_state(use_cache, from).await?;
            if self.options.send_initial_events == Some(true) {
                self.send(WatchLine::bookmark(self.resource, self.position, true))
                    .await?;
            }
        } else if matches!(from, Start::Latest | Start::Any) {
            // sendInitialEvents=false without a revision: changes from now on.
            self.position = self.current_revision().await?;
        }
        match self.store.watch_cache(self.resource) {
            Some(cache) => match cache.watch_from(self.position) {
                Ok(watcher) => self.follow_cache(watcher).await,
                Err(CacheError::Expired { requested, oldest }) => Err(self.expired(requested, oldest).await),
                Err(CacheError::NotReady) => self.follow_storage().await,
            },
            None => self.follow_storage().await,
        }
    }

    async fn send(&self, line: WatchLine) -> Result<(), Closed> {
        let is_error = line.event_type == "ERROR";
        if self.tx.send(line).await.is_err() || is_error {
            return Err(Closed);
        }
        Ok(())
    }

    async fn fail(&self, err: &ApiError) -> Closed {
        let _ = self.tx.send(WatchLine::error(err)).await;
        Closed
    }

    async fn expired(&self, requested: Revision, oldest: Revision) -> Closed {
        self.fail(&ApiError::expired(format!(
            "too old resource version: {requested} ({oldest})"
        )))
        .await
    }

    async fn current_revision(&self) -> Result<Revision, Closed> {
        match self.store.backend().current_revision().await {
            Ok(revision) => Ok(revision),
            Err(e) => Err(self.fail(&ApiError::from_storage(e, self.resource, "")).await),
        }
    }

    fn target(&self) -> Target<'_> {
        Target {
            resource: self.resource,
            namespace: self.namespace,
            user: None,
        }
    }

    /// Sends the current state as ADDED events and moves the position to its revision: from the cache when
    /// it may serve it, else a consistent list from storage.
    async fn send_initial_state(&mut self, use_cache: bool, from: Start) -> Result<(), Closed> {
        let prefix = self.store.collection_prefix(self.target());
        if use_cache
            && let Some(cache) = self.store.watch_cache(self.resource)
            && let Ok(snapshot) = cache.snapshot(&prefix)
            && !matches!(from, Start::After(r) if snapshot.revision < r)
        {
            for object in &snapshot.objects {
                let served = self
                    .store
                    .serve(self.resource, object.object.clone(), object.mod_revision);
                if matches(self.resource, &served, &self.options.list) {
                    self.send(WatchLine {
                        event_type: "ADDED",
                        object: served,
                    })
                    .await?;
                }
            }
            self.position = snapshot.revision;
            return Ok(());
        }
        let mut list_options = self.options.list.clone();
        list_options.limit = 0;
        list_options.continue_token = None;
        list_options.resource_version = None;
        list_options.resource_version_match = None;
        let list = match self.store.list(self.target(), &list_options).await {
            Ok(list) => list,
            Err(err) => return Err(self.fail(&err).await),
        };
        let revision = list["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|rv| rv.parse().ok());
        if let Value::Object(mut map) = list
            && let Some(Value::Array(items)) = map.remove("items")
        {
            for mut item in items {
                if let Some(map) = item.as_object_mut() {
                    map.insert("apiVersion".to_owned(), json!(self.resource.api_version()));
                    map.insert("kind".to_owned(), json!(self.resource.kind));
                }
                self.send(WatchLine {
                    event_type: "ADDED",
                    object: item,
                })
                .await?;
            }
        }
        self.position = Revision(revision.unwrap_or(0));
        Ok(())
    }

    /// Serves changes from the watch cache, with periodic bookmarks.
    async fn follow_cache(&mut self, mut watcher: super::cache::CacheWatcher) -> Result<(), Closed> {
        let prefix = self.store.collection_prefix(self.target());
        let mut bookmarks =
            tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_INTERVAL, BOOKMARK_INTERVAL);
        loop {
            tokio::select! {
                batch = watcher.next_batch() => match batch {
                    Ok(events) => {
                        for event in &events {
                            if let Some(line) = self.cached_line(event, &prefix) {
                                self.send(line).await?;
                            }
                            self.position = event.revision;
                        }
                    }
                    Err(CacheError::Expired { requested, oldest }) => return Err(self.expired(requested, oldest).await),
                    // The cache lost storage: end the stream; the client re-watches from its last revision.
                    Err(CacheError::NotReady) => return Ok(()),
                },
                _ = bookmarks.tick(), if self.options.bookmarks => {
                    self.send(WatchLine::bookmark(self.resource, self.position, false)).await?;
                }
            }
        }
    }

    /// Turns a cached change into a line for this watcher (namespace, selectors and their transitions).
    fn cached_line(&self, event: &CachedEvent, prefix: &str) -> Option<WatchLine> {
        let in_scope = |o: &Arc<CachedObject>| o.key.starts_with(prefix);
        let serve = |o: &Arc<CachedObject>| self.store.serve(self.resource, o.object.clone(), event.revision);
        let previous = event.previous.as_ref().filter(|o| in_scope(o)).map(serve);
        let current = event
            .object
            .as_ref()
            .filter(|o| in_scope(o))
            .map(|o| self.store.serve(self.resource, o.object.clone(), o.mod_revision));
        transition(self.resource, previous, current, &self.options.list)
    }

    /// Serves changes straight from a storage watch (the cache is not ready).
    async fn follow_storage(&mut self) -> Result<(), Closed> {
        let prefix = self.store.collection_prefix(self.target());
        let after = self.position;
        let mut events = match self.store.backend().watch(&prefix, after).await {
            Ok(events) => events,
            Err(err) => return Err(self.fail(&watch_error(err, self.resource, after)).await),
        };
        while let Some(event) = events.next().await {
            match event {
                Ok(event) => {
                    match self.storage_line(&event) {
                        Ok(Some(line)) => self.send(line).await?,
                        Ok(None) => {}
                        Err(err) => return Err(self.fail(&err).await),
                    }
                    self.position = event.revision();
                }
                Err(err) => return Err(self.fail(&watch_error(err, self.resource, after)).await),
            }
        }
        Ok(())
    }

    fn storage_line(&self, event: &StorageEvent) -> Result<Option<WatchLine>, ApiError> {
        let revision = event.revision();
        let previous = event
            .prev
            .as_ref()
            .map(|prev| self.store.decode(self.resource, prev, Some(revision)))
            .transpose()?;
        let current = match event.kind {
            EventKind::Put => Some(self.store.decode(self.resource, &event.kv, None)?),
            EventKind::Delete => None,
        };
        Ok(transition(self.resource, previous, current, &self.options.list))
    }
}

/// The event a watcher sees for a change from `previous` to `current` (either may be absent), applying the
/// selectors with kube's transition rules: an object that stops matching is DELETED for this watcher (with
/// its last matching state), one that starts matching is ADDED.
fn transition(
    resource: &ResourceDef,
    previous: Option<Value>,
    current: Option<Value>,
    options: &ListOptions,
) -> Option<WatchLine> {
    let was = previous.filter(|p| matches(resource, p, options));
    let is = current.filter(|c| matches(resource, c, options));
    match (was, is) {
        (None, Some(object)) => Some(WatchLine {
            event_type: "ADDED",
            object,
        }),
        (Some(_), Some(object)) => Some(WatchLine {
            event_type: "MODIFIED",
            object,
        }),
        (Some(object), None) => Some(WatchLine {
            event_type: "DELETED",
            object,
        }),
        (None, None) => None,
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
