//! KV v2 `metadata/:path` (kv-v2 API: "List secrets", "Read secret metadata", "Create/Update
//! metadata", "Patch metadata", "Delete metadata and all versions").

use std::collections::BTreeMap;

use qsafe_core::fields::{field_bool, field_duration};
use qsafe_core::{Error, Response, Result};
use qsafe_store::{Expect, View, Write};
use serde_json::{Map, Value, json};

use super::config::max_versions;
use crate::secret_path;
use crate::storage::{
    KeyMetadata, METADATA_PREFIX, encode, list_all, load, load_config, metadata_key, retry,
    version_key,
};
use crate::timefmt::now_ns;

/// Most `custom_metadata` entries per secret (Vault's limit).
const MAX_CUSTOM_KEYS: usize = 64;
/// Longest `custom_metadata` key, in bytes (Vault's limit).
const MAX_CUSTOM_KEY_LEN: usize = 128;
/// Longest `custom_metadata` value, in bytes (Vault's limit).
const MAX_CUSTOM_VALUE_LEN: usize = 512;

/// The settings a metadata write or patch carries; `None` leaves a setting as it is.
struct Settings<'a> {
    max_versions: Option<u32>,
    cas_required: Option<bool>,
    delete_version_after: Option<u64>,
    custom_metadata: Option<&'a Map<String, Value>>,
}

impl<'a> Settings<'a> {
    fn parse(params: Option<&'a Value>, patch: bool) -> Result<Self> {
        let custom = match params.and_then(|p| p.get("custom_metadata")) {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => return Err(custom_error("must be a JSON object of strings")),
        };
        for value in custom.iter().flat_map(|m| m.values()) {
            if !(value.is_string() || patch && value.is_null()) {
                return Err(custom_error("values must be strings"));
            }
        }
        Ok(Self {
            max_versions: max_versions(params)?,
            cas_required: field_bool(params, "cas_required")?,
            delete_version_after: field_duration(params, "delete_version_after")?,
            custom_metadata: custom,
        })
    }

    fn is_empty(&self) -> bool {
        self.max_versions.is_none()
            && self.cas_required.is_none()
            && self.delete_version_after.is_none()
            && self.custom_metadata.is_none()
    }

    /// Applies the settings; `custom_metadata` replaces (write) or merges, `null` removing a
    /// key (patch). Checks Vault's limits on the result.
    fn apply(&self, meta: &mut KeyMetadata, patch: bool) -> Result<()> {
        if let Some(m) = self.max_versions {
            meta.max_versions = m;
        }
        if let Some(c) = self.cas_required {
            meta.cas_required = c;
        }
        if let Some(d) = self.delete_version_after {
            meta.delete_version_after = d;
        }
        if let Some(given) = self.custom_metadata {
            let mut custom = match (patch, meta.custom_metadata.take()) {
                (true, Some(current)) => current,
                _ => BTreeMap::new(),
            };
            for (name, value) in given {
                match value.as_str() {
                    Some(text) => custom.insert(name.clone(), text.to_owned()),
                    None => custom.remove(name),
                };
            }
            check_custom(&custom)?;
            meta.custom_metadata = Some(custom);
        }
        Ok(())
    }

    /// The response: empty, or Vault's warning when `cas_required: false` cannot take effect
    /// because the mount requires CAS.
    async fn response(&self, view: &View) -> Result<Response> {
        if self.cas_required != Some(false) || !load_config(view).await?.0.cas_required {
            return Ok(Response::empty());
        }
        Ok(Response {
            warnings: vec![
                "\"cas_required\" set to false, but is mandated by the mount's config; it is ignored"
                    .into(),
            ],
            ..Response::empty()
        })
    }
}

fn custom_error(why: &str) -> Error {
    Error::InvalidInput(format!("custom_metadata validation error: {why}"))
}

fn check_custom(custom: &BTreeMap<String, String>) -> Result<()> {
    if custom.len() > MAX_CUSTOM_KEYS {
        return Err(custom_error("at most 64 keys"));
    }
    for (name, value) in custom {
        if name.len() > MAX_CUSTOM_KEY_LEN {
            return Err(custom_error("a key is longer than 128 bytes"));
        }
        if value.len() > MAX_CUSTOM_VALUE_LEN {
            return Err(custom_error(&format!(
                "the value of {name:?} is longer than 512 bytes"
            )));
        }
        if name.chars().chain(value.chars()).any(char::is_control) {
            return Err(custom_error(&format!(
                "{name:?} holds unprintable characters"
            )));
        }
    }
    Ok(())
}

/// `LIST metadata/` or `metadata/<folder>/`: names below, folders ending in `/`; 404 if none.
pub(super) async fn list(view: &View, path: &str) -> Result<Response> {
    let folder = secret_path::folder(path)?;
    let keys = list_all(view, &format!("{METADATA_PREFIX}{folder}")).await?;
    if keys.is_empty() {
        return Err(Error::NotFound(format!("no secrets below {folder:?}")));
    }
    Ok(Response::data(json!({ "keys": keys })))
}

/// `GET metadata/:path`.
pub(super) async fn read(view: &View, path: &str) -> Result<Response> {
    secret_path::check(path)?;
    match load::<KeyMetadata>(view, &metadata_key(path)).await? {
        Some((meta, _)) => Ok(Response::data(meta.render())),
        None => Err(Error::NotFound(format!("no secret metadata at {path:?}"))),
    }
}

/// `POST metadata/:path`: creates the metadata if needed and sets what is given.
pub(super) async fn write(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    secret_path::check(path)?;
    let settings = &Settings::parse(params, false)?;
    if settings.is_empty() {
        // As Vault: a write that sets nothing creates nothing.
        return Ok(Response::empty());
    }
    retry(path, || async move {
        let key = metadata_key(path);
        let (mut meta, expect) = match load::<KeyMetadata>(view, &key).await? {
            Some((meta, revision)) => (meta, Expect::Revision(revision)),
            None => (KeyMetadata::new(now_ns()), Expect::Absent),
        };
        settings.apply(&mut meta, false)?;
        view.transact(&[Write::put(key, encode(&meta)?).expecting(expect)])
            .await?;
        settings.response(view).await
    })
    .await
}

/// `PATCH metadata/:path`: changes what is given of existing metadata; 404 if none.
pub(super) async fn patch(view: &View, path: &str, params: Option<&Value>) -> Result<Response> {
    secret_path::check(path)?;
    let settings = &Settings::parse(params, true)?;
    retry(path, || async move {
        let key = metadata_key(path);
        let Some((mut meta, revision)) = load::<KeyMetadata>(view, &key).await? else {
            return Err(Error::NotFound(format!("no secret metadata at {path:?}")));
        };
        settings.apply(&mut meta, true)?;
        let write = Write::put(key, encode(&meta)?).expecting(Expect::Revision(revision));
        view.transact(&[write]).await?;
        settings.response(view).await
    })
    .await
}

/// `DELETE metadata/:path`: the metadata and every version's data, at once.
pub(super) async fn delete(view: &View, path: &str) -> Result<Response> {
    secret_path::check(path)?;
    retry(path, || async move {
        let key = metadata_key(path);
        let Some((meta, revision)) = load::<KeyMetadata>(view, &key).await? else {
            return Ok(Response::empty());
        };
        let mut writes: Vec<Write> = meta
            .versions
            .keys()
            .map(|n| Write::delete(version_key(path, *n)))
            .collect();
        writes.push(Write::delete(key).expecting(Expect::Revision(revision)));
        view.transact(&writes).await?;
        Ok(Response::empty())
    })
    .await
}
