//! The transit engine end to end on a real barrier over SQLite (no HTTP): every key type, the
//! Vault transit endpoints, batches, rotation, export, backup, auto-rotation.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod crypto;
mod keys;
mod misc;
mod perf;
mod sign;

use std::sync::Arc;

use qsafe_core::{Engine, EngineFactory, EngineRequest, Error, Operation, Response};
use qsafe_crypto::encoding::b64_encode;
use qsafe_store::View;
use qsafe_transit::TransitFactory;
use serde_json::{Value, json};

/// An engine over a fresh barrier.
pub(crate) struct Harness {
    pub(crate) engine: Arc<dyn Engine>,
    pub(crate) view: View,
    _dir: tempfile::TempDir,
}

impl Harness {
    pub(crate) async fn new() -> Self {
        let (view, dir) = qsafe_store::testing::scratch_view("logical/transit/")
            .await
            .unwrap();
        assert_eq!(TransitFactory.kind(), "transit");
        let engine = TransitFactory.build(&json!({})).unwrap();
        Self {
            engine,
            view,
            _dir: dir,
        }
    }

    /// Another engine instance (a second replica) over the same storage.
    pub(crate) fn replica(&self) -> Arc<dyn Engine> {
        TransitFactory.build(&json!({})).unwrap()
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

    /// A write that must succeed; its `data`.
    pub(crate) async fn write(&self, path: &str, data: Value) -> Value {
        match self.call(Operation::Write, path, Some(data)).await {
            Ok(r) => r.data.unwrap_or(Value::Null),
            Err(e) => panic!("write {path}: {e}"),
        }
    }

    /// A write that must fail.
    pub(crate) async fn write_err(&self, path: &str, data: Value) -> Error {
        match self.call(Operation::Write, path, Some(data)).await {
            Ok(r) => panic!("write {path} succeeded: {:?}", r.data),
            Err(e) => e,
        }
    }

    /// A read that must succeed; its `data`.
    pub(crate) async fn read(&self, path: &str) -> Value {
        match self.call(Operation::Read, path, None).await {
            Ok(r) => r.data.unwrap_or(Value::Null),
            Err(e) => panic!("read {path}: {e}"),
        }
    }

    /// A read that must fail.
    pub(crate) async fn read_err(&self, path: &str) -> Error {
        match self.call(Operation::Read, path, None).await {
            Ok(r) => panic!("read {path} succeeded: {:?}", r.data),
            Err(e) => e,
        }
    }

    /// Creates a key of `key_type` with extra parameters.
    pub(crate) async fn create(&self, name: &str, key_type: &str, extra: Value) -> Value {
        let mut body = json!({ "type": key_type });
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        self.write(&format!("keys/{name}"), body).await
    }

    /// Encrypts `plaintext` with `name`: the ciphertext string.
    pub(crate) async fn encrypt(&self, name: &str, plaintext: &[u8], aad: &[u8]) -> String {
        let out = self
            .write(
                &format!("encrypt/{name}"),
                json!({ "plaintext": b64(plaintext), "associated_data": b64(aad) }),
            )
            .await;
        out["ciphertext"].as_str().unwrap().to_owned()
    }

    /// Decrypts with `name`: the plaintext bytes.
    pub(crate) async fn decrypt(&self, name: &str, ciphertext: &str, aad: &[u8]) -> Vec<u8> {
        let out = self
            .write(
                &format!("decrypt/{name}"),
                json!({ "ciphertext": ciphertext, "associated_data": b64(aad) }),
            )
            .await;
        unb64(out["plaintext"].as_str().unwrap())
    }
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    b64_encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Vec<u8> {
    qsafe_crypto::encoding::b64_decode("test", text).unwrap()
}

/// Every key type and whether it encrypts / signs.
pub(crate) const TYPES: [(&str, bool, bool); 10] = [
    ("ml-kem-768", true, false),
    ("x25519-ml-kem-768", true, false),
    ("aes256-gcm96", true, false),
    ("ml-dsa-44", false, true),
    ("ml-dsa-65", false, true),
    ("ml-dsa-87", false, true),
    ("ecdsa-p256", false, true),
    ("ed25519", false, true),
    ("hybrid-ml-dsa-65-ecdsa-p256", false, true),
    ("hmac", false, false),
];

/// Asserts `e` is a 400 whose message contains `needle`.
pub(crate) fn assert_invalid(e: &Error, needle: &str) {
    assert!(
        matches!(e, Error::InvalidInput(m) if m.contains(needle)),
        "expected InvalidInput containing {needle:?}, got {e:?}"
    );
}
