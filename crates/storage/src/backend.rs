//! The storage contract: keys, bytes and revisions, as etcd v3 speaks them.
//!
//! Every backend (etcd, embedded) implements [`Backend`] and passes the same conformance suite
//! (`crate::conformance`). The API server never sees anything but this trait.

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use crate::Result;

/// A global, monotonic store revision (etcd's `revision`, kube's `resourceVersion`).
///
/// Every successful write advances the store's revision by exactly one; the revision of a key is the revision
/// of the write that last touched it (`mod_revision`). Revision 0 is never assigned to a write and means
/// "none" or "latest" where the documentation of a method says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision(pub i64);

impl Revision {
    /// The "no revision" value.
    pub const ZERO: Self = Self(0);

    /// The revision just after this one.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One key with its value and revisions, as read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The full key, including any backend prefix the caller used.
    pub key: String,
    /// The stored bytes (the API server stores JSON).
    pub value: Bytes,
    /// The revision at which this key was created (its most recent creation, after a delete).
    pub create_revision: Revision,
    /// The revision of the last write to this key; this is the object's `resourceVersion`.
    pub mod_revision: Revision,
}

/// What [`Backend::list`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListResult {
    /// Keys in ascending byte order, at most `limit` of them.
    pub items: Vec<KeyValue>,
    /// The revision the list was read at (the current revision when the request asked for 0).
    pub revision: Revision,
    /// Whether more keys under the prefix follow the last returned one at `revision`.
    pub more: bool,
    /// How many keys under the prefix follow the returned ones at `revision` (0 when `more` is false).
    pub remaining: u64,
}

/// Options for [`Backend::list`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Read at this revision; [`Revision::ZERO`] reads the latest state.
    pub revision: Revision,
    /// Return at most this many keys; 0 means no limit.
    pub limit: u64,
    /// Start at this key (inclusive) instead of at the prefix. It must lie under the prefix. Pagination passes
    /// the last returned key with a `\0` appended.
    pub start_key: Option<String>,
}

/// The kind of change a [`WatchEvent`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The key was created or updated; `kv` holds the new value. `prev` is `None` for a creation.
    Put,
    /// The key was deleted; `kv.mod_revision` is the delete revision, `kv.value` is empty and `prev` holds the
    /// last value.
    Delete,
}

/// One change under a watched prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// Put or delete.
    pub kind: EventKind,
    /// The key after the change. For a delete: the key, an empty value, `mod_revision` = the delete revision,
    /// `create_revision` = the create revision of the deleted incarnation.
    pub kv: KeyValue,
    /// The key's value before the change; `None` for a creation.
    pub prev: Option<KeyValue>,
}

impl WatchEvent {
    /// The revision at which this change happened.
    #[must_use]
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A stream of watch events in revision order. It ends when the backend shuts down; an item that is an error
/// ends the stream too (the caller re-lists or re-watches).
pub type WatchStream = BoxStream<'static, Result<WatchEvent>>;

/// A key-value store with global revisions, conditional writes and watches: the contract of etcd v3 as the
/// Kubernetes API server uses it.
///
/// # Guarantees every implementation gives
/// - Writes are linearizable: a write acknowledged with revision `r` is visible to every read that starts after
///   the acknowledgement, and is durable (it survives a crash of the process once acknowledged).
/// - Revisions are global: each successful write gets the next revision; no two writes share one.
/// - Reads at an explicit revision see exactly the state after the write with that revision.
/// - A watch delivers every change with a revision greater than its start, in revision order, without gaps
///   or duplicates, each with the key's previous value.
/// - Revisions below the compaction point are gone: reading or watching from them fails with
///   [`crate::StorageError::Compacted`].
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Reads one key at the latest revision. `Ok(None)` when it does not exist.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;

    /// Lists the keys that start with `prefix`, in ascending order, at `opts.revision` (latest if zero).
    ///
    /// # Errors
    /// [`crate::StorageError::Compacted`] when `opts.revision` is below the compaction point;
    /// [`crate::StorageError::FutureRevision`] when it is above the current revision.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult>;

    /// Creates `key` with `value`. Returns the new key-value (its `mod_revision` is the write's revision).
    ///
    /// # Errors
    /// [`crate::StorageError::AlreadyExists`] when the key exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue>;

    /// Replaces `key`'s value if its `mod_revision` still equals `expected` (compare-and-swap).
    ///
    /// # Errors
    /// [`crate::StorageError::Conflict`] (with the current key-value) when the revision differs;
    /// [`crate::StorageError::NotFound`] when the key does not exist.
    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue>;

    /// Deletes `key`; when `expected` is given, only if its `mod_revision` still equals it. Returns the deleted
    /// key-value as it was just before the delete, and the revision of the delete.
    ///
    /// # Errors
    /// [`crate::StorageError::NotFound`] when the key does not exist; [`crate::StorageError::Conflict`] when
    /// `expected` is given and differs.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)>;

    /// Watches every key under `prefix`, delivering each change with a revision strictly greater than `after`.
    /// `after` = [`Revision::ZERO`] means "changes from now on".
    ///
    /// # Errors
    /// [`crate::StorageError::Compacted`], returned directly or as the first stream item, when changes after
    /// `after` are no longer retained.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream>;

    /// The current revision of the store (the revision of the last write, or the store's initial revision).
    async fn current_revision(&self) -> Result<Revision>;

    /// Discards history before `revision`: afterwards, the state at `revision` and later can still be read and
    /// watched, earlier revisions cannot. Compacting to a revision at or below the current compaction point is
    /// a no-op.
    ///
    /// # Errors
    /// [`crate::StorageError::FutureRevision`] when `revision` is above the current revision.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// Checks that the store answers (for `/readyz`).
    async fn health(&self) -> Result<()> {
        self.current_revision().await.map(|_| ())
    }
}
