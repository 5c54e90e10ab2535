//! Root CAs (OpenBao `path_root.go`): `root/generate/:type`, `root/rotate/:type`, `root`
//! (DELETE), and `root/sign-intermediate`.

use qsafe_core::fields::{field_bool, field_duration, field_str, field_str_list};
use qsafe_core::{Error, Response, Result};
use qsafe_store::Write;
use rcgen::{BasicConstraints, IsCa, KeyUsagePurpose};
use serde_json::{Value, json};

use crate::issue::{self, bounded_by_issuer};
use crate::path_issue::{parse_csr, subject_key};
use crate::path_issuers::{NewIssuer, store_new_issuer};
use crate::profile::{self, Sans, Subject};
use crate::serial::Serial;
use crate::storage::{self, CRL_PREFIX, ISSUER_PREFIX, ISSUERS_CONFIG, KEY_PREFIX};
use crate::{Ctx, cert, issuer, keytype};

/// A root's default validity: ten years.
const DEFAULT_ROOT_TTL: u64 = 10 * 365 * 24 * 3600;

/// `internal` keeps the key; `exported` also returns it, once.
pub(crate) fn key_export(kind: &str) -> Result<bool> {
    match kind {
        "internal" => Ok(false),
        "exported" => Ok(true),
        other => Err(Error::InvalidInput(format!(
            "unsupported type {other:?}: use internal or exported"
        ))),
    }
}

/// The CA profile of a request: subject, SANs, basic constraints, name constraints.
pub(crate) fn ca_params(
    data: Option<&Value>,
    serial: &Serial,
    not_before: i64,
    not_after: i64,
    urls: &storage::UrlsConfig,
) -> Result<rcgen::CertificateParams> {
    let subject = Subject::from_fields(data)?;
    if subject.common_name.is_none() {
        return Err(Error::InvalidInput("missing \"common_name\"".into()));
    }
    let mut params = profile::base_params(serial, not_before, not_after, urls)?;
    params.distinguished_name = subject.to_dn()?;
    params.subject_alt_names = Sans::from_fields(data)?.to_rcgen()?;
    let max_path = match data.and_then(|d| d.get("max_path_length")) {
        None | Some(Value::Null) => -1,
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| Error::InvalidInput("\"max_path_length\" must be an integer".into()))?,
    };
    params.is_ca = IsCa::Ca(match u8::try_from(max_path) {
        Ok(n) => BasicConstraints::Constrained(n),
        Err(_) if max_path < 0 => BasicConstraints::Unconstrained,
        Err(_) => return Err(Error::InvalidInput("max_path_length is too large".into())),
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    if let Some(domains) = field_str_list(data, "permitted_dns_domains")?
        && !domains.is_empty()
    {
        let subtrees = domains
            .into_iter()
            .map(rcgen::GeneralSubtree::DnsName)
            .collect();
        params.name_constraints = Some(rcgen::NameConstraints {
            permitted_subtrees: subtrees,
            excluded_subtrees: Vec::new(),
        });
    }
    Ok(params)
}

/// The validity a CA request asks for: `ttl` (default ten years) or `not_after`.
pub(crate) fn ca_validity(data: Option<&Value>) -> Result<(i64, i64)> {
    let now = profile::now();
    let not_after = match field_str(data, "not_after")? {
        Some(at) => profile::parse_not_after(at)?,
        None => {
            let ttl = field_duration(data, "ttl")?.unwrap_or(DEFAULT_ROOT_TTL);
            now.saturating_add(profile::seconds(ttl))
        }
    };
    if not_after <= now {
        return Err(Error::InvalidInput("the validity ends in the past".into()));
    }
    Ok((now - 30, not_after))
}

/// `root/generate/:type`: a new self-signed root and its key; another issuer of the mount if it
/// has some (the default only if there was none, or `default_follows_latest_issuer`).
pub(crate) async fn generate(ctx: &Ctx<'_>, kind: &str) -> Result<Response> {
    generate_root(ctx, kind, true).await
}

async fn generate_root(ctx: &Ctx<'_>, kind: &str, may_become_default: bool) -> Result<Response> {
    let export = key_export(kind)?;
    let alg = keytype::from_fields(ctx.data)?;
    let (not_before, not_after) = ca_validity(ctx.data)?;
    let serial = Serial::random(&ctx.engine.rng)?;
    let params = ca_params(
        ctx.data,
        &serial,
        not_before,
        not_after,
        &Default::default(),
    )?;
    let (pkcs8, signer) = issuer::new_key(alg, &ctx.engine.rng)?;
    let certificate = params
        .self_signed(&signer)
        .map_err(|e| Error::InvalidInput(format!("cannot build the root: {e}")))?;
    let der = certificate.der().to_vec();
    let stored = store_new_issuer(
        ctx,
        NewIssuer {
            certificate: der.clone(),
            chain: Vec::new(),
            key: Some(pkcs8.as_slice()),
            existing_key: None,
            issuer_name: field_str(ctx.data, "issuer_name")?.unwrap_or(""),
            key_name: field_str(ctx.data, "key_name")?.unwrap_or(""),
            may_become_default,
        },
    )
    .await?;
    let pem = cert::to_pem(&der)?;
    let mut body = json!({
        "certificate": pem,
        "issuing_ca": pem,
        "serial_number": serial.colon_hex(),
        "expiration": not_after,
        "issuer_id": stored.issuer_id,
        "issuer_name": stored.issuer_name,
        "key_id": stored.key_id,
        "key_name": stored.key_name,
    });
    if export && let Some(map) = body.as_object_mut() {
        let key_pem = qsafe_crypto::encoding::pem_encode("PRIVATE KEY", &pkcs8)?;
        map.insert("private_key".into(), key_pem.into());
        map.insert("private_key_type".into(), keytype::name(alg).into());
    }
    Ok(Response::data(body))
}

/// `root/rotate/:type`: as `root/generate`, but the new root never becomes the default here
/// (rotation with overlap: clients trust both, then `root/replace` switches).
pub(crate) async fn rotate(ctx: &Ctx<'_>, kind: &str) -> Result<Response> {
    generate_root(ctx, kind, false).await
}

/// `DELETE root`: every issuer and key of the mount, and their CRLs. Issued certificates and
/// revocations stay (as in OpenBao).
pub(crate) async fn delete_all(ctx: &Ctx<'_>) -> Result<Response> {
    let mut writes = vec![Write::delete(ISSUERS_CONFIG)];
    for prefix in [ISSUER_PREFIX, KEY_PREFIX, CRL_PREFIX] {
        for key in storage::all_keys(ctx.view, prefix).await? {
            if prefix == ISSUER_PREFIX {
                ctx.engine.issuers.forget(&key[ISSUER_PREFIX.len()..]);
            }
            writes.push(Write::delete(key));
        }
    }
    ctx.view.transact(&writes).await?;
    Ok(Response::empty())
}

/// `root/sign-intermediate`: a CA certificate for a CSR's key, signed by `issuer_ref`.
pub(crate) async fn sign_intermediate(ctx: &Ctx<'_>, issuer_ref: &str) -> Result<Response> {
    let issuer = ctx.engine.issuers.resolve(ctx.view, issuer_ref).await?;
    let csr = parse_csr(ctx).await?;
    let mut data = ctx.data.cloned().unwrap_or_else(|| json!({}));
    let use_csr_values = field_bool(ctx.data, "use_csr_values")?.unwrap_or(false);
    if let Some(map) = data.as_object_mut()
        && (use_csr_values || !map.contains_key("common_name"))
        && let Some(cn) = &csr.common_name
    {
        map.insert("common_name".into(), cn.clone().into());
    }
    let (not_before, not_after) = ca_validity(Some(&data))?;
    let not_after = bounded_by_issuer(&issuer, not_after)?;
    let serial = Serial::random(&ctx.engine.rng)?;
    let urls = issue::urls(ctx).await?;
    let params = ca_params(Some(&data), &serial, not_before, not_after, &urls)?;
    let issued = issue::sign_and_record(ctx, &issuer, &params, &subject_key(&csr)?).await?;
    let mut chain = vec![cert::to_pem(&issued.der)?];
    for c in issuer.chain_der()? {
        chain.push(cert::to_pem(&c)?);
    }
    Ok(Response::data(json!({
        "certificate": chain[0],
        "issuing_ca": chain.get(1).cloned().unwrap_or_default(),
        "ca_chain": chain,
        "serial_number": issued.info.serial.colon_hex(),
        "expiration": issued.info.not_after,
    })))
}
