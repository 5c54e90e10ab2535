//! `SecretProvider`: a service's secrets resolved from KV v2 once at start-up and kept for the
//! process lifetime, refreshed only when asked — so configuration holds paths, never secrets,
//! and a qsafe outage after start-up does not take the service down.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::kv::{Kv, Secret};
use crate::{Error, Result};

/// The secrets at a fixed set of KV v2 paths, cached.
#[derive(Debug)]
pub struct SecretProvider {
    kv: Kv,
    cache: RwLock<BTreeMap<String, Arc<Secret>>>,
}

impl SecretProvider {
    /// Reads every path now; fails if any is missing or unreadable (a service should not start
    /// half-configured).
    pub async fn load(kv: Kv, paths: &[&str]) -> Result<Self> {
        let provider = Self {
            kv,
            cache: RwLock::new(BTreeMap::new()),
        };
        for path in paths {
            provider.refresh_path(path).await?;
        }
        Ok(provider)
    }

    /// The cached secret at `path`, if it was loaded.
    pub fn get(&self, path: &str) -> Option<Arc<Secret>> {
        self.cache.read().ok()?.get(path).cloned()
    }

    /// One string field of a cached secret.
    pub fn field(&self, path: &str, field: &str) -> Option<String> {
        self.get(path)?.field(field).map(str::to_owned)
    }

    /// Re-reads `path` (adding it if new). On failure the cached value stays as it was.
    pub async fn refresh_path(&self, path: &str) -> Result<Arc<Secret>> {
        let secret = self
            .kv
            .read(path)
            .await?
            .ok_or_else(|| Error::Config(format!("secret {path:?} does not exist")))?;
        let secret = Arc::new(secret);
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(path.to_owned(), secret.clone());
        }
        Ok(secret)
    }

    /// Re-reads every cached path; stops at the first failure, keeping the values not yet
    /// refreshed.
    pub async fn refresh(&self) -> Result<()> {
        let paths: Vec<String> = self
            .cache
            .read()
            .map(|c| c.keys().cloned().collect())
            .unwrap_or_default();
        for path in paths {
            self.refresh_path(&path).await?;
        }
        Ok(())
    }
}
