//! Issuance (OpenBao `builtin/logical/pki/cert_util.go`): a role's policy applied to a request,
//! the leaf certificate built and signed, recorded under `certs/`, and handed to the
//! certificate log before it is returned.

use std::sync::Arc;

use qsafe_core::fields::{field_bool, field_duration, field_str};
use qsafe_core::{Error, IssuedCertificate, Result};
use qsafe_crypto::AlgorithmId;
use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};
use serde_json::{Value, json};

use crate::cert::{self, CertInfo};
use crate::csr::Csr;
use crate::issuer::LoadedIssuer;
use crate::profile::{self, Sans, Subject};
use crate::role::Role;
use crate::serial::Serial;
use crate::signer::SubjectKey;
use crate::storage::{self, CERT_PREFIX, CertRecord, ROLE_PREFIX, URLS_CONFIG, UrlsConfig};
use crate::{Ctx, keytype, names};

/// A certificate just issued.
pub(crate) struct Issued {
    pub(crate) der: Vec<u8>,
    pub(crate) info: CertInfo,
}

/// The role `name`, or a clear 400.
pub(crate) async fn load_role(ctx: &Ctx<'_>, name: &str) -> Result<Arc<Role>> {
    ctx.engine
        .records
        .load::<Role>(ctx.view, &format!("{ROLE_PREFIX}{name}"))
        .await?
        .ok_or_else(|| Error::InvalidInput(format!("unknown role {name:?}")))
}

/// The mount's URLs configuration (empty if never written).
pub(crate) async fn urls(ctx: &Ctx<'_>) -> Result<Arc<UrlsConfig>> {
    Ok(ctx
        .engine
        .records
        .load::<UrlsConfig>(ctx.view, URLS_CONFIG)
        .await?
        .unwrap_or_default())
}

/// Issues a leaf for `key` under `role` from `issuer`; `csr` supplies names when the role lets
/// it.
pub(crate) async fn leaf(
    ctx: &Ctx<'_>,
    role: &Role,
    issuer: &Arc<LoadedIssuer>,
    key_alg: AlgorithmId,
    key: SubjectKey,
    csr: Option<&Csr>,
) -> Result<Issued> {
    role.allows_key(key_alg)?;
    let data = ctx.data;
    let mut subject = Subject::from_fields(data)?;
    subject.ou = role.ou.clone();
    subject.organization = role.organization.clone();
    subject.country = role.country.clone();
    subject.locality = role.locality.clone();
    subject.province = role.province.clone();
    if subject.common_name.is_none() && role.use_csr_common_name {
        subject.common_name = csr.and_then(|c| c.common_name.clone());
    }
    let mut sans = Sans::from_fields(data)?;
    if sans.is_empty()
        && role.use_csr_sans
        && let Some(csr) = csr
    {
        sans = Sans {
            dns: csr
                .dns_names
                .iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            email: csr.emails.clone(),
            ip: csr.ip_addresses.clone(),
            uri: csr.uris.clone(),
        };
    }
    check_names(role, &mut subject, &mut sans, data)?;
    let (not_before, not_after) = validity(role, issuer, data)?;
    let serial = Serial::random(&ctx.engine.rng)?;
    let mut params = profile::base_params(&serial, not_before, not_after, &*urls(ctx).await?)?;
    params.distinguished_name = subject.to_dn()?;
    params.subject_alt_names = sans.to_rcgen()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = key_usages(role, key_alg);
    params.extended_key_usages = ext_key_usages(role)?;
    sign_and_record(ctx, issuer, &params, &key).await
}

/// Applies the role's name rules; adds the CN to the SANs unless `exclude_cn_from_sans`.
fn check_names(
    role: &Role,
    subject: &mut Subject,
    sans: &mut Sans,
    data: Option<&Value>,
) -> Result<()> {
    let policy = role.name_policy();
    // The name errors quote the name and the role flag involved.
    let refuse = |what: &str, e: names::NameError| Error::InvalidInput(format!("{what}: {e}"));
    match &subject.common_name {
        None if role.require_cn => {
            return Err(Error::InvalidInput(
                "the common_name field is required, or must be provided in a CSR with \"use_csr_common_name\" set to true, unless \"require_cn\" is set to false".into(),
            ));
        }
        None => {}
        Some(cn) => {
            let validations = &role.cn_validations;
            let checked = if validations.iter().any(|v| v == "disabled") {
                Ok(())
            } else if cn.contains('@') && validations.iter().any(|v| v == "email") {
                names::check_email(&policy, cn)
            } else if validations.iter().any(|v| v == "hostname") {
                names::check_dns_name(&policy, cn)
            } else {
                Err(names::NameError::NotAllowed(cn.clone()))
            };
            checked.map_err(|e| refuse("common name", e))?;
            if !field_bool(data, "exclude_cn_from_sans")?.unwrap_or(false) {
                if cn.contains('@') {
                    if !sans.email.contains(cn) {
                        sans.email.push(cn.clone());
                    }
                } else if !validations.iter().any(|v| v == "disabled") {
                    let lower = cn.to_ascii_lowercase();
                    if !sans.dns.contains(&lower) {
                        sans.dns.insert(0, lower);
                    }
                }
            }
        }
    }
    for d in &sans.dns {
        names::check_dns_name(&policy, d).map_err(|e| refuse("DNS SAN", e))?;
    }
    for e in &sans.email {
        names::check_email(&policy, e).map_err(|err| refuse("email SAN", err))?;
    }
    for ip in &sans.ip {
        names::check_ip(&policy, ip).map_err(|e| refuse("IP SAN", e))?;
    }
    for u in &sans.uri {
        names::check_uri(&policy, u).map_err(|e| refuse("URI SAN", e))?;
    }
    Ok(())
}

/// notBefore (backdated by the role) and notAfter (the request's `ttl` or `not_after`, or the
/// role's `ttl`; never beyond `max_ttl`; against the issuer's own notAfter per its
/// `leaf_not_after_behavior`).
fn validity(role: &Role, issuer: &LoadedIssuer, data: Option<&Value>) -> Result<(i64, i64)> {
    let now = profile::now();
    let not_after = match (field_duration(data, "ttl")?, field_str(data, "not_after")?) {
        (Some(_), Some(_)) => {
            return Err(Error::InvalidInput(
                "give either ttl or not_after, not both".into(),
            ));
        }
        (_, Some(at)) => profile::parse_not_after(at)?,
        (Some(0) | None, None) => now.saturating_add(profile::seconds(role.ttl)),
        (Some(ttl), None) => now.saturating_add(profile::seconds(ttl)),
    };
    if not_after <= now {
        return Err(Error::InvalidInput(
            "the requested validity ends in the past".into(),
        ));
    }
    if role.max_ttl > 0 && not_after - now > profile::seconds(role.max_ttl) {
        return Err(Error::InvalidInput(format!(
            "the requested validity ({}s) is longer than the role's max_ttl ({}s)",
            not_after - now,
            role.max_ttl
        )));
    }
    let not_after = bounded_by_issuer(issuer, not_after)?;
    let backdate = profile::seconds(role.not_before_duration);
    Ok((now - backdate, not_after))
}

/// `not_after` checked against the issuer's validity per `leaf_not_after_behavior`.
pub(crate) fn bounded_by_issuer(issuer: &LoadedIssuer, not_after: i64) -> Result<i64> {
    if not_after <= issuer.info.not_after {
        return Ok(not_after);
    }
    match issuer.record.leaf_not_after_behavior.as_str() {
        "truncate" => Ok(issuer.info.not_after),
        "permit" => Ok(not_after),
        _ => Err(Error::InvalidInput(format!(
            "cannot satisfy request, as the validity would end at {} after the issuer's own ({}); \
             ask for a shorter ttl or set the issuer's leaf_not_after_behavior",
            profile::rfc3339(not_after),
            profile::rfc3339(issuer.info.not_after)
        ))),
    }
}

fn key_usages(role: &Role, key_alg: AlgorithmId) -> Vec<KeyUsagePurpose> {
    let signature_only = keytype::signature_only(key_alg);
    role.key_usage
        .iter()
        .filter_map(|u| {
            Some(match u.as_str() {
                "DigitalSignature" => KeyUsagePurpose::DigitalSignature,
                "ContentCommitment" => KeyUsagePurpose::ContentCommitment,
                "CertSign" => KeyUsagePurpose::KeyCertSign,
                "CRLSign" => KeyUsagePurpose::CrlSign,
                // Signature-only keys (ML-DSA, Ed25519) cannot encipher or agree keys (RFC 9881
                // §5): these usages are dropped for them rather than issued wrong.
                _ if signature_only => return None,
                "KeyEncipherment" => KeyUsagePurpose::KeyEncipherment,
                "DataEncipherment" => KeyUsagePurpose::DataEncipherment,
                "KeyAgreement" => KeyUsagePurpose::KeyAgreement,
                "EncipherOnly" => KeyUsagePurpose::EncipherOnly,
                "DecipherOnly" => KeyUsagePurpose::DecipherOnly,
                _ => return None,
            })
        })
        .collect()
}

fn ext_key_usages(role: &Role) -> Result<Vec<ExtendedKeyUsagePurpose>> {
    let mut out = Vec::new();
    let mut add = |p: ExtendedKeyUsagePurpose| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for (flag, purpose) in [
        (role.server_flag, ExtendedKeyUsagePurpose::ServerAuth),
        (role.client_flag, ExtendedKeyUsagePurpose::ClientAuth),
        (role.code_signing_flag, ExtendedKeyUsagePurpose::CodeSigning),
        (
            role.email_protection_flag,
            ExtendedKeyUsagePurpose::EmailProtection,
        ),
    ] {
        if flag {
            add(purpose);
        }
    }
    for name in &role.ext_key_usage {
        add(match name.as_str() {
            "ServerAuth" => ExtendedKeyUsagePurpose::ServerAuth,
            "ClientAuth" => ExtendedKeyUsagePurpose::ClientAuth,
            "CodeSigning" => ExtendedKeyUsagePurpose::CodeSigning,
            "EmailProtection" => ExtendedKeyUsagePurpose::EmailProtection,
            "TimeStamping" => ExtendedKeyUsagePurpose::TimeStamping,
            _ => ExtendedKeyUsagePurpose::OcspSigning,
        });
    }
    for oid in &role.ext_key_usage_oids {
        let oid: const_oid::ObjectIdentifier = oid
            .parse()
            .map_err(|_| Error::InvalidInput(format!("{oid:?} is not an OID")))?;
        let arcs = oid.arcs().map(u64::from).collect();
        add(ExtendedKeyUsagePurpose::Other(arcs));
    }
    Ok(out)
}

/// Signs `params` for `key` with `issuer`, records the certificate under `certs/`, and hands it
/// to the certificate log.
pub(crate) async fn sign_and_record(
    ctx: &Ctx<'_>,
    issuer: &Arc<LoadedIssuer>,
    params: &CertificateParams,
    key: &SubjectKey,
) -> Result<Issued> {
    issuer.signer_for("issuing-certificates", "certificates")?;
    if issuer.rcgen.is_none() {
        return Err(Error::InvalidInput(
            "this issuer has no key in the mount".into(),
        ));
    }
    // Signing takes a few hundred microseconds: on a core of its own, so the async workers
    // stay free to finish other requests and their commits (DESIGN.md §5).
    let (signing, params, key) = (issuer.clone(), params.clone(), key.clone());
    let der = qsafe_core::cpu::run("signing", move || {
        let rcgen_issuer = signing
            .rcgen
            .as_ref()
            .ok_or_else(|| Error::Internal("issuer key vanished".into()))?;
        let certificate = params
            .signed_by(&key, rcgen_issuer)
            .map_err(|e| Error::InvalidInput(format!("cannot build the certificate: {e}")))?;
        Ok::<_, Error>(certificate.der().to_vec())
    })
    .await??;
    let info = CertInfo::parse(&der)?;
    record(ctx, issuer, der, info).await
}

/// Records an issued certificate and hands it to the certificate log.
pub(crate) async fn record(
    ctx: &Ctx<'_>,
    issuer: &LoadedIssuer,
    der: Vec<u8>,
    info: CertInfo,
) -> Result<Issued> {
    let record = CertRecord {
        version: storage::FORMAT,
        issuer_id: issuer.record.id.clone(),
        certificate: der.clone(),
        not_after: info.not_after,
        requester: ctx.requester().map(|r| r.display_name.clone()),
    };
    // Acknowledged only once durable; concurrent issuances share the commit.
    let write = qsafe_store::Write::put(
        format!("{CERT_PREFIX}{}", info.serial.key()),
        storage::encode(&record)?,
    )
    .expecting(qsafe_store::Expect::Absent);
    ctx.engine
        .certs
        .transact(ctx.view, vec![write])
        .await
        .map_err(storage::conflict)?;
    ctx.engine
        .log
        .record(&IssuedCertificate {
            mount: ctx.view.prefix().to_owned(),
            issuer_id: issuer.record.id.clone(),
            serial: info.serial.colon_hex(),
            subject: info.subject.clone(),
            sans: info.sans.clone(),
            not_before: info.not_before,
            not_after: info.not_after,
            sha256: hex::encode(qsafe_crypto::hash::sha256(&der)),
            key_fingerprint: info.key_fingerprint(),
            requester: ctx.requester().cloned(),
            der: der.clone(),
        })
        .await?;
    Ok(Issued { der, info })
}

/// The response fields of an issued certificate, in the request's `format` (`pem`, `der`
/// (base64) or `pem_bundle`), with `private_key` when the server made the key.
pub(crate) fn response(
    ctx: &Ctx<'_>,
    issued: &Issued,
    issuer: &Arc<LoadedIssuer>,
    private_key: Option<(&str, &str)>,
) -> Result<Value> {
    let format = field_str(ctx.data, "format")?.unwrap_or("pem");
    let encode = |der: &[u8]| -> Result<String> {
        match format {
            "der" => Ok(qsafe_crypto::encoding::public::b64_encode(der)),
            _ => cert::to_pem(der),
        }
    };
    if !matches!(format, "pem" | "der" | "pem_bundle") {
        return Err(Error::InvalidInput(format!(
            "format {format:?} is not pem, der or pem_bundle"
        )));
    }
    let mut certificate = encode(&issued.der)?;
    let ca_chain: Vec<String> = match format {
        "der" => issuer
            .chain_der()?
            .iter()
            .map(|c| qsafe_crypto::encoding::public::b64_encode(c))
            .collect(),
        _ => issuer.chain_pem().to_vec(),
    };
    if format == "pem_bundle" {
        if let Some((key_pem, _)) = private_key {
            certificate = format!("{}\n{}", certificate.trim_end(), key_pem.trim_end());
        }
        for c in &ca_chain {
            certificate = format!("{}\n{}", certificate.trim_end(), c.trim_end());
        }
    }
    let mut out = json!({
        "certificate": certificate,
        "issuing_ca": ca_chain.first().cloned().unwrap_or_default(),
        "ca_chain": ca_chain,
        "serial_number": issued.info.serial.colon_hex(),
        "expiration": issued.info.not_after,
        "issuer_id": issuer.record.id,
    });
    if let (Some((key_pem, key_type)), Some(map)) = (private_key, out.as_object_mut()) {
        map.insert("private_key".into(), key_pem.into());
        map.insert("private_key_type".into(), key_type.into());
    }
    Ok(out)
}
