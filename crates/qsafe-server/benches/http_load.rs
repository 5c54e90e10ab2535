//! HTTP load over TLS (X25519MLKEM768, ML-DSA-65 certificate): 16 connections on loopback against
//! an in-process qsafe server on SQLite, for an unauthenticated health check and for an
//! authenticated, audited no-op (`auth/token/lookup-self`). Prints requests/s, p50 and p99.
//!
//! Run `tools/bench/http.sh`. Client and server share the machine's cores, so the figures are a
//! floor for the server alone.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    reason = "benchmark"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use qsafe_core::Core;
use qsafe_core::audit::AuditLog;
use qsafe_store::{Barrier, Seal, SqlStorage};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

const CONNECTIONS: usize = 16;
const WINDOW: Duration = Duration::from_secs(5);

fn client(ca_pem: &str) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .pool_max_idle_per_host(1)
        .http1_only()
        .build()
        .unwrap()
}

async fn load(
    clients: &[reqwest::Client],
    url: &str,
    token: Option<&str>,
) -> (f64, Duration, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for http in clients {
        let (http, url, token) = (http.clone(), url.to_owned(), token.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < WINDOW {
                let t = Instant::now();
                let mut request = http.get(&url);
                if let Some(token) = &token {
                    request = request.header("X-Vault-Token", token);
                }
                let response = request.send().await.unwrap();
                assert!(response.status().is_success(), "{}", response.status());
                response.bytes().await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    all.sort();
    let n = all.len();
    (n as f64 / secs, all[n / 2], all[n * 99 / 100])
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let storage = SqlStorage::open_sqlite(&dir.path().join("qsafe.db"), 8)
        .await
        .unwrap();
    let mut audit = AuditLog::new();
    audit.add_file(&dir.path().join("audit.log")).unwrap();
    let core = Arc::new(Core::new(
        Arc::new(Seal::new(Arc::new(Barrier::new(Arc::new(storage))))),
        audit,
    ));
    let root = core
        .init(1, 1, None, None)
        .await
        .unwrap()
        .root_token
        .to_string();
    let certs = qsafe_server::tls::dev_certificates(&["localhost".into()]).unwrap();
    let tls = qsafe_server::tls::server_config(&certs.ml_dsa, Some(&certs.ecdsa), false).unwrap();
    let handle: axum_server::Handle<SocketAddr> = axum_server::Handle::new();
    let app = qsafe_server::router(core).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum_server::bind_rustls(
        "127.0.0.1:0".parse().unwrap(),
        axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls)),
    )
    .handle(handle.clone());
    tokio::spawn(server.serve(app));
    let addr = handle.listening().await.unwrap();

    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| client(&certs.ca_bundle_pem))
        .collect();
    let base = format!("https://localhost:{}/v1", addr.port());
    // Warm the connections (TLS handshakes) before measuring.
    load(&clients, &format!("{base}/sys/health"), None).await;
    println!("| request | connections | requests/s | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for (name, path, token) in [
        ("GET /v1/sys/health (no token)", "sys/health", None),
        (
            "GET /v1/auth/token/lookup-self (token, ACL, 2 audit lines)",
            "auth/token/lookup-self",
            Some(root.as_str()),
        ),
    ] {
        let (rps, p50, p99) = load(&clients, &format!("{base}/{path}"), token).await;
        println!(
            "| {name} | {CONNECTIONS} | {rps:.0} | {:.2} ms | {:.2} ms |",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    println!();
    println!(
        "TLS 1.3, X25519MLKEM768, ML-DSA-65 server certificate, HTTP/1.1 keep-alive; {}s per row; \
         client and server in one process on the same cores.",
        WINDOW.as_secs()
    );
}
