//! Engine records in storage: JSON values decoded and encoded one way, writes conditional on
//! the revision read, and a cache of decoded records checked against storage revisions, shared
//! by the engines (PKI roles and configuration, identity keys and clients).

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use qsafe_store::{Expect, Revision, View, Write};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Reads and decodes the record at `key`, with its revision.
pub async fn load<T: DeserializeOwned>(view: &View, key: &str) -> Result<Option<(T, Revision)>> {
    let Some(value) = view.get(key).await? else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&value.value)
        .map_err(|e| Error::Internal(format!("record {key} does not decode: {e}")))?;
    Ok(Some((record, value.revision)))
}

/// Decoded copies of small records read on every request (roles, the mount's configuration),
/// each kept with the revision it was decoded from. A read asks storage for the revision only
/// (no decryption) and decodes again only a record that changed, so other replicas' writes are
/// seen as soon as storage shows them.
#[derive(Default)]
pub struct Decoded {
    records: std::sync::RwLock<HashMap<String, (Revision, AnyRecord)>>,
}

/// A decoded record of any type.
type AnyRecord = Arc<dyn Any + Send + Sync>;

/// Most records [`Decoded`] keeps; past it, it starts again empty.
const DECODED_MAX: usize = 4096;

impl Decoded {
    /// The record at `key`, decoded, or `None` if there is none.
    pub async fn load<T>(&self, view: &View, key: &str) -> Result<Option<Arc<T>>>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let Some(revision) = view.revision(key).await? else {
            return Ok(None);
        };
        if let Some(hit) = self.cached::<T>(key, revision) {
            return Ok(Some(hit));
        }
        let Some((record, revision)) = load::<T>(view, key).await? else {
            return Ok(None);
        };
        let record = Arc::new(record);
        if let Ok(mut records) = self.records.write() {
            if records.len() >= DECODED_MAX {
                records.clear();
            }
            let any: AnyRecord = record.clone();
            records.insert(key.to_owned(), (revision, any));
        }
        Ok(Some(record))
    }

    fn cached<T: Send + Sync + 'static>(&self, key: &str, revision: Revision) -> Option<Arc<T>> {
        let records = self.records.read().ok()?;
        let (at, record) = records.get(key)?;
        if *at != revision {
            return None;
        }
        record.clone().downcast::<T>().ok()
    }
}

/// Encodes a record.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|e| Error::Internal(format!("encode record: {e}")))
}

/// Writes `record` at `key` if the stored revision is still `expect`.
pub async fn save<T: Serialize>(view: &View, key: &str, record: &T, expect: Expect) -> Result<()> {
    view.transact(&[Write::put(key, encode(record)?).expecting(expect)])
        .await
        .map(|_| ())
        .map_err(conflict)
}

/// A lost race as a 409 that says what to do.
pub fn conflict(e: qsafe_store::Error) -> Error {
    match e {
        qsafe_store::Error::Conflict { .. } => {
            Error::Conflict("changed concurrently by another request; retry".into())
        }
        other => other.into(),
    }
}

/// `Expect` for a record read as `loaded` (absent if it was not there).
pub fn expect_of<T>(loaded: &Option<(T, Revision)>) -> Expect {
    match loaded {
        Some((_, revision)) => Expect::Revision(*revision),
        None => Expect::Absent,
    }
}

/// Lists every key under `prefix` (recursive), page by page.
pub async fn all_keys(view: &View, prefix: &str) -> Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = view.keys(prefix, after.as_deref(), 1000).await?;
        keys.extend(page.keys);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(keys),
        }
    }
}
