//! `kill -9` during a write burst loses no acknowledged write: a child process (this test binary,
//! re-run as `burst_writer`) writes through the barrier into a SQLite file and prints each key once
//! its write returned; the parent SIGKILLs it mid-burst, reopens the file and finds every printed
//! key with its value.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/backends.rs"]
mod backends;

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::sync::Arc;

use qsafe_store::{Barrier, RootKey, SqlStorage, Storage};

const DB_ENV: &str = "QSAFE_BURST_DB";
const ROOT_ENV: &str = "QSAFE_BURST_ROOT";
/// Acknowledged writes to wait for before the kill.
const ACKS_BEFORE_KILL: usize = 300;

fn value_for(key: &str) -> Vec<u8> {
    format!("value of {key}").into_bytes()
}

/// The child: writes until killed, from 4 concurrent tasks. Does nothing unless the parent set
/// the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the child half of kill_9_mid_burst_loses_no_acknowledged_write"]
async fn burst_writer() {
    let (Ok(db), Ok(root)) = (std::env::var(DB_ENV), std::env::var(ROOT_ENV)) else {
        return;
    };
    let storage = SqlStorage::open_sqlite(db.as_ref(), 8).await.unwrap();
    let barrier = Arc::new(Barrier::new(Arc::new(storage)));
    barrier
        .unseal(RootKey::from_bytes(&hex::decode(root).unwrap()).unwrap())
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for task in 0..4 {
        let barrier = barrier.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0.. {
                let key = format!("burst/{task}/{i}");
                barrier.put(&key, &value_for(&key)).await.unwrap();
                if tx.send(key).is_err() {
                    return;
                }
            }
        });
    }
    let mut out = std::io::stdout().lock();
    while let Some(key) = rx.recv().await {
        writeln!(out, "ack {key}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test]
async fn kill_9_mid_burst_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("qsafe.db");
    let root = RootKey::generate(&qsafe_crypto::Rng::new()).unwrap();
    {
        let storage = SqlStorage::open_sqlite(&db, 1).await.unwrap();
        let barrier = Barrier::new(Arc::new(storage.clone()));
        barrier
            .initialize(RootKey::from_bytes(root.as_bytes()).unwrap())
            .await
            .unwrap();
        storage.close().await;
    }

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "burst_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DB_ENV, &db)
        .env(ROOT_ENV, hex::encode(root.as_bytes()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(key) = line.strip_prefix("ack ") {
            acked.push(key.to_owned());
            if acked.len() == ACKS_BEFORE_KILL {
                child.kill().unwrap(); // SIGKILL
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(acked.len(), ACKS_BEFORE_KILL, "the writer stopped early");

    let storage = SqlStorage::open_sqlite(&db, 2).await.unwrap();
    let barrier = Barrier::new(Arc::new(storage.clone()));
    barrier.unseal(root).await.unwrap();
    for key in &acked {
        let value = barrier.get(key).await.unwrap();
        assert_eq!(
            value.map(|v| v.value.to_vec()),
            Some(value_for(key)),
            "acknowledged write {key} was lost"
        );
    }
    let total = storage
        .keys("burst/", None, 100_000)
        .await
        .unwrap()
        .keys
        .len();
    assert!(total >= ACKS_BEFORE_KILL, "{total} keys stored");
}
