//! qsafe against OpenBao on the same machine in one run (issue 4's benchmark): transit encrypt
//! and decrypt of 128-byte plaintexts and KV v2 reads, 16 connections on loopback over TLS, both
//! servers with a file audit device; plus the time of one 1,000-item batch encrypt.
//!
//! - qsafe: the release `qsafe dev` (SQLite, WAL, fsync per commit; ML-DSA-65 certificate),
//!   transit keys `ml-kem-768` and `aes256-gcm96`.
//! - OpenBao: `.venv/bin/bao server` 2.7 (scripts/test-deps.sh) with integrated raft storage,
//!   TLS (ECDSA P-256 certificate: Go's TLS has no ML-DSA) and a config-declared file audit
//!   device; transit `aes256-gcm96`.
//!
//! The same load generator (reqwest on rustls/aws-lc-rs, offering X25519MLKEM768 to both) drives
//! both; rows alternate between the servers for `ROUNDS` rounds and the median round is reported.
//! Run `tools/bench/transit.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark"
)]

use std::path::Path;
use std::time::{Duration, Instant};

#[path = "common/cpu.rs"]
mod cpu;
#[path = "../tests/support/dev.rs"]
mod dev;
#[path = "common/load.rs"]
#[expect(
    dead_code,
    reason = "raw bodies are for the PKI benchmark's OCSP requests"
)]
mod load;

use dev::Server;
use load::{Body, CONNECTIONS, Target, WINDOW, median};

use qsafe_crypto::encoding::b64_encode;
use serde_json::{Value, json};

const ROUNDS: usize = 3;

async fn start_qsafe(dir: &Path) -> (Server, Target) {
    let (server, target) = load::start_qsafe(dir).await;
    target
        .call(
            reqwest::Method::POST,
            "sys/mounts/transit",
            Some(json!({"type": "transit"})),
        )
        .await;
    for (name, kind) in [("pq", "ml-kem-768"), ("aes", "aes256-gcm96")] {
        target
            .call(
                reqwest::Method::POST,
                &format!("transit/keys/{name}"),
                Some(json!({"type": kind})),
            )
            .await;
    }
    (server, target)
}

async fn start_openbao(dir: &Path) -> Option<(Server, Target)> {
    let (server, target) = load::start_openbao(dir).await?;
    for (path, body) in [
        ("sys/mounts/transit", json!({"type": "transit"})),
        (
            "sys/mounts/secret",
            json!({"type": "kv", "options": {"version": "2"}}),
        ),
        ("transit/keys/aes", json!({"type": "aes256-gcm96"})),
    ] {
        target.call(reqwest::Method::POST, path, Some(body)).await;
    }
    Some((server, target))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .ok();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("qsafe")).unwrap();
    std::fs::create_dir_all(dir.path().join("bao")).unwrap();
    let (_q, qsafe) = start_qsafe(&dir.path().join("qsafe")).await;
    // QSAFE_BENCH_ONLY=qsafe skips OpenBao (for profiling qsafe alone).
    let bao = if std::env::var("QSAFE_BENCH_ONLY").is_ok_and(|v| v == "qsafe") {
        None
    } else {
        start_openbao(&dir.path().join("bao")).await
    };

    let plaintext = b64_encode(&[0x5a; 128]);
    let secret = json!({"data": {"username": "svc-users", "password": "x".repeat(32)}});
    let mut targets = vec![&qsafe];
    if let Some((_, t)) = &bao {
        targets.push(t);
    }
    // Scenario rows: (server, label, path, body).
    let mut rows: Vec<(&Target, String, String, Option<Value>)> = Vec::new();
    for t in &targets {
        t.call(
            reqwest::Method::POST,
            "secret/data/bench",
            Some(secret.clone()),
        )
        .await;
        let keys: &[(&str, &str)] = if t.name == "qsafe" {
            &[("pq", "ml-kem-768"), ("aes", "aes256-gcm96")]
        } else {
            &[("aes", "aes256-gcm96")]
        };
        for (key, kind) in keys {
            let body = json!({"plaintext": plaintext});
            let ct = t
                .call(
                    reqwest::Method::POST,
                    &format!("transit/encrypt/{key}"),
                    Some(body.clone()),
                )
                .await;
            let ct = ct["data"]["ciphertext"].as_str().unwrap().to_owned();
            rows.push((
                t,
                format!("transit encrypt {kind}"),
                format!("transit/encrypt/{key}"),
                Some(body),
            ));
            rows.push((
                t,
                format!("transit decrypt {kind}"),
                format!("transit/decrypt/{key}"),
                Some(json!({"ciphertext": ct})),
            ));
        }
        rows.push((t, "kv v2 read".into(), "secret/data/bench".into(), None));
    }
    // Warm every connection (TLS handshakes) first.
    for t in &targets {
        t.load("sys/health", Body::None).await;
    }
    let mut results: Vec<Vec<(f64, Duration, Duration)>> = vec![Vec::new(); rows.len()];
    for round in 0..ROUNDS {
        eprintln!("round {}/{ROUNDS}", round + 1);
        for (i, (t, _, path, body)) in rows.iter().enumerate() {
            results[i].push(
                t.load(path, body.clone().map_or(Body::None, Body::Json))
                    .await,
            );
        }
    }
    let results: Vec<_> = results.into_iter().map(median).collect();
    println!("| server | operation (128-byte plaintext) | requests/s | p50 | p99 |");
    println!("|---|---|---:|---:|---:|");
    for ((t, label, _, _), (rps, p50, p99)) in rows.iter().zip(&results) {
        println!(
            "| {} | {label} | {rps:.0} | {:.2} ms | {:.2} ms |",
            t.name,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    let find = |server: &str, label: &str| {
        rows.iter()
            .zip(&results)
            .find(|((t, l, _, _), _)| t.name == server && l == label)
            .map(|(_, r)| r.0)
    };
    println!();
    for (q, b) in [
        ("transit encrypt ml-kem-768", "transit encrypt aes256-gcm96"),
        ("transit decrypt ml-kem-768", "transit decrypt aes256-gcm96"),
        (
            "transit encrypt aes256-gcm96",
            "transit encrypt aes256-gcm96",
        ),
        (
            "transit decrypt aes256-gcm96",
            "transit decrypt aes256-gcm96",
        ),
        ("kv v2 read", "kv v2 read"),
    ] {
        if let (Some(x), Some(y)) = (find("qsafe", q), find("OpenBao", b)) {
            println!("ratio qsafe {q} / OpenBao {b}: {:.2}", x / y);
        }
    }
    // One call encrypting 1,000 fields (median of 5 after a warm-up).
    let batch: Vec<Value> = (0..1000).map(|_| json!({"plaintext": plaintext})).collect();
    for t in &targets {
        let keys: &[&str] = if t.name == "qsafe" {
            &["pq", "aes"]
        } else {
            &["aes"]
        };
        for key in keys {
            let body = json!({"batch_input": batch});
            let path = format!("transit/encrypt/{key}");
            if let Err(e) = t
                .try_call(reqwest::Method::POST, &path, Some(body.clone()))
                .await
            {
                println!(
                    "batch encrypt of 1,000 x 128 B, {} key {key}: refused ({e})",
                    t.name
                );
                continue;
            }
            let mut times = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                let out = t
                    .call(reqwest::Method::POST, &path, Some(body.clone()))
                    .await;
                times.push(start.elapsed());
                assert_eq!(out["data"]["batch_results"].as_array().unwrap().len(), 1000);
            }
            times.sort();
            println!(
                "batch encrypt of 1,000 x 128 B, {} key {key}: {:.1} ms (median of 5)",
                t.name,
                times[2].as_secs_f64() * 1e3
            );
        }
    }
    println!();
    println!(
        "{CONNECTIONS} connections, HTTP/1.1 keep-alive, TLS 1.3; {}s windows, median of {ROUNDS} \
         alternating rounds; load generator, qsafe and OpenBao share this machine's cores.",
        WINDOW.as_secs()
    );
}
