//! Revocation (OpenBao `path_revoke.go`): `revoke` by serial or certificate, `revoke-with-key`
//! (proof of possession of the certificate's key, no other authority needed beyond the path's
//! policy), and `issuer/:ref/revoke`.

use qsafe_core::fields::field_str;
use qsafe_core::{Error, Response, Result};
use qsafe_store::Expect;
use serde_json::json;

use crate::cert::{self, CertInfo};
use crate::storage::{self, CERT_PREFIX, CertRecord, FORMAT, RevokedRecord, revoked_key};
use crate::{Ctx, crl_state, profile, serial::Serial};

/// RFC 5280 §5.3.1 reason names (qsafe accepts `reason` on `revoke`; OpenBao records none).
fn reason_code(name: &str) -> Result<Option<u8>> {
    Ok(Some(match name {
        "" | "unspecified" => return Ok(None),
        "keyCompromise" => 1,
        "cACompromise" => 2,
        "affiliationChanged" => 3,
        "superseded" => 4,
        "cessationOfOperation" => 5,
        "certificateHold" => 6,
        "privilegeWithdrawn" => 9,
        "aACompromise" => 10,
        other => {
            return Err(Error::InvalidInput(format!(
                "unknown reason {other:?} (keyCompromise, superseded, cessationOfOperation, ...)"
            )));
        }
    }))
}

/// The serial a request names (`serial_number`, or the serial of `certificate`, which must be
/// the certificate this mount issued under that serial).
async fn target(ctx: &Ctx<'_>) -> Result<(Serial, CertRecord)> {
    let given_cert = match field_str(ctx.data, "certificate")? {
        Some(pem) => {
            let ders = cert::pem_certificates(pem)?;
            let [der] = ders.as_slice() else {
                return Err(Error::InvalidInput(
                    "\"certificate\" must hold one PEM certificate".into(),
                ));
            };
            Some(der.clone())
        }
        None => None,
    };
    let serial = match (field_str(ctx.data, "serial_number")?, &given_cert) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidInput(
                "give serial_number or certificate, not both".into(),
            ));
        }
        (Some(s), None) => Serial::parse(s)?,
        (None, Some(der)) => CertInfo::parse(der)?.serial,
        (None, None) => {
            return Err(Error::InvalidInput(
                "missing \"serial_number\" or \"certificate\"".into(),
            ));
        }
    };
    let (record, _) =
        storage::load::<CertRecord>(ctx.view, &format!("{CERT_PREFIX}{}", serial.key()))
            .await?
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "certificate with serial {} not found in this mount",
                    serial.colon_hex()
                ))
            })?;
    if let Some(der) = given_cert
        && der != record.certificate
    {
        return Err(Error::InvalidInput(
            "the certificate given is not the one this mount issued under its serial".into(),
        ));
    }
    Ok((serial, record))
}

/// `revoke` and `revoke-with-key`.
pub(crate) async fn revoke(ctx: &Ctx<'_>, with_key: bool) -> Result<Response> {
    let (serial, record) = target(ctx).await?;
    let reason = reason_code(field_str(ctx.data, "reason")?.unwrap_or(""))?;
    if with_key {
        prove_possession(ctx, &record)?;
    }
    if ctx
        .engine
        .issuers
        .all(ctx.view)
        .await?
        .iter()
        .any(|i| i.info.serial == serial)
    {
        return Err(Error::InvalidInput(
            "this is an issuer of the mount: revoke it with issuer/:ref/revoke".into(),
        ));
    }
    let revoked = revoke_serial(ctx, &serial, &record, reason).await?;
    Ok(Response::data(json!({
        "revocation_time": revoked.revoked_at,
        "revocation_time_rfc3339": profile::rfc3339(revoked.revoked_at),
        "state": "revoked",
    })))
}

/// Records the revocation (once: a second revocation answers the first's time) and rebuilds
/// the CRL.
async fn revoke_serial(
    ctx: &Ctx<'_>,
    serial: &Serial,
    record: &CertRecord,
    reason: Option<u8>,
) -> Result<RevokedRecord> {
    let key = revoked_key(&record.issuer_id, &serial.key());
    if let Some((existing, _)) = storage::load::<RevokedRecord>(ctx.view, &key).await? {
        return Ok(existing);
    }
    let revoked = RevokedRecord {
        version: FORMAT,
        issuer_id: record.issuer_id.clone(),
        revoked_at: profile::now(),
        reason,
        not_after: record.not_after,
        serial: serial.key(),
    };
    match storage::save(ctx.view, &key, &revoked, Expect::Absent).await {
        Ok(()) => {}
        Err(Error::Conflict(_)) => {
            if let Some((existing, _)) = storage::load::<RevokedRecord>(ctx.view, &key).await? {
                return Ok(existing);
            }
        }
        Err(e) => return Err(e),
    }
    if let Ok(issuer) = ctx.engine.issuers.get(ctx.view, &record.issuer_id).await {
        crl_state::after_revocation(ctx.engine, ctx.view, &issuer).await?;
    }
    Ok(revoked)
}

/// `private_key` must be the key of the certificate.
fn prove_possession(ctx: &Ctx<'_>, record: &CertRecord) -> Result<()> {
    let pem = qsafe_core::fields::required(ctx.data, "private_key")?;
    let key = qsafe_crypto::keys::PrivateKey::from_pem(pem.trim())
        .map_err(|_| Error::InvalidInput("private_key is not a PKCS#8 PEM private key".into()))?;
    let spki = key.public_key().to_spki_der()?;
    let info = CertInfo::parse(&record.certificate)?;
    if !qsafe_crypto::hash::ct_eq(&spki, &info.spki_der) {
        return Err(Error::PermissionDenied(
            "private_key does not match the certificate".into(),
        ));
    }
    Ok(())
}

/// `issuer/:ref/revoke`: the issuer signs nothing more; if this mount issued its certificate,
/// that certificate is revoked too (it appears on its parent's CRL).
pub(crate) async fn revoke_issuer(ctx: &Ctx<'_>, reference: &str) -> Result<Response> {
    let id = crate::issuer::resolve_id(ctx.view, reference).await?;
    let key = format!("{}{id}", storage::ISSUER_PREFIX);
    let loaded = storage::load::<storage::IssuerRecord>(ctx.view, &key).await?;
    let Some((mut record, _)) = loaded.clone() else {
        return Err(Error::NotFound(format!("no issuer {reference:?}")));
    };
    let info = CertInfo::parse(&record.certificate)?;
    if !record.revoked {
        record.revoked = true;
        storage::save(ctx.view, &key, &record, storage::expect_of(&loaded)).await?;
    }
    if let Some((cert_record, _)) =
        storage::load::<CertRecord>(ctx.view, &format!("{CERT_PREFIX}{}", info.serial.key()))
            .await?
    {
        let reason = reason_code(field_str(ctx.data, "reason")?.unwrap_or(""))?;
        revoke_serial(ctx, &info.serial, &cert_record, reason).await?;
    }
    crate::path_issuers::read(ctx, &id).await
}
