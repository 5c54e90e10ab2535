//! Shared by the black-box tests that run a server: start `qsafe dev` on a free loopback port
//! and wait until it listens; a reqwest client on rustls/aws-lc-rs that trusts the dev CA.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support"
)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// A server process, killed when dropped.
pub(crate) struct Server(pub(crate) Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits for a line starting with `ready` on `stream`, then keeps draining it so the server
/// never blocks on a full pipe.
pub(crate) fn wait_for(stream: impl Read + Send + 'static, ready: &str) {
    let mut lines = BufReader::new(stream).lines();
    loop {
        let line = lines
            .next()
            .expect("the server exited before it was ready")
            .unwrap();
        if line.starts_with(ready) {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
}

/// `qsafe dev --root-token dev-root` on `port` with its data in `dir`, once it listens.
pub(crate) fn start_dev(dir: &Path, port: u16) -> Server {
    start_dev_with(dir, port, &[])
}

/// The same with more arguments (`--insecure-http`).
pub(crate) fn start_dev_with(dir: &Path, port: u16, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_qsafe"))
        .args([
            "dev",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--root-token",
            "dev-root",
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(
        child.stdout.take().unwrap(),
        "qsafe dev server listening on",
    );
    Server(child)
}

/// An HTTPS client trusting the PEM bundle `ca` (it offers ML-DSA and X25519MLKEM768).
pub(crate) fn pq_client(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(pq_tls_config(ca))
        .build()
        .unwrap()
}

/// The rustls configuration of [`pq_client`].
pub(crate) fn pq_tls_config(ca: &Path) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth()
}
