//! Storage for the federation apiserver: a key-value [`Backend`] with global revisions, compare-and-swap
//! writes and watches, as etcd v3 offers them, and two implementations of it:
//!
//! - [`etcd::EtcdBackend`], the production store (one etcd or an etcd cluster);
//! - [`embedded::EmbeddedBackend`], a durable single-process store under a data directory (a SQLite log table,
//!   as k3s's kine keeps it), the default when no etcd is given.
//!
//! Both pass the same conformance suite ([`conformance`]).

mod backend;
pub mod conformance;
pub mod embedded;
mod error;
pub mod etcd;

pub use backend::{Backend, EventKind, KeyValue, ListOptions, ListResult, Revision, WatchEvent, WatchStream};
pub use error::{Result, StorageError};

/// The smallest key greater than every key that starts with `prefix` (etcd's `GetPrefixRangeEnd`).
/// An empty result means "no upper bound".
#[must_use]
pub fn prefix_range_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    Vec::new()
}
