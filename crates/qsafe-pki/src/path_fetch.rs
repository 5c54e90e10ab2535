//! Public reads (OpenBao `path_fetch.go`): `ca`, `ca/pem`, `ca_chain`, `cert/ca`,
//! `cert/:serial` (JSON, `raw`, `raw/pem`), and the `certs` and `certs/revoked` lists.

use qsafe_core::{Error, Response, Result};
use serde_json::json;

use crate::serial::Serial;
use crate::storage::{self, CERT_PREFIX, CertRecord, REVOKED_PREFIX, RevokedRecord, revoked_key};
use crate::{Ctx, cert, profile};

/// `GET ca` (DER) and `ca/pem`: the default issuer's certificate.
pub(crate) async fn ca(ctx: &Ctx<'_>, format: &str) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, "default").await?;
    let der = issuer.record.certificate.clone();
    if format == "pem" {
        return Ok(Response::raw(
            "application/pem-certificate-chain",
            cert::to_pem(&der)?.into_bytes(),
        ));
    }
    Ok(Response::raw("application/pkix-cert", der))
}

/// `GET ca_chain`: the default issuer and its chain, PEM.
pub(crate) async fn ca_chain(ctx: &Ctx<'_>) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, "default").await?;
    let mut pem = String::new();
    for der in issuer.chain_der()? {
        pem.push_str(&cert::to_pem(&der)?);
    }
    Ok(Response::raw(
        "application/pem-certificate-chain",
        pem.into_bytes(),
    ))
}

/// `GET cert/ca`: the default issuer in Vault's JSON shape.
pub(crate) async fn ca_json(ctx: &Ctx<'_>) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, "default").await?;
    let chain: Vec<String> = issuer
        .chain_der()?
        .iter()
        .map(|c| cert::to_pem(c))
        .collect::<Result<_>>()?;
    Ok(Response::data(json!({
        "certificate": chain.first().cloned().unwrap_or_default(),
        "ca_chain": chain,
        "issuer_id": issuer.record.id,
        "revocation_time": 0,
    })))
}

/// `GET cert/:serial` (JSON with the revocation state), `cert/:serial/raw` (DER),
/// `cert/:serial/raw/pem`.
pub(crate) async fn cert(ctx: &Ctx<'_>, serial: &str, format: &str) -> Result<Response> {
    let serial = Serial::parse(serial)?;
    let (record, _) =
        storage::load::<CertRecord>(ctx.view, &format!("{CERT_PREFIX}{}", serial.key()))
            .await?
            .ok_or_else(|| Error::NotFound(format!("no certificate {}", serial.colon_hex())))?;
    match format {
        "der" => return Ok(Response::raw("application/pkix-cert", record.certificate)),
        "pem" => {
            return Ok(Response::raw(
                "application/pem-certificate-chain",
                cert::to_pem(&record.certificate)?.into_bytes(),
            ));
        }
        _ => {}
    }
    let revoked =
        storage::load::<RevokedRecord>(ctx.view, &revoked_key(&record.issuer_id, &serial.key()))
            .await?
            .map(|(r, _)| r);
    let at = revoked.as_ref().map_or(0, |r| r.revoked_at);
    Ok(Response::data(json!({
        "certificate": cert::to_pem(&record.certificate)?,
        "serial_number": serial.colon_hex(),
        "issuer_id": record.issuer_id,
        "revocation_time": at,
        "revocation_time_rfc3339": if at == 0 { String::new() } else { profile::rfc3339(at) },
        "expiration": record.not_after,
    })))
}

/// `LIST certs`: every serial the mount issued (colon form).
pub(crate) async fn list_certs(ctx: &Ctx<'_>) -> Result<Response> {
    let keys: Vec<String> = storage::all_keys(ctx.view, CERT_PREFIX)
        .await?
        .iter()
        .filter_map(|k| Serial::parse(&k[CERT_PREFIX.len()..]).ok())
        .map(|s| s.colon_hex())
        .collect();
    Ok(Response::data(json!({ "keys": keys })))
}

/// `LIST certs/revoked`: every revoked serial (colon form).
pub(crate) async fn list_revoked(ctx: &Ctx<'_>) -> Result<Response> {
    let keys: Vec<String> = storage::all_keys(ctx.view, REVOKED_PREFIX)
        .await?
        .iter()
        .filter_map(|k| k.rsplit('/').next())
        .filter_map(|s| Serial::parse(s).ok())
        .map(|s| s.colon_hex())
        .collect();
    Ok(Response::data(json!({ "keys": keys })))
}
