//! `FieldEncryptor`: encrypts a record's sensitive fields (PII) with a transit key before they
//! reach a database, in parallel batch calls, and computes blind indexes so an encrypted column
//! can still be searched by equality.
//!
//! Blind index normalisation (docs/api.md, "Field encryption"): the value is trimmed of leading
//! and trailing Unicode whitespace and lowercased (Unicode `to_lowercase`) before the HMAC, so
//! `" Alice@Example.COM "` and `"alice@example.com"` index alike. The HMAC is the transit
//! `hmac` endpoint's default, HMAC-SHA3-256, under a separate key from the encryption key. The
//! index is made with the index key's latest version (`qsafe:v<N>:` shows which): rotating the
//! index key changes every index, so keep it unrotated (no `auto_rotate_period`) or re-index
//! after a rotation.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use zeroize::Zeroizing;

use crate::transit::{Item, Transit};
use crate::{Error, Result};
use qsafe_crypto::SecretBytes;

/// Items per batch call by default.
pub const DEFAULT_BATCH: usize = 250;
/// Batch calls in flight at once.
pub const MAX_IN_FLIGHT: usize = 8;

/// Encrypts and decrypts fields with one transit key; blind indexes with another.
#[derive(Debug, Clone)]
pub struct FieldEncryptor {
    transit: Transit,
    key: String,
    index_key: Option<String>,
    batch: usize,
}

type Owned = (Zeroizing<Vec<u8>>, Option<Vec<u8>>);

impl FieldEncryptor {
    /// Fields encrypted with transit key `key` (e.g. an `ml-kem-768` key `users-pii`).
    pub fn new(transit: Transit, key: &str) -> Self {
        Self {
            transit,
            key: key.to_owned(),
            index_key: None,
            batch: DEFAULT_BATCH,
        }
    }

    /// Blind indexes computed with transit key `key` (an `hmac` key, or any key: every transit
    /// key version has an HMAC key).
    pub fn with_index_key(mut self, key: &str) -> Self {
        self.index_key = Some(key.to_owned());
        self
    }

    /// Items per batch call (at least 1); batches run concurrently.
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// The blind-index normal form of `value`: trimmed, lowercased.
    pub fn normalize(value: &str) -> String {
        value.trim().to_lowercase()
    }

    async fn run<T: Send + 'static>(
        &self,
        items: Vec<Owned>,
        call: fn(Transit, String, Vec<Owned>) -> BoxFuture<T>,
    ) -> Result<Vec<T>> {
        let mut set = JoinSet::new();
        let chunks: Vec<Vec<Owned>> = {
            let mut items = items.into_iter().peekable();
            let mut chunks = Vec::new();
            while items.peek().is_some() {
                chunks.push(items.by_ref().take(self.batch).collect());
            }
            chunks
        };
        let count = chunks.len();
        // At most MAX_IN_FLIGHT batch calls at once: a million items must not open
        // thousands of connections.
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        for (index, chunk) in chunks.into_iter().enumerate() {
            let fut = call(self.transit.clone(), self.key.clone(), chunk);
            let permits = permits.clone();
            set.spawn(async move {
                let _permit = permits.acquire_owned().await;
                (index, fut.await)
            });
        }
        let mut parts: Vec<Option<Vec<T>>> = (0..count).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            let (index, result) = joined.map_err(|e| Error::Decode(format!("batch task: {e}")))?;
            let result = result.map_err(|e| match e {
                // Positions count from the start of the input, not of the chunk.
                Error::Item { index: i, error } => Error::Item {
                    index: index * self.batch + i,
                    error,
                },
                other => other,
            })?;
            if let Some(slot) = parts.get_mut(index) {
                *slot = Some(result);
            }
        }
        Ok(parts.into_iter().flatten().flatten().collect())
    }

    /// Encrypts each `(value, associated data)`; the associated data (e.g. `table/column/row
    /// id`) must be given again to decrypt, so a ciphertext moved to another row fails.
    /// Fails as a whole if any item fails.
    pub async fn encrypt_fields(&self, items: &[Item<'_>]) -> Result<Vec<String>> {
        self.run(owned(items), |transit, key, chunk| {
            Box::pin(async move {
                let items: Vec<Item<'_>> = borrowed(&chunk);
                collect(transit.encrypt_batch(&key, &items).await?)
            })
        })
        .await
    }

    /// Decrypts ciphertexts made by [`encrypt_fields`](Self::encrypt_fields) (each
    /// `Item::input` the ciphertext string).
    pub async fn decrypt_fields(&self, items: &[Item<'_>]) -> Result<Vec<SecretBytes>> {
        self.run(owned(items), |transit, key, chunk| {
            Box::pin(async move {
                let items: Vec<Item<'_>> = borrowed(&chunk);
                collect(transit.decrypt_batch(&key, &items).await?)
            })
        })
        .await
    }

    /// The blind index of each value (normalised first): `qsafe:v<N>:<base64 HMAC>`. Needs
    /// [`with_index_key`](Self::with_index_key).
    pub async fn blind_indexes(&self, values: &[&str]) -> Result<Vec<String>> {
        let index_key = self
            .index_key
            .clone()
            .ok_or_else(|| Error::Config("no blind-index key configured".into()))?;
        let items: Vec<Owned> = values
            .iter()
            .map(|v| (Zeroizing::new(Self::normalize(v).into_bytes()), None))
            .collect();
        let this = Self {
            key: index_key,
            ..self.clone()
        };
        this.run(items, |transit, key, chunk| {
            Box::pin(async move {
                let inputs: Vec<&[u8]> = chunk.iter().map(|(v, _)| v.as_slice()).collect();
                collect(transit.hmac_batch(&key, &inputs).await?)
            })
        })
        .await
    }

    /// The blind index of one value.
    pub async fn blind_index(&self, value: &str) -> Result<String> {
        self.blind_indexes(&[value])
            .await?
            .pop()
            .ok_or_else(|| Error::Decode("empty hmac batch".into()))
    }
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = Result<Vec<T>>> + Send>>;

fn owned(items: &[Item<'_>]) -> Vec<Owned> {
    items
        .iter()
        .map(|i| {
            (
                Zeroizing::new(i.input.to_vec()),
                i.associated_data.map(<[u8]>::to_vec),
            )
        })
        .collect()
}

fn borrowed(chunk: &[Owned]) -> Vec<Item<'_>> {
    chunk
        .iter()
        .map(|(input, aad)| Item {
            input,
            associated_data: aad.as_deref(),
        })
        .collect()
}

fn collect<T>(results: Vec<Result<T, String>>) -> Result<Vec<T>> {
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| Error::Item { index: i, error: e }))
        .collect()
}
