//! The OCSP responder (RFC 6960 §4 and Appendix A: `POST ocsp` with an
//! `application/ocsp-request` body, `GET ocsp/<base64 request>`), answering for every issuer of
//! the mount with responses signed by that issuer. Errors are OCSP error responses (HTTP 200),
//! as clients expect.

use std::sync::Arc;

use qsafe_core::{Response, Result};
use qsafe_crypto::encoding::public::b64_decode;
use qsafe_store::Revision;

use crate::issuer::LoadedIssuer;
use crate::ocsp::{self, ErrorStatus, Item, Status, Times};
use crate::ocsp_cache::Sources;
use crate::path_config::crl_config;
use crate::serial::Serial;
use crate::storage::{self, CERT_PREFIX, RevokedRecord, revoked_key};
use crate::{Ctx, profile};

const MEDIA_TYPE: &str = "application/ocsp-response";

fn error(status: ErrorStatus) -> Response {
    Response::raw(MEDIA_TYPE, ocsp::error_response(status))
}

/// `POST ocsp`.
pub(crate) async fn post(ctx: &Ctx<'_>) -> Result<Response> {
    match &ctx.request.raw {
        Some(raw) => answer(ctx, &raw.bytes).await,
        None => Ok(error(ErrorStatus::MalformedRequest)),
    }
}

/// `GET ocsp/<base64>` (the path may hold `/` of the base64 alphabet, doubled or last).
pub(crate) async fn get(ctx: &Ctx<'_>) -> Result<Response> {
    let text = ctx.request.path.strip_prefix("ocsp/").unwrap_or_default();
    match b64_decode("OCSP request", text.trim()) {
        Ok(der) => answer(ctx, &der).await,
        Err(_) => Ok(error(ErrorStatus::MalformedRequest)),
    }
}

async fn answer(ctx: &Ctx<'_>, der: &[u8]) -> Result<Response> {
    let Ok(request) = ocsp::parse_request(der) else {
        return Ok(error(ErrorStatus::MalformedRequest));
    };
    let config = crl_config(ctx.engine, ctx.view).await?;
    if config.ocsp_disable {
        return Ok(error(ErrorStatus::Unauthorized));
    }
    let issuers = ctx.engine.issuers.all(ctx.view).await?;
    // One response is signed by one issuer: the one the first CertID names.
    let Some(first) = request.ids.first() else {
        return Ok(error(ErrorStatus::MalformedRequest));
    };
    let Some(issuer) = find_issuer(&issuers, first) else {
        return Ok(error(ErrorStatus::Unauthorized));
    };
    let Ok(signer) = issuer.signer_for("ocsp-signing", "OCSP responses") else {
        return Ok(error(ErrorStatus::Unauthorized));
    };
    let now = profile::now();
    let mut statuses = Vec::with_capacity(request.ids.len());
    let mut sources = None;
    for id in &request.ids {
        let status = if issuer.ocsp.matches(id) {
            let (status, revoked, issued) = status_of(ctx, &issuer, &id.serial).await?;
            sources = Some(Sources {
                issuer: issuer.clone(),
                ocsp_expiry: config.ocsp_expiry,
                revoked,
                issued,
            });
            status
        } else {
            Status::Unknown
        };
        statuses.push(status);
    }
    // One CertID and no nonce: the answer signed for the same sources may be handed out again.
    let reusable = match (&request.ids[..], &request.nonce, sources) {
        ([id], None, Some(sources)) => id.der().map(|key| (key, sources)),
        _ => None,
    };
    if let Some((key, sources)) = &reusable
        && let Some(der) = ctx.engine.ocsp_responses.get(key, sources, now)
    {
        return Ok(Response::raw(MEDIA_TYPE, der.to_vec()));
    }
    let times = Times {
        produced_at: now,
        this_update: now,
        next_update: (config.ocsp_expiry > 0)
            .then(|| now.saturating_add(profile::seconds(config.ocsp_expiry))),
    };
    // The signature off the async workers (DESIGN.md §5), as for certificates.
    let (signer, responder) = (signer.clone(), issuer.clone());
    let body = qsafe_core::cpu::run("OCSP", move || {
        let items: Vec<Item<'_>> = request
            .ids
            .iter()
            .zip(statuses)
            .map(|(id, status)| Item { id, status })
            .collect();
        ocsp::build_response(
            &signer,
            &responder.ocsp,
            &items,
            &times,
            request.nonce.as_deref(),
        )
    })
    .await?;
    Ok(match body {
        Ok(der) => {
            if let Some((key, sources)) = reusable {
                let shared: Arc<[u8]> = der.as_slice().into();
                ctx.engine.ocsp_responses.put(key, sources, now, shared);
            }
            Response::raw(MEDIA_TYPE, der)
        }
        Err(e) => {
            tracing::warn!(error = %e, "OCSP response could not be built");
            error(ErrorStatus::InternalError)
        }
    })
}

fn find_issuer(issuers: &[Arc<LoadedIssuer>], id: &ocsp::CertId) -> Option<Arc<LoadedIssuer>> {
    issuers.iter().find(|i| i.ocsp.matches(id)).cloned()
}

/// Revoked if a revocation is recorded, good if this issuer issued it, else unknown; with the
/// revisions of the records the answer rests on (the issuance record is not read for a revoked
/// certificate).
async fn status_of(
    ctx: &Ctx<'_>,
    issuer: &LoadedIssuer,
    serial: &[u8],
) -> Result<(Status, Option<Revision>, Option<Option<Revision>>)> {
    let Ok(serial) = Serial::from_bytes(serial) else {
        return Ok((Status::Unknown, None, None));
    };
    let key = revoked_key(&issuer.record.id, &serial.key());
    if let Some((r, revision)) = storage::load::<RevokedRecord>(ctx.view, &key).await? {
        let status = Status::Revoked {
            at: r.revoked_at,
            reason: r.reason,
        };
        return Ok((status, Some(revision), None));
    }
    // Only the issuer of the record is read: the certificate in it is skipped, not decoded.
    let cert_key = format!("{CERT_PREFIX}{}", serial.key());
    Ok(
        match storage::load::<CertIssuer>(ctx.view, &cert_key).await? {
            Some((record, revision)) => {
                let status = if record.issuer_id == issuer.record.id {
                    Status::Good
                } else {
                    Status::Unknown
                };
                (status, None, Some(Some(revision)))
            }
            None => (Status::Unknown, None, Some(None)),
        },
    )
}

/// The part of a [`crate::storage::CertRecord`] an OCSP answer needs.
#[derive(serde::Deserialize)]
struct CertIssuer {
    issuer_id: String,
}
