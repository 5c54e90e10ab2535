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
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/dev.rs"]
mod dev;

use dev::{Server, free_port, pq_client, start_dev};

use qsafe_crypto::encoding::{b64_encode, pem_encode};
use serde_json::{Value, json};

const CONNECTIONS: usize = 16;
const WINDOW: Duration = Duration::from_secs(4);
const ROUNDS: usize = 3;

/// One server under test.
struct Target {
    name: &'static str,
    base: String,
    token: String,
    clients: Vec<reqwest::Client>,
}

impl Target {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self.clients[0]
            .request(method, format!("{}/v1/{path}", self.base))
            .header("X-Vault-Token", &self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        if !status.is_success() {
            return Err(format!("{} {path}: {status} {text}", self.name));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Requests/s, p50, p99 of `path` with `body` (POST) or GET, 16 connections, one window.
    async fn load(&self, path: &str, body: Option<Value>) -> (f64, Duration, Duration) {
        let start = Instant::now();
        let url = format!("{}/v1/{path}", self.base);
        let mut tasks = Vec::new();
        for http in &self.clients {
            let (http, url, token, body) =
                (http.clone(), url.clone(), self.token.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while start.elapsed() < WINDOW {
                    let t = Instant::now();
                    let req = match &body {
                        Some(b) => http.post(&url).json(b),
                        None => http.get(&url),
                    };
                    let resp = req.header("X-Vault-Token", &token).send().await.unwrap();
                    assert!(resp.status().is_success(), "{url}: {}", resp.status());
                    resp.bytes().await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        let elapsed = start.elapsed().as_secs_f64();
        all.sort();
        let pick = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
        (all.len() as f64 / elapsed, pick(0.5), pick(0.99))
    }
}

async fn start_qsafe(dir: &Path) -> (Server, Target) {
    let port = free_port();
    let server = start_dev(dir, port);
    let target = Target {
        name: "qsafe",
        base: format!("https://127.0.0.1:{port}"),
        token: "dev-root".into(),
        clients: (0..CONNECTIONS)
            .map(|_| pq_client(&dir.join("ca.pem")))
            .collect(),
    };
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
    let bao = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/bao");
    if !bao.exists() {
        eprintln!("{} missing: run scripts/test-deps.sh", bao.display());
        return None;
    }
    let certs = qsafe_server::tls::dev_certificates(&["127.0.0.1".into()]).unwrap();
    let chain: String = certs
        .ecdsa
        .chain
        .iter()
        .map(|c| pem_encode("CERTIFICATE", c).unwrap())
        .collect();
    std::fs::write(dir.join("cert.pem"), chain).unwrap();
    std::fs::write(
        dir.join("key.pem"),
        pem_encode("PRIVATE KEY", &certs.ecdsa.key).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("ca.pem"), &certs.ca_bundle_pem).unwrap();
    std::fs::create_dir_all(dir.join("raft")).unwrap();
    let (port, cluster) = (free_port(), free_port());
    let d = dir.display();
    let config = format!(
        r#"storage "raft" {{
  path = "{d}/raft"
  node_id = "bench"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster}"
  tls_cert_file = "{d}/cert.pem"
  tls_key_file = "{d}/key.pem"
}}
audit "file" "file" {{
  options {{
    file_path = "{d}/audit.log"
  }}
}}
api_addr = "https://127.0.0.1:{port}"
cluster_addr = "https://127.0.0.1:{cluster}"
disable_mlock = true
log_level = "error"
"#
    );
    std::fs::write(dir.join("bao.hcl"), config).unwrap();
    let child = Command::new(&bao)
        .args(["server", "-config"])
        .arg(dir.join("bao.hcl"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let child = Server(child);
    let http = pq_client(&dir.join("ca.pem"));
    let base = format!("https://127.0.0.1:{port}");
    let mut init = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let Ok(resp) = http
            .post(format!("{base}/v1/sys/init"))
            .json(&json!({"secret_shares": 1, "secret_threshold": 1}))
            .send()
            .await
        else {
            continue;
        };
        init = Some(resp.json::<Value>().await.unwrap());
        break;
    }
    let init = init.expect("bao did not start");
    let key = init["keys_base64"][0].as_str().unwrap();
    http.post(format!("{base}/v1/sys/unseal"))
        .json(&json!({"key": key}))
        .send()
        .await
        .unwrap();
    // Wait for raft to elect this node and the core to become active.
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(r) = http.get(format!("{base}/v1/sys/health")).send().await
            && r.status() == 200
        {
            break;
        }
    }
    let target = Target {
        name: "OpenBao",
        base,
        token: init["root_token"].as_str().unwrap().to_owned(),
        clients: (0..CONNECTIONS)
            .map(|_| pq_client(&dir.join("ca.pem")))
            .collect(),
    };
    target
        .call(
            reqwest::Method::POST,
            "sys/mounts/transit",
            Some(json!({"type": "transit"})),
        )
        .await;
    target
        .call(
            reqwest::Method::POST,
            "sys/mounts/secret",
            Some(json!({"type": "kv", "options": {"version": "2"}})),
        )
        .await;
    target
        .call(
            reqwest::Method::POST,
            "transit/keys/aes",
            Some(json!({"type": "aes256-gcm96"})),
        )
        .await;
    Some((child, target))
}

fn median(mut xs: Vec<(f64, Duration, Duration)>) -> (f64, Duration, Duration) {
    xs.sort_by(|a, b| a.0.total_cmp(&b.0));
    xs[xs.len() / 2]
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
        t.load("sys/health", None).await;
    }
    let mut results: Vec<Vec<(f64, Duration, Duration)>> = vec![Vec::new(); rows.len()];
    for round in 0..ROUNDS {
        eprintln!("round {}/{ROUNDS}", round + 1);
        for (i, (t, _, path, body)) in rows.iter().enumerate() {
            results[i].push(t.load(path, body.clone()).await);
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
