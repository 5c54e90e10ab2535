//! `tidy` (OpenBao `path_tidy.go`): removes certificates and revocations whose validity ended
//! more than `safety_buffer` ago, then rebuilds the CRLs. Runs to completion before it answers
//! (OpenBao answers 202 and tidies in the background).

use qsafe_core::fields::{field_bool, field_duration};
use qsafe_core::{Response, Result};
use qsafe_store::{Expect, Write};
use serde_json::json;

use crate::storage::{self, CERT_PREFIX, CertRecord, REVOKED_PREFIX, RevokedRecord};
use crate::{Ctx, crl_state, path_config, profile};

/// OpenBao's default safety buffer: 72 hours.
const DEFAULT_SAFETY_BUFFER: u64 = 72 * 3600;

/// `POST tidy`: `tidy_cert_store`, `tidy_revoked_certs`, `safety_buffer`.
pub(crate) async fn tidy(ctx: &Ctx<'_>) -> Result<Response> {
    let certs = field_bool(ctx.data, "tidy_cert_store")?.unwrap_or(false);
    let revoked = field_bool(ctx.data, "tidy_revoked_certs")?.unwrap_or(false);
    let buffer = field_duration(ctx.data, "safety_buffer")?.unwrap_or(DEFAULT_SAFETY_BUFFER);
    let cutoff = profile::now().saturating_sub(profile::seconds(buffer));
    let mut certs_deleted = 0u64;
    let mut revoked_deleted = 0u64;
    if certs {
        for key in storage::all_keys(ctx.view, CERT_PREFIX).await? {
            if let Some((r, rev)) = storage::load::<CertRecord>(ctx.view, &key).await?
                && r.not_after < cutoff
            {
                certs_deleted += delete(ctx, &key, rev).await?;
            }
        }
    }
    if revoked {
        for key in storage::all_keys(ctx.view, REVOKED_PREFIX).await? {
            if let Some((r, rev)) = storage::load::<RevokedRecord>(ctx.view, &key).await?
                && r.not_after < cutoff
            {
                revoked_deleted += delete(ctx, &key, rev).await?;
            }
        }
        let config = path_config::crl_config(ctx.engine, ctx.view).await?;
        if revoked_deleted > 0 && !config.disable {
            for issuer in ctx.engine.issuers.all(ctx.view).await? {
                if issuer.signer.is_some() && !issuer.record.revoked {
                    crl_state::rebuild_full(ctx.engine, ctx.view, &issuer, &config).await?;
                }
            }
        }
    }
    Ok(Response::data(json!({
        "cert_store_deleted_count": certs_deleted,
        "revoked_cert_deleted_count": revoked_deleted,
        "safety_buffer": buffer,
    })))
}

/// Deletes `key` if unchanged since read; 1 if deleted.
async fn delete(ctx: &Ctx<'_>, key: &str, revision: qsafe_store::Revision) -> Result<u64> {
    match ctx
        .view
        .transact(&[Write::delete(key).expecting(Expect::Revision(revision))])
        .await
    {
        Ok(_) => Ok(1),
        Err(qsafe_store::Error::Conflict { .. }) => Ok(0),
        Err(e) => Err(e.into()),
    }
}
