//! The PKI engine end to end on a real barrier over SQLite (no HTTP): CA hierarchy, roles,
//! issuance, bad input, revocation, CRLs, OCSP, tidy, the certificate log hook.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod hierarchy;
mod issuance;
mod revocation;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use der::{Decode, Encode};
use qsafe_core::{
    CertificateLog, Engine, EngineFactory, EngineRequest, Error, IssuedCertificate, Operation,
    Response,
};
use qsafe_crypto::keys::PublicKey;
use qsafe_pki::PkiFactory;
use qsafe_store::View;
use serde_json::{Value, json};

/// Collects what the hook receives.
#[derive(Default)]
pub(crate) struct Collected(pub(crate) Mutex<Vec<IssuedCertificate>>);

#[async_trait]
impl CertificateLog for Collected {
    async fn record(&self, c: &IssuedCertificate) -> qsafe_core::Result<()> {
        self.0.lock().unwrap().push(c.clone());
        Ok(())
    }
}

/// An engine over a fresh barrier.
pub(crate) struct Harness {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) view: View,
    pub(crate) log: Arc<Collected>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        let (view, dir) = qsafe_store::testing::scratch_view("logical/pki/")
            .await
            .unwrap();
        let log = Arc::new(Collected::default());
        let factory = PkiFactory::new(log.clone());
        assert_eq!(factory.kind(), "pki");
        Self {
            engine: factory.build(&json!({})).unwrap(),
            view,
            log,
            _dir: Some(dir),
        }
    }

    /// Another engine over the same storage, as another replica sharing the database runs.
    pub(crate) fn replica(&self) -> Self {
        let log = Arc::new(Collected::default());
        Self {
            engine: PkiFactory::new(log.clone()).build(&json!({})).unwrap(),
            view: self.view.clone(),
            log,
            _dir: None,
        }
    }

    /// A second mount over the same barrier.
    pub(crate) fn other_mount(&self, sub: &str) -> Self {
        let log = Arc::new(Collected::default());
        Self {
            engine: PkiFactory::new(log.clone()).build(&json!({})).unwrap(),
            view: self.view.sub(sub).unwrap(),
            log,
            _dir: None,
        }
    }

    pub(crate) async fn call(
        &self,
        operation: Operation,
        path: &str,
        data: Option<Value>,
    ) -> qsafe_core::Result<Response> {
        let request = EngineRequest::new(operation, path, data);
        self.engine.handle(&self.view, &request).await
    }

    pub(crate) async fn write(&self, path: &str, data: Value) -> Value {
        match self.call(Operation::Write, path, Some(data)).await {
            Ok(r) => r.data.unwrap_or(Value::Null),
            Err(e) => panic!("write {path}: {e}"),
        }
    }

    pub(crate) async fn write_err(&self, path: &str, data: Value) -> Error {
        match self.call(Operation::Write, path, Some(data)).await {
            Ok(r) => panic!("write {path} succeeded: {:?}", r.data),
            Err(e) => e,
        }
    }

    pub(crate) async fn read(&self, path: &str) -> Value {
        match self.call(Operation::Read, path, None).await {
            Ok(r) => r.data.unwrap_or(Value::Null),
            Err(e) => panic!("read {path}: {e}"),
        }
    }

    /// A raw (non-JSON) read: content type and bytes.
    pub(crate) async fn raw(&self, path: &str) -> (String, Vec<u8>) {
        let r = self.call(Operation::Read, path, None).await.unwrap();
        let raw = r.raw.unwrap_or_else(|| panic!("{path} is not raw"));
        (raw.content_type, raw.bytes)
    }

    /// A root CA of `key_type`/`key_bits`, and a role `web` for example.com and subdomains.
    pub(crate) async fn with_root(key_type: &str, key_bits: u64) -> (Self, Value) {
        let h = Self::new().await;
        let root = h
            .write(
                "root/generate/internal",
                json!({"common_name": "qsafe test root", "key_type": key_type, "key_bits": key_bits}),
            )
            .await;
        h.write(
            "roles/web",
            json!({"allowed_domains": "example.com", "allow_subdomains": true, "allow_bare_domains": true, "max_ttl": "72h"}),
        )
        .await;
        (h, root)
    }

    /// How many certificates the mount recorded.
    pub(crate) async fn cert_count(&self) -> usize {
        self.view
            .keys("certs/", None, 10_000)
            .await
            .unwrap()
            .keys
            .len()
    }
}

/// DER of the first PEM certificate in `pem`.
pub(crate) fn der_of(pem: &str) -> Vec<u8> {
    let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).unwrap();
    assert_eq!(label, "CERTIFICATE");
    der
}

/// Checks `child` (DER) is signed by `parent`'s key and names it as issuer.
pub(crate) fn assert_signed_by(child: &[u8], parent: &[u8]) {
    let child = x509_cert::Certificate::from_der(child).unwrap();
    let parent = x509_cert::Certificate::from_der(parent).unwrap();
    assert_eq!(
        child.tbs_certificate().issuer(),
        parent.tbs_certificate().subject()
    );
    let spki = parent
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let key = PublicKey::from_spki_der(&spki).unwrap();
    let PublicKey::Verifying(key) = key else {
        panic!("not a signature key")
    };
    let tbs = child.tbs_certificate().to_der().unwrap();
    key.verify(&tbs, child.signature().raw_bytes()).unwrap();
}
