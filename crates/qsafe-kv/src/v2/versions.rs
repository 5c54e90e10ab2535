//! KV v2 `delete/:path`, `undelete/:path` and `destroy/:path` (kv-v2 API: "Delete secret
//! versions", "Undelete secret versions", "Destroy secret versions"): changes to listed
//! versions. Versions that do not exist are skipped, as Vault does.

use qsafe_core::fields::field_u64_list;
use qsafe_core::{Error, Response, Result};
use qsafe_store::{Expect, View, Write};
use serde_json::Value;

use crate::secret_path;
use crate::storage::{KeyMetadata, encode, load, metadata_key, retry, version_key};
use crate::timefmt::now_ns;

/// What happens to each listed version.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Soft delete: set `deletion_time` to now unless already deleted or destroyed.
    Delete,
    /// Clear `deletion_time` unless destroyed.
    Undelete,
    /// Remove the data for good; the metadata keeps `destroyed: true`.
    Destroy,
}

/// `POST delete/:path` with `{"versions": [..]}`.
pub(super) async fn delete(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    apply(view, path, params, Action::Delete).await
}

/// `POST undelete/:path` with `{"versions": [..]}`.
pub(super) async fn undelete(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    apply(view, path, params, Action::Undelete).await
}

/// `PUT/POST destroy/:path` with `{"versions": [..]}`.
pub(super) async fn destroy(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    apply(view, path, params, Action::Destroy).await
}

async fn apply(
    view: &View,
    path: &str,
    params: Option<&Value>,
    action: Action,
) -> Result<Response> {
    secret_path::check(path)?;
    let versions = field_u64_list(params, "versions")?.unwrap_or_default();
    if versions.is_empty() {
        return Err(Error::InvalidInput("no version number provided".into()));
    }
    let versions = &versions;
    retry(path, || async move {
        let key = metadata_key(path);
        let Some((mut meta, revision)) = load::<KeyMetadata>(view, &key).await? else {
            return Ok(Response::empty());
        };
        let (changed, mut writes) = change(&mut meta, path, versions, action);
        if !changed {
            return Ok(Response::empty());
        }
        writes.push(Write::put(key, encode(&meta)?).expecting(Expect::Revision(revision)));
        view.transact(&writes).await?;
        Ok(Response::empty())
    })
    .await
}

/// Applies `action` to `versions` in `meta`; returns whether anything changed and the data
/// records to remove.
fn change(
    meta: &mut KeyMetadata,
    path: &str,
    versions: &[u64],
    action: Action,
) -> (bool, Vec<Write>) {
    let now = now_ns();
    let mut removals = Vec::new();
    let mut changed = false;
    for number in versions {
        let Some(v) = meta.versions.get_mut(number) else {
            continue;
        };
        match action {
            Action::Delete if v.is_live(now) => {
                v.deletion_time = Some(now);
                changed = true;
            }
            Action::Undelete if !v.destroyed && v.deletion_time.is_some() => {
                v.deletion_time = None;
                changed = true;
            }
            Action::Destroy if !v.destroyed => {
                v.destroyed = true;
                removals.push(Write::delete(version_key(path, *number)));
                changed = true;
            }
            _ => {}
        }
    }
    (changed, removals)
}
