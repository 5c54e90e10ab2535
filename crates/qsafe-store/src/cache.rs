//! A read cache in front of a SQLite database that one process owns (the lock file makes sure):
//! every write goes through this process, so the cache can be kept exact. It holds the stored
//! bytes (barrier ciphertext), never plaintext.
//!
//! Coherence: a write updates the cache after it commits, under the writer lock, and bumps a
//! generation counter. A read that missed fills the cache only if no write committed since the
//! read began (same generation), so a value read from the database before a concurrent commit
//! can never be cached over the committed one. Not used for PostgreSQL, where other replicas
//! write too.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::storage::{Entry, Revision, Write};

/// Bytes of cached values (keys and values) before entries are evicted.
const BUDGET: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct Inner {
    map: HashMap<String, Entry>,
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

fn cost(key: &str, entry: &Entry) -> usize {
    key.len() + entry.value.len() + 64
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(old) = self.map.remove(key) {
            self.bytes -= cost(key, &old);
        }
    }

    fn insert(&mut self, key: &str, entry: Entry) {
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
    /// The cached entry, and otherwise the generation to pass to [`fill`](Self::fill).
    pub(crate) fn get(&self, key: &str) -> Result<Entry, u64> {
        let Ok(inner) = self.inner.lock() else {
            return Err(u64::MAX);
        };
        match inner.map.get(key) {
            Some(entry) => Ok(entry.clone()),
            None => Err(inner.generation),
        }
    }

    /// Caches what a read that began at `generation` found, unless a write committed since.
    pub(crate) fn fill(&self, generation: u64, key: &str, entry: &Entry) {
        if let Ok(mut inner) = self.inner.lock()
            && inner.generation == generation
        {
            inner.insert(key, entry.clone());
        }
    }

    /// Records committed writes (`revisions` are those of the puts, in order; a put without
    /// one — an uncertain commit — is forgotten instead).
    pub(crate) fn committed(&self, writes: &[Write], revisions: &[Revision]) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        inner.generation += 1;
        let mut revisions = revisions.iter();
        for write in writes {
            match write {
                Write::Put { key, value, .. } => match revisions.next() {
                    Some(revision) => inner.insert(
                        key,
                        Entry {
                            value: value.clone(),
                            revision: *revision,
                        },
                    ),
                    None => inner.remove(key),
                },
                Write::Delete { key, .. } => inner.remove(key),
            }
        }
    }

    /// Records an unconditional delete.
    pub(crate) fn deleted(&self, key: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.remove(key);
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
        cache.committed(&[Write::put("k", b"new".to_vec())], &[Revision(2)]);
        // ...and the read comes back with the old value: it must not replace the new one.
        cache.fill(generation, "k", &entry(b"old", 1));
        assert_eq!(cache.get("k").unwrap().value, b"new");
        cache.committed(&[Write::delete("k")], &[]);
        let generation = cache.get("k").unwrap_err();
        cache.fill(generation, "k", &entry(b"again", 3));
        assert_eq!(cache.get("k").unwrap().revision, Revision(3));
        cache.deleted("k");
        assert!(cache.get("k").is_err());
    }

    #[test]
    fn stays_within_its_budget() {
        let cache = ReadCache::default();
        let big = vec![0u8; BUDGET / 32];
        for i in 0..100 {
            let g = cache.get(&format!("k{i}")).unwrap_err();
            cache.fill(g, &format!("k{i}"), &entry(&big, i));
        }
        assert!(cache.inner.lock().unwrap().bytes <= BUDGET);
    }
}
