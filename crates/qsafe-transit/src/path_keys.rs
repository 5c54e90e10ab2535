//! `keys/` and `keys/:name` (Vault transit "Create key", "Read key", "List keys", "Delete key";
//! OpenBao `path_keys.go`).

use qsafe_core::fields::{field_bool, field_duration, field_str, field_u64};
use qsafe_core::{Error, Response, Result};
use serde_json::{Map, Value, json};

use crate::Ctx;
use crate::cache::KeyCache;
use crate::input::{NO_DERIVATION, refuse};
use crate::policy::{KeyType, Keyring};

/// Shortest non-zero `auto_rotate_period`, as Vault.
pub(crate) const MIN_AUTO_ROTATE: u64 = 3600;

/// Checks an `auto_rotate_period`: 0 (off) or at least an hour.
pub(crate) fn check_auto_rotate(period: u64) -> Result<u64> {
    if period != 0 && period < MIN_AUTO_ROTATE {
        return Err(Error::InvalidInput(
            "auto_rotate_period must be 0 (off) or at least 1h".into(),
        ));
    }
    Ok(period)
}

/// LIST `keys/`.
pub(crate) async fn list(ctx: &Ctx<'_>) -> Result<Response> {
    let names = ctx.engine.keys.list(ctx.view).await?;
    Ok(Response::data(json!({ "keys": names })))
}

/// GET `keys/:name`.
pub(crate) async fn read(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let keyring = ctx.key(name).await?;
    Ok(Response::data(info(&keyring)?))
}

/// POST `keys/:name`: creates the key; an existing key is left as it is (as Vault).
pub(crate) async fn create(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let data = ctx.data;
    refuse(data, NO_DERIVATION)?;
    refuse(
        data,
        &[
            ("managed_key_name", "managed keys are not available"),
            ("managed_key_id", "managed keys are not available"),
        ],
    )?;
    if field_u64(data, "key_size")?.is_some_and(|size| size != 0 && size != 32) {
        return Err(Error::InvalidInput("key_size must be 32".into()));
    }
    let key_type = KeyType::parse(field_str(data, "type")?.unwrap_or("ml-kem-768"))?;
    let mut record = KeyCache::new_record(name, key_type, &ctx.engine.rng).await?;
    let c = &mut record.config;
    c.exportable = field_bool(data, "exportable")?.unwrap_or(false);
    c.allow_plaintext_backup = field_bool(data, "allow_plaintext_backup")?.unwrap_or(false);
    c.deletion_allowed = field_bool(data, "deletion_allowed")?.unwrap_or(false);
    c.auto_rotate_period =
        check_auto_rotate(field_duration(data, "auto_rotate_period")?.unwrap_or(0))?;
    let mut warnings = Vec::new();
    match ctx.engine.keys.create(ctx.view, &record).await {
        Ok(()) => {}
        Err(Error::Conflict(_)) => {
            warnings.push(format!(
                "key {name:?} already exists; it was left unchanged"
            ));
        }
        Err(e) => return Err(e),
    }
    let mut response = read(ctx, name).await?;
    response.warnings = warnings;
    Ok(response)
}

/// DELETE `keys/:name`: only when `deletion_allowed`.
pub(crate) async fn delete(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let keys = &ctx.engine.keys;
    let Some((record, revision)) = keys.read_record(ctx.view, name).await? else {
        return Err(Error::NotFound(format!("transit key {name:?}")));
    };
    if !record.config.deletion_allowed {
        return Err(Error::InvalidInput(format!(
            "deletion is not allowed for key {name:?}; set deletion_allowed with keys/{name}/config"
        )));
    }
    keys.delete(ctx.view, name, revision).await?;
    Ok(Response::empty())
}

fn rfc3339(unix: i64) -> Result<String> {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .ok_or_else(|| Error::Internal("key creation time out of range".into()))
}

/// The `keys/:name` read shape.
pub(crate) fn info(keyring: &Keyring) -> Result<Value> {
    let c = &keyring.config;
    let mut keys = Map::new();
    for (n, version) in keyring.versions() {
        let entry = match version.public_key() {
            Some(public) => json!({
                "creation_time": rfc3339(version.created)?,
                "name": public.algorithm().name(),
                "public_key": public.to_pem().map_err(crate::policy::crypto)?,
            }),
            None => json!(version.created),
        };
        keys.insert(n.to_string(), entry);
    }
    let t = c.key_type;
    Ok(json!({
        "name": c.name,
        "type": t.name(),
        "keys": keys,
        "latest_version": c.latest_version,
        "min_available_version": c.min_available_version,
        "min_decryption_version": c.min_decryption_version,
        "min_encryption_version": c.min_encryption_version,
        "deletion_allowed": c.deletion_allowed,
        "exportable": c.exportable,
        "allow_plaintext_backup": c.allow_plaintext_backup,
        "auto_rotate_period": c.auto_rotate_period,
        "derived": false,
        "imported_key": false,
        "supports_encryption": t.supports_encryption(),
        "supports_decryption": t.supports_encryption(),
        "supports_signing": t.supports_signing(),
        "supports_derivation": false,
    }))
}
