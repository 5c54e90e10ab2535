//! Key loading, caching and check-and-set updates (OpenBao `sdk/helper/keysutil/lock_manager.go`),
//! and lazy auto-rotation.
//!
//! Every request re-reads the key record (one barrier read) and re-parses it only when its storage
//! revision changed, so a rotation by another replica is seen at once while the expensive seed
//! expansion happens once per key version. There is no background scheduler: a key whose
//! `auto_rotate_period` has elapsed since its latest version was made is rotated when it is next
//! loaded, in one transaction that expects the revision it read (a lost race just reloads).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use qsafe_core::{Error, Result};
use qsafe_crypto::Rng;
use qsafe_store::{Expect, Revision, View, Write};

use crate::policy::{self, KeyRecord, KeyType, Keyring};

/// Storage folder of key records: `policy/<name>`.
pub(crate) const POLICY_PREFIX: &str = "policy/";
/// Attempts of a read-modify-write before answering Conflict.
const ATTEMPTS: usize = 5;

/// Longest key name.
const MAX_NAME_LEN: usize = 128;

/// Checks a key name: 1-128 characters of `[A-Za-z0-9._-]`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "key names are 1-128 characters of A-Z, a-z, 0-9, '.', '_' and '-'".into(),
        ))
    }
}

fn path(name: &str) -> String {
    format!("{POLICY_PREFIX}{name}")
}

/// Now, in unix seconds.
pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Runs CPU-heavy work (key generation, seed expansion, ML-DSA signing) off the async workers.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("transit worker failed: {e}")))?
}

/// Parsed keys by name, with the storage revision they were parsed from.
#[derive(Default)]
pub(crate) struct KeyCache {
    entries: Mutex<HashMap<String, (Revision, Arc<Keyring>)>>,
}

impl KeyCache {
    fn cached(&self, name: &str, revision: Revision) -> Option<Arc<Keyring>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(name)
            .filter(|(r, _)| *r == revision)
            .map(|(_, k)| k.clone())
    }

    fn remember(&self, name: &str, revision: Revision, keyring: Arc<Keyring>) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(name.to_owned(), (revision, keyring));
        }
    }

    /// Forgets a key (after a delete).
    pub(crate) fn forget(&self, name: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(name);
        }
    }

    /// The stored record of `name` and its revision.
    pub(crate) async fn read_record(
        &self,
        view: &View,
        name: &str,
    ) -> Result<Option<(KeyRecord, Revision)>> {
        check_name(name)?;
        match view.get(&path(name)).await? {
            Some(v) => Ok(Some((KeyRecord::decode(&v.value)?, v.revision))),
            None => Ok(None),
        }
    }

    /// The parsed key `name`, rotated first if its auto-rotation period has elapsed.
    pub(crate) async fn load(
        &self,
        view: &View,
        name: &str,
        rng: &Rng,
    ) -> Result<Option<Arc<Keyring>>> {
        check_name(name)?;
        for _ in 0..ATTEMPTS {
            let Some(value) = view.get(&path(name)).await? else {
                self.forget(name);
                return Ok(None);
            };
            let keyring = match self.cached(name, value.revision) {
                Some(k) => k,
                None => {
                    let record = KeyRecord::decode(&value.value)?;
                    let keyring = Arc::new(blocking(move || Keyring::parse(&record)).await?);
                    self.remember(name, value.revision, keyring.clone());
                    keyring
                }
            };
            if !due_for_rotation(&keyring) {
                return Ok(Some(keyring));
            }
            let record = KeyRecord::decode(&value.value)?;
            match self.rotate_record(view, record, value.revision, rng).await {
                Ok(()) | Err(Error::Store(qsafe_store::Error::Conflict { .. })) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!(
            "key {name:?} changed concurrently; retry"
        )))
    }

    /// The parsed key `name`, or NotFound.
    pub(crate) async fn require(&self, view: &View, name: &str, rng: &Rng) -> Result<Arc<Keyring>> {
        self.load(view, name, rng)
            .await?
            .ok_or_else(|| Error::NotFound(format!("transit key {name:?}")))
    }

    async fn rotate_record(
        &self,
        view: &View,
        mut record: KeyRecord,
        revision: Revision,
        rng: &Rng,
    ) -> Result<()> {
        let key_type = record.config.key_type;
        let rng = rng.clone();
        let version = blocking(move || policy::generate(key_type, &rng, now())).await?;
        record.push(version);
        let write = Write::put(path(&record.config.name), record.encode()?.to_vec())
            .expecting(Expect::Revision(revision));
        view.transact(&[write]).await?;
        Ok(())
    }

    /// Stores a new key; Conflict if it exists.
    pub(crate) async fn create(&self, view: &View, record: &KeyRecord) -> Result<()> {
        let write = Write::put(path(&record.config.name), record.encode()?.to_vec())
            .expecting(Expect::Absent);
        match view.transact(&[write]).await {
            Ok(_) => Ok(()),
            Err(qsafe_store::Error::Conflict { .. }) => Err(Error::Conflict(format!(
                "transit key {:?} already exists",
                record.config.name
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// A new record of `key_type` with one version.
    pub(crate) async fn new_record(name: &str, key_type: KeyType, rng: &Rng) -> Result<KeyRecord> {
        check_name(name)?;
        let rng = rng.clone();
        let first = blocking(move || policy::generate(key_type, &rng, now())).await?;
        let mut record = KeyRecord {
            version: policy::RECORD_FORMAT,
            config: policy::Config {
                name: name.to_owned(),
                key_type,
                latest_version: 0,
                min_available_version: 0,
                min_decryption_version: 1,
                min_encryption_version: 0,
                deletion_allowed: false,
                exportable: false,
                allow_plaintext_backup: false,
                auto_rotate_period: 0,
            },
            keys: Default::default(),
        };
        record.push(first);
        Ok(record)
    }

    /// Read-modify-write of `name`'s record with check-and-set, retried on conflicts. `change`
    /// may be called several times; it fails to leave the record unchanged.
    pub(crate) async fn update<F>(&self, view: &View, name: &str, mut change: F) -> Result<()>
    where
        F: FnMut(&mut KeyRecord) -> Result<()>,
    {
        for _ in 0..ATTEMPTS {
            let Some((mut record, revision)) = self.read_record(view, name).await? else {
                return Err(Error::NotFound(format!("transit key {name:?}")));
            };
            change(&mut record)?;
            let write = Write::put(path(name), record.encode()?.to_vec())
                .expecting(Expect::Revision(revision));
            match view.transact(&[write]).await {
                Ok(_) => return Ok(()),
                Err(qsafe_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Conflict(format!(
            "key {name:?} changed concurrently; retry"
        )))
    }

    /// Deletes `name` if its record is still at `revision`.
    pub(crate) async fn delete(&self, view: &View, name: &str, revision: Revision) -> Result<()> {
        let write = Write::delete(path(name)).expecting(Expect::Revision(revision));
        view.transact(&[write]).await?;
        self.forget(name);
        Ok(())
    }

    /// Stores `record` (restore): Absent unless `force`.
    pub(crate) async fn put(&self, view: &View, record: &KeyRecord, force: bool) -> Result<()> {
        if !force {
            return self.create(view, record).await;
        }
        let write = Write::put(path(&record.config.name), record.encode()?.to_vec());
        view.transact(&[write]).await?;
        Ok(())
    }

    /// Names of stored keys, sorted.
    pub(crate) async fn list(&self, view: &View) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = view
                .list(
                    POLICY_PREFIX,
                    after.as_deref(),
                    qsafe_store::storage::MAX_PAGE,
                )
                .await?;
            names.extend(page.keys.into_iter().filter(|k| !k.ends_with('/')));
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(names),
            }
        }
    }
}

fn due_for_rotation(keyring: &Keyring) -> bool {
    let period = keyring.config.auto_rotate_period;
    if period == 0 {
        return false;
    }
    let latest = keyring
        .versions()
        .find(|(n, _)| *n == keyring.config.latest_version)
        .map_or(0, |(_, v)| v.created);
    now().saturating_sub(latest) >= i64::try_from(period).unwrap_or(i64::MAX)
}
