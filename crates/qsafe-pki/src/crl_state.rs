//! CRLs as the mount keeps them (RFC 5280 §5; OpenBao `crl_util.go`): one full CRL per issuer
//! with an increasing CRL number, an optional delta CRL over it, rebuilt on revocation (a full
//! rebuild, or only the delta with `auto_rebuild`), on `crl/rotate`, and by the periodic
//! function before nextUpdate.

use qsafe_core::{Error, Response, Result};
use qsafe_store::View;
use serde_json::json;

use crate::crl::{self, CrlParams, Revoked};
use crate::issuer::LoadedIssuer;
use crate::path_config::crl_config;
use crate::serial::Serial;
use crate::storage::{
    self, CRL_PREFIX, CrlConfig, CrlRecord, DeltaCrl, FORMAT, REVOKED_PREFIX, RevokedRecord,
};
use crate::{Ctx, Pki, profile};

/// Every revocation recorded under `issuer_id`.
pub(crate) async fn revocations(view: &View, issuer_id: &str) -> Result<Vec<RevokedRecord>> {
    let prefix = format!("{REVOKED_PREFIX}{issuer_id}/");
    let keys = storage::all_keys(view, &prefix).await?;
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some((record, _)) = storage::load::<RevokedRecord>(view, &key).await? {
            out.push(record);
        }
    }
    Ok(out)
}

fn entry(r: &RevokedRecord) -> Result<Revoked> {
    Ok(Revoked {
        serial: Serial::parse(&r.serial)?.as_bytes().to_vec(),
        revoked_at: r.revoked_at,
        reason: r.reason,
    })
}

async fn distribution_point(engine: &Pki, view: &View) -> Result<Option<String>> {
    Ok(engine
        .records
        .load::<storage::UrlsConfig>(view, storage::URLS_CONFIG)
        .await?
        .and_then(|u| u.crl_distribution_points.first().cloned()))
}

/// Builds and stores a new full CRL for `issuer` (and a fresh, empty delta over it when deltas
/// are on).
pub(crate) async fn rebuild_full(
    engine: &Pki,
    view: &View,
    issuer: &LoadedIssuer,
    config: &CrlConfig,
) -> Result<CrlRecord> {
    let _one_at_a_time = engine.crl_lock.lock().await;
    let signer = issuer.signer_for("crl-signing", "CRLs")?;
    let key = format!("{CRL_PREFIX}{}", issuer.record.id);
    let loaded = storage::load::<CrlRecord>(view, &key).await?;
    let previous = loaded
        .as_ref()
        .map(|(c, _)| {
            c.delta
                .as_ref()
                .map_or(c.number, |d| d.number.max(c.number))
        })
        .unwrap_or(0);
    let entries = revocations(view, &issuer.record.id)
        .await?
        .iter()
        .map(entry)
        .collect::<Result<Vec<_>>>()?;
    let now = profile::now();
    let next_update = now.saturating_add(profile::seconds(config.expiry));
    let number = previous + 1;
    let dp = distribution_point(engine, view).await?;
    // OpenSSL uses delta CRLs only when the complete CRL says where they are (Freshest CRL).
    let delta_url = dp
        .as_ref()
        .filter(|_| config.enable_delta)
        .map(|d| format!("{}/delta", d.trim_end_matches('/')));
    let params = CrlParams {
        this_update: now,
        next_update,
        number,
        delta_of: None,
        distribution_point: dp.as_deref(),
        freshest_crl: delta_url.as_deref(),
    };
    let der = crl::build(signer, &issuer.crl, &params, &entries)
        .map_err(|e| Error::Internal(format!("CRL: {e}")))?;
    // A delta over every full CRL, empty until a revocation (served whether or not deltas are
    // announced with `enable_delta`, as OpenBao serves `crl/delta`).
    let delta = {
        let params = CrlParams {
            number: number + 1,
            delta_of: Some(number),
            freshest_crl: None,
            ..params
        };
        let der = crl::build(signer, &issuer.crl, &params, &[])
            .map_err(|e| Error::Internal(format!("delta CRL: {e}")))?;
        Some(DeltaCrl {
            number: number + 1,
            der,
        })
    };
    let record = CrlRecord {
        version: FORMAT,
        number,
        der,
        next_update,
        delta,
        this_update: now,
        pending: 0,
    };
    storage::save(view, &key, &record, storage::expect_of(&loaded)).await?;
    Ok(record)
}

/// Builds the delta CRL of `issuer` over its current full CRL: every revocation since.
pub(crate) async fn rebuild_delta(
    engine: &Pki,
    view: &View,
    issuer: &LoadedIssuer,
    config: &CrlConfig,
) -> Result<CrlRecord> {
    let key = format!("{CRL_PREFIX}{}", issuer.record.id);
    let Some((mut record, revision)) = storage::load::<CrlRecord>(view, &key).await? else {
        return rebuild_full(engine, view, issuer, config).await;
    };
    let _one_at_a_time = engine.crl_lock.lock().await;
    let signer = issuer.signer_for("crl-signing", "CRLs")?;
    let entries = revocations(view, &issuer.record.id)
        .await?
        .iter()
        .filter(|r| r.revoked_at >= record.this_update)
        .map(entry)
        .collect::<Result<Vec<_>>>()?;
    let number = record.delta.as_ref().map_or(record.number, |d| d.number) + 1;
    let now = profile::now();
    let dp = distribution_point(engine, view).await?;
    let params = CrlParams {
        this_update: now,
        next_update: record.next_update,
        number,
        delta_of: Some(record.number),
        distribution_point: dp.as_deref(),
        freshest_crl: None,
    };
    let der = crl::build(signer, &issuer.crl, &params, &entries)
        .map_err(|e| Error::Internal(format!("delta CRL: {e}")))?;
    record.delta = Some(DeltaCrl { number, der });
    record.pending = u64::try_from(entries.len()).unwrap_or(u64::MAX);
    storage::save(view, &key, &record, qsafe_store::Expect::Revision(revision)).await?;
    Ok(record)
}

/// After a revocation by `issuer`: a full rebuild, or with `auto_rebuild` only the delta CRL
/// (the periodic function rebuilds the full CRL).
pub(crate) async fn after_revocation(
    engine: &Pki,
    view: &View,
    issuer: &LoadedIssuer,
) -> Result<()> {
    let config = crl_config(engine, view).await?;
    if config.disable {
        return Ok(());
    }
    if config.auto_rebuild {
        rebuild_delta(engine, view, issuer, &config).await?;
    } else {
        rebuild_full(engine, view, issuer, &config).await?;
    }
    Ok(())
}

/// The current CRL record of `issuer`, built or rebuilt first if missing or stale.
async fn current(engine: &Pki, view: &View, issuer: &LoadedIssuer) -> Result<CrlRecord> {
    let config = crl_config(engine, view).await?;
    if config.disable {
        return Err(Error::NotFound(
            "CRLs are disabled on this mount (config/crl)".into(),
        ));
    }
    let key = format!("{CRL_PREFIX}{}", issuer.record.id);
    match storage::load::<CrlRecord>(view, &key).await? {
        Some((record, _)) if record.next_update > profile::now() => Ok(record),
        _ => rebuild_full(engine, view, issuer, &config).await,
    }
}

/// `GET crl`, `crl/pem`, `crl/der`, `crl/delta`, `crl/delta/pem` (unauthenticated): DER or
/// PEM as they are. Under `issuer/:ref/crl` the same, except that `crl` and `crl/delta` without
/// a format answer OpenBao's JSON (`{"crl": "<PEM>"}`): `issuer_path` says which it is.
pub(crate) async fn fetch(
    ctx: &Ctx<'_>,
    reference: &str,
    rest: &[&str],
    issuer_path: bool,
) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, reference).await?;
    let record = current(ctx.engine, ctx.view, &issuer).await?;
    let (delta, pem) = match rest {
        [] | ["der"] => (false, false),
        ["pem"] => (false, true),
        ["delta"] | ["delta", "der"] => (true, false),
        ["delta", "pem"] => (true, true),
        _ => return Err(Error::NotFound(format!("no CRL path {:?}", rest.join("/")))),
    };
    let der = if delta {
        record
            .delta
            .map(|d| d.der)
            .ok_or_else(|| Error::NotFound("no delta CRL yet".into()))?
    } else {
        record.der
    };
    if issuer_path && matches!(rest, [] | ["delta"]) {
        return Ok(Response::data(json!({ "crl": crl::to_pem(&der) })));
    }
    if pem {
        return Ok(Response::raw(
            "application/x-pem-file",
            crl::to_pem(&der).into_bytes(),
        ));
    }
    Ok(Response::raw("application/pkix-crl", der))
}

/// `GET cert/crl`: the default issuer's CRL in Vault's JSON shape.
pub(crate) async fn fetch_json(ctx: &Ctx<'_>) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, "default").await?;
    let record = current(ctx.engine, ctx.view, &issuer).await?;
    Ok(Response::data(json!({
        "certificate": crl::to_pem(&record.der),
        "revocation_time": 0,
    })))
}

/// `crl/rotate` and `crl/rotate-delta`: rebuild every issuer's CRL now.
pub(crate) async fn rotate(ctx: &Ctx<'_>, delta: bool) -> Result<Response> {
    let config = crl_config(ctx.engine, ctx.view).await?;
    if config.disable {
        return Err(Error::InvalidInput(
            "CRLs are disabled on this mount (config/crl)".into(),
        ));
    }
    for issuer in ctx.engine.issuers.all(ctx.view).await? {
        if issuer.signer.is_none() || issuer.record.revoked {
            continue;
        }
        if delta {
            rebuild_delta(ctx.engine, ctx.view, &issuer, &config).await?;
        } else {
            rebuild_full(ctx.engine, ctx.view, &issuer, &config).await?;
        }
    }
    Ok(Response::data(json!({"success": true})))
}

/// The periodic function: rebuild full CRLs within the grace period of their nextUpdate, and
/// (with `auto_rebuild`) those with revocations not yet in them.
pub(crate) async fn periodic(engine: &Pki, view: &View) -> Result<()> {
    let config = crl_config(engine, view).await?;
    if config.disable {
        return Ok(());
    }
    let grace = profile::seconds(config.auto_rebuild_grace_period);
    for issuer in engine.issuers.all(view).await? {
        if issuer.signer.is_none() || issuer.record.revoked {
            continue;
        }
        let key = format!("{CRL_PREFIX}{}", issuer.record.id);
        let due = match storage::load::<CrlRecord>(view, &key).await? {
            None => false,
            Some((record, _)) => {
                record.next_update - grace <= profile::now()
                    || (config.auto_rebuild && record.pending > 0)
            }
        };
        if due {
            rebuild_full(engine, view, &issuer, &config).await?;
        }
    }
    Ok(())
}
