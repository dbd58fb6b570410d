//! The conformance suite that every [`Backend`] must pass: the contract of `backend.rs`, as executable checks.
//!
//! Each case is a public `async fn` taking the backend and a key prefix (ending in `/`) that no other case
//! uses; it panics with a message naming the case and the broken guarantee. [`run_all`] runs every case one
//! after the other under sub-prefixes of one prefix. The cases that compact ([`read_at_compacted_revision`],
//! [`watch_after_compaction`]) discard history of the whole store, so run them on a store that no concurrent
//! test reads old revisions from. Durability across a restart needs a backend-specific way to reopen the store:
//! [`durability_across_reopen`] takes it as a closure.
//!
//! This module is compiled into the library (not only under `cfg(test)`) so other crates' tests can run it
//! against their own store setup.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::join_all;

use crate::{Backend, EventKind, KeyValue, ListOptions, Revision, StorageError, WatchEvent, WatchStream};

/// How long a case waits for an expected watch event.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every case except [`durability_across_reopen`] against `backend`, one after the other, each under
/// `prefix` + its name + `/`. The compacting cases run last.
pub async fn run_all(backend: &dyn Backend, prefix: &str) {
    let p = |case: &str| format!("{prefix}{case}/");
    create_and_get(backend, &p("create_and_get")).await;
    create_existing_fails(backend, &p("create_existing_fails")).await;
    update_with_stale_revision_conflicts(backend, &p("update_conflict")).await;
    update_missing_key_not_found(backend, &p("update_missing")).await;
    delete_cases(backend, &p("delete")).await;
    list_at_past_revision(backend, &p("list_at_past_revision")).await;
    pagination(backend, &p("pagination")).await;
    prefix_isolation(backend, &p("prefix_isolation")).await;
    watch_replays_history_then_live(backend, &p("watch_replay")).await;
    watch_from_now(backend, &p("watch_from_now")).await;
    future_revision(backend, &p("future_revision")).await;
    concurrent_updates_lose_nothing(backend, &p("concurrent_updates")).await;
    read_at_compacted_revision(backend, &p("read_compacted")).await;
    watch_after_compaction(backend, &p("watch_compacted")).await;
}

fn value(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

fn at(revision: Revision) -> ListOptions {
    ListOptions {
        revision,
        ..ListOptions::default()
    }
}

/// The keys and values of a list, for compact assertions.
fn pairs(items: &[KeyValue]) -> Vec<(String, Bytes)> {
    items
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect()
}

/// The next event of `stream`, failing the case on an error, the end of the stream or a timeout.
async fn next_event(stream: &mut WatchStream, case: &str) -> WatchEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(e))) => panic!("{case}: watch failed: {e}"),
        Ok(None) => panic!("{case}: watch ended early"),
        Err(_) => panic!("{case}: no watch event within {EVENT_TIMEOUT:?}"),
    }
}

async fn current(backend: &dyn Backend) -> Revision {
    backend.current_revision().await.expect("current_revision")
}

/// A revision to watch after that sees every later write: the current revision after a write to `marker` (a key
/// outside the watched prefix), since watching after [`Revision::ZERO`] means "from now on".
async fn watch_start(backend: &dyn Backend, marker: &str) -> Revision {
    backend
        .create(marker, value("marker"))
        .await
        .expect("create a marker key");
    current(backend).await
}

/// Create, then get; update keeps `create_revision` and advances `mod_revision`.
pub async fn create_and_get(backend: &dyn Backend, prefix: &str) {
    let key = format!("{prefix}object");
    let before = current(backend).await;
    let created = backend
        .create(&key, value("one"))
        .await
        .expect("create_and_get: create");
    assert_eq!(created.key, key, "create_and_get: create returns the key");
    assert_eq!(
        created.value,
        value("one"),
        "create_and_get: create returns the value"
    );
    assert!(
        created.mod_revision > before,
        "create_and_get: a write advances the revision"
    );
    assert_eq!(
        created.create_revision, created.mod_revision,
        "create_and_get: a new key's revisions agree"
    );
    assert!(
        current(backend).await >= created.mod_revision,
        "create_and_get: current revision after a write"
    );

    let read = backend.get(&key).await.expect("create_and_get: get");
    assert_eq!(
        read.as_ref(),
        Some(&created),
        "create_and_get: get returns what create returned"
    );
    let missing = backend
        .get(&format!("{prefix}missing"))
        .await
        .expect("create_and_get: get missing");
    assert_eq!(missing, None, "create_and_get: a missing key reads as None");

    let updated = backend
        .update(&key, created.mod_revision, value("two"))
        .await
        .expect("create_and_get: update");
    assert!(
        updated.mod_revision > created.mod_revision,
        "create_and_get: update advances mod_revision"
    );
    assert_eq!(
        updated.create_revision, created.create_revision,
        "create_and_get: update keeps create_revision"
    );
    assert_eq!(updated.value, value("two"));
    let read = backend.get(&key).await.expect("create_and_get: get after update");
    assert_eq!(
        read,
        Some(updated),
        "create_and_get: get returns what update returned"
    );
}

/// Creating a key that exists fails with `AlreadyExists` and changes nothing.
pub async fn create_existing_fails(backend: &dyn Backend, prefix: &str) {
    let key = format!("{prefix}object");
    let created = backend
        .create(&key, value("first"))
        .await
        .expect("create_existing_fails: create");
    match backend.create(&key, value("second")).await {
        Err(StorageError::AlreadyExists { key: reported }) => {
            assert_eq!(reported, key, "create_existing_fails: error names the key");
        }
        other => panic!("create_existing_fails: expected AlreadyExists, got {other:?}"),
    }
    let read = backend.get(&key).await.expect("create_existing_fails: get");
    assert_eq!(
        read,
        Some(created),
        "create_existing_fails: the failed create changed the key"
    );
}

/// An update with a stale revision fails with `Conflict` carrying the current key-value.
pub async fn update_with_stale_revision_conflicts(backend: &dyn Backend, prefix: &str) {
    let case = "update_with_stale_revision_conflicts";
    let key = format!("{prefix}object");
    let created = backend.create(&key, value("v1")).await.expect("create");
    let updated = backend
        .update(&key, created.mod_revision, value("v2"))
        .await
        .expect("update");
    match backend.update(&key, created.mod_revision, value("v3")).await {
        Err(StorageError::Conflict {
            key: reported,
            expected,
            current,
        }) => {
            assert_eq!(reported, key, "{case}: error names the key");
            assert_eq!(
                expected, created.mod_revision,
                "{case}: error carries the expected revision"
            );
            assert_eq!(
                current.as_deref(),
                Some(&updated),
                "{case}: error carries the current key-value"
            );
        }
        other => panic!("{case}: expected Conflict, got {other:?}"),
    }
    let read = backend.get(&key).await.expect("get");
    assert_eq!(read, Some(updated), "{case}: the failed update changed the key");
}

/// Updating a key that does not exist (never, or no longer) fails with `NotFound`.
pub async fn update_missing_key_not_found(backend: &dyn Backend, prefix: &str) {
    let case = "update_missing_key_not_found";
    let key = format!("{prefix}never");
    match backend.update(&key, Revision(1), value("x")).await {
        Err(StorageError::NotFound { key: reported }) => {
            assert_eq!(reported, key, "{case}: error names the key")
        }
        other => panic!("{case}: expected NotFound for a key never created, got {other:?}"),
    }
    let key = format!("{prefix}deleted");
    let created = backend.create(&key, value("x")).await.expect("create");
    backend.delete(&key, None).await.expect("delete");
    match backend.update(&key, created.mod_revision, value("y")).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("{case}: expected NotFound for a deleted key, got {other:?}"),
    }
    match backend.update(&key, Revision::ZERO, value("y")).await {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("{case}: expected NotFound for expected revision 0, got {other:?}"),
    }
    assert_eq!(
        backend.get(&key).await.expect("get"),
        None,
        "{case}: a failed update created the key"
    );
}

/// Unconditional delete, conditional delete (stale and current revision), delete of a missing key, and
/// re-creation after a delete.
pub async fn delete_cases(backend: &dyn Backend, prefix: &str) {
    let case = "delete_cases";
    let a = format!("{prefix}a");
    let created = backend.create(&a, value("a1")).await.expect("create a");
    let (deleted, deleted_at) = backend.delete(&a, None).await.expect("unconditional delete");
    assert_eq!(deleted, created, "{case}: delete returns the key-value as it was");
    assert!(
        deleted_at > created.mod_revision,
        "{case}: delete advances the revision"
    );
    assert_eq!(
        backend.get(&a).await.expect("get"),
        None,
        "{case}: a deleted key is gone"
    );
    match backend.delete(&a, None).await {
        Err(StorageError::NotFound { key }) => assert_eq!(key, a, "{case}: error names the key"),
        other => panic!("{case}: expected NotFound deleting a deleted key, got {other:?}"),
    }
    match backend
        .delete(&format!("{prefix}missing"), Some(Revision(1)))
        .await
    {
        Err(StorageError::NotFound { .. }) => {}
        other => panic!("{case}: expected NotFound for a conditional delete of a missing key, got {other:?}"),
    }

    let b = format!("{prefix}b");
    let b1 = backend.create(&b, value("b1")).await.expect("create b");
    let b2 = backend
        .update(&b, b1.mod_revision, value("b2"))
        .await
        .expect("update b");
    match backend.delete(&b, Some(b1.mod_revision)).await {
        Err(StorageError::Conflict {
            current, expected, ..
        }) => {
            assert_eq!(expected, b1.mod_revision);
            assert_eq!(
                current.as_deref(),
                Some(&b2),
                "{case}: conflict carries the current key-value"
            );
        }
        other => panic!("{case}: expected Conflict for a stale conditional delete, got {other:?}"),
    }
    assert_eq!(
        backend.get(&b).await.expect("get b"),
        Some(b2.clone()),
        "{case}: a failed delete removed the key"
    );
    match backend.delete(&b, Some(Revision::ZERO)).await {
        Err(StorageError::Conflict { .. }) => {}
        other => panic!("{case}: expected Conflict for a delete expecting revision 0, got {other:?}"),
    }
    let (deleted, deleted_at) = backend
        .delete(&b, Some(b2.mod_revision))
        .await
        .expect("conditional delete");
    assert_eq!(
        deleted, b2,
        "{case}: conditional delete returns the key-value as it was"
    );
    assert!(deleted_at > b2.mod_revision);

    let again = backend.create(&a, value("a2")).await.expect("re-create a");
    assert!(
        again.create_revision > deleted_at,
        "{case}: a re-created key has a new create_revision"
    );
    assert_eq!(again.create_revision, again.mod_revision);
}

/// A list at a past revision sees the state after exactly that write.
pub async fn list_at_past_revision(backend: &dyn Backend, prefix: &str) {
    let case = "list_at_past_revision";
    let (x, y, z) = (format!("{prefix}x"), format!("{prefix}y"), format!("{prefix}z"));
    let x1 = backend.create(&x, value("x1")).await.expect("create x");
    let y1 = backend.create(&y, value("y1")).await.expect("create y");
    let x2 = backend
        .update(&x, x1.mod_revision, value("x2"))
        .await
        .expect("update x");
    let (_, y_deleted) = backend.delete(&y, None).await.expect("delete y");
    let z1 = backend.create(&z, value("z1")).await.expect("create z");

    let expectations = [
        (x1.mod_revision, vec![x1.clone()]),
        (y1.mod_revision, vec![x1.clone(), y1.clone()]),
        (x2.mod_revision, vec![x2.clone(), y1.clone()]),
        (y_deleted, vec![x2.clone()]),
        (z1.mod_revision, vec![x2.clone(), z1.clone()]),
    ];
    for (revision, expected) in expectations {
        let listed = backend
            .list(prefix, at(revision))
            .await
            .expect("list at a past revision");
        assert_eq!(listed.items, expected, "{case}: state at revision {revision}");
        assert_eq!(
            listed.revision, revision,
            "{case}: a list reports the revision it was read at"
        );
        assert!(
            !listed.more && listed.remaining == 0,
            "{case}: an unlimited list has nothing more"
        );
    }
    let latest = backend
        .list(prefix, ListOptions::default())
        .await
        .expect("list latest");
    assert_eq!(latest.items, vec![x2, z1.clone()], "{case}: latest state");
    assert!(
        latest.revision >= z1.mod_revision,
        "{case}: a latest list reports the current revision"
    );
}

/// Pagination with `limit` and `start_key` (= last key + `"\0"`) at the revision of the first page: `more` and
/// `remaining` are right and writes between pages are not visible.
pub async fn pagination(backend: &dyn Backend, prefix: &str) {
    let case = "pagination";
    let key = |i: &str| format!("{prefix}k{i}");
    let mut originals = Vec::new();
    for i in 0..10 {
        originals.push(
            backend
                .create(&key(&format!("{i:02}")), value(&format!("v{i}")))
                .await
                .expect("create"),
        );
    }
    let page = |start: Option<String>, revision: Revision, limit: u64| ListOptions {
        revision,
        limit,
        start_key: start,
    };

    let first = backend
        .list(prefix, page(None, Revision::ZERO, 4))
        .await
        .expect("first page");
    assert_eq!(first.items, originals[0..4], "{case}: first page");
    assert!(first.more, "{case}: more after the first page");
    assert_eq!(first.remaining, 6, "{case}: remaining after the first page");
    let revision = first.revision;

    // Writes between pages: none of them may show up in later pages read at the first page's revision.
    backend
        .update(&key("05"), originals[5].mod_revision, value("changed"))
        .await
        .expect("update k05");
    backend.delete(&key("06"), None).await.expect("delete k06");
    backend
        .create(&key("03a"), value("inserted"))
        .await
        .expect("create k03a");
    backend
        .create(&key("10"), value("appended"))
        .await
        .expect("create k10");

    let next_start = |items: &[KeyValue]| items.last().map(|kv| format!("{}\0", kv.key));
    let second = backend
        .list(prefix, page(next_start(&first.items), revision, 4))
        .await
        .expect("second page");
    assert_eq!(
        second.items,
        originals[4..8],
        "{case}: second page at the first page's revision"
    );
    assert_eq!(
        second.revision, revision,
        "{case}: later pages report the first page's revision"
    );
    assert!(second.more, "{case}: more after the second page");
    assert_eq!(second.remaining, 2, "{case}: remaining after the second page");

    let third = backend
        .list(prefix, page(next_start(&second.items), revision, 4))
        .await
        .expect("third page");
    assert_eq!(third.items, originals[8..10], "{case}: last page");
    assert!(!third.more, "{case}: nothing more after the last page");
    assert_eq!(
        third.remaining, 0,
        "{case}: nothing remaining after the last page"
    );

    let exact = backend
        .list(prefix, page(next_start(&second.items), revision, 2))
        .await
        .expect("exact page");
    assert_eq!(
        exact.items,
        originals[8..10],
        "{case}: a page that ends exactly at the last key"
    );
    assert!(
        !exact.more && exact.remaining == 0,
        "{case}: a page ending at the last key has nothing more"
    );

    let latest = backend
        .list(prefix, ListOptions::default())
        .await
        .expect("latest");
    let keys: Vec<String> = latest.items.iter().map(|kv| kv.key.clone()).collect();
    let expected: Vec<String> = ["00", "01", "02", "03", "03a", "04", "05", "07", "08", "09", "10"]
        .iter()
        .map(|i| key(i))
        .collect();
    assert_eq!(keys, expected, "{case}: latest state after the writes");
}

/// A prefix ending in `/` matches only the keys below it: `/a/b/` does not match `/a/bc` or `/a/b`.
pub async fn prefix_isolation(backend: &dyn Backend, prefix: &str) {
    let case = "prefix_isolation";
    let base = format!("{prefix}a/b/");
    let start = watch_start(backend, &format!("{prefix}start")).await;
    for suffix in ["a/bc", "a/b/x", "a/b", "a/b0", "a/b/y/z", "a/a"] {
        backend
            .create(&format!("{prefix}{suffix}"), value(suffix))
            .await
            .expect("create");
    }
    let listed = backend.list(&base, ListOptions::default()).await.expect("list");
    let keys: Vec<String> = listed.items.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(
        keys,
        vec![format!("{base}x"), format!("{base}y/z")],
        "{case}: list under {base}"
    );
    let limited = backend
        .list(
            &base,
            ListOptions {
                limit: 1,
                ..ListOptions::default()
            },
        )
        .await
        .expect("list");
    assert_eq!(
        limited.remaining, 1,
        "{case}: remaining counts only keys under the prefix"
    );

    let mut watch = backend.watch(&base, start).await.expect("watch");
    assert_eq!(next_event(&mut watch, case).await.kv.key, format!("{base}x"));
    assert_eq!(next_event(&mut watch, case).await.kv.key, format!("{base}y/z"));
    backend
        .create(&format!("{prefix}a/bcd"), value("outside"))
        .await
        .expect("create outside");
    backend
        .create(&format!("{base}w"), value("inside"))
        .await
        .expect("create inside");
    assert_eq!(
        next_event(&mut watch, case).await.kv.key,
        format!("{base}w"),
        "{case}: watch under {base}"
    );
}

/// A watch from a past revision replays every change after it (puts, updates with the previous value, deletes
/// with the previous value and the delete revision), then delivers live changes.
pub async fn watch_replays_history_then_live(backend: &dyn Backend, prefix: &str) {
    let case = "watch_replays_history_then_live";
    let base = format!("{prefix}w/");
    let (k1, k2) = (format!("{base}k1"), format!("{base}k2"));
    let start = watch_start(backend, &format!("{prefix}start")).await;
    let k1_v1 = backend.create(&k1, value("v1")).await.expect("create k1");
    let k1_v2 = backend
        .update(&k1, k1_v1.mod_revision, value("v2"))
        .await
        .expect("update k1");
    let k2_v1 = backend.create(&k2, value("w1")).await.expect("create k2");
    backend
        .create(&format!("{prefix}outside"), value("x"))
        .await
        .expect("create outside");
    let (_, k1_deleted) = backend.delete(&k1, None).await.expect("delete k1");

    let mut watch = backend.watch(&base, start).await.expect("watch");
    let event = next_event(&mut watch, case).await;
    assert_eq!(
        (event.kind, &event.kv, &event.prev),
        (EventKind::Put, &k1_v1, &None),
        "{case}: creation"
    );
    let event = next_event(&mut watch, case).await;
    assert_eq!(
        (event.kind, &event.kv),
        (EventKind::Put, &k1_v2),
        "{case}: update"
    );
    assert_eq!(
        event.prev.as_ref(),
        Some(&k1_v1),
        "{case}: an update carries the previous value"
    );
    let event = next_event(&mut watch, case).await;
    assert_eq!(
        (event.kind, &event.kv, &event.prev),
        (EventKind::Put, &k2_v1, &None),
        "{case}: second creation"
    );
    let event = next_event(&mut watch, case).await;
    assert_eq!(event.kind, EventKind::Delete, "{case}: delete");
    assert_eq!(event.kv.key, k1, "{case}: delete key");
    assert_eq!(
        event.kv.mod_revision, k1_deleted,
        "{case}: a delete event has the delete revision"
    );
    assert_eq!(event.revision(), k1_deleted);
    assert!(
        event.kv.value.is_empty(),
        "{case}: a delete event has an empty value"
    );
    assert_eq!(
        event.kv.create_revision, k1_v1.create_revision,
        "{case}: delete event create_revision"
    );
    assert_eq!(
        event.prev.as_ref(),
        Some(&k1_v2),
        "{case}: a delete carries the last value"
    );

    // Live changes follow without a gap.
    let k2_v2 = backend
        .update(&k2, k2_v1.mod_revision, value("w2"))
        .await
        .expect("update k2");
    let event = next_event(&mut watch, case).await;
    assert_eq!(
        (event.kind, &event.kv),
        (EventKind::Put, &k2_v2),
        "{case}: live update"
    );
    assert_eq!(
        event.prev.as_ref(),
        Some(&k2_v1),
        "{case}: live update previous value"
    );
    let k1_again = backend.create(&k1, value("v3")).await.expect("re-create k1");
    let event = next_event(&mut watch, case).await;
    assert_eq!(
        (event.kind, &event.kv, &event.prev),
        (EventKind::Put, &k1_again, &None),
        "{case}: re-creation"
    );

    // Resuming after a revision starts right after it.
    let mut resumed = backend
        .watch(&base, k1_v2.mod_revision)
        .await
        .expect("resumed watch");
    let event = next_event(&mut resumed, case).await;
    assert_eq!(
        event.kv, k2_v1,
        "{case}: a watch starts strictly after its revision"
    );
    let event = next_event(&mut resumed, case).await;
    assert_eq!(
        event.revision(),
        k1_deleted,
        "{case}: resumed watch continues in order"
    );
}

/// A watch after [`Revision::ZERO`] delivers only changes made after it started.
pub async fn watch_from_now(backend: &dyn Backend, prefix: &str) {
    let case = "watch_from_now";
    let key = format!("{prefix}object");
    let created = backend.create(&key, value("old")).await.expect("create");
    let mut watch = backend.watch(prefix, Revision::ZERO).await.expect("watch");
    let updated = backend
        .update(&key, created.mod_revision, value("new"))
        .await
        .expect("update");
    let event = next_event(&mut watch, case).await;
    assert_eq!(
        event.kv, updated,
        "{case}: the first event is the first change after the watch started"
    );
    assert_eq!(event.prev, Some(created), "{case}: with the previous value");
}

/// Reading at or compacting to a revision above the current one fails with `FutureRevision`.
pub async fn future_revision(backend: &dyn Backend, prefix: &str) {
    let case = "future_revision";
    backend
        .create(&format!("{prefix}object"), value("x"))
        .await
        .expect("create");
    let now = current(backend).await;
    let future = Revision(now.0 + 1000);
    match backend.list(prefix, at(future)).await {
        Err(StorageError::FutureRevision { requested, current }) => {
            assert_eq!(requested, future, "{case}: error carries the requested revision");
            assert!(
                current >= now,
                "{case}: error carries the current revision ({current} < {now})"
            );
        }
        other => panic!("{case}: expected FutureRevision for a list, got {other:?}"),
    }
    match backend.compact(future).await {
        Err(StorageError::FutureRevision { .. }) => {}
        other => panic!("{case}: expected FutureRevision for a compaction, got {other:?}"),
    }
}

/// 32 concurrent writers each increment one counter 20 times with compare-and-swap retries: no update is lost.
pub async fn concurrent_updates_lose_nothing(backend: &dyn Backend, prefix: &str) {
    const WRITERS: u64 = 32;
    const INCREMENTS: u64 = 20;
    let case = "concurrent_updates_lose_nothing";
    let key = format!("{prefix}counter");
    backend.create(&key, value("0")).await.expect("create counter");
    let key = &key;
    let writer = || async move {
        let mut conflicts = 0_u64;
        let mut current = backend
            .get(key)
            .await
            .expect("get counter")
            .expect("counter exists");
        for _ in 0..INCREMENTS {
            loop {
                let count: u64 = std::str::from_utf8(&current.value)
                    .ok()
                    .and_then(|text| text.parse().ok())
                    .unwrap_or_else(|| panic!("{case}: counter holds {:?}", current.value));
                match backend
                    .update(key, current.mod_revision, value(&(count + 1).to_string()))
                    .await
                {
                    Ok(written) => {
                        current = written;
                        break;
                    }
                    Err(StorageError::Conflict {
                        current: Some(now), ..
                    }) => {
                        conflicts += 1;
                        current = *now;
                    }
                    Err(e) => panic!("{case}: update failed: {e}"),
                }
            }
        }
        conflicts
    };
    let conflicts: u64 = join_all((0..WRITERS).map(|_| writer())).await.into_iter().sum();
    let last = backend
        .get(key)
        .await
        .expect("get counter")
        .expect("counter exists");
    assert_eq!(
        last.value,
        value(&(WRITERS * INCREMENTS).to_string()),
        "{case}: lost updates ({conflicts} conflicts were retried)"
    );
}

/// After `compact(C)`, reading below `C` fails with `Compacted`, the state at `C` is still readable, and
/// compacting again at or below `C` is a no-op.
pub async fn read_at_compacted_revision(backend: &dyn Backend, prefix: &str) {
    let case = "read_at_compacted_revision";
    let key = format!("{prefix}object");
    let v1 = backend.create(&key, value("v1")).await.expect("create");
    let v2 = backend
        .update(&key, v1.mod_revision, value("v2"))
        .await
        .expect("update");
    let v3 = backend
        .update(&key, v2.mod_revision, value("v3"))
        .await
        .expect("update");
    backend.compact(v2.mod_revision).await.expect("compact");
    match backend.list(prefix, at(v1.mod_revision)).await {
        Err(StorageError::Compacted { requested, .. }) => {
            assert_eq!(
                requested, v1.mod_revision,
                "{case}: error carries the requested revision"
            );
        }
        other => panic!("{case}: expected Compacted reading below the compaction point, got {other:?}"),
    }
    let listed = backend
        .list(prefix, at(v2.mod_revision))
        .await
        .expect("list at the compaction point");
    assert_eq!(
        listed.items,
        vec![v2.clone()],
        "{case}: the state at the compaction point stays readable"
    );
    let listed = backend
        .list(prefix, at(v3.mod_revision))
        .await
        .expect("list after the compaction point");
    assert_eq!(listed.items, vec![v3.clone()]);
    assert_eq!(
        backend.get(&key).await.expect("get"),
        Some(v3),
        "{case}: latest state"
    );
    backend
        .compact(v1.mod_revision)
        .await
        .expect("compacting below the compaction point is a no-op");
    backend
        .compact(v2.mod_revision)
        .await
        .expect("compacting at the compaction point is a no-op");
}

/// After `compact(C)`, a watch after `C - 2` or earlier fails with `Compacted` (returned, or as its first
/// item); a watch after `C - 1` delivers the event at `C` and everything later.
pub async fn watch_after_compaction(backend: &dyn Backend, prefix: &str) {
    let case = "watch_after_compaction";
    let key = format!("{prefix}object");
    let v1 = backend.create(&key, value("v1")).await.expect("create");
    let v2 = backend
        .update(&key, v1.mod_revision, value("v2"))
        .await
        .expect("update");
    let v3 = backend
        .update(&key, v2.mod_revision, value("v3"))
        .await
        .expect("update");
    let v4 = backend
        .update(&key, v3.mod_revision, value("v4"))
        .await
        .expect("update");
    backend.compact(v3.mod_revision).await.expect("compact");

    let error = match backend.watch(prefix, v1.mod_revision).await {
        Err(e) => e,
        Ok(mut stream) => match tokio::time::timeout(EVENT_TIMEOUT, stream.next()).await {
            Ok(Some(Err(e))) => e,
            other => panic!("{case}: expected a Compacted error as the first watch item, got {other:?}"),
        },
    };
    match error {
        StorageError::Compacted { requested, .. } => {
            assert_eq!(
                requested, v1.mod_revision,
                "{case}: error carries the requested revision"
            );
        }
        other => panic!("{case}: expected Compacted, got {other:?}"),
    }

    let mut watch = backend
        .watch(prefix, v2.mod_revision)
        .await
        .expect("watch from the compaction point");
    let event = next_event(&mut watch, case).await;
    assert_eq!(
        event.kv, v3,
        "{case}: the event at the compaction point is delivered"
    );
    let event = next_event(&mut watch, case).await;
    assert_eq!(event.kv, v4, "{case}: events after the compaction point follow");
    assert_eq!(event.prev, Some(v3), "{case}: with their previous values");
}

/// Durability: what was written before a restart reads back identically after it (keys, values, revisions,
/// history), and new writes continue after the old revisions.
///
/// `reopen` receives the backend, must shut it down (drop it, stop the server…) and return a fresh handle on
/// the same store.
pub async fn durability_across_reopen<F, Fut>(backend: Box<dyn Backend>, prefix: &str, reopen: F)
where
    F: FnOnce(Box<dyn Backend>) -> Fut,
    Fut: Future<Output = Box<dyn Backend>>,
{
    let case = "durability_across_reopen";
    let (a, b, c) = (format!("{prefix}a"), format!("{prefix}b"), format!("{prefix}c"));
    // So that the watch below can start after a nonzero revision.
    backend
        .create(&format!("{prefix}first"), value("first"))
        .await
        .expect("create first");
    let a1 = backend.create(&a, value("a1")).await.expect("create a");
    let b1 = backend.create(&b, value("b1")).await.expect("create b");
    let a2 = backend
        .update(&a, a1.mod_revision, value("a2"))
        .await
        .expect("update a");
    backend.delete(&b, None).await.expect("delete b");
    let c1 = backend.create(&c, value("c1")).await.expect("create c");
    let before = current(backend.as_ref()).await;
    let old_state = backend
        .list(prefix, at(b1.mod_revision))
        .await
        .expect("list at a past revision");

    let backend = reopen(backend).await;
    assert_eq!(
        current(backend.as_ref()).await,
        before,
        "{case}: the current revision survives"
    );
    assert_eq!(
        backend.get(&a).await.expect("get a"),
        Some(a2.clone()),
        "{case}: an updated key survives"
    );
    assert_eq!(
        backend.get(&b).await.expect("get b"),
        None,
        "{case}: a delete survives"
    );
    assert_eq!(
        backend.get(&c).await.expect("get c"),
        Some(c1.clone()),
        "{case}: a created key survives"
    );
    let listed = backend
        .list(prefix, at(b1.mod_revision))
        .await
        .expect("list at a past revision after reopen");
    assert_eq!(listed.items, old_state.items, "{case}: history survives");
    let expected = vec![
        (a.clone(), value("a1")),
        (b.clone(), value("b1")),
        (format!("{prefix}first"), value("first")),
    ];
    assert_eq!(
        pairs(&listed.items),
        expected,
        "{case}: state at a past revision after reopen"
    );

    let mut watch = backend
        .watch(prefix, Revision(a1.mod_revision.0 - 1))
        .await
        .expect("watch after reopen");
    let kinds: Vec<(EventKind, Revision)> = {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let event = next_event(&mut watch, case).await;
            seen.push((event.kind, event.revision()));
        }
        seen
    };
    assert_eq!(kinds.len(), 5);
    assert_eq!(
        kinds[0],
        (EventKind::Put, a1.mod_revision),
        "{case}: replay after reopen"
    );
    assert_eq!(
        kinds[3].0,
        EventKind::Delete,
        "{case}: replayed delete after reopen"
    );
    assert_eq!(kinds[4], (EventKind::Put, c1.mod_revision));

    let a3 = backend
        .update(&a, a2.mod_revision, value("a3"))
        .await
        .expect("update after reopen");
    assert!(
        a3.mod_revision > before,
        "{case}: new writes continue after the old revisions"
    );
    assert_eq!(
        a3.create_revision, a1.create_revision,
        "{case}: create_revision survives"
    );
}
