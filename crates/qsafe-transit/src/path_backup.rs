//! `backup/:name` and `restore[/:name]` (Vault transit "Backup key" and "Restore key"; OpenBao
//! `path_backup.go`, `path_restore.go`). A backup is base64 of a versioned JSON document holding
//! the key record itself (docs/formats.md §12); only keys both `exportable` and
//! `allow_plaintext_backup` can be backed up.

use qsafe_core::fields::{field_bool, required};
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::encoding::{b64_decode, b64_encode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::Zeroizing;

use crate::Ctx;
use crate::cache::{blocking, check_name};
use crate::policy::{KeyRecord, Keyring, encode_secret_json};

/// Format version of a backup document.
pub(crate) const BACKUP_FORMAT: u32 = 1;

/// A backup document.
#[derive(Serialize, Deserialize)]
struct Backup {
    version: u32,
    /// Unix seconds.
    backed_up_at: i64,
    policy: KeyRecord,
}

/// GET `backup/:name`.
pub(crate) async fn backup(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let Some((record, _)) = ctx.engine.keys.read_record(ctx.view, name).await? else {
        return Err(Error::NotFound(format!("transit key {name:?}")));
    };
    let c = &record.config;
    if !(c.exportable && c.allow_plaintext_backup) {
        return Err(Error::InvalidInput(format!(
            "key {name:?} cannot be backed up: it must be exportable and allow_plaintext_backup"
        )));
    }
    let doc = Backup {
        version: BACKUP_FORMAT,
        backed_up_at: crate::cache::now(),
        policy: record,
    };
    let estimate = 256 + doc.policy.keys.len().saturating_mul(256);
    let bytes = encode_secret_json(&doc, estimate)
        .map_err(|e| Error::Internal(format!("backup encoding: {e}")))?;
    let encoded = Zeroizing::new(b64_encode(&bytes));
    Ok(Response::data(json!({ "backup": encoded.as_str() })))
}

fn invalid() -> Error {
    Error::InvalidInput("\"backup\" is not a qsafe transit backup".into())
}

/// Highest `latest_version` a restore accepts (below 2^32), so rotation never nears the end of
/// the counter.
pub(crate) const MAX_RESTORED_LATEST: u64 = u32::MAX as u64;
/// Most versions a restored key may hold.
pub(crate) const MAX_RESTORED_VERSIONS: usize = 1 << 20;

/// The invariants rotate, config and trim keep (docs/formats.md §12): `1 ≤ min_decryption ≤
/// latest`; `min_available` 0 or at most `min_decryption` (and at most `min_encryption` when that
/// is set); `min_encryption` 0 or from `min_decryption` to `latest`; and the versions are exactly
/// `max(1, min_available) ..= latest`.
fn check_record(record: &KeyRecord) -> Result<()> {
    let c = &record.config;
    let latest = c.latest_version;
    let first = c.min_available_version.max(1);
    let minimums = (1..=latest).contains(&c.min_decryption_version)
        && c.min_available_version <= c.min_decryption_version
        && (c.min_encryption_version == 0
            || (c.min_decryption_version..=latest).contains(&c.min_encryption_version));
    let bounded =
        (1..=MAX_RESTORED_LATEST).contains(&latest) && record.keys.len() <= MAX_RESTORED_VERSIONS;
    // Keys are distinct numbers, so being inside the range and as many as it holds means all.
    let contiguous = first <= latest
        && u64::try_from(record.keys.len()).is_ok_and(|n| n == latest - first + 1)
        && record.keys.keys().all(|n| (first..=latest).contains(n));
    if minimums && bounded && contiguous {
        Ok(())
    } else {
        Err(invalid())
    }
}

/// POST `restore` or `restore/:name` (`backup`, `force`).
pub(crate) async fn restore(ctx: &Ctx<'_>, name: Option<&str>) -> Result<Response> {
    let text = required(ctx.data, "backup")?;
    let force = field_bool(ctx.data, "force")?.unwrap_or(false);
    let bytes = Zeroizing::new(b64_decode("backup", text.trim()).map_err(|_| invalid())?);
    let doc: Backup = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if doc.version != BACKUP_FORMAT || doc.policy.version != crate::policy::RECORD_FORMAT {
        return Err(invalid());
    }
    let mut record = doc.policy;
    if let Some(name) = name {
        record.config.name = name.to_owned();
    }
    check_name(&record.config.name)?;
    check_record(&record)?;
    // Every version must parse before anything is stored.
    let (record, parsed) = blocking(move || {
        let parsed = Keyring::parse(&record).map_err(|_| invalid());
        Ok((record, parsed))
    })
    .await?;
    parsed?;
    ctx.engine.keys.put(ctx.view, &record, force).await?;
    Ok(Response::empty())
}
