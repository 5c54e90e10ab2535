//! The `Storage` trait: a transactional, ordered map from UTF-8 paths to bytes.
//!
//! Paths are `/`-separated like Vault's; [`Storage::list`] answers one level at a time with
//! sub-folders ending in `/` (Vault's `LIST` shape) and pages through large folders. Every write
//! gives the entry a new [`Revision`], and writes can be made conditional on it, which is how
//! engines do check-and-set across several `qsafe server` replicas sharing one database.

use async_trait::async_trait;

use crate::error::{Error, Result};

/// Longest storage key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 2048;
/// Largest page [`Storage::list`] and [`Storage::keys`] return.
pub const MAX_PAGE: usize = 10_000;

/// An opaque tag that changes on every write of a key: 63 random bits, so a key deleted and
/// written again never comes back with a revision a reader saw before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Revision(pub u64);

/// A stored value and its revision.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The stored bytes (ciphertext, below the barrier).
    pub value: Vec<u8>,
    /// Changes on every write.
    pub revision: Revision,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .field("revision", &self.revision)
            .finish()
    }
}

/// What a conditional write requires of the key's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Nothing: write unconditionally.
    Any,
    /// The key must not exist.
    Absent,
    /// The key must exist with this revision.
    Revision(Revision),
}

/// One write of a transaction.
#[derive(Clone, PartialEq, Eq)]
pub enum Write {
    /// Store `value` at `key`.
    Put {
        /// The key.
        key: String,
        /// The bytes.
        value: Vec<u8>,
        /// The condition.
        expect: Expect,
    },
    /// Remove `key` (removing an absent key with [`Expect::Any`] is not an error).
    Delete {
        /// The key.
        key: String,
        /// The condition.
        expect: Expect,
    },
}

impl Write {
    /// An unconditional put.
    pub fn put(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Self::Put {
            key: key.into(),
            value: value.into(),
            expect: Expect::Any,
        }
    }

    /// An unconditional delete.
    pub fn delete(key: impl Into<String>) -> Self {
        Self::Delete {
            key: key.into(),
            expect: Expect::Any,
        }
    }

    /// This write, only if the key is in the `expect`ed state.
    pub fn expecting(mut self, expected: Expect) -> Self {
        match &mut self {
            Self::Put { expect, .. } | Self::Delete { expect, .. } => *expect = expected,
        }
        self
    }

    /// The key written.
    pub fn key(&self) -> &str {
        match self {
            Self::Put { key, .. } | Self::Delete { key, .. } => key,
        }
    }
}

impl std::fmt::Debug for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Put { key, value, expect } => f
                .debug_struct("Put")
                .field("key", key)
                .field("value", &format_args!("<{} bytes>", value.len()))
                .field("expect", expect)
                .finish(),
            Self::Delete { key, expect } => f
                .debug_struct("Delete")
                .field("key", key)
                .field("expect", expect)
                .finish(),
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Names in byte order: for [`Storage::list`] relative to the prefix, folders ending in `/`;
    /// for [`Storage::keys`] whole keys.
    pub keys: Vec<String>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A transactional, ordered key-value store. Implementations are durable: a call that returned
/// `Ok` survives a crash of the process.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The entry at `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<Entry>>;

    /// The revision of the entry at `key`, if any: [`get`](Self::get) without the value, for
    /// callers that keep a decoded copy and only ask whether it changed.
    async fn revision(&self, key: &str) -> Result<Option<Revision>> {
        Ok(self.get(key).await?.map(|entry| entry.revision))
    }

    /// Applies every write or none. A failed expectation is [`Error::Conflict`] naming its key,
    /// and leaves storage as it was. Returns the new revision of each `Put`, in order.
    async fn transact(&self, writes: &[Write]) -> Result<Vec<Revision>>;

    /// The immediate children of the folder `prefix` (which is empty or ends in `/`): keys
    /// relative to it, with sub-folders once each as `name/`, in byte order, at most `limit`,
    /// starting after the name `after`.
    async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page>;

    /// Every key starting with `prefix`, whole and at any depth, in byte order, at most `limit`,
    /// starting after the key `after`: for sweeps such as re-encryption and unmounting.
    async fn keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page>;

    /// Stores `value` at `key` unconditionally.
    async fn put(&self, key: &str, value: &[u8]) -> Result<Revision> {
        let revisions = self.transact(&[Write::put(key, value)]).await?;
        revisions
            .first()
            .copied()
            .ok_or(Error::InvalidRequest("a put returned no revision"))
    }

    /// Removes `key` unconditionally; `true` if it existed.
    async fn delete(&self, key: &str) -> Result<bool>;
}

/// Rejects keys qsafe never writes: empty, longer than [`MAX_KEY_LEN`], or holding a NUL.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidKey { reason: "empty" });
    }
    if key.len() > MAX_KEY_LEN {
        return Err(Error::InvalidKey {
            reason: "longer than 2048 bytes",
        });
    }
    if key.contains('\0') {
        return Err(Error::InvalidKey {
            reason: "holds a NUL byte",
        });
    }
    Ok(())
}

/// Rejects prefixes of [`Storage::list`] that are not a folder.
pub(crate) fn check_folder(prefix: &str) -> Result<()> {
    if !prefix.is_empty() && !prefix.ends_with('/') {
        return Err(Error::InvalidRequest(
            "a list prefix must be empty or end in '/'",
        ));
    }
    if prefix.len() > MAX_KEY_LEN || prefix.contains('\0') {
        return Err(Error::InvalidKey {
            reason: "invalid prefix",
        });
    }
    Ok(())
}

pub(crate) fn check_limit(limit: usize) -> Result<usize> {
    match limit {
        0 => Err(Error::InvalidRequest("a page size must be at least 1")),
        n => Ok(n.min(MAX_PAGE)),
    }
}

/// The least byte string greater than every string starting with `prefix`; `None` when there is
/// none (the prefix is empty or all `0xff`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_next_string_after_every_extension() {
        assert_eq!(prefix_end(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b""), None);
        assert_eq!(prefix_end(b"\xff\xff"), None);
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_key("secret/data/a").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("a\0b").is_err());
        assert!(check_key(&"x".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(check_folder("a").is_err());
        assert!(check_folder("").is_ok());
        assert!(check_limit(0).is_err());
        assert_eq!(check_limit(usize::MAX).ok(), Some(MAX_PAGE));
    }
}
