//! Storage errors: what went wrong, in the terms of the storage contract. The API server translates them into
//! Kubernetes `Status` objects in one place.

use crate::{KeyValue, Revision};

/// The result type of every storage operation.
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key does not exist.
    #[error("key not found: {key}")]
    NotFound {
        /// The key that was asked for.
        key: String,
    },
    /// A create found the key already present.
    #[error("key already exists: {key}")]
    AlreadyExists {
        /// The key that exists.
        key: String,
    },
    /// A conditional write found another revision than the one expected.
    #[error("revision conflict on {key}: expected {expected}, found {}", current.as_ref().map_or(Revision::ZERO, |kv| kv.mod_revision))]
    Conflict {
        /// The key written.
        key: String,
        /// The revision the caller expected.
        expected: Revision,
        /// The key as it is now, boxed to keep the error small.
        current: Option<Box<KeyValue>>,
    },
    /// The revision asked for has been compacted away.
    #[error("revision {requested} has been compacted (oldest retained: {compacted})")]
    Compacted {
        /// The revision the caller asked to read or watch from.
        requested: Revision,
        /// The compaction point, when the backend knows it ([`Revision::ZERO`] otherwise).
        compacted: Revision,
    },
    /// The revision asked for is newer than the store's current revision.
    #[error("revision {requested} is in the future (current: {current})")]
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The store cannot be reached or did not answer in time; the request may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug, a corrupt store, an unexpected answer.
    #[error("storage failure: {0}")]
    Internal(String),
}

impl StorageError {
    /// Whether the store was unreachable or timed out (as opposed to rejecting the request).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
