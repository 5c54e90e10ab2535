//! KV v2 `data/:path` (kv-v2 API: "Read secret version", "Create/Update secret", "Patch
//! secret", "Delete latest version of secret"): versioned writes with check-and-set, JSON merge
//! patch (RFC 7396) and soft delete of the current version.

use qsafe_core::fields::field_u64;
use qsafe_core::{Error, Response, Result};
use qsafe_store::{Expect, View, Write};
use serde_json::{Map, Value};

use crate::merge::merge_patch;
use crate::secret_path;
use crate::storage::{
    Config, KeyMetadata, SecretRecord, VersionMeta, encode, load, load_config, metadata_key, retry,
    version_key,
};
use crate::timefmt::{now_ns, secs_to_ns};

/// What a write does to the secret's data.
#[derive(Clone, Copy)]
enum Change<'a> {
    /// POST/PUT: the new version is this object.
    Replace(&'a Map<String, Value>),
    /// PATCH: the new version is the current one merged with this object.
    Merge(&'a Map<String, Value>),
}

pub(super) fn not_found(path: &str) -> Error {
    Error::NotFound(format!("no live secret version at {path:?}"))
}

/// `GET data/:path?version=N`: the version's data and metadata; 404 when it is missing,
/// deleted or destroyed.
pub(super) async fn read(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    secret_path::check(path)?;
    let wanted = field_u64(params, "version")?.unwrap_or(0);
    let (number, version, meta, data) = read_live(view, path, wanted).await?;
    let metadata = version.render(number, meta.custom_metadata.as_ref());
    Ok(Response::data(
        serde_json::json!({"data": data, "metadata": metadata}),
    ))
}

/// Version `wanted` (0: the current one) of a secret, if it can be read now.
pub(super) async fn read_live(
    view: &View,
    path: &str,
    wanted: u64,
) -> Result<(u64, VersionMeta, KeyMetadata, Map<String, Value>)> {
    let Some((meta, _)) = load::<KeyMetadata>(view, &metadata_key(path)).await? else {
        return Err(not_found(path));
    };
    let number = if wanted == 0 {
        meta.current_version
    } else {
        wanted
    };
    let (version, data) = live_data(view, path, &meta, number).await?;
    Ok((number, version, meta, data))
}

/// The data of version `number` described by `meta`, if it can be read now.
async fn live_data(
    view: &View,
    path: &str,
    meta: &KeyMetadata,
    number: u64,
) -> Result<(VersionMeta, Map<String, Value>)> {
    let version = *meta
        .versions
        .get(&number)
        .filter(|v| v.is_live(now_ns()))
        .ok_or_else(|| not_found(path))?;
    // Trimmed by a concurrent write after the metadata was read: gone, as it would be now.
    let (record, _) = load::<SecretRecord>(view, &version_key(path, number))
        .await?
        .ok_or_else(|| not_found(path))?;
    Ok((version, record.data))
}

/// `POST/PUT data/:path` with `{"data": {...}, "options": {"cas": N}}`.
pub(super) async fn write(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    secret_path::check(path)?;
    let secret = secret_data(params)?;
    let cas = cas_option(params)?;
    retry(path, || commit(view, path, cas, Change::Replace(secret))).await
}

/// `PATCH data/:path`: merges `data` into the current version as a new version.
pub(super) async fn patch(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    secret_path::check(path)?;
    let patch = secret_data(params)?;
    let cas = cas_option(params)?;
    retry(path, || commit(view, path, cas, Change::Merge(patch))).await
}

/// `DELETE data/:path`: soft-deletes the current version (nothing to do is not an error).
pub(super) async fn delete(view: &View, path: &str) -> Result<Response> {
    secret_path::check(path)?;
    retry(path, || async move {
        let key = metadata_key(path);
        let Some((mut meta, revision)) = load::<KeyMetadata>(view, &key).await? else {
            return Ok(Response::empty());
        };
        let now = now_ns();
        let current = meta.current_version;
        match meta.versions.get_mut(&current) {
            Some(v) if v.is_live(now) => v.deletion_time = Some(now),
            _ => return Ok(Response::empty()),
        }
        let write = Write::put(key, encode(&meta)?).expecting(Expect::Revision(revision));
        view.transact(&[write]).await?;
        Ok(Response::empty())
    })
    .await
}

/// One attempt at adding a version: reads the metadata, checks CAS, and writes the version,
/// the metadata (expecting the revision read) and the removal of trimmed versions at once.
async fn commit(view: &View, path: &str, cas: Option<u64>, change: Change<'_>) -> Result<Response> {
    let (config, _) = load_config(view).await?;
    let key = metadata_key(path);
    let (mut meta, expect) = match load::<KeyMetadata>(view, &key).await? {
        Some((meta, revision)) => (meta, Expect::Revision(revision)),
        None if matches!(change, Change::Merge(_)) => return Err(not_found(path)),
        None => (KeyMetadata::new(now_ns()), Expect::Absent),
    };
    check_cas(&config, &meta, cas)?;
    if meta.current_version == u64::MAX {
        return Err(Error::Internal(format!(
            "{path:?} has no version numbers left"
        )));
    }
    let data = new_data(view, path, &meta, change).await?;
    let now = now_ns();
    let version = VersionMeta {
        created_time: now,
        deletion_time: scheduled_deletion(now, &config, &meta),
        destroyed: false,
    };
    let (number, trimmed) = meta.add_version(version, config.max_versions);
    let mut writes = vec![
        Write::put(version_key(path, number), encode(&SecretRecord::new(data))?)
            .expecting(Expect::Absent),
        Write::put(key, encode(&meta)?).expecting(expect),
    ];
    writes.extend(
        trimmed
            .into_iter()
            .map(|n| Write::delete(version_key(path, n))),
    );
    view.transact(&writes).await?;
    Ok(Response::data(
        version.render(number, meta.custom_metadata.as_ref()),
    ))
}

/// The data of the new version: the given object, or the current version merged with the patch.
async fn new_data(
    view: &View,
    path: &str,
    meta: &KeyMetadata,
    change: Change<'_>,
) -> Result<Map<String, Value>> {
    let patch = match change {
        Change::Replace(data) => return Ok(data.clone()),
        Change::Merge(patch) => patch,
    };
    let (_, current) = live_data(view, path, meta, meta.current_version).await?;
    let mut merged = Value::Object(current);
    merge_patch(&mut merged, &Value::Object(patch.clone()));
    match merged {
        Value::Object(map) => Ok(map),
        _ => Err(Error::Internal(
            "a merge patch of objects gave no object".into(),
        )),
    }
}

/// Refuses a write whose `cas` is not the current version, or that has none where the mount or
/// the secret requires it (Vault's wording).
fn check_cas(config: &Config, meta: &KeyMetadata, cas: Option<u64>) -> Result<()> {
    match cas {
        Some(cas) if cas != meta.current_version => Err(Error::InvalidInput(
            "check-and-set parameter did not match the current version".into(),
        )),
        None if config.cas_required || meta.cas_required => Err(Error::InvalidInput(
            "check-and-set parameter required for this call".into(),
        )),
        _ => Ok(()),
    }
}

/// When a version created at `now` reads as deleted: after the smaller non-zero
/// `delete_version_after` of the mount and the secret, or never.
fn scheduled_deletion(now: i64, config: &Config, meta: &KeyMetadata) -> Option<i64> {
    let after = match (config.delete_version_after, meta.delete_version_after) {
        (0, 0) => return None,
        (0, d) | (d, 0) => d,
        (m, k) => m.min(k),
    };
    Some(now.saturating_add(secs_to_ns(after)))
}

/// The `data` member: required, a JSON object.
fn secret_data(params: Option<&Value>) -> Result<&Map<String, Value>> {
    match params.and_then(|p| p.get("data")) {
        None | Some(Value::Null) => Err(Error::InvalidInput("no data provided".into())),
        Some(Value::Object(map)) => Ok(map),
        Some(_) => Err(Error::InvalidInput(
            "\"data\" must be a JSON object of secret fields".into(),
        )),
    }
}

/// `options.cas`, if given.
fn cas_option(params: Option<&Value>) -> Result<Option<u64>> {
    match params.and_then(|p| p.get("options")) {
        None | Some(Value::Null) => Ok(None),
        Some(options @ Value::Object(_)) => field_u64(Some(options), "cas")
            .map_err(|_| Error::InvalidInput("error parsing check-and-set parameter".into())),
        Some(_) => Err(Error::InvalidInput(
            "\"options\" must be a JSON object".into(),
        )),
    }
}
