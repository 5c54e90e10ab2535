//! `kill -9` of the server during a write burst loses no acknowledged write: 8 concurrent
//! clients write policies to a real `qsafe dev` over TLS; once 200 writes were answered 204 the
//! server is SIGKILLed; after a restart on the same data directory every answered write is there.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

const ACKS: usize = 200;

fn start(dir: &Path) -> (Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args([
            "dev",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--root-token",
            "dev-root",
        ])
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        if lines
            .next()
            .expect("qsafe dev exited")
            .unwrap()
            .starts_with("qsafe dev server listening")
        {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

fn client(ca: &Path) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
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
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_a_write_burst_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, port) = start(dir.path());
    let http = client(&dir.path().join("ca.pem"));
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..8 {
        let (http, acked) = (http.clone(), acked.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("burst-{w}-{i}");
                let body = serde_json::json!({"policy": format!("path \"kv/{name}\" {{ capabilities = [\"read\"] }}")});
                let sent = http
                    .put(format!("https://localhost:{port}/v1/sys/policies/acl/{name}"))
                    .header("X-Vault-Token", "dev-root")
                    .json(&body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 204 => acked.lock().unwrap().push(name),
                    _ => return, // the server is gone
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < ACKS {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL, mid-burst
    server.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= ACKS);

    let (mut server, port) = start(dir.path());
    let http = client(&dir.path().join("ca.pem"));
    for name in &acked {
        let r = http
            .get(format!(
                "https://localhost:{port}/v1/sys/policies/acl/{name}"
            ))
            .header("X-Vault-Token", "dev-root")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged write {name} was lost");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
