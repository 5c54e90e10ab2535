//! Reuse of signed OCSP responses for requests without a nonce: RFC 6960 §2.5 allows
//! pre-produced responses, and the RFC 5019 profile is built on them.
//!
//! Most OCSP traffic is this kind: browsers, TLS servers stapling responses and `openssl ocsp
//! -no_nonce` ask about one certificate with no nonce, and an ML-DSA signature is most of what
//! an answer costs (docs/pki.md, "OCSP"). A cached answer is handed out again only while
//! everything it was built from is provably unchanged: the same issuer (the same decoded `Arc`,
//! which the issuer cache replaces when the stored record changes), the same response validity,
//! and the same storage revisions of the certificate's revocation and issuance records — read
//! again for every hit, so a revocation by any replica sharing the database is seen by the next
//! request, exactly as without the cache. A response is reused for at most [`REUSE_SECS`] (and
//! at most half its validity), so `producedAt` and `thisUpdate` stay recent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use qsafe_store::Revision;

use crate::issuer::LoadedIssuer;

/// The longest a signed response is handed out again, in seconds.
pub(crate) const REUSE_SECS: i64 = 60;
/// Most responses kept (an ML-DSA-65 response is about 3.5 KB, so about 28 MiB at most).
const MAX_ENTRIES: usize = 8192;

/// What a cached response was built from; equal sources give the same answer.
#[derive(Clone)]
pub(crate) struct Sources {
    pub(crate) issuer: Arc<LoadedIssuer>,
    /// The configured validity of a response (`ocsp_expiry`, seconds).
    pub(crate) ocsp_expiry: u64,
    /// The revision of the revocation record (`None`: not revoked).
    pub(crate) revoked: Option<Revision>,
    /// The revision of the certificate record (`None`: none); not read for a revoked certificate.
    pub(crate) issued: Option<Option<Revision>>,
}

impl Sources {
    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.issuer, &other.issuer)
            && self.ocsp_expiry == other.ocsp_expiry
            && self.revoked == other.revoked
            && self.issued == other.issued
    }
}

struct Entry {
    sources: Sources,
    produced_at: i64,
    der: Arc<[u8]>,
}

/// Responses by the DER of the one CertID they answer.
#[derive(Default)]
pub(crate) struct ResponseCache {
    entries: Mutex<HashMap<Vec<u8>, Entry>>,
}

/// How long a response valid for `ocsp_expiry` seconds (0: no `nextUpdate`) may be reused.
fn reuse_secs(ocsp_expiry: u64) -> i64 {
    if ocsp_expiry == 0 {
        REUSE_SECS
    } else {
        REUSE_SECS.min(crate::profile::seconds(ocsp_expiry / 2))
    }
}

impl ResponseCache {
    /// The response cached for `cert_id`, if it was built from `sources` and is recent at `now`.
    pub(crate) fn get(&self, cert_id: &[u8], sources: &Sources, now: i64) -> Option<Arc<[u8]>> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(cert_id)?;
        let age = now.saturating_sub(entry.produced_at);
        (entry.sources.same(sources) && (0..reuse_secs(sources.ocsp_expiry)).contains(&age))
            .then(|| entry.der.clone())
    }

    /// Keeps `der`, produced at `produced_at` from `sources`, for `cert_id`.
    pub(crate) fn put(&self, cert_id: Vec<u8>, sources: Sources, produced_at: i64, der: Arc<[u8]>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&cert_id) {
            // Full: drop what is too old to be handed out, and if that is not enough, about a
            // quarter of the rest (arbitrary ones; a hot certificate is signed again once).
            entries.retain(|_, e| produced_at.saturating_sub(e.produced_at) < REUSE_SECS);
            if entries.len() >= MAX_ENTRIES {
                let drop: Vec<Vec<u8>> = entries.keys().take(MAX_ENTRIES / 4).cloned().collect();
                for key in drop {
                    entries.remove(&key);
                }
            }
        }
        entries.insert(
            cert_id,
            Entry {
                sources,
                produced_at,
                der,
            },
        );
    }
}
