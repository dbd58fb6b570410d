//! The embedded backend: the conformance suite, durability across a reopen and across `kill -9`, and a clear
//! error for an unusable data directory.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;
use fcp_storage::embedded::EmbeddedBackend;
use fcp_storage::{Backend, ListOptions, Revision, conformance};

/// Set (to a data directory) when this test binary is re-invoked as the child of the kill -9 test.
const KILL9_CHILD_DIR: &str = "FCP_STORAGE_KILL9_CHILD_DIR";
/// How many acknowledged writes the kill -9 test waits for before killing the child.
const KILL9_ACKS: usize = 600;

async fn setup() -> (tempfile::TempDir, Box<dyn Backend>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = EmbeddedBackend::open(dir.path()).expect("open the embedded store");
    (dir, Box::new(backend))
}

all_conformance_tests!();

#[tokio::test]
async fn run_all_in_one_store() {
    let (_dir, backend) = setup().await;
    conformance::run_all(backend.as_ref(), "/registry/all/").await;
}

#[tokio::test]
async fn durability_across_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().to_path_buf();
    let backend = Box::new(EmbeddedBackend::open(&path).expect("open"));
    conformance::durability_across_reopen(backend, "/registry/durable/", |old| async move {
        drop(old);
        Box::new(EmbeddedBackend::open(&path).expect("reopen")) as Box<dyn Backend>
    })
    .await;
}

#[tokio::test]
async fn unusable_data_dir_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write file");
    let data_dir = file.join("data");
    let error = EmbeddedBackend::open(&data_dir)
        .expect_err("a data dir under a file")
        .to_string();
    assert!(error.contains("cannot create data directory"), "{error}");
    assert!(
        error.contains(&data_dir.display().to_string()),
        "error names the path: {error}"
    );
    assert!(
        error.contains("Not a directory"),
        "error names the cause: {error}"
    );
}

/// Not a test of its own: the child process of [`acknowledged_writes_survive_kill_9`]. Without the environment
/// variable it returns at once.
#[test]
fn kill9_child_process() {
    let Ok(dir) = std::env::var(KILL9_CHILD_DIR) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = Arc::new(EmbeddedBackend::open(Path::new(&dir)).expect("child: open"));
        let writers = (0..8).map(|writer| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                // Bounded, in case the parent dies without killing this process.
                for i in 0..100_000 {
                    let key = format!("/kill9/{writer}/{i:06}");
                    let kv = store
                        .create(&key, Bytes::from(format!("value {writer} {i}")))
                        .await
                        .expect("child: create");
                    let mut stdout = std::io::stdout().lock();
                    writeln!(stdout, "ack {key} {}", kv.mod_revision).expect("child: write ack");
                    stdout.flush().expect("child: flush ack");
                }
            })
        });
        futures::future::join_all(writers).await;
    });
}

/// Writes acknowledged by a process survive its SIGKILL in the middle of a stream of concurrent writes.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .args([
            "embedded::kill9_child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL9_CHILD_DIR, dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("child stdout");
    let (lines, acks_rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        // Only complete lines count: a line cut short by the kill is not an acknowledgement.
        while stdout.read_line(&mut line).is_ok_and(|n| n > 0) && line.ends_with('\n') {
            if lines.send(line.trim_end().to_owned()).is_err() {
                break;
            }
            line.clear();
        }
    });
    let mut acks: Vec<(String, Revision)> = Vec::new();
    while acks.len() < KILL9_ACKS {
        match acks_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                if let Some(ack) = line.strip_prefix("ack ") {
                    let (key, revision) = ack.split_once(' ').expect("ack line: key and revision");
                    acks.push((key.to_owned(), Revision(revision.parse().expect("ack revision"))));
                }
            }
            Err(e) => {
                let _ = child.kill();
                panic!("the child stopped acknowledging after {} writes: {e}", acks.len());
            }
        }
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    // Acks printed before the kill but not read yet are acknowledged too.
    reader.join().expect("reader thread");
    for line in acks_rx.try_iter() {
        if let Some((key, revision)) = line.strip_prefix("ack ").and_then(|ack| ack.split_once(' '))
            && let Ok(revision) = revision.parse()
        {
            acks.push((key.to_owned(), Revision(revision)));
        }
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = EmbeddedBackend::open(dir.path()).expect("reopen after kill -9");
        for (key, revision) in &acks {
            let kv = store
                .get(key)
                .await
                .expect("get")
                .unwrap_or_else(|| panic!("acknowledged {key} was lost"));
            assert_eq!(kv.mod_revision, *revision, "{key} has its acknowledged revision");
            assert_eq!(kv.create_revision, *revision);
        }
        let current = store.current_revision().await.expect("current revision");
        let newest_ack = acks.iter().map(|(_, revision)| *revision).max().expect("acks");
        assert!(
            current >= newest_ack,
            "current revision {current} is below an acknowledged {newest_ack}"
        );
        // Every revision after the initial one is one create of a distinct key: no gaps, no torn batch.
        let all = store.list("/kill9/", ListOptions::default()).await.expect("list");
        assert_eq!(
            all.items.len() as i64,
            current.0 - 1,
            "one key per revision up to {current}"
        );
        let after = store
            .create("/kill9/after", Bytes::from_static(b"x"))
            .await
            .expect("write after reopen");
        assert_eq!(
            after.mod_revision,
            current.next(),
            "revisions continue without a gap"
        );
        eprintln!(
            "kill -9: {} acknowledged writes, {} committed",
            acks.len(),
            current
        );
    });
}
