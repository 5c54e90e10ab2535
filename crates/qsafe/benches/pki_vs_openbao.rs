//! qsafe's CA against OpenBao 2.7's PKI engine on the same machine in one run (issue 5's
//! benchmark): certificates signed per second from an ML-DSA-65 CSR (`sign/:role`), issued with
//! a server-generated key (`issue/:role`), and OCSP responses per second (POST for a good
//! certificate, with a nonce, signed per request, and without one, which qsafe answers with a
//! recently signed response: docs/pki.md), 16 TLS connections on loopback, both servers with a
//! file audit device.
//!
//! - qsafe: the release `qsafe dev` (SQLite, WAL, fsync per commit), an ML-DSA-65 root.
//! - OpenBao: `.venv/bin/bao server` 2.7 (raft storage, TLS, file audit), its root of the same
//!   type when it accepts `key_type=mldsa` (else ECDSA P-256, and the table says so).
//!
//! The OCSP request is made once by OpenSSL 3.5 (`.peers/bin/openssl ocsp -reqout`); without it
//! the OCSP rows are skipped. Rows alternate between the servers for `ROUNDS` rounds; the median
//! round is reported. Run `tools/bench/pki.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[path = "common/cpu.rs"]
mod cpu;
#[path = "../tests/support/dev.rs"]
mod dev;
#[path = "common/load.rs"]
mod load;

use load::{Body, CONNECTIONS, Target, WINDOW, median};
use serde_json::{Value, json};

const ROUNDS: usize = 3;

/// Mounts `pki`, makes a root of `key_type`/`key_bits` and a role; the root's key type used.
async fn set_up(t: &Target, key_type: &str, key_bits: u64) -> Result<String, String> {
    t.call(
        reqwest::Method::POST,
        "sys/mounts/pki",
        Some(json!({"type": "pki", "config": {"max_lease_ttl": "87600h"}})),
    )
    .await;
    t.try_call(
        reqwest::Method::POST,
        "pki/root/generate/internal",
        Some(json!({"common_name": "bench root", "key_type": key_type, "key_bits": key_bits, "ttl": "8760h"})),
    )
    .await?;
    // `csr` signs any CSR key type; `web` makes ML-DSA-65 keys (or the root's type).
    for (role, role_type, role_bits) in [("csr", "any", 0), ("web", key_type, key_bits)] {
        t.call(
            reqwest::Method::POST,
            &format!("pki/roles/{role}"),
            Some(json!({
                "allowed_domains": "example.com", "allow_subdomains": true, "key_type": role_type,
                "key_bits": role_bits, "ttl": "24h", "max_ttl": "72h", "key_usage": "DigitalSignature"
            })),
        )
        .await;
    }
    Ok(format!("{key_type}-{key_bits}"))
}

fn openssl() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.peers/bin/openssl");
    path.exists().then_some(path)
}

/// An OCSP request (with a nonce, or without: `-no_nonce`) for a certificate `t` issued, made by
/// OpenSSL.
async fn ocsp_request(t: &Target, dir: &Path, nonce: bool) -> Option<Vec<u8>> {
    let openssl = openssl()?;
    let leaf = t
        .call(
            reqwest::Method::POST,
            "pki/issue/web",
            Some(json!({"common_name": "ocsp.example.com"})),
        )
        .await;
    let (cert, ca) = (dir.join("leaf.pem"), dir.join("issuer.pem"));
    std::fs::write(&cert, leaf["data"]["certificate"].as_str().unwrap()).unwrap();
    std::fs::write(&ca, leaf["data"]["issuing_ca"].as_str().unwrap()).unwrap();
    let req = dir.join("req.der");
    let status = Command::new(openssl)
        .args(["ocsp", "-issuer"])
        .arg(&ca)
        .arg("-cert")
        .arg(&cert)
        .arg("-reqout")
        .arg(&req)
        .args((!nonce).then_some("-no_nonce"))
        .status()
        .unwrap();
    assert!(status.success());
    Some(std::fs::read(req).unwrap())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    rustls::crypto::aws_lc_rs::default_provider()
        .install_default()
        .ok();
    let dir = tempfile::tempdir().unwrap();
    for sub in ["qsafe", "bao"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let (_q, qsafe) = load::start_qsafe(&dir.path().join("qsafe")).await;
    let bao = if std::env::var("QSAFE_BENCH_ONLY").is_ok_and(|v| v == "qsafe") {
        None
    } else {
        load::start_openbao(&dir.path().join("bao")).await
    };
    let mut targets = vec![(&qsafe, set_up(&qsafe, "mldsa", 65).await.unwrap())];
    if let Some((_, t)) = &bao {
        let root = match set_up(t, "mldsa", 65).await {
            Ok(root) => root,
            Err(e) => {
                eprintln!("OpenBao refused an ML-DSA root ({e}); using ECDSA P-256");
                t.call(reqwest::Method::DELETE, "sys/mounts/pki", None)
                    .await;
                set_up(t, "ec", 256).await.unwrap()
            }
        };
        targets.push((t, root));
    }
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ML_DSA_65).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["api.example.com".to_owned()]).unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "api.example.com");
    let csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let mut rows: Vec<(&Target, String, String, Body)> = Vec::new();
    for (t, root) in &targets {
        let sign = json!({"csr": csr, "common_name": "api.example.com"});
        t.call(reqwest::Method::POST, "pki/sign/csr", Some(sign.clone()))
            .await;
        rows.push((
            t,
            format!("sign ML-DSA-65 CSR ({root} root)"),
            "pki/sign/csr".into(),
            Body::Json(sign),
        ));
        rows.push((
            t,
            format!("issue, server key ({root} root)"),
            "pki/issue/web".into(),
            Body::Json(json!({"common_name": "api.example.com"})),
        ));
        let sub = dir.path().join(format!("ocsp-{}", t.name));
        std::fs::create_dir_all(&sub).unwrap();
        for (nonce, what) in [(true, "nonce"), (false, "no nonce")] {
            let Some(req) = ocsp_request(t, &sub, nonce).await else {
                continue;
            };
            let body = Body::Raw("application/ocsp-request", req.clone());
            if let Err(e) = t.probe("pki/ocsp", &body).await {
                println!("{}: OCSP refused ({e}); no OCSP row", t.name);
                continue;
            }
            rows.push((
                t,
                format!("OCSP POST, {what} ({root} root)"),
                "pki/ocsp".into(),
                Body::Raw("application/ocsp-request", req),
            ));
        }
    }
    // QSAFE_BENCH_ROWS=<text> keeps the rows whose label holds it (for profiling one).
    if let Ok(keep) = std::env::var("QSAFE_BENCH_ROWS") {
        rows.retain(|(_, label, _, _)| label.contains(&keep));
    }
    for (t, _) in &targets {
        t.load("sys/health", Body::None).await;
    }
    let mut results: Vec<Vec<(f64, Duration, Duration)>> = vec![Vec::new(); rows.len()];
    // Server CPU milliseconds per request, each round.
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for round in 0..ROUNDS {
        eprintln!("round {}/{ROUNDS}", round + 1);
        for (i, (t, _, path, body)) in rows.iter().enumerate() {
            let (before, start) = (t.cpu_seconds(), std::time::Instant::now());
            let r = t.load(path, body.clone()).await;
            let requests = r.0 * start.elapsed().as_secs_f64();
            cpu[i].push((t.cpu_seconds() - before) * 1e3 / requests.max(1.0));
            results[i].push(r);
        }
    }
    let results: Vec<_> = results.into_iter().map(median).collect();
    println!("| server | operation | requests/s | p50 | p99 | server CPU per request |");
    println!("|---|---|---:|---:|---:|---:|");
    for (((t, label, _, _), (rps, p50, p99)), cpu) in rows.iter().zip(&results).zip(cpu) {
        let mut cpu = cpu;
        cpu.sort_by(f64::total_cmp);
        println!(
            "| {} | {label} | {rps:.0} | {:.2} ms | {:.2} ms | {:.3} ms |",
            t.name,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            cpu[cpu.len() / 2]
        );
    }
    println!();
    let prefix = |label: &str| label.split(" (").next().unwrap_or("").to_owned();
    for ((t, label, _, _), r) in rows.iter().zip(&results) {
        if t.name != "qsafe" {
            continue;
        }
        let other = rows
            .iter()
            .zip(&results)
            .find(|((o, l, _, _), _)| o.name != "qsafe" && prefix(l) == prefix(label));
        if let Some((_, o)) = other {
            println!("ratio qsafe / OpenBao, {}: {:.2}", prefix(label), r.0 / o.0);
        }
    }
    let counted: Value = qsafe
        .call(reqwest::Method::GET, "pki/certs?list=true", None)
        .await;
    println!(
        "\nqsafe recorded {} certificates.",
        counted["data"]["keys"].as_array().map_or(0, Vec::len)
    );
    println!(
        "{CONNECTIONS} connections, HTTP/1.1 keep-alive, TLS 1.3; {}s windows, median of {ROUNDS} \
         alternating rounds; load generator and servers share this machine's cores.",
        WINDOW.as_secs()
    );
}
