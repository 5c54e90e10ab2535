//! Storage throughput: puts and gets per second on SQLite and PostgreSQL, raw and through the
//! barrier, one caller and 16 concurrent callers. Prints a markdown table.
//!
//! Run `tools/bench/storage.sh`, which starts a durable PostgreSQL (fsync on) on loopback and
//! passes its URL in `QSAFE_BENCH_POSTGRES_URL`; without it only SQLite is measured.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use qsafe_store::{Barrier, RootKey, SqlStorage, Storage};

/// How long each measurement runs.
const WINDOW: Duration = Duration::from_secs(3);
/// A stored value: about a KV v2 secret with its metadata.
const VALUE_LEN: usize = 512;
const KEYS: usize = 1000;

/// One of the two layers measured.
#[derive(Clone)]
enum Layer {
    Raw(Arc<SqlStorage>),
    Barrier(Arc<Barrier>),
}

impl Layer {
    async fn put(&self, key: &str, value: &[u8]) {
        match self {
            Self::Raw(s) => drop(s.put(key, value).await.unwrap()),
            Self::Barrier(b) => drop(b.put(key, value).await.unwrap()),
        }
    }

    async fn get(&self, key: &str) {
        match self {
            Self::Raw(s) => assert!(s.get(key).await.unwrap().is_some()),
            Self::Barrier(b) => assert!(b.get(key).await.unwrap().is_some()),
        }
    }
}

/// Operations per second, and the median and 99th-percentile latency, of `callers` tasks
/// putting (or getting) for [`WINDOW`].
async fn measure(layer: &Layer, callers: usize, write: bool) -> (f64, Duration, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for caller in 0..callers {
        let layer = layer.clone();
        tasks.push(tokio::spawn(async move {
            let value = vec![0x5a; VALUE_LEN];
            let mut latencies = Vec::new();
            let mut i = caller;
            while start.elapsed() < WINDOW {
                let key = format!("bench/{}", i % KEYS);
                let t = Instant::now();
                if write {
                    layer.put(&key, &value).await;
                } else {
                    layer.get(&key).await;
                }
                latencies.push(t.elapsed());
                i += callers;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let n = latencies.len();
    (
        n as f64 / elapsed,
        latencies[n / 2],
        latencies[n * 99 / 100],
    )
}

async fn run(backend: &str, storage: SqlStorage) {
    let storage = Arc::new(storage);
    let barrier = Arc::new(Barrier::new(storage.clone()));
    barrier
        .initialize(RootKey::generate(&qsafe_crypto::Rng::new()).unwrap())
        .await
        .unwrap();
    let value = vec![0x5a; VALUE_LEN];
    for i in 0..KEYS {
        barrier.put(&format!("bench/{i}"), &value).await.unwrap();
    }
    for (name, layer) in [
        ("raw", Layer::Raw(storage.clone())),
        ("barrier", Layer::Barrier(barrier)),
    ] {
        for callers in [1, 16] {
            for (op, write) in [("put", true), ("get", false)] {
                let (ops, p50, p99) = measure(&layer, callers, write).await;
                println!(
                    "| {backend} | {name} | {op} | {callers} | {ops:.0} | {:.3} ms | {:.3} ms |",
                    p50.as_secs_f64() * 1e3,
                    p99.as_secs_f64() * 1e3
                );
            }
        }
    }
}

#[tokio::main]
async fn main() {
    println!("| backend | layer | op | callers | ops/s | p50 | p99 |");
    println!("|---|---|---|---:|---:|---:|---:|");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqlStorage::open_sqlite(&dir.path().join("bench.db"), 16)
        .await
        .unwrap();
    run("SQLite (read cache)", sqlite).await;
    let dir2 = tempfile::tempdir().unwrap();
    let uncached = SqlStorage::open_sqlite(&dir2.path().join("bench.db"), 16)
        .await
        .unwrap()
        .without_read_cache();
    run("SQLite (no cache)", uncached).await;
    if let Ok(url) = std::env::var("QSAFE_BENCH_POSTGRES_URL") {
        let postgres = SqlStorage::connect_postgres(&url, 16).await.unwrap();
        run("PostgreSQL", postgres).await;
    } else {
        eprintln!("QSAFE_BENCH_POSTGRES_URL not set: PostgreSQL not measured");
    }
    println!();
    println!(
        "{VALUE_LEN}-byte values over {KEYS} keys, {}s per row. SQLite in WAL with synchronous=FULL \
         in {}; PostgreSQL with fsync on, on 127.0.0.1.",
        WINDOW.as_secs(),
        dir.path().display()
    );
}
