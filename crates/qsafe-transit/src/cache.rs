//! Key loading, caching and check-and-set updates (OpenBao `sdk/helper/keysutil/lock_manager.go`),
//! and lazy auto-rotation.
//!
//! Every request re-reads the key record (one barrier read), so a rotation by another replica is
//! seen at once. The parsed key is cached by storage revision; when the revision changes (rotate,
//! config, trim, restore, the barrier's lazy re-encryption) the record is parsed again, but every
//! version whose stored material is unchanged is taken from the previous parse, so only new seeds
//! are expanded. One request per key name parses at a time; the others wait for its result rather
//! than repeating the work. At most [`MAX_CACHED_KEYS`] keys are cached (least recently used go
//! first), because whoever may create keys can create any number of them.
//!
//! There is no background scheduler: a key whose `auto_rotate_period` has elapsed since its latest
//! version was made is rotated when it is next loaded, in one transaction that expects the revision
//! it read (a lost race just reloads).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use qsafe_core::{Error, Result};
use qsafe_crypto::Rng;
use qsafe_store::{Expect, Revision, View, Write};
use zeroize::Zeroize;

use crate::policy::{self, KeyRecord, KeyType, Keyring};

#[cfg(test)]
mod tests;

/// Most keys kept parsed in memory by one engine.
pub(crate) const MAX_CACHED_KEYS: usize = 1024;
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

/// Runs CPU-heavy work (key generation, seed expansion, ML-DSA signing) off the async workers,
/// a core at a time ([`qsafe_core::cpu`]).
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    F: FnOnce() -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    qsafe_core::cpu::run("transit", f).await?
}

/// One cached key name.
struct Slot {
    /// The latest parse and the revision it was parsed from.
    parsed: Option<(Revision, Arc<Keyring>)>,
    /// Held while the name's record is parsed, so concurrent requests wait for one parse.
    parsing: Arc<tokio::sync::Mutex<()>>,
    /// [`Slots::tick`] at the last use, for evicting the least recently used.
    used: u64,
}

#[derive(Default)]
struct Slots {
    map: HashMap<String, Slot>,
    tick: u64,
}

/// What the cache holds for a name at a revision.
enum Probe {
    /// A parse of exactly that revision.
    Hit(Arc<Keyring>),
    /// None: the lock to parse under, and the last parse of another revision to reuse from.
    Miss {
        parsing: Arc<tokio::sync::Mutex<()>>,
        previous: Option<Arc<Keyring>>,
    },
}

/// Parsed keys by name, with the storage revision they were parsed from.
pub(crate) struct KeyCache {
    slots: Mutex<Slots>,
    capacity: usize,
    /// Key versions parsed afresh (not reused), for tests and diagnostics.
    versions_parsed: AtomicU64,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::with_capacity(MAX_CACHED_KEYS)
    }
}

/// A put of a plaintext key record whose bytes are wiped when the write is dropped.
struct SecretPut(Write);

impl SecretPut {
    fn new(name: &str, record: &KeyRecord, expect: Expect) -> Result<Self> {
        let mut bytes = record.encode()?;
        // Moves the buffer into the write (no copy); `bytes` keeps an empty vector.
        let bytes = std::mem::take(&mut *bytes);
        Ok(Self(Write::put(path(name), bytes).expecting(expect)))
    }

    async fn apply(self, view: &View) -> qsafe_store::Result<Vec<Revision>> {
        view.transact(std::slice::from_ref(&self.0)).await
    }
}

impl Drop for SecretPut {
    fn drop(&mut self) {
        if let Write::Put { value, .. } = &mut self.0 {
            value.zeroize();
        }
    }
}

impl KeyCache {
    /// A cache of at most `capacity` keys (at least one).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: Mutex::default(),
            capacity: capacity.max(1),
            versions_parsed: AtomicU64::new(0),
        }
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The map is a cache: whatever a panicking holder left is still usable.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Looks `name` up at `revision`, making a slot (evicting the least recently used one if
    /// full) on a miss.
    fn probe(&self, name: &str, revision: Revision) -> Probe {
        let mut slots = self.slots();
        slots.tick += 1;
        let tick = slots.tick;
        if let Some(slot) = slots.map.get_mut(name) {
            slot.used = tick;
            return match &slot.parsed {
                Some((r, k)) if *r == revision => Probe::Hit(k.clone()),
                parsed => Probe::Miss {
                    parsing: slot.parsing.clone(),
                    previous: parsed.as_ref().map(|(_, k)| k.clone()),
                },
            };
        }
        let parsing = Arc::new(tokio::sync::Mutex::new(()));
        self.make_room(&mut slots);
        slots.map.insert(
            name.to_owned(),
            Slot {
                parsed: None,
                parsing: parsing.clone(),
                used: tick,
            },
        );
        Probe::Miss {
            parsing,
            previous: None,
        }
    }

    fn make_room(&self, slots: &mut Slots) {
        while slots.map.len() >= self.capacity {
            let oldest = slots
                .map
                .iter()
                .min_by_key(|(_, slot)| slot.used)
                .map(|(name, _)| name.clone());
            match oldest {
                Some(name) => slots.map.remove(&name),
                None => return,
            };
        }
    }

    fn remember(&self, name: &str, revision: Revision, keyring: Arc<Keyring>) {
        let mut slots = self.slots();
        slots.tick += 1;
        let tick = slots.tick;
        if let Some(slot) = slots.map.get_mut(name) {
            slot.parsed = Some((revision, keyring));
            slot.used = tick;
            return;
        }
        // Evicted while parsing: cache it again.
        self.make_room(&mut slots);
        slots.map.insert(
            name.to_owned(),
            Slot {
                parsed: Some((revision, keyring)),
                parsing: Arc::default(),
                used: tick,
            },
        );
    }

    /// Forgets a key (after a delete).
    pub(crate) fn forget(&self, name: &str) {
        self.slots().map.remove(name);
    }

    /// The key parsed from `value` (the record of `name`): cached, or parsed once for all
    /// concurrent requests, reusing the unchanged versions of the previous parse.
    async fn parsed(
        &self,
        name: &str,
        value: &qsafe_store::barrier::Value,
    ) -> Result<Arc<Keyring>> {
        let parsing = match self.probe(name, value.revision) {
            Probe::Hit(keyring) => return Ok(keyring),
            Probe::Miss { parsing, .. } => parsing,
        };
        let _guard = parsing.lock().await;
        // Whoever held the lock may have parsed this revision meanwhile.
        let previous = match self.probe(name, value.revision) {
            Probe::Hit(keyring) => return Ok(keyring),
            Probe::Miss { previous, .. } => previous,
        };
        let record = KeyRecord::decode(&value.value)?;
        let (keyring, fresh) =
            blocking(move || Keyring::parse_reusing(&record, previous.as_deref())).await?;
        self.versions_parsed
            .fetch_add(u64::try_from(fresh).unwrap_or(u64::MAX), Ordering::Relaxed);
        let keyring = Arc::new(keyring);
        self.remember(name, value.revision, keyring.clone());
        Ok(keyring)
    }

    /// Whether `name` is stored (one barrier read, nothing decoded: it runs before every
    /// `encrypt/`).
    pub(crate) async fn exists(&self, view: &View, name: &str) -> Result<bool> {
        check_name(name)?;
        Ok(view.get(&path(name)).await?.is_some())
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
            let keyring = self.parsed(name, &value).await?;
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
        record.push(version)?;
        SecretPut::new(&record.config.name, &record, Expect::Revision(revision))?
            .apply(view)
            .await?;
        Ok(())
    }

    /// Stores a new key; Conflict if it exists.
    pub(crate) async fn create(&self, view: &View, record: &KeyRecord) -> Result<()> {
        let put = SecretPut::new(&record.config.name, record, Expect::Absent)?;
        match put.apply(view).await {
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
        record.push(first)?;
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
            let put = SecretPut::new(name, &record, Expect::Revision(revision))?;
            match put.apply(view).await {
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
        SecretPut::new(&record.config.name, record, Expect::Any)?
            .apply(view)
            .await?;
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
    let latest = keyring.latest_created();
    now().saturating_sub(latest) >= i64::try_from(period).unwrap_or(i64::MAX)
}
