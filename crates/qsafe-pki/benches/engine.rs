//! The PKI engine without HTTP (issue 5's in-process figures): `sign/:role` from an ML-DSA-65
//! CSR and `issue/:role` (one request at a time and 16 at once), an OCSP request with a nonce,
//! and a full CRL rebuild (`crl/rotate`) with 100,000 revocations in storage. Storage is SQLite
//! on a temporary file (WAL, fsync per commit), as `qsafe dev` uses.
//!
//! Each figure sits beside its floor measured in the same run: the ML-DSA-65 signatures alone
//! (one per certificate; one per OCSP response) and, for the CRL, the `crl::build` call alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "bench"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use qsafe_core::{Engine, EngineFactory, EngineRequest, Operation, RawBody, TracingCertificateLog};
use qsafe_pki::PkiFactory;
use qsafe_pki::storage::{FORMAT, RevokedRecord, revoked_key};
use qsafe_store::{View, Write};
use serde_json::{Value, json};

#[path = "../../qsafe/benches/common/cpu.rs"]
mod cpu;

struct Bench {
    engine: Arc<dyn Engine>,
    view: View,
    _dir: tempfile::TempDir,
}

impl Bench {
    async fn new() -> Self {
        let (view, dir) = qsafe_store::testing::scratch_view("logical/pki/")
            .await
            .unwrap();
        let engine = PkiFactory::new(Arc::new(TracingCertificateLog))
            .build(&json!({}))
            .unwrap();
        let b = Self {
            engine,
            view,
            _dir: dir,
        };
        b.write(
            "root/generate/internal",
            json!({"common_name": "bench root"}),
        )
        .await;
        for (role, key_type) in [("web", "mldsa"), ("csr", "any")] {
            b.write(
                &format!("roles/{role}"),
                json!({"allowed_domains": "example.com", "allow_subdomains": true, "key_type": key_type}),
            )
            .await;
        }
        b
    }

    async fn write(&self, path: &str, data: Value) -> Value {
        let r = EngineRequest::new(Operation::Write, path, Some(data));
        self.engine
            .handle(&self.view, &r)
            .await
            .unwrap()
            .data
            .unwrap_or(Value::Null)
    }
}

/// Calls per second of `call` over `window`, with `parallel` calls in flight.
async fn rate<F, Fut>(parallel: usize, window: Duration, call: F) -> f64
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send,
{
    rate_and_cpu(parallel, window, call).await.0
}

/// As [`rate`], with the process's CPU time per call in milliseconds (Linux; 0 elsewhere): a
/// steadier figure than the rate on a shared machine.
async fn rate_and_cpu<F, Fut>(parallel: usize, window: Duration, call: F) -> (f64, f64)
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send,
{
    let cpu = cpu_seconds();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let call = call.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while start.elapsed() < window {
                call().await;
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    let per_s = total as f64 / start.elapsed().as_secs_f64();
    (per_s, (cpu_seconds() - cpu) * 1e3 / total.max(1) as f64)
}

fn cpu_seconds() -> f64 {
    cpu::cpu_seconds("self")
}

fn signatures_per_second(parallel: usize, window: Duration) -> f64 {
    let key = Arc::new(
        qsafe_crypto::sig::SigningKey::generate(
            qsafe_crypto::AlgorithmId::MlDsa65,
            &qsafe_crypto::Rng::new(),
        )
        .unwrap(),
    );
    let start = Instant::now();
    let handles: Vec<_> = (0..parallel)
        .map(|_| {
            let key = key.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while start.elapsed() < window {
                    key.sign(&[0x42; 1500]).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    total as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let window = Duration::from_secs(3);
    // PKI_BENCH_ONLY=store|sign|issue|ocsp|floor|crl runs one part (for profiling).
    let only = std::env::var("PKI_BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only == part;
    let b = Arc::new(Bench::new().await);
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ML_DSA_65).unwrap();
    let csr = rcgen::CertificateParams::new(vec!["api.example.com".to_owned()])
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .pem()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    if wanted("store") {
        // The storage floor: one 8 KB record per call through a group commit.
        let group = Arc::new(qsafe_store::GroupCommit::default());
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        for parallel in [1, 16] {
            let (b, group, counter) = (b.clone(), group.clone(), counter.clone());
            let r = rate(parallel, window, move || {
                let (b, group, counter) = (b.clone(), group.clone(), counter.clone());
                async move {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let w = Write::put(format!("floor/{n}"), vec![7u8; 8192])
                        .expecting(qsafe_store::Expect::Absent);
                    group.transact(&b.view, vec![w]).await.unwrap();
                }
            })
            .await;
            println!("| store: 8 KB record, group commit, {parallel} at once | {r:.0} |");
        }
        for batch in [1usize, 16, 64] {
            let start = Instant::now();
            let mut n = 0;
            while start.elapsed() < window {
                let writes: Vec<Write> = (0..batch)
                    .map(|i| Write::put(format!("raw/{n}/{i}"), vec![7u8; 8192]))
                    .collect();
                b.view.transact(&writes).await.unwrap();
                n += 1;
            }
            let per_s = (n * batch) as f64 / start.elapsed().as_secs_f64();
            println!("| store: one transaction of {batch} 8 KB puts | {per_s:.0} records/s |");
        }
    }
    println!(
        "| operation (engine, no HTTP) | 1 at a time /s | 16 at once /s | CPU ms per call, 16 at once |"
    );
    println!("|---|---:|---:|---:|");
    for (part, label, path, body) in [
        (
            "sign",
            "sign/:role, ML-DSA-65 CSR",
            "sign/csr",
            json!({"csr": csr, "common_name": "api.example.com"}),
        ),
        (
            "issue",
            "issue/:role, server key",
            "issue/web",
            json!({"common_name": "api.example.com"}),
        ),
    ] {
        if !wanted(part) {
            continue;
        }
        let mut row = Vec::new();
        for parallel in [1, 16] {
            let (b, body) = (b.clone(), body.clone());
            row.push(
                rate_and_cpu(parallel, window, move || {
                    let (b, body) = (b.clone(), body.clone());
                    async move {
                        b.write(path, body).await;
                    }
                })
                .await,
            );
        }
        println!(
            "| {label} | {:.0} | {:.0} | {:.3} |",
            row[0].0, row[1].0, row[1].1
        );
    }
    // OCSP: a request built from an issued certificate's CertID (SHA-256 hashes, a nonce).
    let leaf = b
        .write("issue/web", json!({"common_name": "ocsp.example.com"}))
        .await;
    let request = ocsp_request(&leaf);
    let mut row = Vec::new();
    for parallel in [1, 16] {
        if !wanted("ocsp") {
            break;
        }
        let (b, request) = (b.clone(), request.clone());
        row.push(
            rate_and_cpu(parallel, window, move || {
                let (b, request) = (b.clone(), request.clone());
                async move {
                    let mut r = EngineRequest::new(Operation::Write, "ocsp", None);
                    r.raw = Some(RawBody::new("application/ocsp-request", request));
                    let out = b.engine.handle(&b.view, &r).await.unwrap();
                    assert!(out.raw.is_some());
                }
            })
            .await,
        );
    }
    if let [(one, _), (many, cpu)] = row[..] {
        println!("| OCSP response, nonce | {one:.0} | {many:.0} | {cpu:.3} |");
    }
    if wanted("floor") {
        println!(
            "| floor: ML-DSA-65 signatures alone | {:.0} | {:.0} ({cores} threads) | |",
            signatures_per_second(1, window),
            signatures_per_second(cores, window)
        );
    }

    if !wanted("crl") {
        return;
    }
    // CRL rebuild with 100,000 revocations recorded.
    let issuer = b.write("issuer/default", json!({})).await;
    let issuer_id = issuer["issuer_id"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for chunk in 0..100u64 {
        let writes: Vec<Write> = (0..1000u64)
            .map(|i| {
                let n = chunk * 1000 + i;
                let serial = format!("4a{n:038x}");
                let record = RevokedRecord {
                    version: FORMAT,
                    issuer_id: issuer_id.clone(),
                    revoked_at: now - 60,
                    reason: Some(1),
                    not_after: now + 86_400,
                    serial: serial.clone(),
                };
                Write::put(
                    revoked_key(&issuer_id, &serial),
                    serde_json::to_vec(&record).unwrap(),
                )
            })
            .collect();
        b.view.transact(&writes).await.unwrap();
    }
    let mut times = Vec::new();
    for _ in 0..3 {
        let start = Instant::now();
        b.write("crl/rotate", json!({})).await;
        times.push(start.elapsed());
    }
    times.sort();
    let r = EngineRequest::new(Operation::Read, "crl", None);
    let crl = b
        .engine
        .handle(&b.view, &r)
        .await
        .unwrap()
        .raw
        .unwrap()
        .bytes;
    println!(
        "\nfull CRL rebuild with 100,000 revocations (crl/rotate: read, build, sign, store): {:.0} ms (median of 3); CRL {:.1} MB",
        times[1].as_secs_f64() * 1e3,
        crl.len() as f64 / 1e6
    );
    println!("(crl::build alone: cargo bench -p qsafe-pki --bench crl)");
}

/// A DER OCSPRequest for `leaf` (SHA-256 CertID, 16-byte nonce), built with x509-ocsp.
fn ocsp_request(leaf: &Value) -> Vec<u8> {
    use der07::{Decode as _, Encode as _};
    let der = |pem: &str| pem_rfc7468::decode_vec(pem.as_bytes()).unwrap().1;
    let issuer =
        x509_cert02::Certificate::from_der(&der(leaf["issuing_ca"].as_str().unwrap())).unwrap();
    let cert =
        x509_cert02::Certificate::from_der(&der(leaf["certificate"].as_str().unwrap())).unwrap();
    let sha256 = |b: &[u8]| qsafe_crypto::hash::sha256(b);
    let id = x509_ocsp::CertId {
        hash_algorithm: spki07::AlgorithmIdentifierOwned {
            oid: der07::oid::ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
            parameters: None,
        },
        issuer_name_hash: der07::asn1::OctetString::new(sha256(
            &issuer.tbs_certificate.subject.to_der().unwrap(),
        ))
        .unwrap(),
        issuer_key_hash: der07::asn1::OctetString::new(sha256(
            issuer
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes(),
        ))
        .unwrap(),
        serial_number: cert.tbs_certificate.serial_number.clone(),
    };
    let nonce = der07::asn1::OctetString::new(
        der07::asn1::OctetString::new([7u8; 16])
            .unwrap()
            .to_der()
            .unwrap(),
    )
    .unwrap();
    let request = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: id,
                single_request_extensions: None,
            }],
            request_extensions: Some(vec![x509_cert02::ext::Extension {
                extn_id: der07::oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2"),
                critical: false,
                extn_value: nonce,
            }]),
        },
        optional_signature: None,
    };
    request.to_der().unwrap()
}
