//! The engine's storage records (DESIGN.md §6.5), all below the mount's barrier view, and the
//! conditional-write retry every read-modify-write goes through. `docs/kv.md` shows each record.
//!
//! KV v2 keeps a key's metadata and each version's data as separate records, so writing a new
//! version rewrites the (small) metadata record and adds one data record, never the history.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::BuildHasher;

use qsafe_core::{Error, Result};
use qsafe_store::{Revision, View};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::timefmt::{go_duration, rfc3339, rfc3339_opt};

/// Format version written in every record's `version` field.
pub const FORMAT_VERSION: u32 = 1;
/// KV v2: the mount's configuration record (`config` endpoint).
pub const CONFIG_KEY: &str = "config";
/// KV v2: `metadata/<secret path>` holds a secret's metadata record.
pub const METADATA_PREFIX: &str = "metadata/";
/// KV v2: `versions/<secret path>/<version number>` holds one version's data record.
pub const VERSIONS_PREFIX: &str = "versions/";
/// KV v1: `data/<secret path>` holds the secret's record.
pub const V1_PREFIX: &str = "data/";
/// Longest secret path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 1024;
/// Versions kept per secret when neither the secret nor the mount sets `max_versions`.
pub(crate) const DEFAULT_MAX_VERSIONS: u32 = 10;
/// Attempts of a conditional write before answering Conflict.
pub(crate) const MAX_ATTEMPTS: u32 = 100;

/// The KV v2 mount configuration (`config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Config {
    /// Record format.
    pub(crate) version: u32,
    /// Versions kept per secret; 0 means the default (10).
    pub(crate) max_versions: u32,
    /// Whether every data write must carry `options.cas`.
    pub(crate) cas_required: bool,
    /// Seconds after creation a version reads as deleted; 0 means never.
    pub(crate) delete_version_after: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            version: FORMAT_VERSION,
            max_versions: 0,
            cas_required: false,
            delete_version_after: 0,
        }
    }
}

impl Config {
    /// The `config` read response.
    pub(crate) fn render(&self) -> Value {
        json!({
            "cas_required": self.cas_required,
            "delete_version_after": go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
        })
    }
}

/// One version's entry in a secret's metadata.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct VersionMeta {
    /// Nanoseconds since the epoch.
    pub(crate) created_time: i64,
    /// When the version is (or was) soft-deleted, nanoseconds since the epoch.
    pub(crate) deletion_time: Option<i64>,
    /// Whether its data was destroyed.
    pub(crate) destroyed: bool,
}

impl VersionMeta {
    /// Whether its deletion time has passed at `now`.
    pub(crate) fn is_deleted(&self, now: i64) -> bool {
        self.deletion_time.is_some_and(|t| t <= now)
    }

    /// Whether its data can be read at `now`.
    pub(crate) fn is_live(&self, now: i64) -> bool {
        !self.destroyed && !self.is_deleted(now)
    }

    /// The `metadata` of a data read, or the response of a data write.
    pub(crate) fn render(&self, number: u64, custom: Option<&BTreeMap<String, String>>) -> Value {
        json!({
            "created_time": rfc3339(self.created_time),
            "custom_metadata": custom,
            "deletion_time": rfc3339_opt(self.deletion_time),
            "destroyed": self.destroyed,
            "version": number,
        })
    }
}

/// A KV v2 secret's metadata record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyMetadata {
    /// Record format.
    pub(crate) version: u32,
    /// The newest version number; 0 before the first write.
    pub(crate) current_version: u64,
    /// As Vault: 0 until versions were trimmed, then the oldest version kept.
    pub(crate) oldest_version: u64,
    /// Nanoseconds since the epoch.
    pub(crate) created_time: i64,
    /// Nanoseconds since the epoch.
    pub(crate) updated_time: i64,
    /// Versions kept; 0 means the mount's setting.
    pub(crate) max_versions: u32,
    /// Whether writes of this secret must carry `options.cas`.
    pub(crate) cas_required: bool,
    /// Seconds; 0 means the mount's setting.
    pub(crate) delete_version_after: u64,
    /// User metadata, not versioned.
    pub(crate) custom_metadata: Option<BTreeMap<String, String>>,
    /// The versions kept, by number.
    pub(crate) versions: BTreeMap<u64, VersionMeta>,
}

impl KeyMetadata {
    /// Metadata of a secret with no versions yet.
    pub(crate) fn new(now: i64) -> Self {
        Self {
            version: FORMAT_VERSION,
            current_version: 0,
            oldest_version: 0,
            created_time: now,
            updated_time: now,
            max_versions: 0,
            cas_required: false,
            delete_version_after: 0,
            custom_metadata: None,
            versions: BTreeMap::new(),
        }
    }

    /// Adds the next version; returns its number and the versions the window of
    /// `max_versions` (this secret's, else the mount's, else 10) pushes out, as Vault does.
    pub(crate) fn add_version(&mut self, meta: VersionMeta, mount_max: u32) -> (u64, Vec<u64>) {
        self.current_version += 1;
        let number = self.current_version;
        self.versions.insert(number, meta);
        self.updated_time = meta.created_time;
        let max = u64::from(match (self.max_versions, mount_max) {
            (0, 0) => DEFAULT_MAX_VERSIONS,
            (0, m) => m,
            (k, _) => k,
        });
        let mut trimmed = Vec::new();
        if number.saturating_sub(self.oldest_version) >= max {
            let last_dropped = number - max;
            trimmed = self
                .versions
                .range(..=last_dropped)
                .map(|(n, _)| *n)
                .collect();
            for n in &trimmed {
                self.versions.remove(n);
            }
            self.oldest_version = last_dropped + 1;
        }
        (number, trimmed)
    }

    /// The `metadata/:path` read response.
    pub(crate) fn render(&self) -> Value {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(n, v)| {
                let entry = json!({
                    "created_time": rfc3339(v.created_time),
                    "deletion_time": rfc3339_opt(v.deletion_time),
                    "destroyed": v.destroyed,
                });
                (n.to_string(), entry)
            })
            .collect();
        json!({
            "cas_required": self.cas_required,
            "created_time": rfc3339(self.created_time),
            "current_version": self.current_version,
            "custom_metadata": self.custom_metadata,
            "delete_version_after": go_duration(self.delete_version_after),
            "max_versions": self.max_versions,
            "oldest_version": self.oldest_version,
            "updated_time": rfc3339(self.updated_time),
            "versions": versions,
        })
    }
}

/// A version's data record (KV v2) or a secret's record (KV v1).
#[derive(Serialize, Deserialize)]
pub(crate) struct SecretRecord {
    /// Record format.
    pub(crate) version: u32,
    /// The secret.
    pub(crate) data: Map<String, Value>,
}

impl SecretRecord {
    /// A record of `data`.
    pub(crate) fn new(data: Map<String, Value>) -> Self {
        Self {
            version: FORMAT_VERSION,
            data,
        }
    }
}

/// The storage key of a secret's metadata.
pub(crate) fn metadata_key(path: &str) -> String {
    format!("{METADATA_PREFIX}{path}")
}

/// The storage key of version `number` of a secret. The number is the last segment, so the
/// mapping from (path, number) to keys is one-to-one.
pub(crate) fn version_key(path: &str, number: u64) -> String {
    format!("{VERSIONS_PREFIX}{path}/{number}")
}

/// Serializes a record.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|_| Error::Internal("a kv record did not encode".into()))
}

/// The record at `key` and its revision. A record that does not decode, or has another format
/// version, is an internal error naming the key only.
pub(crate) async fn load<T: DeserializeOwned>(
    view: &View,
    key: &str,
) -> Result<Option<(T, Revision)>> {
    let Some(stored) = view.get(key).await? else {
        return Ok(None);
    };
    let corrupt = || Error::Internal(format!("kv record at {key} does not decode"));
    let raw: Value = serde_json::from_slice(stored.value.as_slice()).map_err(|_| corrupt())?;
    if raw.get("version").and_then(Value::as_u64) != Some(u64::from(FORMAT_VERSION)) {
        return Err(Error::Internal(format!(
            "kv record at {key} has an unknown format"
        )));
    }
    let record = serde_json::from_value(raw).map_err(|_| corrupt())?;
    Ok(Some((record, stored.revision)))
}

/// The mount's configuration, or the defaults, with its revision if stored.
pub(crate) async fn load_config(view: &View) -> Result<(Config, Option<Revision>)> {
    Ok(match load::<Config>(view, CONFIG_KEY).await? {
        Some((config, rev)) => (config, Some(rev)),
        None => (Config::default(), None),
    })
}

/// Every name in the storage folder `folder` (relative to the view), all pages.
pub(crate) async fn list_all(view: &View, folder: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = view
            .list(folder, after.as_deref(), qsafe_store::storage::MAX_PAGE)
            .await?;
        keys.extend(page.keys);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(keys),
        }
    }
}

/// Runs `attempt` until it does not fail with a storage conflict (a concurrent writer changed a
/// record it read), waiting a short random time between tries; after [`MAX_ATTEMPTS`] answers
/// Conflict. Each attempt re-reads what it changes, so no acknowledged write is lost.
pub(crate) async fn retry<T, F, Fut>(what: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    for n in 0..MAX_ATTEMPTS {
        match attempt().await {
            Err(Error::Store(qsafe_store::Error::Conflict { .. })) => {
                let cap_us = 200u64 << n.min(5);
                let jitter = std::collections::hash_map::RandomState::new().hash_one(n) % cap_us;
                tokio::time::sleep(std::time::Duration::from_micros(jitter)).await;
            }
            other => return other,
        }
    }
    Err(Error::Conflict(format!(
        "{what} was changed concurrently too often; try again"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: i64) -> VersionMeta {
        VersionMeta {
            created_time: t,
            deletion_time: None,
            destroyed: false,
        }
    }

    #[test]
    fn the_version_window_slides_as_vaults() {
        let mut meta = KeyMetadata::new(0);
        meta.max_versions = 3;
        let mut dropped = Vec::new();
        for t in 1..=5 {
            let (n, trimmed) = meta.add_version(v(t), 0);
            assert_eq!(n, t as u64);
            dropped.extend(trimmed);
        }
        assert_eq!(dropped, vec![1, 2]);
        assert_eq!(
            meta.versions.keys().copied().collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(meta.oldest_version, 3);
        // Lowering max_versions trims several at the next write.
        meta.max_versions = 1;
        let (_, trimmed) = meta.add_version(v(6), 0);
        assert_eq!(trimmed, vec![3, 4, 5]);
        assert_eq!(meta.oldest_version, 6);
        // The mount's setting, then the default, apply when the secret sets none.
        let mut meta = KeyMetadata::new(0);
        for t in 1..=11 {
            meta.add_version(v(t), 0);
        }
        assert_eq!(meta.versions.len(), 10);
        assert_eq!(meta.oldest_version, 2);
        let mut meta = KeyMetadata::new(0);
        for t in 1..=3 {
            meta.add_version(v(t), 2);
        }
        assert_eq!(meta.versions.len(), 2);
    }

    #[test]
    fn keys_are_one_to_one() {
        assert_eq!(version_key("a", 1), "versions/a/1");
        assert_ne!(version_key("a/1", 1), version_key("a", 1));
        assert_eq!(metadata_key("a/b"), "metadata/a/b");
    }
}
