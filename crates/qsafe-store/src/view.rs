//! A [`View`]: the part of the barrier under one prefix, which is all an engine ever sees.
//! Keys given to a view are relative to its prefix; listings come back relative too.

use std::sync::Arc;

use crate::barrier::{Barrier, Value};
use crate::error::{Error, Result};
use crate::storage::{Page, Revision, Write};

/// The barrier under `prefix` (which ends in `/`).
#[derive(Debug, Clone)]
pub struct View {
    barrier: Arc<Barrier>,
    prefix: String,
}

impl View {
    /// The view of `barrier` under `prefix`, which must end in `/`.
    pub fn new(barrier: Arc<Barrier>, prefix: impl Into<String>) -> Result<Self> {
        let prefix = prefix.into();
        if !prefix.ends_with('/') {
            return Err(Error::InvalidRequest("a view prefix ends in '/'"));
        }
        Ok(Self { barrier, prefix })
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A view under `sub` (ending in `/`) of this one.
    pub fn sub(&self, sub: &str) -> Result<Self> {
        Self::new(self.barrier.clone(), format!("{}{sub}", self.prefix))
    }

    fn full(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// As [`Barrier::get`].
    pub async fn get(&self, key: &str) -> Result<Option<Value>> {
        self.barrier.get(&self.full(key)).await
    }

    /// As [`Barrier::revision`].
    pub async fn revision(&self, key: &str) -> Result<Option<Revision>> {
        self.barrier.revision(&self.full(key)).await
    }

    /// As [`Barrier::put`].
    pub async fn put(&self, key: &str, value: &[u8]) -> Result<Revision> {
        self.barrier.put(&self.full(key), value).await
    }

    /// As [`Barrier::delete`].
    pub async fn delete(&self, key: &str) -> Result<bool> {
        self.barrier.delete(&self.full(key)).await
    }

    /// As [`Barrier::transact`], keys relative to the view.
    pub async fn transact(&self, writes: &[Write]) -> Result<Vec<Revision>> {
        let writes: Vec<Write> = writes
            .iter()
            .map(|w| match w {
                Write::Put { key, value, expect } => Write::Put {
                    key: self.full(key),
                    value: value.clone(),
                    expect: *expect,
                },
                Write::Delete { key, expect } => Write::Delete {
                    key: self.full(key),
                    expect: *expect,
                },
            })
            .collect();
        self.barrier.transact(&writes).await
    }

    /// As [`Barrier::list`]: the children of the folder `prefix` of this view.
    pub async fn list(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page> {
        self.barrier.list(&self.full(prefix), after, limit).await
    }

    /// As [`Barrier::keys`], keys relative to the view.
    pub async fn keys(&self, prefix: &str, after: Option<&str>, limit: usize) -> Result<Page> {
        let after = after.map(|a| self.full(a));
        let page = self
            .barrier
            .keys(&self.full(prefix), after.as_deref(), limit)
            .await?;
        let strip = |k: String| k[self.prefix.len()..].to_owned();
        Ok(Page {
            keys: page.keys.into_iter().map(strip).collect(),
            next: page.next.map(strip),
        })
    }
}
