//! `keys/:name/rotate` and `keys/:name/trim` (Vault transit "Rotate key" and "Trim key";
//! OpenBao `path_rotate.go`, `path_trim.go`).

use qsafe_core::fields::field_u64;
use qsafe_core::{Error, Response, Result};

use crate::Ctx;
use crate::cache::{blocking, now};
use crate::path_keys::read;
use crate::policy;

/// POST `keys/:name/rotate`: adds a version; new encryptions use it.
pub(crate) async fn rotate(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let keys = &ctx.engine.keys;
    let Some((record, _)) = keys.read_record(ctx.view, name).await? else {
        return Err(Error::NotFound(format!("transit key {name:?}")));
    };
    let key_type = record.config.key_type;
    let rng = ctx.engine.rng.clone();
    let fresh = blocking(move || policy::generate(key_type, &rng, now())).await?;
    let mut fresh = Some(fresh);
    keys.update(ctx.view, name, |record| {
        let version = match fresh.take() {
            Some(v) => v,
            // A retry after a lost race: the material was moved into the failed attempt's record,
            // so draw again (cheap next to a storage round trip for every type but ML-DSA).
            None => policy::generate(key_type, &ctx.engine.rng, now())?,
        };
        record.push(version)
    })
    .await?;
    read(ctx, name).await
}

/// POST `keys/:name/trim`: deletes versions below `min_available_version`.
pub(crate) async fn trim(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let Some(min) = field_u64(ctx.data, "min_available_version")? else {
        return Err(Error::InvalidInput(
            "missing \"min_available_version\"".into(),
        ));
    };
    ctx.engine
        .keys
        .update(ctx.view, name, |record| {
            let c = &mut record.config;
            let bad = |m: &str| Err(Error::InvalidInput(m.into()));
            if min == 0 {
                return bad("min_available_version must be at least 1");
            }
            if min < c.min_available_version {
                return bad("min_available_version cannot be lowered");
            }
            if min > c.min_decryption_version {
                return bad("min_available_version cannot be above min_decryption_version");
            }
            if c.min_encryption_version != 0 && min > c.min_encryption_version {
                return bad("min_available_version cannot be above min_encryption_version");
            }
            c.min_available_version = min;
            record.keys.retain(|n, _| *n >= min);
            Ok(())
        })
        .await?;
    read(ctx, name).await
}
