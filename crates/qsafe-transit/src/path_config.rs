//! `keys/:name/config` (Vault transit "Update key configuration"; OpenBao `path_config.go`).

use qsafe_core::fields::{field_bool, field_duration, field_u64};
use qsafe_core::{Error, Response, Result};
use serde_json::Value;

use crate::Ctx;
use crate::path_keys::{check_auto_rotate, read};
use crate::policy::Config;

/// The requested changes, parsed before any record is read.
struct Changes {
    min_decryption_version: Option<u64>,
    min_encryption_version: Option<u64>,
    deletion_allowed: Option<bool>,
    exportable: Option<bool>,
    allow_plaintext_backup: Option<bool>,
    auto_rotate_period: Option<u64>,
}

impl Changes {
    fn parse(data: Option<&Value>) -> Result<Self> {
        Ok(Self {
            min_decryption_version: field_u64(data, "min_decryption_version")?,
            min_encryption_version: field_u64(data, "min_encryption_version")?,
            deletion_allowed: field_bool(data, "deletion_allowed")?,
            exportable: field_bool(data, "exportable")?,
            allow_plaintext_backup: field_bool(data, "allow_plaintext_backup")?,
            auto_rotate_period: field_duration(data, "auto_rotate_period")?
                .map(check_auto_rotate)
                .transpose()?,
        })
    }

    fn apply(&self, c: &mut Config) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidInput(m.into()));
        if let Some(v) = self.min_decryption_version.filter(|v| *v != 0) {
            if v > c.latest_version {
                return bad("min_decryption_version cannot be above the latest version");
            }
            if v < c.min_available_version {
                return bad("min_decryption_version cannot be below min_available_version");
            }
            c.min_decryption_version = v;
        }
        if let Some(v) = self.min_encryption_version {
            if v > c.latest_version {
                return bad("min_encryption_version cannot be above the latest version");
            }
            c.min_encryption_version = v;
        }
        if c.min_encryption_version != 0 && c.min_encryption_version < c.min_decryption_version {
            return bad("min_encryption_version must be 0 or at least min_decryption_version");
        }
        if self.exportable == Some(false) && c.exportable {
            return bad("exportable cannot be turned off once it is on");
        }
        if self.allow_plaintext_backup == Some(false) && c.allow_plaintext_backup {
            return bad("allow_plaintext_backup cannot be turned off once it is on");
        }
        c.exportable |= self.exportable.unwrap_or(false);
        c.allow_plaintext_backup |= self.allow_plaintext_backup.unwrap_or(false);
        if let Some(v) = self.deletion_allowed {
            c.deletion_allowed = v;
        }
        if let Some(v) = self.auto_rotate_period {
            c.auto_rotate_period = v;
        }
        Ok(())
    }
}

/// POST `keys/:name/config`.
pub(crate) async fn write(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let changes = Changes::parse(ctx.data)?;
    ctx.engine
        .keys
        .update(ctx.view, name, |record| changes.apply(&mut record.config))
        .await?;
    read(ctx, name).await
}
