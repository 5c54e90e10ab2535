//! Harness for pki_interop.rs: the peers (OpenSSL 3.5, Python `cryptography`), a `qsafe dev`
//! on plain HTTP with PKI mounts, requests with the root token, files for the peers, and
//! `tests/compat/pki_check.py`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dev::{Server, free_port, wait_for};
use crate::peers::text;
use crate::{ossl, peers};

/// OpenSSL 3.5 and Python with `cryptography`, or `None` after `SKIPPED:` (a panic under CI).
pub(crate) struct Peers {
    openssl: PathBuf,
    python: PathBuf,
}

impl Peers {
    pub(crate) fn find() -> Option<Self> {
        let openssl = ossl::openssl_peer()?;
        let python = peers::python(&["cryptography.x509.ocsp"])?;
        Some(Self { openssl, python })
    }
}

/// A `qsafe dev` on plain HTTP with its data (and audit log) in a temporary directory, and a
/// scratch directory for the files the peers read.
pub(crate) struct Dev {
    _server: Server,
    pub(crate) data: tempfile::TempDir,
    work: tempfile::TempDir,
    pub(crate) port: u16,
    http: reqwest::Client,
    peers: Peers,
}

fn http_client() -> reqwest::Client {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

impl Dev {
    /// Starts the server and mounts `pki` engines at `mounts`.
    pub(crate) async fn start(peers: Peers, mounts: &[&str]) -> Self {
        let data = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_qsafe"))
            .args(["dev", "--insecure-http", "--root-token", "dev-root"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(
            child.stdout.take().unwrap(),
            "qsafe dev server listening on",
        );
        let dev = Self {
            _server: Server(child),
            data,
            work: tempfile::tempdir().unwrap(),
            port,
            http: http_client(),
            peers,
        };
        for mount in mounts {
            dev.ok(
                Method::POST,
                &format!("sys/mounts/{mount}"),
                Some(json!({"type": "pki"})),
            )
            .await;
        }
        dev
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/v1/{path}", self.port)
    }

    /// Any request with the root token; status and JSON body (`null` when empty).
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("X-Vault-Token", "dev-root");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let bytes = response.bytes().await.unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, value)
    }

    /// A request that must succeed; its `data`.
    pub(crate) async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value.get("data").cloned().unwrap_or(Value::Null)
    }

    pub(crate) async fn write(&self, path: &str, body: Value) -> Value {
        self.ok(Method::POST, path, Some(body)).await
    }

    /// An unauthenticated GET of a raw (non-JSON) path.
    pub(crate) async fn raw(&self, path: &str) -> Vec<u8> {
        let response = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.bytes().await.unwrap().to_vec()
    }

    /// Fetches `path` into the work file `name`.
    pub(crate) async fn fetch(&self, path: &str, name: &str) -> PathBuf {
        let bytes = self.raw(path).await;
        self.save(name, &bytes)
    }

    pub(crate) fn p(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    pub(crate) fn save(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.p(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Saves the PEM string field `field` of `value`.
    pub(crate) fn save_field(&self, name: &str, value: &Value, field: &str) -> PathBuf {
        let pem = value[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}"));
        self.save(name, pem)
    }

    pub(crate) fn openssl(&self, args: &[&str]) -> Output {
        Command::new(&self.peers.openssl)
            .args(args)
            .current_dir(self.work.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `openssl` that must succeed; stdout and stderr.
    pub(crate) fn openssl_ok(&self, args: &[&str]) -> String {
        let out = self.openssl(args);
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out));
        text(&out)
    }

    /// Runs an operation of pki_check.py; its JSON answer.
    pub(crate) fn py(&self, request: &Value) -> Value {
        use std::io::Write as _;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat/pki_check.py");
        let mut child = Command::new(&self.peers.python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(request.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "pki_check.py {request}: {}",
            text(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// A root CA in `mount`.
    pub(crate) async fn root(&self, mount: &str, key_type: &str, bits: u64) -> Value {
        self.write(
            &format!("{mount}/root/generate/internal"),
            json!({"common_name": format!("{mount} root"), "key_type": key_type,
                   "key_bits": bits, "ttl": "87600h"}),
        )
        .await
    }

    /// An ML-DSA-65 intermediate in `int_mount` signed by the root of `root_mount`; the signed
    /// certificate.
    pub(crate) async fn intermediate(&self, root_mount: &str, int_mount: &str) -> Value {
        let csr = self
            .write(
                &format!("{int_mount}/intermediate/generate/internal"),
                json!({"common_name": format!("{int_mount} intermediate"), "key_type": "mldsa",
                       "key_bits": 65}),
            )
            .await;
        let signed = self
            .write(
                &format!("{root_mount}/root/sign-intermediate"),
                json!({"csr": csr["csr"], "ttl": "43800h", "max_path_length": 0}),
            )
            .await;
        let bundle = format!(
            "{}\n{}",
            signed["certificate"].as_str().unwrap(),
            signed["issuing_ca"].as_str().unwrap()
        );
        self.write(
            &format!("{int_mount}/intermediate/set-signed"),
            json!({"certificate": bundle}),
        )
        .await;
        signed
    }

    /// The role `web` in `mount`: example.com and its subdomains, spiffe URIs, 72h at most.
    pub(crate) async fn role(&self, mount: &str) {
        self.write(
            &format!("{mount}/roles/web"),
            json!({"allowed_domains": "example.com", "allow_subdomains": true,
                   "allow_bare_domains": true, "allowed_uri_sans": "spiffe://example.com/*",
                   "max_ttl": "72h"}),
        )
        .await;
    }

    pub(crate) async fn issue(&self, mount: &str, common_name: &str) -> Value {
        self.write(
            &format!("{mount}/issue/web"),
            json!({"common_name": common_name, "ttl": "24h"}),
        )
        .await
    }

    /// `LIST <mount>/certs`.
    pub(crate) async fn cert_list(&self, mount: &str) -> Vec<Value> {
        let list = Method::from_bytes(b"LIST").unwrap();
        let data = self.ok(list, &format!("{mount}/certs"), None).await;
        data["keys"].as_array().cloned().unwrap_or_default()
    }
}

/// `aa:bb:..` as plain lowercase hex without leading zeros (as Python formats serials).
pub(crate) fn hex_serial(colon: &str) -> String {
    let hex = colon.replace(':', "").to_ascii_lowercase();
    let trimmed = hex.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".into()
    } else {
        trimmed.into()
    }
}

pub(crate) fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}
