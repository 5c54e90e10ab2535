//! `issue/:role`, `sign/:role`, `sign-verbatim` (OpenBao `path_issue_sign.go`), also under
//! `issuer/:ref/`.

use qsafe_core::fields::required;
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::encoding::b64_encode;
use rcgen::IsCa;

use crate::issue::{self, load_role};
use crate::profile::{self, Sans};
use crate::serial::Serial;
use crate::signer::SubjectKey;
use crate::{Ctx, csr, issuer, keytype};

/// The issuer a request names: the path's `issuer/:ref`, else the role's `issuer_ref`.
fn issuer_ref<'a>(path_ref: &'a str, role_ref: &'a str) -> &'a str {
    if path_ref.is_empty() {
        role_ref
    } else {
        path_ref
    }
}

/// `issue/:role`: a key made here (seed-only PKCS#8, returned once, never stored) and its
/// certificate.
pub(crate) async fn issue(ctx: &Ctx<'_>, path_ref: &str, role_name: &str) -> Result<Response> {
    let role = load_role(ctx, role_name).await?;
    if !role.allow_server_keys {
        return Err(Error::InvalidInput(format!(
            "role {role_name:?} does not allow server-generated keys: send a CSR to sign/{role_name}"
        )));
    }
    let alg = role.generated_key()?;
    let issuer = ctx
        .engine
        .issuers
        .resolve(ctx.view, issuer_ref(path_ref, &role.issuer_ref))
        .await?;
    let (pkcs8, signer) = issuer::new_key(alg, &ctx.engine.rng)?;
    let key = SubjectKey::new(alg, signer.public_key_raw().to_vec())
        .ok_or_else(|| Error::Internal("generated key type".into()))?;
    let issued = issue::leaf(ctx, &role, &issuer, alg, key, None).await?;
    let key_text = match qsafe_core::fields::field_str(ctx.data, "format")? {
        Some("der") => zeroize::Zeroizing::new(b64_encode(&pkcs8)),
        _ => zeroize::Zeroizing::new(qsafe_crypto::encoding::pem_encode("PRIVATE KEY", &pkcs8)?),
    };
    let body = issue::response(ctx, &issued, &issuer, Some((&key_text, keytype::name(alg))))?;
    Ok(Response::data(body))
}

/// `sign/:role`: a certificate for the key of a verified CSR.
pub(crate) async fn sign(ctx: &Ctx<'_>, path_ref: &str, role_name: &str) -> Result<Response> {
    let role = load_role(ctx, role_name).await?;
    let csr = parse_csr(ctx).await?;
    let issuer = ctx
        .engine
        .issuers
        .resolve(ctx.view, issuer_ref(path_ref, &role.issuer_ref))
        .await?;
    let key = subject_key(&csr)?;
    let issued = issue::leaf(ctx, &role, &issuer, csr.key_alg, key, Some(&csr)).await?;
    Ok(Response::data(issue::response(
        ctx, &issued, &issuer, None,
    )?))
}

/// `sign-verbatim(/:role)`: the CSR's subject and SANs as they are, no name policy (needs
/// `sudo`, as in OpenBao); validity from the request or the role.
pub(crate) async fn sign_verbatim(
    ctx: &Ctx<'_>,
    issuer_ref: &str,
    role_name: Option<&str>,
) -> Result<Response> {
    let role = match role_name {
        Some(name) => load_role(ctx, name).await?,
        None => std::sync::Arc::new(crate::role::Role {
            key_type: "any".into(),
            key_bits: 0,
            ..crate::role::Role::default()
        }),
    };
    let csr = parse_csr(ctx).await?;
    role.allows_key(csr.key_alg)?;
    let issuer = ctx.engine.issuers.resolve(ctx.view, issuer_ref).await?;
    let now = profile::now();
    let ttl = qsafe_core::fields::field_duration(ctx.data, "ttl")?.unwrap_or(role.ttl);
    if role.max_ttl > 0 && ttl > role.max_ttl {
        return Err(Error::InvalidInput(format!(
            "ttl ({ttl}s) is longer than max_ttl ({}s)",
            role.max_ttl
        )));
    }
    let not_after = issue::bounded_by_issuer(&issuer, now.saturating_add(profile::seconds(ttl)))?;
    let serial = Serial::random(&ctx.engine.rng)?;
    let mut params = profile::base_params(&serial, now - 30, not_after, &*issue::urls(ctx).await?)?;
    params.distinguished_name = verbatim_subject(&csr)?;
    params.subject_alt_names = Sans {
        dns: csr.dns_names.clone(),
        email: csr.emails.clone(),
        ip: csr.ip_addresses.clone(),
        uri: csr.uris.clone(),
    }
    .to_rcgen()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let issued = issue::sign_and_record(ctx, &issuer, &params, &subject_key(&csr)?).await?;
    Ok(Response::data(issue::response(
        ctx, &issued, &issuer, None,
    )?))
}

/// The request's `csr` (PEM), parsed and its signature verified (off the async workers: an
/// ML-DSA verification is tens of microseconds).
pub(crate) async fn parse_csr(ctx: &Ctx<'_>) -> Result<csr::Csr> {
    let pem = required(ctx.data, "csr")?.to_owned();
    qsafe_core::cpu::run("CSR", move || csr::parse_pem(&pem))
        .await?
        .map_err(|e| Error::InvalidInput(format!("csr: {e}")))
}

/// The CSR's key for rcgen.
pub(crate) fn subject_key(csr: &csr::Csr) -> Result<SubjectKey> {
    csr.rcgen_public_key()
        .map_err(|e| Error::InvalidInput(format!("csr: {e}")))
}

/// The CSR's subject, attribute by attribute.
fn verbatim_subject(csr: &csr::Csr) -> Result<rcgen::DistinguishedName> {
    let name = <x509_cert::name::Name as der::Decode>::from_der(&csr.subject_der)
        .map_err(|_| Error::InvalidInput("the CSR subject does not decode".into()))?;
    let mut dn = rcgen::DistinguishedName::new();
    {
        for atv in name.iter() {
            let oid: Vec<u64> = atv.oid.arcs().map(u64::from).collect();
            let value = atv
                .value
                .decode_as::<der::asn1::Utf8StringRef<'_>>()
                .map(|s| s.as_str().to_owned())
                .or_else(|_| {
                    atv.value
                        .decode_as::<der::asn1::PrintableStringRef<'_>>()
                        .map(|s| s.as_str().to_owned())
                })
                .map_err(|_| {
                    Error::InvalidInput(
                        "CSR subject attributes must be UTF8String or PrintableString".into(),
                    )
                })?;
            dn.push(rcgen::DnType::CustomDnType(oid), value);
        }
    }
    Ok(dn)
}
