//! For engine tests (feature `test-util`): a fresh, unsealed barrier over SQLite in a temporary
//! directory, and a view of it, as the core gives a mount.

use std::sync::Arc;

use qsafe_crypto::Rng;

use crate::error::Result;
use crate::{Barrier, RootKey, SqlStorage, Storage, View};

/// A view under `prefix` of a new barrier; keep the directory alive as long as the view.
pub async fn scratch_view(prefix: &str) -> Result<(View, tempfile::TempDir)> {
    let dir = tempfile::tempdir().map_err(|source| crate::Error::LockFile {
        path: "a temporary directory".into(),
        source,
    })?;
    let storage: Arc<dyn Storage> =
        Arc::new(SqlStorage::open_sqlite(&dir.path().join("db"), 4).await?);
    let barrier = Arc::new(Barrier::new(storage));
    barrier.initialize(RootKey::generate(&Rng::new())?).await?;
    Ok((View::new(barrier, prefix)?, dir))
}
