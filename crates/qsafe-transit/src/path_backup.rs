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
use crate::policy::{KeyRecord, Keyring};

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
    let bytes = Zeroizing::new(
        serde_json::to_vec(&doc).map_err(|e| Error::Internal(format!("backup encoding: {e}")))?,
    );
    let encoded = Zeroizing::new(b64_encode(&bytes));
    Ok(Response::data(json!({ "backup": encoded.as_str() })))
}

fn invalid() -> Error {
    Error::InvalidInput("\"backup\" is not a qsafe transit backup".into())
}

fn check_record(record: &KeyRecord) -> Result<()> {
    let c = &record.config;
    let consistent = record.keys.contains_key(&c.latest_version)
        && record
            .keys
            .keys()
            .all(|n| *n >= 1 && *n <= c.latest_version)
        && c.min_decryption_version >= 1
        && c.min_decryption_version <= c.latest_version
        && c.min_encryption_version <= c.latest_version;
    if consistent { Ok(()) } else { Err(invalid()) }
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
