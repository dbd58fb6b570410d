//! The embedded backend: a durable, single-process store under a data directory, with etcd's semantics.
//!
//! # Layout
//! `<data_dir>/state.db` is a SQLite database (WAL mode, `synchronous=FULL`) holding kine's model: one append-only
//! `log` table with a row per write, whose `id` is the write's revision:
//!
//! | column | meaning |
//! |---|---|
//! | `id` | the revision of the write (assigned sequentially, no gaps) |
//! | `name` | the key (bytes) |
//! | `created` | 1 when the write created the key |
//! | `deleted` | 1 for a tombstone (a delete); its `value` is empty |
//! | `create_revision` | the revision that created this incarnation of the key |
//! | `prev_revision` | the `id` of the key's previous row (0 for a creation) |
//! | `value` | the bytes |
//!
//! The state at revision `r` is, per key, the newest row with `id <= r` unless it is a tombstone. An empty store
//! is at revision 1, as etcd is, so the first write gets revision 2. A small `meta` table holds the compaction
//! point. `<data_dir>/LOCK` is held (`flock`) while the store is open, so two
//! processes never share a directory.
//!
//! # Writes: one writer thread, group commit
//! A dedicated thread owns the write connection. It takes every pending request from its channel (up to
//! 256), applies them in arrival order inside one transaction (each compare-and-swap sees the writes
//! before it, exactly as if they were serialized), commits once (one `fsync`), then publishes the batch's
//! events to live watchers and answers the callers. A write is acknowledged only after its commit is durable.
//!
//! # Reads and watches
//! Reads run on a small pool of read connections on the blocking thread pool; each is one SQLite read
//! transaction, so it sees one consistent snapshot. A watch subscribes to the writer's live events first,
//! then replays the log from its start revision up to the revision current at subscription, then forwards live
//! events; if it falls behind the live channel, it replays from the log again.
//!
//! # Compaction
//! `compact(C)` records `C` as the compaction point, then deletes, in small batches between writes, every row
//! that no read at `C` or later and no watch event after `C - 1` can need: a row superseded by a later row of the
//! same key below `C`, and tombstones below `C`. The newest row of each key below `C` stays, so every event at
//! `C` or later still carries its previous value.

use std::collections::VecDeque;
use std::fmt;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tracing::{debug, error, info};

use crate::{
    Backend, EventKind, KeyValue, ListOptions, ListResult, Result, Revision, StorageError, WatchEvent,
    WatchStream, prefix_range_end,
};

/// The most write requests committed in one transaction.
const MAX_BATCH: usize = 256;
/// The database file inside the data directory.
const DB_FILE: &str = "state.db";
/// The lock file inside the data directory.
const LOCK_FILE: &str = "LOCK";
/// How long a connection waits for a lock held by another connection (only WAL checkpoints and recovery).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The `meta` row holding the compaction point.
const META_COMPACT_REVISION: &str = "compact_revision";
/// The `meta` row holding the id below which compaction has deleted every obsolete row.
const META_COMPACTED_THROUGH: &str = "compacted_through";
/// The revision of an empty store, as in etcd: the first write gets revision 2, and a list of an empty store
/// reports revision 1, never 0 (which a following watch would read as "from now on").
const INITIAL_REVISION: i64 = 1;
/// Keys are UTF-8 strings, which never contain the byte 0xFF: a range end above every key.
const NO_UPPER_BOUND: &[u8] = &[0xff];

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS log (
        id INTEGER PRIMARY KEY,
        name BLOB NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        value BLOB NOT NULL
    );
    -- `deleted` makes the index covering for counting the live keys of a range.
    CREATE INDEX IF NOT EXISTS log_name_id ON log (name, id, deleted);
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
";

/// Internal sizes; tests shrink them to reach edge cases quickly.
#[derive(Debug, Clone)]
struct Tuning {
    /// Write requests per transaction.
    max_batch: usize,
    /// Commits buffered per live watcher before it lags and replays from the log.
    event_buffer: usize,
    /// Read connections.
    readers: usize,
    /// Log rows read per query while a watch catches up.
    catch_up_chunk: usize,
    /// Revisions covered per compaction transaction.
    compact_window: i64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            max_batch: MAX_BATCH,
            event_buffer: 1024,
            readers: 4,
            catch_up_chunk: 512,
            compact_window: 4096,
        }
    }
}

/// State shared between the writer thread, the backend and its watches.
#[derive(Debug, Default)]
struct Shared {
    /// The revision of the last committed write.
    current: AtomicI64,
    /// The compaction point.
    compacted: AtomicI64,
    /// Committed write transactions (for tests and diagnostics).
    commits: AtomicU64,
}

/// A durable single-process [`Backend`]: a SQLite log table under a data directory (see the module docs).
///
/// Dropping it stops the writer thread (after it finishes the batch in hand) and releases the directory lock;
/// open watch streams then end.
pub struct EmbeddedBackend {
    writer: WriterHandle,
    reads: Arc<ReadPool>,
    shared: Arc<Shared>,
    events: broadcast::Sender<Arc<[WatchEvent]>>,
    /// Serializes compactions.
    compaction: tokio::sync::Mutex<()>,
    tuning: Tuning,
    data_dir: PathBuf,
}

impl fmt::Debug for EmbeddedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedBackend")
            .field("data_dir", &self.data_dir)
            .field("current", &self.shared.current.load(Ordering::SeqCst))
            .field("compacted", &self.shared.compacted.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl EmbeddedBackend {
    /// Opens (or creates) the store in `data_dir`, creating the directory if needed, and restores every key and
    /// revision written before.
    ///
    /// # Errors
    /// [`StorageError::Internal`] naming the path and the cause when the directory cannot be created, the
    /// database cannot be opened or written, or another process holds the directory.
    pub fn open(data_dir: &Path) -> Result<Self> {
        Self::open_with(data_dir, Tuning::default())
    }

    fn open_with(data_dir: &Path, tuning: Tuning) -> Result<Self> {
        let dir_error = |what: &str, e: &dyn fmt::Display| {
            StorageError::Internal(format!("{what} {}: {e}", data_dir.display()))
        };
        std::fs::create_dir_all(data_dir).map_err(|e| dir_error("cannot create data directory", &e))?;
        let lock_path = data_dir.join(LOCK_FILE);
        let lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| {
                StorageError::Internal(format!("cannot create lock file {}: {e}", lock_path.display()))
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StorageError::Internal(format!(
                    "data directory {} is in use by another process (it holds {})",
                    data_dir.display(),
                    lock_path.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(dir_error("cannot lock data directory", &e)),
        }

        let db_path = data_dir.join(DB_FILE);
        let conn = open_writer(&db_path)?;
        // Make the database file's directory entry durable too.
        File::open(data_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|e| dir_error("cannot sync data directory", &e))?;
        let state = WriterState::load(&conn).map_err(|e| {
            StorageError::Internal(format!("cannot read database {}: {e}", db_path.display()))
        })?;
        info!(
            data_dir = %data_dir.display(),
            revision = state.current,
            compacted = state.compacted,
            "embedded store opened"
        );

        let shared = Arc::new(Shared::default());
        shared.current.store(state.current, Ordering::SeqCst);
        shared.compacted.store(state.compacted, Ordering::SeqCst);
        let (events, _) = broadcast::channel(tuning.event_buffer);
        let (requests, receiver) = mpsc::channel(tuning.max_batch * 4);
        let writer = Writer {
            conn,
            state,
            shared: Arc::clone(&shared),
            events: events.clone(),
            max_batch: tuning.max_batch,
            db_path: db_path.clone(),
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("fcp-storage-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| StorageError::Internal(format!("cannot start the storage writer thread: {e}")))?;
        Ok(Self {
            writer: WriterHandle {
                requests: Some(requests),
                thread: Some(thread),
            },
            reads: Arc::new(ReadPool::new(db_path, tuning.readers)),
            shared,
            events,
            compaction: tokio::sync::Mutex::new(()),
            tuning,
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The data directory.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Sends one request to the writer and waits for its answer.
    async fn write(&self, op: Op) -> Result<Outcome> {
        let (reply, answer) = oneshot::channel();
        let requests = self.writer.requests.as_ref().ok_or_else(writer_stopped)?;
        requests
            .send(Request { op, reply })
            .await
            .map_err(|_| writer_stopped())?;
        answer.await.map_err(|_| writer_stopped())?
    }
}

#[async_trait]
impl Backend for EmbeddedBackend {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let key = key.to_owned();
        self.reads
            .run(move |conn| {
                let row = latest_row(conn, key.as_bytes()).map_err(read_error)?;
                Ok(row.filter(|row| !row.deleted).map(|row| row.into_key_value(key)))
            })
            .await
    }

    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult> {
        let (start, end) = match &opts.start_key {
            Some(start) if !start.starts_with(prefix) => {
                return Err(StorageError::Internal(format!(
                    "list start key {start:?} is not under the prefix {prefix:?}"
                )));
            }
            Some(start) => (start.as_bytes().to_vec(), range_end(prefix)),
            None => key_range(prefix),
        };
        self.reads
            .run(move |conn| list_at(conn, &start, &end, &opts))
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue> {
        match self
            .write(Op::Create {
                key: key.to_owned(),
                value,
            })
            .await?
        {
            Outcome::Written(kv) => Ok(kv),
            other => Err(unexpected(&other)),
        }
    }

    async fn update(&self, key: &str, expected: Revision, value: Bytes) -> Result<KeyValue> {
        match self
            .write(Op::Update {
                key: key.to_owned(),
                expected,
                value,
            })
            .await?
        {
            Outcome::Written(kv) => Ok(kv),
            other => Err(unexpected(&other)),
        }
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<(KeyValue, Revision)> {
        match self
            .write(Op::Delete {
                key: key.to_owned(),
                expected,
            })
            .await?
        {
            Outcome::Deleted(kv, revision) => Ok((kv, revision)),
            other => Err(unexpected(&other)),
        }
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream> {
        // Subscribe before reading the current revision: every commit after it reaches this receiver.
        let live = self.events.subscribe();
        let current = self.shared.current.load(Ordering::SeqCst);
        let compacted = self.shared.compacted.load(Ordering::SeqCst);
        if after != Revision::ZERO && after.0.saturating_add(1) < compacted {
            return Err(StorageError::Compacted {
                requested: after,
                compacted: Revision(compacted),
            });
        }
        let (start, end) = key_range(prefix);
        let state = WatchState {
            reads: Arc::clone(&self.reads),
            shared: Arc::clone(&self.shared),
            live,
            prefix: prefix.to_owned(),
            start,
            end,
            requested: after,
            read_pos: if after == Revision::ZERO { current } else { after.0 },
            target: current,
            chunk: self.tuning.catch_up_chunk,
            pending: VecDeque::new(),
            done: false,
        };
        Ok(futures::stream::unfold(state, WatchState::next).boxed())
    }

    async fn current_revision(&self) -> Result<Revision> {
        Ok(Revision(self.shared.current.load(Ordering::SeqCst)))
    }

    #[tracing::instrument(name = "embedded_compact", skip_all, fields(%revision))]
    async fn compact(&self, revision: Revision) -> Result<()> {
        let _serialized = self.compaction.lock().await;
        let (from, to) = match self.write(Op::SetCompaction { revision }).await? {
            Outcome::CompactionWindow { from, to } => (from, to),
            other => return Err(unexpected(&other)),
        };
        let mut deleted = 0;
        let mut low = from;
        while low < to {
            let high = to.min(low + self.tuning.compact_window);
            match self.write(Op::CompactWindow { from: low, to: high }).await? {
                Outcome::Removed(rows) => deleted += rows,
                other => return Err(unexpected(&other)),
            }
            low = high;
        }
        if to > from {
            debug!(deleted, "compacted history");
        }
        Ok(())
    }

    async fn health(&self) -> Result<()> {
        if self.writer.requests.as_ref().is_none_or(mpsc::Sender::is_closed) {
            return Err(writer_stopped());
        }
        self.reads
            .run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(read_error))
            .await
    }
}

fn writer_stopped() -> StorageError {
    StorageError::Internal("the embedded store's writer has stopped (see the error logged before)".into())
}

fn unexpected(outcome: &Outcome) -> StorageError {
    // Only the variant: the outcome may hold a value, which must not end up in logs.
    let variant = match outcome {
        Outcome::Written(_) => "Written",
        Outcome::Deleted(..) => "Deleted",
        Outcome::CompactionWindow { .. } => "CompactionWindow",
        Outcome::Removed(_) => "Removed",
    };
    StorageError::Internal(format!(
        "embedded store writer answered with an unexpected {variant} outcome"
    ))
}

fn read_error(e: rusqlite::Error) -> StorageError {
    StorageError::Internal(format!("embedded store read failed: {e}"))
}

/// The `[start, end)` byte range of the keys under `prefix`.
fn key_range(prefix: &str) -> (Vec<u8>, Vec<u8>) {
    (prefix.as_bytes().to_vec(), range_end(prefix))
}

fn range_end(prefix: &str) -> Vec<u8> {
    let end = prefix_range_end(prefix);
    if end.is_empty() {
        NO_UPPER_BOUND.to_vec()
    } else {
        end
    }
}

fn key_string(name: Vec<u8>) -> rusqlite::Result<String> {
    String::from_utf8(name).map_err(|e| rusqlite::Error::Utf8Error(e.utf8_error()))
}

// ---------------------------------------------------------------------------------------------------------
// Connections and queries

fn open_writer(path: &Path) -> Result<Connection> {
    let failed = |e: &dyn fmt::Display| {
        StorageError::Internal(format!("cannot open database {}: {e}", path.display()))
    };
    let conn = Connection::open(path).map_err(|e| failed(&e))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| failed(&e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(|e| failed(&e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(failed(&format_args!(
            "cannot switch to WAL mode (journal mode is {mode})"
        )));
    }
    // FULL: every commit fsyncs the WAL, so an acknowledged write survives a crash or a power loss.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| failed(&e))?;
    conn.execute_batch(SCHEMA).map_err(|e| failed(&e))?;
    Ok(conn)
}

fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// One row of the log, without its key.
#[derive(Debug)]
struct Row {
    id: i64,
    deleted: bool,
    create_revision: i64,
    value: Vec<u8>,
}

impl Row {
    fn into_key_value(self, key: String) -> KeyValue {
        KeyValue {
            key,
            value: Bytes::from(self.value),
            create_revision: Revision(self.create_revision),
            mod_revision: Revision(self.id),
        }
    }
}

/// The newest row of `name` (possibly a tombstone).
fn latest_row(conn: &Connection, name: &[u8]) -> rusqlite::Result<Option<Row>> {
    conn.prepare_cached(
        "SELECT id, deleted, create_revision, value FROM log WHERE name = ?1 ORDER BY id DESC LIMIT 1",
    )?
    .query_row([name], |row| {
        Ok(Row {
            id: row.get(0)?,
            deleted: row.get(1)?,
            create_revision: row.get(2)?,
            value: row.get(3)?,
        })
    })
    .optional()
}

/// A snapshot's compaction point and current revision.
fn snapshot_bounds(tx: &Transaction<'_>) -> rusqlite::Result<(i64, i64)> {
    let compacted = read_meta(tx, META_COMPACT_REVISION)?;
    let newest: Option<i64> = tx
        .prepare_cached("SELECT MAX(id) FROM log")?
        .query_row([], |row| row.get(0))?;
    Ok((compacted, newest.unwrap_or(INITIAL_REVISION).max(compacted)))
}

fn read_meta(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM meta WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}

fn write_meta(conn: &Connection, name: &str, value: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
    )?
    .execute(params![name, value])?;
    Ok(())
}

/// The keys in `[start, end)` at `opts.revision`, in one read transaction.
fn list_at(conn: &mut Connection, start: &[u8], end: &[u8], opts: &ListOptions) -> Result<ListResult> {
    let tx = conn.transaction().map_err(read_error)?;
    let (compacted, current) = snapshot_bounds(&tx).map_err(read_error)?;
    let revision = if opts.revision == Revision::ZERO {
        current
    } else {
        opts.revision.0
    };
    if revision > current {
        return Err(StorageError::FutureRevision {
            requested: opts.revision,
            current: Revision(current),
        });
    }
    if revision < compacted {
        return Err(StorageError::Compacted {
            requested: opts.revision,
            compacted: Revision(compacted),
        });
    }
    // One more than the limit tells whether more keys follow.
    let fetch = if opts.limit == 0 {
        -1
    } else {
        i64::try_from(opts.limit).unwrap_or(i64::MAX - 1) + 1
    };
    let mut items = tx
        .prepare_cached(
            // Walks the (name, id) index in key order and stops at the limit: a page costs what it returns.
            "SELECT l.name, l.id, l.create_revision, l.value FROM log AS l
             WHERE l.name >= ?1 AND l.name < ?2 AND l.id <= ?3
               AND l.id = (SELECT MAX(m.id) FROM log AS m WHERE m.name = l.name AND m.id <= ?3)
               AND l.deleted = 0
             ORDER BY l.name LIMIT ?4",
        )
        .and_then(|mut statement| {
            statement
                .query_map(params![start, end, revision, fetch], |row| {
                    Ok(KeyValue {
                        key: key_string(row.get(0)?)?,
                        mod_revision: Revision(row.get(1)?),
                        create_revision: Revision(row.get(2)?),
                        value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(read_error)?;
    let more = opts.limit != 0 && items.len() as u64 > opts.limit;
    let mut remaining = 0;
    if more {
        items.truncate(usize::try_from(opts.limit).unwrap_or(usize::MAX));
        let last = items
            .last()
            .map(|kv| kv.key.as_bytes().to_vec())
            .unwrap_or_default();
        let count: i64 = tx
            .prepare_cached(
                // With exactly one max(), SQLite takes the bare column `deleted` from the row with the max id,
                // so this reads the covering index only.
                "SELECT COUNT(*) FROM (
                   SELECT MAX(id), deleted FROM log WHERE name > ?1 AND name < ?2 AND id <= ?3 GROUP BY name
                 ) WHERE deleted = 0",
            )
            .and_then(|mut statement| statement.query_row(params![last, end, revision], |row| row.get(0)))
            .map_err(read_error)?;
        remaining = u64::try_from(count).unwrap_or(0);
    }
    Ok(ListResult {
        items,
        revision: Revision(revision),
        more,
        remaining,
    })
}

/// The events under `[start, end)` with revisions in `(after, upto]`, at most `limit` of them, read in one
/// transaction that also checks that they have not been compacted.
fn read_events(
    conn: &mut Connection,
    start: &[u8],
    end: &[u8],
    after: i64,
    upto: i64,
    limit: usize,
) -> Result<std::result::Result<Vec<WatchEvent>, i64>> {
    let tx = conn.transaction().map_err(read_error)?;
    let compacted = read_meta(&tx, META_COMPACT_REVISION).map_err(read_error)?;
    if after.saturating_add(1) < compacted {
        return Ok(Err(compacted));
    }
    let events = tx
        .prepare_cached(
            "SELECT l.id, l.name, l.created, l.deleted, l.create_revision, l.value, p.id, p.create_revision, p.value
             FROM log AS l LEFT JOIN log AS p ON p.id = l.prev_revision AND l.created = 0
             WHERE l.id > ?1 AND l.id <= ?2 AND l.name >= ?3 AND l.name < ?4
             ORDER BY l.id LIMIT ?5",
        )
        .and_then(|mut statement| {
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            statement
                .query_map(params![after, upto, start, end, limit], |row| {
                    let key = key_string(row.get(1)?)?;
                    let created: bool = row.get(2)?;
                    let deleted: bool = row.get(3)?;
                    let create_revision = Revision(row.get(4)?);
                    let prev = match row.get::<_, Option<i64>>(6)? {
                        Some(prev_id) if !created => Some(KeyValue {
                            key: key.clone(),
                            value: Bytes::from(row.get::<_, Vec<u8>>(8)?),
                            create_revision: Revision(row.get(7)?),
                            mod_revision: Revision(prev_id),
                        }),
                        _ => None,
                    };
                    let kv = KeyValue {
                        key,
                        value: if deleted { Bytes::new() } else { Bytes::from(row.get::<_, Vec<u8>>(5)?) },
                        create_revision,
                        mod_revision: Revision(row.get(0)?),
                    };
                    let kind = if deleted { EventKind::Delete } else { EventKind::Put };
                    Ok(WatchEvent { kind, kv, prev })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(read_error)?;
    Ok(Ok(events))
}

/// A few read connections, used on the blocking thread pool so SQLite never blocks the async runtime.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Semaphore,
    size: usize,
}

impl ReadPool {
    fn new(path: PathBuf, size: usize) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size),
            size,
        }
    }

    /// Runs `read` with a connection of the pool on the blocking thread pool.
    async fn run<T, F>(self: &Arc<Self>, read: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StorageError::Internal("the read connection pool is closed".into()))?;
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => open_reader(&pool.path).map_err(|e| {
                    StorageError::Internal(format!("cannot open database {}: {e}", pool.path.display()))
                })?,
            };
            let result = read(&mut conn);
            let mut idle = pool.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < pool.size {
                idle.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StorageError::Internal(format!("embedded store read task failed: {e}")))?
    }
}

// ---------------------------------------------------------------------------------------------------------
// The writer

/// A write request.
#[derive(Debug)]
enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        expected: Revision,
        value: Bytes,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
    /// Moves the compaction point up to `revision` (if higher); answers the id window still to be cleaned.
    SetCompaction {
        revision: Revision,
    },
    /// Deletes the rows made obsolete by the compaction point among the effects of log rows `[from, to)`.
    CompactWindow {
        from: i64,
        to: i64,
    },
}

/// What the writer answers.
#[derive(Debug)]
enum Outcome {
    Written(KeyValue),
    Deleted(KeyValue, Revision),
    CompactionWindow { from: i64, to: i64 },
    Removed(usize),
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// The writer's view of the store, updated only after a commit.
#[derive(Debug, Clone, Copy)]
struct WriterState {
    current: i64,
    compacted: i64,
    /// Every row made obsolete by the effects of rows below this id has been deleted.
    compacted_through: i64,
}

impl WriterState {
    fn load(conn: &Connection) -> rusqlite::Result<Self> {
        let compacted = read_meta(conn, META_COMPACT_REVISION)?;
        let compacted_through = read_meta(conn, META_COMPACTED_THROUGH)?;
        let newest: Option<i64> = conn.query_row("SELECT MAX(id) FROM log", [], |row| row.get(0))?;
        Ok(Self {
            current: newest.unwrap_or(INITIAL_REVISION).max(compacted),
            compacted,
            compacted_through,
        })
    }
}

struct Writer {
    conn: Connection,
    state: WriterState,
    shared: Arc<Shared>,
    events: broadcast::Sender<Arc<[WatchEvent]>>,
    max_batch: usize,
    db_path: PathBuf,
    /// Held (locked) for as long as the writer runs.
    _lock: File,
}

impl Writer {
    fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = requests.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match requests.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut batch);
        }
        debug!("embedded store writer stopped");
    }

    /// Applies and commits `batch` in one transaction, then publishes its events and answers its callers.
    fn commit_batch(&mut self, batch: &mut Vec<Request>) {
        let mut state = self.state;
        let mut events = Vec::new();
        match apply_batch(
            &mut self.conn,
            batch.iter().map(|r| &r.op),
            &mut state,
            &mut events,
        ) {
            Ok(outcomes) => {
                self.state = state;
                self.shared.current.store(state.current, Ordering::SeqCst);
                self.shared.compacted.store(state.compacted, Ordering::SeqCst);
                self.shared.commits.fetch_add(1, Ordering::Relaxed);
                if !events.is_empty() {
                    // An error only means that no watcher listens.
                    let _ = self.events.send(events.into());
                }
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                error!(db = %self.db_path.display(), "embedded store write failed, batch rolled back: {e}");
                for request in batch.drain(..) {
                    let _ = request.reply.send(Err(StorageError::Internal(format!(
                        "write to {} failed: {e}",
                        self.db_path.display()
                    ))));
                }
                // A failed COMMIT may still have reached the disk: continue from what the database holds, so
                // revisions are never reused. (Watchers notice a skipped revision and replay it from the log.)
                match WriterState::load(&self.conn) {
                    Ok(state) => {
                        self.state = state;
                        self.shared.current.store(state.current, Ordering::SeqCst);
                        self.shared.compacted.store(state.compacted, Ordering::SeqCst);
                    }
                    Err(e) => {
                        error!(db = %self.db_path.display(), "cannot re-read the store's revision: {e}")
                    }
                }
            }
        }
    }
}

/// Applies `ops` in order in one transaction and commits. Each op's own outcome may be a storage error
/// (a conflict); a SQLite error aborts the whole batch.
fn apply_batch<'a>(
    conn: &mut Connection,
    ops: impl Iterator<Item = &'a Op>,
    state: &mut WriterState,
    events: &mut Vec<WatchEvent>,
) -> rusqlite::Result<Vec<Result<Outcome>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::new();
    for op in ops {
        outcomes.push(apply(&tx, op, state, events)?);
    }
    tx.commit()?;
    Ok(outcomes)
}

/// A row to append.
struct Append<'a> {
    name: &'a str,
    created: bool,
    deleted: bool,
    create_revision: i64,
    prev_revision: i64,
    value: &'a [u8],
}

fn append(tx: &Transaction<'_>, id: i64, row: &Append<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, value)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        id,
        row.name.as_bytes(),
        row.created,
        row.deleted,
        row.create_revision,
        row.prev_revision,
        row.value
    ])?;
    Ok(())
}

/// Applies one op against the in-transaction state.
fn apply(
    tx: &Transaction<'_>,
    op: &Op,
    state: &mut WriterState,
    events: &mut Vec<WatchEvent>,
) -> rusqlite::Result<Result<Outcome>> {
    let live = |key: &str| -> rusqlite::Result<Option<KeyValue>> {
        Ok(latest_row(tx, key.as_bytes())?
            .filter(|row| !row.deleted)
            .map(|row| row.into_key_value(key.to_owned())))
    };
    let conflict = |key: &str, expected: Revision, current: KeyValue| StorageError::Conflict {
        key: key.to_owned(),
        expected,
        current: Some(Box::new(current)),
    };
    let not_found = |key: &str| StorageError::NotFound { key: key.to_owned() };
    Ok(match op {
        Op::Create { key, value } => {
            if live(key)?.is_some() {
                return Ok(Err(StorageError::AlreadyExists { key: key.clone() }));
            }
            let id = state.current + 1;
            let row = Append {
                name: key,
                created: true,
                deleted: false,
                create_revision: id,
                prev_revision: 0,
                value: value.as_ref(),
            };
            append(tx, id, &row)?;
            state.current = id;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: Revision(id),
                mod_revision: Revision(id),
            };
            events.push(WatchEvent {
                kind: EventKind::Put,
                kv: kv.clone(),
                prev: None,
            });
            Ok(Outcome::Written(kv))
        }
        Op::Update { key, expected, value } => {
            let Some(current) = live(key)? else {
                return Ok(Err(not_found(key)));
            };
            if current.mod_revision != *expected {
                return Ok(Err(conflict(key, *expected, current)));
            }
            let id = state.current + 1;
            let row = Append {
                name: key,
                created: false,
                deleted: false,
                create_revision: current.create_revision.0,
                prev_revision: current.mod_revision.0,
                value: value.as_ref(),
            };
            append(tx, id, &row)?;
            state.current = id;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: current.create_revision,
                mod_revision: Revision(id),
            };
            events.push(WatchEvent {
                kind: EventKind::Put,
                kv: kv.clone(),
                prev: Some(current),
            });
            Ok(Outcome::Written(kv))
        }
        Op::Delete { key, expected } => {
            let Some(current) = live(key)? else {
                return Ok(Err(not_found(key)));
            };
            if let Some(expected) = expected
                && current.mod_revision != *expected
            {
                return Ok(Err(conflict(key, *expected, current)));
            }
            let id = state.current + 1;
            let row = Append {
                name: key,
                created: false,
                deleted: true,
                create_revision: current.create_revision.0,
                prev_revision: current.mod_revision.0,
                value: &[],
            };
            append(tx, id, &row)?;
            state.current = id;
            let kv = KeyValue {
                key: key.clone(),
                value: Bytes::new(),
                create_revision: current.create_revision,
                mod_revision: Revision(id),
            };
            events.push(WatchEvent {
                kind: EventKind::Delete,
                kv,
                prev: Some(current.clone()),
            });
            Ok(Outcome::Deleted(current, Revision(id)))
        }
        Op::SetCompaction { revision } => {
            if revision.0 > state.current {
                return Ok(Err(StorageError::FutureRevision {
                    requested: *revision,
                    current: Revision(state.current),
                }));
            }
            if revision.0 > state.compacted {
                write_meta(tx, META_COMPACT_REVISION, revision.0)?;
                state.compacted = revision.0;
            }
            Ok(Outcome::CompactionWindow {
                from: state.compacted_through,
                to: state.compacted,
            })
        }
        Op::CompactWindow { from, to } => {
            let to = (*to).min(state.compacted);
            // For every row s below the compaction point: the row s superseded (its prev) is obsolete, and so is
            // s itself when it is a tombstone. Whatever is left below the compaction point is the newest live
            // row of each key, which reads at the compaction point and the prev values of later events need.
            let removed = tx
                .prepare_cached(
                    "DELETE FROM log WHERE id IN (
                        SELECT prev_revision FROM log WHERE id >= ?1 AND id < ?2 AND prev_revision > 0
                        UNION ALL
                        SELECT id FROM log WHERE id >= ?1 AND id < ?2 AND deleted = 1)",
                )?
                .execute(params![from, to])?;
            if to > state.compacted_through {
                write_meta(tx, META_COMPACTED_THROUGH, to)?;
                state.compacted_through = to;
            }
            Ok(Outcome::Removed(removed))
        }
    })
}

/// Owns the request channel and the writer thread; dropping it stops the writer and waits for it, so the data
/// directory is unlocked when the backend is gone.
struct WriterHandle {
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WriterHandle {
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            error!("the embedded store writer thread panicked");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Watches

/// The state of one watch stream.
struct WatchState {
    reads: Arc<ReadPool>,
    shared: Arc<Shared>,
    live: broadcast::Receiver<Arc<[WatchEvent]>>,
    prefix: String,
    start: Vec<u8>,
    end: Vec<u8>,
    /// What the caller asked to watch after (for the `Compacted` error).
    requested: Revision,
    /// Every event under the prefix with a revision up to this one has been queued.
    read_pos: i64,
    /// Replay the log until `read_pos` reaches this revision, then follow the live events.
    target: i64,
    chunk: usize,
    pending: VecDeque<WatchEvent>,
    done: bool,
}

impl WatchState {
    /// The next event, or an error that ends the stream; `None` once the backend is gone.
    async fn next(mut self) -> Option<(Result<WatchEvent>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            if self.read_pos < self.target {
                if let Err(e) = self.catch_up().await {
                    self.done = true;
                    return Some((Err(e), self));
                }
                continue;
            }
            match self.live.recv().await {
                Ok(batch) => {
                    if let (Some(first), Some(last)) = (batch.first(), batch.last())
                        && first.kv.mod_revision.0 > self.read_pos.saturating_add(1)
                    {
                        // Revisions were committed without reaching this receiver: replay them from the log.
                        self.target = last.kv.mod_revision.0;
                        continue;
                    }
                    for event in batch.iter() {
                        if event.kv.mod_revision.0 > self.read_pos && event.kv.key.starts_with(&self.prefix) {
                            self.pending.push_back(event.clone());
                        }
                    }
                    if let Some(last) = batch.last() {
                        self.read_pos = self.read_pos.max(last.kv.mod_revision.0);
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    // Commits were dropped from this watcher's buffer: replay them from the log.
                    debug!(prefix = %self.prefix, skipped, "watch fell behind, replaying from the log");
                    self.target = self.shared.current.load(Ordering::SeqCst);
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Queues the next chunk of events from the log, up to `target`.
    async fn catch_up(&mut self) -> Result<()> {
        let (start, end) = (self.start.clone(), self.end.clone());
        let (after, upto, chunk) = (self.read_pos, self.target, self.chunk);
        let events = self
            .reads
            .run(move |conn| read_events(conn, &start, &end, after, upto, chunk))
            .await?;
        let events = events.map_err(|compacted| StorageError::Compacted {
            requested: self.requested,
            compacted: Revision(compacted),
        })?;
        // A short chunk means everything up to `upto` has been read.
        self.read_pos = match events.last() {
            Some(last) if events.len() == chunk => last.kv.mod_revision.0,
            _ => upto,
        };
        self.pending.extend(events);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::future::join_all;

    use super::*;

    fn open_tuned(dir: &Path, tuning: Tuning) -> EmbeddedBackend {
        EmbeddedBackend::open_with(dir, tuning).unwrap()
    }

    fn row_count(dir: &Path) -> i64 {
        let conn = Connection::open(dir.join(DB_FILE)).unwrap();
        conn.query_row("SELECT COUNT(*) FROM log", [], |row| row.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn revisions_have_no_gaps_and_failed_writes_take_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedBackend::open(dir.path()).unwrap();
        let a = store.create("/k/a", Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(
            a.mod_revision,
            Revision(2),
            "the first write follows the initial revision 1"
        );
        assert!(store.create("/k/a", Bytes::from_static(b"x")).await.is_err());
        assert!(
            store
                .update("/k/a", Revision(99), Bytes::from_static(b"x"))
                .await
                .is_err()
        );
        let b = store
            .update("/k/a", a.mod_revision, Bytes::from_static(b"2"))
            .await
            .unwrap();
        assert_eq!(b.mod_revision, Revision(3));
        assert_eq!(b.create_revision, Revision(2));
        let (_, deleted_at) = store.delete("/k/a", None).await.unwrap();
        assert_eq!(deleted_at, Revision(4));
        assert_eq!(store.current_revision().await.unwrap(), Revision(4));
    }

    #[tokio::test]
    async fn concurrent_writes_share_commits() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedBackend::open(dir.path()).unwrap();
        let keys: Vec<String> = (0..200).map(|i| format!("/g/{i:03}")).collect();
        let writes = keys.iter().map(|key| store.create(key, Bytes::from_static(b"v")));
        for result in join_all(writes).await {
            result.unwrap();
        }
        let commits = store.shared.commits.load(Ordering::Relaxed);
        assert!(commits < 50, "200 concurrent writes took {commits} commits");
        assert_eq!(store.current_revision().await.unwrap(), Revision(201));
    }

    #[tokio::test]
    async fn a_second_open_of_the_same_directory_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = EmbeddedBackend::open(dir.path()).unwrap();
        let error = EmbeddedBackend::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("in use by another process"), "{error}");
        drop(first);
        EmbeddedBackend::open(dir.path()).unwrap();
    }

    #[tokio::test]
    async fn compaction_deletes_obsolete_rows_and_keeps_what_later_reads_need() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_tuned(
            dir.path(),
            Tuning {
                compact_window: 3,
                ..Tuning::default()
            },
        );
        let mut kv = store.create("/c/a", Bytes::from_static(b"0")).await.unwrap(); // 2
        for i in 1..=5 {
            kv = store
                .update("/c/a", kv.mod_revision, Bytes::from(format!("{i}")))
                .await
                .unwrap(); // 3..=7
        }
        store.create("/c/gone", Bytes::from_static(b"x")).await.unwrap(); // 8
        store.delete("/c/gone", None).await.unwrap(); // 9
        let b = store.create("/c/b", Bytes::from_static(b"b")).await.unwrap(); // 10
        let a = store
            .update("/c/a", kv.mod_revision, Bytes::from_static(b"last"))
            .await
            .unwrap(); // 11
        assert_eq!(row_count(dir.path()), 10);

        store.compact(Revision(11)).await.unwrap();
        // Left: /c/a@7 (the newest row of /c/a below 11, the prev of event 11), /c/b@10, /c/a@11.
        assert_eq!(row_count(dir.path()), 3);
        let listed = store
            .list(
                "/c/",
                ListOptions {
                    revision: Revision(11),
                    ..ListOptions::default()
                },
            )
            .await;
        assert_eq!(listed.unwrap().items, vec![a.clone(), b]);
        let mut watch = store.watch("/c/", Revision(10)).await.unwrap();
        let event = watch.next().await.unwrap().unwrap();
        assert_eq!(event.kv, a);
        assert_eq!(event.prev.unwrap().value, Bytes::from_static(b"5"));

        // Compacting again below or at the point is a no-op; state survives a reopen.
        store.compact(Revision(5)).await.unwrap();
        drop(watch);
        drop(store);
        let store = EmbeddedBackend::open(dir.path()).unwrap();
        assert_eq!(store.current_revision().await.unwrap(), Revision(11));
        let stale = store
            .list(
                "/c/",
                ListOptions {
                    revision: Revision(10),
                    ..ListOptions::default()
                },
            )
            .await;
        assert!(
            matches!(
                stale,
                Err(StorageError::Compacted {
                    compacted: Revision(11),
                    ..
                })
            ),
            "{stale:?}"
        );
    }

    #[tokio::test]
    async fn a_lagging_watch_replays_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_tuned(
            dir.path(),
            Tuning {
                event_buffer: 2,
                max_batch: 1,
                catch_up_chunk: 3,
                ..Tuning::default()
            },
        );
        let mut watch = store.watch("/lag/", Revision::ZERO).await.unwrap();
        for i in 0..50 {
            store
                .create(&format!("/lag/{i:02}"), Bytes::from_static(b"v"))
                .await
                .unwrap();
            store
                .create(&format!("/other/{i:02}"), Bytes::from_static(b"v"))
                .await
                .unwrap();
        }
        for i in 0..50 {
            let event = watch.next().await.unwrap().unwrap();
            assert_eq!(event.kv.key, format!("/lag/{i:02}"));
            assert_eq!(event.kv.mod_revision, Revision(2 * i + 2));
        }
        store.create("/lag/live", Bytes::from_static(b"v")).await.unwrap();
        assert_eq!(watch.next().await.unwrap().unwrap().kv.key, "/lag/live");
    }

    /// A revision committed without a live event (here: a row written behind the writer's back, which also makes
    /// the writer's next batch fail on a duplicate id) is replayed from the log, and the writer recovers.
    #[tokio::test]
    async fn a_watch_replays_revisions_it_missed_and_the_writer_recovers_from_a_failed_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedBackend::open(dir.path()).unwrap();
        let mut watch = store.watch("/gap/", Revision::ZERO).await.unwrap();
        let a = store.create("/gap/a", Bytes::from_static(b"a")).await.unwrap();
        let conn = Connection::open(dir.path().join(DB_FILE)).unwrap();
        conn.execute(
            "INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, value)
             VALUES (3, CAST('/gap/b' AS BLOB), 1, 0, 3, 0, CAST('b' AS BLOB))",
            [],
        )
        .unwrap();
        let failed = store.create("/gap/c", Bytes::from_static(b"c")).await;
        assert!(matches!(failed, Err(StorageError::Internal(_))), "{failed:?}");
        let c = store.create("/gap/c", Bytes::from_static(b"c")).await.unwrap();
        assert_eq!(c.mod_revision, Revision(4));

        assert_eq!(watch.next().await.unwrap().unwrap().kv, a);
        let b = watch.next().await.unwrap().unwrap();
        assert_eq!((b.kv.key.as_str(), b.kv.mod_revision), ("/gap/b", Revision(3)));
        assert_eq!(watch.next().await.unwrap().unwrap().kv, c);
    }

    #[tokio::test]
    async fn watch_streams_end_when_the_store_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedBackend::open(dir.path()).unwrap();
        let mut watch = store.watch("/", Revision::ZERO).await.unwrap();
        drop(store);
        assert!(watch.next().await.is_none());
    }
}
