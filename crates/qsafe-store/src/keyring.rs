//! The barrier keyring: every AES-256-GCM key the barrier has used, by term, and its encoding.
//!
//! A new term is added by rotation; old terms stay so values written under them still open.
//! Encoding (inside a symmetric envelope under the root key, see docs/formats.md §10):
//! `version (1) ‖ count (u32 BE) ‖ count × [term (u32 BE) ‖ installed (i64 BE, Unix seconds) ‖ key (32)]`,
//! terms strictly increasing.

use std::collections::BTreeMap;

use qsafe_crypto::Rng;
use qsafe_crypto::envelope::SYMMETRIC_KEY_LEN;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};

const FORMAT_VERSION: u8 = 1;
const ENTRY_LEN: usize = 4 + 8 + SYMMETRIC_KEY_LEN;

/// One barrier key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct TermKey {
    pub(crate) key: [u8; SYMMETRIC_KEY_LEN],
    #[zeroize(skip)]
    pub(crate) installed: i64,
}

/// The barrier's keys by term; the highest term encrypts new writes.
#[derive(Clone, Default)]
pub(crate) struct Keyring {
    terms: BTreeMap<u32, TermKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("terms", &self.terms.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring holding one fresh key, term 1.
    pub(crate) fn new(rng: &Rng, now: i64) -> Result<Self> {
        let mut ring = Self::default();
        ring.add_term(rng, now)?;
        Ok(ring)
    }

    /// Adds a fresh key under the next term and returns that term.
    pub(crate) fn add_term(&mut self, rng: &Rng, now: i64) -> Result<u32> {
        let term = match self.terms.last_key_value() {
            Some((last, _)) => last
                .checked_add(1)
                .ok_or(Error::Seal("the keyring has run out of terms".into()))?,
            None => 1,
        };
        let key = *rng.bytes::<SYMMETRIC_KEY_LEN>()?;
        self.terms.insert(
            term,
            TermKey {
                key,
                installed: now,
            },
        );
        Ok(term)
    }

    /// The term new writes use, and its key.
    pub(crate) fn active(&self) -> Option<(u32, &TermKey)> {
        self.terms.last_key_value().map(|(t, k)| (*t, k))
    }

    pub(crate) fn get(&self, term: u32) -> Option<&TermKey> {
        self.terms.get(&term)
    }

    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(5 + self.terms.len() * ENTRY_LEN));
        out.push(FORMAT_VERSION);
        let count = u32::try_from(self.terms.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for (term, key) in &self.terms {
            out.extend_from_slice(&term.to_be_bytes());
            out.extend_from_slice(&key.installed.to_be_bytes());
            out.extend_from_slice(&key.key);
        }
        out
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = |reason| Error::Corrupt {
            key: crate::barrier::KEYRING_PATH.into(),
            reason,
        };
        let [FORMAT_VERSION, c0, c1, c2, c3, rest @ ..] = bytes else {
            return Err(corrupt("unknown keyring format"));
        };
        let count = u32::from_be_bytes([*c0, *c1, *c2, *c3]) as usize;
        if count == 0 || rest.len() != count.saturating_mul(ENTRY_LEN) {
            return Err(corrupt("keyring length does not match its count"));
        }
        let mut ring = Self::default();
        let mut previous = 0u32;
        for entry in rest.chunks_exact(ENTRY_LEN) {
            let (term, entry) = entry.split_at(4);
            let (installed, key) = entry.split_at(8);
            let term = u32::from_be_bytes(term.try_into().map_err(|_| corrupt("term"))?);
            if term <= previous {
                return Err(corrupt("keyring terms out of order"));
            }
            previous = term;
            let mut key_bytes = [0u8; SYMMETRIC_KEY_LEN];
            key_bytes.copy_from_slice(key);
            ring.terms.insert(
                term,
                TermKey {
                    key: key_bytes,
                    installed: i64::from_be_bytes(
                        installed.try_into().map_err(|_| corrupt("time"))?,
                    ),
                },
            );
            key_bytes.zeroize();
        }
        Ok(ring)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_and_rejects_damage() {
        let rng = Rng::new();
        let mut ring = Keyring::new(&rng, 1_700_000_000).unwrap();
        assert_eq!(ring.add_term(&rng, 1_700_000_100).unwrap(), 2);
        let bytes = ring.encode();
        assert_eq!(bytes.len(), 5 + 2 * ENTRY_LEN);
        let back = Keyring::decode(&bytes).unwrap();
        assert_eq!(back.active().unwrap().0, 2);
        assert_eq!(back.get(1).unwrap().key, ring.get(1).unwrap().key);
        assert_eq!(back.get(2).unwrap().installed, 1_700_000_100);

        assert!(Keyring::decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(Keyring::decode(&[]).is_err());
        let mut wrong_version = bytes.to_vec();
        wrong_version[0] = 9;
        assert!(Keyring::decode(&wrong_version).is_err());
        let mut swapped = bytes.to_vec();
        swapped[5..9].copy_from_slice(&3u32.to_be_bytes()); // term 3 before term 2
        assert!(Keyring::decode(&swapped).is_err());
        assert!(format!("{ring:?}").contains("[1, 2]"));
    }
}
