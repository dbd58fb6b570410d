//! The watch cache: per storage prefix, an in-memory copy of the current objects and a bounded window of
//! recent changes, fed by ONE storage watch. Watches and `resourceVersion=0` reads are served from it, so
//! N watchers cost one storage watch, and a list does not touch storage.
//!
//! # Guarantees
//! - The cache's state is exactly the storage state at [`CacheSnapshot::revision`]: it applies storage events
//!   in revision order and never skips one (a gap or a storage error makes it re-list and start over).
//! - A watcher positioned at revision N receives every change under the prefix with a revision above N, in
//!   order, as long as N is inside the window; otherwise it gets [`CacheError::Expired`] (kube's 410).
//! - Memory is bounded by the current objects plus `capacity` events.
//!
//! # Caveat
//! The cache's revision moves only when something under its prefix changes (there are no storage progress
//! notifications yet), so bookmarks on a quiet resource carry an older revision than the store's.

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, RwLock},
    time::Duration,
};

use fcp_storage::{Backend, EventKind, ListOptions, Revision, StorageError};
use futures::StreamExt;
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// One object as stored: its parsed storage form and its revisions.
#[derive(Debug)]
pub struct CachedObject {
    /// The storage key.
    pub key: String,
    /// The stored object, parsed once (storage version, without `resourceVersion`).
    pub object: Value,
    /// The key's mod revision (the object's resourceVersion).
    pub mod_revision: Revision,
}

/// One change, as the cache keeps it.
#[derive(Debug, Clone)]
pub struct CachedEvent {
    /// Put or delete.
    pub kind: EventKind,
    /// The revision of the change.
    pub revision: Revision,
    /// The object after the change (`None` for a delete).
    pub object: Option<Arc<CachedObject>>,
    /// The object before the change (`None` for a creation).
    pub previous: Option<Arc<CachedObject>>,
}

/// Why the cache cannot serve a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheError {
    /// The revision asked for is older than the window: the client must re-list (kube's 410 Expired).
    Expired {
        /// The revision asked for.
        requested: Revision,
        /// The oldest revision the window starts after.
        oldest: Revision,
    },
    /// The cache has not loaded yet, or is re-loading after a storage error.
    NotReady,
}

#[derive(Debug, Default)]
struct State {
    ready: bool,
    objects: BTreeMap<String, Arc<CachedObject>>,
    events: VecDeque<CachedEvent>,
    /// Every change up to and including this revision has been applied.
    revision: Revision,
    /// The window holds every change after this revision.
    oldest: Revision,
}

/// A consistent copy of the cached objects.
#[derive(Debug)]
pub struct CacheSnapshot {
    /// The revision the objects are at.
    pub revision: Revision,
    /// The objects under the requested prefix, in key order.
    pub objects: Vec<Arc<CachedObject>>,
}

/// The watch cache of one storage prefix.
#[derive(Debug)]
pub struct WatchCache {
    prefix: String,
    capacity: usize,
    state: RwLock<State>,
    /// Carries the cache's revision; watchers wait on it for new events.
    revision_tx: watch::Sender<Revision>,
}

impl WatchCache {
    /// Starts a cache of every key under `prefix` (which ends in `/`), keeping at most `capacity` recent
    /// events, fed from `backend` until `shutdown`.
    #[must_use]
    pub fn start(
        backend: Arc<dyn Backend>,
        prefix: String,
        capacity: usize,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let (revision_tx, _) = watch::channel(Revision::ZERO);
        let cache = Arc::new(Self {
            prefix,
            capacity: capacity.max(1),
            state: RwLock::default(),
            revision_tx,
        });
        let feeder = cache.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = feeder.feed(backend) => {}
                () = shutdown.cancelled() => {}
            }
        });
        cache
    }

    /// The prefix this cache covers.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The revision the cache is at, when it is ready.
    #[must_use]
    pub fn revision(&self) -> Option<Revision> {
        let state = self.read();
        state.ready.then_some(state.revision)
    }

    /// The current objects whose key starts with `prefix` (a sub-prefix of the cache's, e.g. one namespace).
    ///
    /// # Errors
    /// [`CacheError::NotReady`] while the cache loads.
    pub fn snapshot(&self, prefix: &str) -> Result<CacheSnapshot, CacheError> {
        let state = self.read();
        if !state.ready {
            return Err(CacheError::NotReady);
        }
        let objects = state
            .objects
            .range(prefix.to_owned()..)
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(_, object)| object.clone())
            .collect();
        Ok(CacheSnapshot {
            revision: state.revision,
            objects,
        })
    }

    /// One object by key, with the cache's revision.
    ///
    /// # Errors
    /// [`CacheError::NotReady`] while the cache loads.
    pub fn get(&self, key: &str) -> Result<(Option<Arc<CachedObject>>, Revision), CacheError> {
        let state = self.read();
        if !state.ready {
            return Err(CacheError::NotReady);
        }
        Ok((state.objects.get(key).cloned(), state.revision))
    }

    /// A receiver that is notified whenever the cache's revision moves (for controllers that re-check on
    /// change).
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<Revision> {
        self.revision_tx.subscribe()
    }

    /// A watcher that will receive every change after `after`.
    ///
    /// # Errors
    /// [`CacheError::Expired`] when changes after `after` have left the window; [`CacheError::NotReady`].
    pub fn watch_from(self: &Arc<Self>, after: Revision) -> Result<CacheWatcher, CacheError> {
        let state = self.read();
        if !state.ready {
            return Err(CacheError::NotReady);
        }
        if after < state.oldest {
            return Err(CacheError::Expired {
                requested: after,
                oldest: state.oldest,
            });
        }
        Ok(CacheWatcher {
            cache: self.clone(),
            position: after,
            revisions: self.revision_tx.subscribe(),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A poisoned lock means a panic while applying an event; the state is still structurally valid.
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Loads the prefix and follows its storage watch; on any failure, waits and starts over.
    async fn feed(&self, backend: Arc<dyn Backend>) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.load_and_follow(backend.as_ref()).await {
                Ok(()) => tracing::debug!(prefix = %self.prefix, "storage watch ended; re-listing"),
                Err(e) => {
                    tracing::warn!(prefix = %self.prefix, error = %e, "watch cache re-listing after error")
                }
            }
            {
                let mut state = self.write();
                state.ready = false;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    async fn load_and_follow(&self, backend: &dyn Backend) -> Result<(), StorageError> {
        let (objects, revision) = self.load(backend).await?;
        {
            let mut state = self.write();
            state.objects = objects;
            state.events.clear();
            state.revision = revision;
            state.oldest = revision;
            state.ready = true;
        }
        self.revision_tx.send_replace(revision);
        tracing::debug!(prefix = %self.prefix, %revision, "watch cache loaded");
        let mut events = backend.watch(&self.prefix, revision).await?;
        while let Some(event) = events.next().await {
            self.apply(event?)?;
        }
        Ok(())
    }

    /// Lists every key under the prefix at one revision, page by page.
    async fn load(
        &self,
        backend: &dyn Backend,
    ) -> Result<(BTreeMap<String, Arc<CachedObject>>, Revision), StorageError> {
        const PAGE: u64 = 1000;
        let mut objects = BTreeMap::new();
        let mut options = ListOptions {
            revision: Revision::ZERO,
            limit: PAGE,
            start_key: None,
        };
        loop {
            let page = backend.list(&self.prefix, options.clone()).await?;
            options.revision = page.revision;
            for kv in &page.items {
                let object = parse(&kv.key, &kv.value)?;
                objects.insert(
                    kv.key.clone(),
                    Arc::new(CachedObject {
                        key: kv.key.clone(),
                        object,
                        mod_revision: kv.mod_revision,
                    }),
                );
            }
            match (page.more, page.items.last()) {
                (true, Some(last)) => options.start_key = Some(format!("{}\0", last.key)),
                _ => return Ok((objects, page.revision)),
            }
        }
    }

    fn apply(&self, event: fcp_storage::WatchEvent) -> Result<(), StorageError> {
        let revision = event.revision();
        let object = match event.kind {
            EventKind::Put => Some(Arc::new(CachedObject {
                key: event.kv.key.clone(),
                object: parse(&event.kv.key, &event.kv.value)?,
                mod_revision: revision,
            })),
            EventKind::Delete => None,
        };
        {
            let mut state = self.write();
            if revision <= state.revision {
                return Err(StorageError::Internal(format!(
                    "watch event at revision {revision} after {}",
                    state.revision
                )));
            }
            let previous = match &object {
                Some(object) => state.objects.insert(event.kv.key.clone(), object.clone()),
                None => state.objects.remove(&event.kv.key),
            };
            state.events.push_back(CachedEvent {
                kind: event.kind,
                revision,
                object,
                previous,
            });
            while state.events.len() > self.capacity {
                if let Some(dropped) = state.events.pop_front() {
                    state.oldest = dropped.revision;
                }
            }
            state.revision = revision;
        }
        self.revision_tx.send_replace(revision);
        Ok(())
    }
}

fn parse(key: &str, bytes: &[u8]) -> Result<Value, StorageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Internal(format!("stored object {key} is not JSON: {e}")))
}

/// A position in a [`WatchCache`]'s stream of changes.
#[derive(Debug)]
pub struct CacheWatcher {
    cache: Arc<WatchCache>,
    position: Revision,
    revisions: watch::Receiver<Revision>,
}

impl CacheWatcher {
    /// The revision of the last change delivered (or the start).
    #[must_use]
    pub fn position(&self) -> Revision {
        self.position
    }

    /// Waits for changes after the current position and returns them (at least one), advancing.
    ///
    /// # Errors
    /// [`CacheError::Expired`] when this watcher fell out of the window (too slow, or the cache re-listed);
    /// [`CacheError::NotReady`] when the cache stopped (storage failure or shutdown).
    pub async fn next_batch(&mut self) -> Result<Vec<CachedEvent>, CacheError> {
        loop {
            {
                let state = self.cache.read();
                if !state.ready {
                    return Err(CacheError::NotReady);
                }
                if self.position < state.oldest {
                    return Err(CacheError::Expired {
                        requested: self.position,
                        oldest: state.oldest,
                    });
                }
                if state.revision > self.position {
                    // Events are in revision order: skip those already delivered.
                    let start = state.events.partition_point(|e| e.revision <= self.position);
                    let batch: Vec<CachedEvent> = state.events.range(start..).cloned().collect();
                    if let Some(last) = batch.last() {
                        self.position = last.revision;
                        return Ok(batch);
                    }
                }
            }
            if self.revisions.changed().await.is_err() {
                return Err(CacheError::NotReady);
            }
        }
    }
}
