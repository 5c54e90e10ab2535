//! The KV secrets engine: the Vault/OpenBao KV v2 HTTP API
//! (developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2) and the unversioned KV v1 API
//! (developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1), mounted as type `kv` with
//! `options.version` `"1"` (the default, as `secrets enable kv`) or `"2"`.
//!
//! `docs/kv.md` lists every endpoint, the departures from Vault and the storage records.

use std::sync::Arc;

use qsafe_core::{Engine, EngineFactory, Error, Result};
use serde_json::Value;

mod merge;
mod secret_path;
mod storage;
mod timefmt;
mod v1;
mod v2;

pub use storage::{
    CONFIG_KEY, FORMAT_VERSION, MAX_PATH_LEN, METADATA_PREFIX, V1_PREFIX, VERSIONS_PREFIX,
};
pub use v1::KvV1;
pub use v2::KvV2;

/// Builds KV engines for mounts of type `kv`: version 1 or 2 from `options.version`.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvFactory;

impl KvFactory {
    /// The KV version `options` ask for: `version` as `"1"`/`"2"` or a number; absent is 1, as
    /// Vault's `secrets enable kv`.
    pub fn version(options: &Value) -> Result<u8> {
        let bad = || Error::InvalidInput("kv option \"version\" must be 1 or 2".into());
        match options.get("version") {
            None | Some(Value::Null) => Ok(1),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(1),
            Some(Value::String(s)) => match s.trim() {
                "1" => Ok(1),
                "2" => Ok(2),
                _ => Err(bad()),
            },
            Some(Value::Number(n)) => match n.as_u64() {
                Some(1) => Ok(1),
                Some(2) => Ok(2),
                _ => Err(bad()),
            },
            Some(_) => Err(bad()),
        }
    }
}

impl EngineFactory for KvFactory {
    fn kind(&self) -> &'static str {
        "kv"
    }

    fn build(&self, options: &Value) -> Result<Arc<dyn Engine>> {
        if !(options.is_null() || options.is_object()) {
            return Err(Error::InvalidInput("kv options must be an object".into()));
        }
        Ok(match Self::version(options)? {
            1 => Arc::new(KvV1),
            _ => Arc::new(KvV2),
        })
    }
}
