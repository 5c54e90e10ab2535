//! The barrier: every value engines store is AES-256-GCM encrypted under the current barrier key,
//! bound to its storage path, before it reaches the database (DESIGN.md §3, docs/formats.md §10).
//!
//! Stored value: `term (u32 BE) ‖ symmetric envelope` whose associated data is
//! `"qsafe-barrier\0" ‖ term ‖ path`, so a value copied to another path, or relabelled with
//! another term, does not open. The keyring lives at [`KEYRING_PATH`] in a symmetric envelope
//! under the root key, which the seal holds. Rotation adds a term; values under older terms still
//! open and are re-encrypted under the newest term when next read.

use std::sync::{Arc, RwLock};

use qsafe_crypto::envelope::{self, SYMMETRIC_KEY_LEN};
use qsafe_crypto::{Rng, SecretBytes};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keyring::Keyring;
use crate::storage::{Expect, Page, Revision, Storage, Write};

/// Where the keyring is stored (encrypted under the root key, not under itself).
pub const KEYRING_PATH: &str = "core/keyring";
const KEYRING_AAD: &[u8] = b"qsafe-keyring\0v1";
const VALUE_AAD: &[u8] = b"qsafe-barrier\0";
const TERM_LEN: usize = 4;

/// The key that encrypts the barrier keyring. Held only while unsealed; wiped when dropped.
pub struct RootKey(Zeroizing<[u8; SYMMETRIC_KEY_LEN]>);

impl RootKey {
    /// A fresh random root key.
    pub fn generate(rng: &Rng) -> Result<Self> {
        Ok(Self(rng.bytes::<SYMMETRIC_KEY_LEN>()?))
    }

    /// A root key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bytes: [u8; SYMMETRIC_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| Error::Seal("a root key is 32 bytes".into()))?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; SYMMETRIC_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

/// A value read through the barrier.
#[derive(Debug)]
pub struct Value {
    /// The plaintext.
    pub value: SecretBytes,
    /// The stored entry's revision, for conditional writes.
    pub revision: Revision,
}

struct Unsealed {
    root: RootKey,
    keyring: Keyring,
}

/// The encrypting layer over a [`Storage`]. Sealed until [`Barrier::initialize`] or
/// [`Barrier::unseal`]; every read and write fails with [`Error::Sealed`] while sealed.
pub struct Barrier {
    storage: Arc<dyn Storage>,
    state: RwLock<Option<Arc<Unsealed>>>,
    rng: Rng,
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("sealed", &self.is_sealed())
            .finish_non_exhaustive()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn value_aad(term: u32, path: &str) -> Vec<u8> {
    [VALUE_AAD, &term.to_be_bytes(), path.as_bytes()].concat()
}

impl Barrier {
    /// A sealed barrier over `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self {
            storage,
            state: RwLock::new(None),
            rng: Rng::new(),
        }
    }

    /// The storage under the barrier (for the seal's own records, stored outside the barrier).
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Whether a keyring has been written.
    pub async fn is_initialized(&self) -> Result<bool> {
        Ok(self.storage.get(KEYRING_PATH).await?.is_some())
    }

    /// Whether reads and writes are refused.
    pub fn is_sealed(&self) -> bool {
        self.state.read().map_or(true, |s| s.is_none())
    }

    /// Creates the keyring (term 1) under `root` and unseals. Fails if one exists.
    pub async fn initialize(&self, root: RootKey) -> Result<()> {
        self.initialize_with(root, Vec::new()).await
    }

    /// As [`Barrier::initialize`], writing `records` (raw, outside the barrier: the seal's own)
    /// in the same transaction, so initialization happens entirely or not at all.
    pub async fn initialize_with(&self, root: RootKey, mut records: Vec<Write>) -> Result<()> {
        let keyring = Keyring::new(&self.rng, now())?;
        let sealed =
            envelope::seal_symmetric(root.as_bytes(), KEYRING_AAD, &keyring.encode(), &self.rng)?;
        records.push(Write::put(KEYRING_PATH, sealed).expecting(Expect::Absent));
        match self.storage.transact(&records).await {
            Err(Error::Conflict { .. }) => {
                return Err(Error::Seal("already initialized".into()));
            }
            other => other?,
        };
        self.set(Some(Unsealed { root, keyring }));
        Ok(())
    }

    /// Opens the keyring with `root`; a wrong root key is an error and leaves the barrier sealed.
    pub async fn unseal(&self, root: RootKey) -> Result<()> {
        let keyring = self.load_keyring(&root).await?.0;
        self.set(Some(Unsealed { root, keyring }));
        Ok(())
    }

    /// Forgets the root key and the keyring (both wiped once in-flight operations finish).
    pub fn seal(&self) {
        self.set(None);
    }

    /// The active term and when its key was installed (Unix seconds).
    pub fn key_status(&self) -> Result<(u32, i64)> {
        let state = self.unsealed()?;
        let (term, key) = state.keyring.active().ok_or(Error::Sealed)?;
        Ok((term, key.installed))
    }

    /// Adds a new barrier key; new writes use it from now on. Returns the new term.
    pub async fn rotate(&self) -> Result<u32> {
        loop {
            let state = self.unsealed()?;
            let (mut keyring, revision) = self.load_keyring(&state.root).await?;
            let term = keyring.add_term(&self.rng, now())?;
            let sealed = envelope::seal_symmetric(
                state.root.as_bytes(),
                KEYRING_AAD,
                &keyring.encode(),
                &self.rng,
            )?;
            let write = Write::put(KEYRING_PATH, sealed).expecting(Expect::Revision(revision));
            match self.storage.transact(&[write]).await {
                // Another replica rotated at the same moment: start again from its keyring.
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
                Ok(_) => {}
            }
            self.replace_keyring(&state, keyring);
            return Ok(term);
        }
    }

    /// The revision of the value at `path`, without decrypting it: for callers that keep a
    /// decoded copy and only need to know whether it changed.
    pub async fn revision(&self, path: &str) -> Result<Option<Revision>> {
        check_path(path)?;
        self.unsealed()?;
        self.storage.revision(path).await
    }

    /// The plaintext at `path`.
    pub async fn get(&self, path: &str) -> Result<Option<Value>> {
        check_path(path)?;
        let state = self.unsealed()?;
        let Some(entry) = self.storage.get(path).await? else {
            return Ok(None);
        };
        let (term, plaintext) = self.open(&state, path, &entry.value).await?;
        let mut revision = entry.revision;
        let active = state.keyring.active().map(|(t, _)| t);
        if active.is_some_and(|active| term < active) {
            // Lazy re-encryption under the newest key; if the value changed meanwhile, the newer
            // write already used the newest key.
            let sealed = self.seal_value(&state, path, &plaintext)?;
            let write = Write::put(path, sealed).expecting(Expect::Revision(entry.revision));
            match self.storage.transact(&[write]).await {
                Ok(revisions) => revision = revisions.first().copied().unwrap_or(revision),
                Err(e) => tracing::debug!(path, error = %e, "lazy re-encryption skipped"),
            }
        }
        Ok(Some(Value {
            value: plaintext,
            revision,
        }))
    }

    /// Stores `value` at `path`.
    pub async fn put(&self, path: &str, value: &[u8]) -> Result<Revision> {
        let revisions = self.transact(&[Write::put(path, value)]).await?;
        revisions
            .first()
            .copied()
            .ok_or(Error::InvalidRequest("a put returned no revision"))
    }

    /// Removes `path`; `true` if it existed.
    pub async fn delete(&self, path: &str) -> Result<bool> {
        check_path(path)?;
        self.unsealed()?;
        self.storage.delete(path).await
    }

    /// Applies plaintext writes atomically, each put encrypted for its path.
    pub async fn transact(&self, writes: &[Write]) -> Result<Vec<Revision>> {
        let state = self.unsealed()?;
        let mut sealed = Vec::with_capacity(writes.len());
        for write in writes {
            check_path(write.key())?;
            sealed.push(match write {
                Write::Put { key, value, expect } => Write::Put {
                    key: key.clone(),
                    value: self.seal_value(&state, key, value)?,
                    expect: *expect,
                },
                Write::Delete { .. } => write.clone(),
            });
        }
        self.storage.transact(&sealed).await
    }

    /// As [`Storage::list`].
    pub async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page> {
        self.unsealed()?;
        self.storage.list(prefix, after, limit).await
    }

    /// As [`Storage::keys`].
    pub async fn keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page> {
        self.unsealed()?;
        self.storage.keys(prefix, after, limit).await
    }

    fn seal_value(&self, state: &Unsealed, path: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
        let (term, key) = state.keyring.active().ok_or(Error::Sealed)?;
        let envelope =
            envelope::seal_symmetric(&key.key, &value_aad(term, path), plaintext, &self.rng)?;
        let mut out = Vec::with_capacity(TERM_LEN + envelope.len());
        out.extend_from_slice(&term.to_be_bytes());
        out.extend_from_slice(&envelope);
        Ok(out)
    }

    /// Decrypts a stored value; reloads the keyring once if the term is newer than ours (another
    /// replica rotated).
    async fn open(
        &self,
        state: &Arc<Unsealed>,
        path: &str,
        stored: &[u8],
    ) -> Result<(u32, SecretBytes)> {
        let corrupt = |reason| Error::Corrupt {
            key: path.to_owned(),
            reason,
        };
        if stored.len() < TERM_LEN {
            return Err(corrupt("shorter than a barrier header"));
        }
        let (term_bytes, sealed) = stored.split_at(TERM_LEN);
        let term = u32::from_be_bytes(term_bytes.try_into().map_err(|_| corrupt("term"))?);
        let key = match state.keyring.get(term) {
            Some(key) => key.key,
            None => {
                let (keyring, _) = self.load_keyring(&state.root).await?;
                let key = keyring
                    .get(term)
                    .ok_or_else(|| corrupt("written under an unknown key term"))?
                    .key;
                self.replace_keyring(state, keyring);
                key
            }
        };
        let key = Zeroizing::new(key);
        let plaintext = envelope::open_symmetric(key.as_ref(), &value_aad(term, path), sealed)
            .map_err(|_| corrupt("does not decrypt at this path"))?;
        Ok((term, plaintext))
    }

    async fn load_keyring(&self, root: &RootKey) -> Result<(Keyring, Revision)> {
        let entry = self
            .storage
            .get(KEYRING_PATH)
            .await?
            .ok_or(Error::Seal("not initialized".into()))?;
        let plaintext = envelope::open_symmetric(root.as_bytes(), KEYRING_AAD, &entry.value)
            .map_err(|_| Error::Seal("the root key does not open the keyring".into()))?;
        Ok((Keyring::decode(&plaintext)?, entry.revision))
    }

    fn unsealed(&self) -> Result<Arc<Unsealed>> {
        self.state
            .read()
            .ok()
            .and_then(|s| s.clone())
            .ok_or(Error::Sealed)
    }

    fn set(&self, unsealed: Option<Unsealed>) {
        if let Ok(mut state) = self.state.write() {
            *state = unsealed.map(Arc::new);
        }
    }

    /// Installs a newer keyring, unless the barrier was sealed or unsealed again meanwhile.
    fn replace_keyring(&self, seen: &Arc<Unsealed>, keyring: Keyring) {
        if let Ok(mut state) = self.state.write()
            && state.as_ref().is_some_and(|s| Arc::ptr_eq(s, seen))
        {
            let root = RootKey(seen.root.0.clone());
            *state = Some(Arc::new(Unsealed { root, keyring }));
        }
    }
}

/// The barrier's own record is not reachable through it.
fn check_path(path: &str) -> Result<()> {
    if path == KEYRING_PATH {
        return Err(Error::InvalidKey {
            reason: "reserved for the keyring",
        });
    }
    Ok(())
}
