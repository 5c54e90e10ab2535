//! A read cache in front of a SQLite database that one process owns (the lock file makes sure):
//! every write goes through this process, so the cache can be kept exact. It holds the stored
//! bytes (barrier ciphertext), never plaintext.
//!
//! Coherence: a write updates the cache after it commits, under the writer lock, and bumps a
//! generation counter. A write replaces only keys already cached (a new key is cached when it is
//! first read): written-once records such as issued certificates, 8 KB each and seldom read
//! back, would otherwise fill the cache and evict the hot keys every request reads. A read that missed fills the cache only if no write committed since the
//! read began (same generation), so a value read from the database before a concurrent commit
//! can never be cached over the committed one. Absence is cached too (a key read and not found,
//! or deleted), so lookups of keys that do not exist — an OCSP query for a certificate nobody
//! revoked — need no query either. Not used for PostgreSQL, where other replicas write too.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::storage::{Entry, Revision, Write};

/// Bytes of cached values (keys and values) before entries are evicted.
const BUDGET: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct Inner {
    /// `None`: known absent.
    map: HashMap<String, Option<Entry>>,
    bytes: usize,
    generation: u64,
}

/// The cache; `Default` is empty.
#[derive(Default)]
pub(crate) struct ReadCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache").finish_non_exhaustive()
    }
}

fn cost(key: &str, entry: &Option<Entry>) -> usize {
    key.len() + entry.as_ref().map_or(0, |e| e.value.len()) + 64
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.map.remove(key) {
            self.bytes -= cost(key, &old);
        }
    }

    fn insert(&mut self, key: &str, entry: Option<Entry>) {
        self.remove(key);
        let size = cost(key, &entry);
        if size > BUDGET / 16 {
            return;
        }
        if self.bytes + size > BUDGET {
            // Over budget: drop about a quarter of the entries (arbitrary ones; hot keys come
            // back on their next read).
            let drop: Vec<String> = self
                .map
                .keys()
                .take(self.map.len() / 4 + 1)
                .cloned()
                .collect();
            for k in drop {
                self.remove(&k);
            }
        }
        self.bytes += size;
        self.map.insert(key.to_owned(), entry);
    }
}

impl ReadCache {
    /// The cached entry (`None`: known absent), and otherwise the generation to pass to
    /// [`fill`](Self::fill).
    pub(crate) fn get(&self, key: &str) -> Result<Option<Entry>, u64> {
        let Ok(inner) = self.inner.lock() else {
            return Err(u64::MAX);
        };
        match inner.map.get(key) {
            Some(entry) => Ok(entry.clone()),
            None => Err(inner.generation),
        }
    }

    /// The revision of the cached entry (`None`: known absent), without copying its value, and
    /// otherwise the generation to pass to [`fill`](Self::fill).
    pub(crate) fn revision(&self, key: &str) -> Result<Option<Revision>, u64> {
        let Ok(inner) = self.inner.lock() else {
            return Err(u64::MAX);
        };
        match inner.map.get(key) {
            Some(entry) => Ok(entry.as_ref().map(|e| e.revision)),
            None => Err(inner.generation),
        }
    }

    /// Caches what a read that began at `generation` found, unless a write committed since.
    pub(crate) fn fill(&self, generation: u64, key: &str, entry: Option<&Entry>) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.generation == generation
        {
            inner.insert(key, entry.cloned());
        }
    }

    /// Records a transaction's writes: `revisions` are those of its puts, in order, if it
    /// committed; `None` if the commit is uncertain (it may or may not have reached the disk),
    /// in which case its keys are forgotten.
    pub(crate) fn committed(&self, writes: &[Write], revisions: Option<&[Revision]>) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.generation += 1;
        let Some(revisions) = revisions else {
            for write in writes {
                inner.remove(write.key());
            }
            return;
        };
        let mut revisions = revisions.iter();
        for write in writes {
            match write {
                Write::Put { key, value, .. } => match revisions.next() {
                    Some(revision) if inner.map.contains_key(key.as_str()) => inner.insert(
                        key,
                        Some(Entry {
                            value: value.clone(),
                            revision: *revision,
                        }),
                    ),
                    // Not cached: stays so until read (the generation bump keeps a read that
                    // began before this commit from caching what it found).
                    Some(_) => {}
                    None => inner.remove(key),
                },
                Write::Delete { key, .. } => inner.insert(key, None),
            }
        }
    }

    /// Records an unconditional delete.
    pub(crate) fn deleted(&self, key: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.insert(key, None);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn entry(v: &[u8], r: u64) -> Entry {
        Entry {
            value: v.to_vec(),
            revision: Revision(r),
        }
    }

    #[test]
    fn a_read_older_than_a_commit_is_not_cached() {
        let cache = ReadCache::default();
        let generation = cache.get("k").unwrap_err();
        // A write commits while the read is in the database...
        cache.committed(&[Write::put("k", b"new".to_vec())], Some(&[Revision(2)]));
        // ...and the read comes back with the old value: it must not be cached. The new key
        // itself is cached by its first read, not by the write.
        cache.fill(generation, "k", Some(&entry(b"old", 1)));
        let generation = cache.get("k").unwrap_err();
        cache.fill(generation, "k", Some(&entry(b"new", 2)));
        // A write to a cached key replaces it.
        cache.committed(&[Write::put("k", b"newer".to_vec())], Some(&[Revision(4)]));
        assert_eq!(cache.get("k").unwrap().unwrap().value, b"newer");
        assert_eq!(cache.revision("k"), Ok(Some(Revision(4))));
        // A committed delete is known: the key is absent without asking the database.
        cache.committed(&[Write::delete("k")], Some(&[]));
        assert_eq!(cache.get("k"), Ok(None));
        // An uncertain commit is forgotten.
        cache.committed(&[Write::put("k", b"maybe".to_vec())], None);
        let generation = cache.get("k").unwrap_err();
        cache.fill(generation, "k", Some(&entry(b"again", 3)));
        assert_eq!(cache.get("k").unwrap().unwrap().revision, Revision(3));
        cache.deleted("k");
        assert_eq!(cache.get("k"), Ok(None));
        // A read that found nothing is cached as absent, unless a write came in between.
        let generation = cache.get("gone").unwrap_err();
        cache.fill(generation, "gone", None);
        assert_eq!(cache.get("gone"), Ok(None));
        assert_eq!(cache.revision("gone"), Ok(None));
        let generation = cache.get("late").unwrap_err();
        cache.committed(&[Write::put("late", b"v".to_vec())], Some(&[Revision(9)]));
        cache.fill(generation, "late", None);
        assert!(
            cache.get("late").is_err(),
            "the stale absence is not cached"
        );
        // A key cached as absent is replaced by its first write (an OCSP-queried serial that
        // is then revoked).
        cache.committed(&[Write::put("gone", b"v".to_vec())], Some(&[Revision(11)]));
        assert_eq!(cache.revision("gone"), Ok(Some(Revision(11))));
    }

    #[test]
    fn stays_within_its_budget() {
        let cache = ReadCache::default();
        let big = vec![0u8; BUDGET / 32];
        for i in 0..100 {
            let g = cache.get(&format!("k{i}")).unwrap_err();
            cache.fill(g, &format!("k{i}"), Some(&entry(&big, i)));
        }
        assert!(cache.inner.lock().unwrap().bytes <= BUDGET);
    }
}
