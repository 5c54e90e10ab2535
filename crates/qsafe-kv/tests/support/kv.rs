//! A KV engine over a real barrier on SQLite in a temporary directory, and small helpers to
//! call it as the core would.
#![allow(dead_code, reason = "each test binary uses a part")]

use std::collections::BTreeMap;
use std::sync::Arc;

use qsafe_core::{Engine, EngineFactory, EngineRequest, Operation, Response};
use qsafe_kv::KvFactory;
use qsafe_store::View;
use serde_json::{Value, json};

pub(crate) struct Kv {
    _dir: tempfile::TempDir,
    pub(crate) view: View,
    pub(crate) engine: Arc<dyn Engine>,
}

impl Kv {
    /// A fresh mount of `kv` with these options.
    pub(crate) async fn new(options: Value) -> Self {
        let (view, dir) = qsafe_store::testing::scratch_view("logical/test/")
            .await
            .unwrap();
        let engine = KvFactory.build(&options).unwrap();
        Self {
            _dir: dir,
            view,
            engine,
        }
    }

    pub(crate) async fn v2() -> Self {
        Self::new(json!({"version": "2"})).await
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

    /// The response data of a call that must succeed (`null` for 204).
    pub(crate) async fn ok(&self, operation: Operation, path: &str, data: Option<Value>) -> Value {
        match self.call(operation, path, data).await {
            Ok(r) => r.data.unwrap_or(Value::Null),
            Err(e) => panic!("{} {path}: {e}", operation.as_str()),
        }
    }

    pub(crate) async fn read(&self, path: &str) -> Value {
        self.ok(Operation::Read, path, None).await
    }

    pub(crate) async fn write(&self, path: &str, body: Value) -> Value {
        self.ok(Operation::Write, path, Some(body)).await
    }

    /// Every record of the mount, decrypted: to show a refused request changed nothing.
    pub(crate) async fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        let keys = self.view.keys("", None, 10_000).await.unwrap().keys;
        let mut all = BTreeMap::new();
        for key in keys {
            let value = self.view.get(&key).await.unwrap().unwrap();
            all.insert(key, value.value.as_slice().to_vec());
        }
        all
    }
}

/// Whether `result` failed with the error kind `kind`.
pub(crate) fn is_kind(result: &qsafe_core::Result<Response>, kind: qsafe_core::ErrorKind) -> bool {
    matches!(result, Err(e) if e.kind() == kind)
}
