//! Intermediate CAs and imports (OpenBao `path_intermediate.go`, `path_manage_issuers.go`):
//! `intermediate/generate/:type` (a key and its CSR), `intermediate/set-signed` (the signed
//! certificate back), and `issuers/import/bundle` / `config/ca` (certificates and keys in).

use qsafe_core::fields::{field_str, required};
use qsafe_core::{Error, Response, Result};
use qsafe_store::Write;
use serde_json::json;

use crate::cert::{self, CertInfo};
use crate::issuer::{key_record, load_key, new_key, signer_from_pkcs8};
use crate::path_issuers::{NewIssuer, new_id, store_new_issuer};
use crate::path_root::key_export;
use crate::profile::{Sans, Subject};
use crate::storage::{self, KEY_PREFIX};
use crate::{Ctx, keytype};

/// `intermediate/generate/:type`: a new key (stored) and a CSR for it to take to a parent CA.
pub(crate) async fn generate(ctx: &Ctx<'_>, kind: &str) -> Result<Response> {
    let export = key_export(kind)?;
    let alg = keytype::from_fields(ctx.data)?;
    let subject = Subject::from_fields(ctx.data)?;
    if subject.common_name.is_none() {
        return Err(Error::InvalidInput("missing \"common_name\"".into()));
    }
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = subject.to_dn()?;
    params.subject_alt_names = Sans::from_fields(ctx.data)?.to_rcgen()?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let (pkcs8, signer) = new_key(alg, &ctx.engine.rng)?;
    let csr = params
        .serialize_request(&signer)
        .map_err(|e| Error::Internal(format!("CSR: {e}")))?;
    let csr_pem = qsafe_crypto::encoding::pem_encode("CERTIFICATE REQUEST", csr.der())?;
    let key_id = new_id(ctx)?;
    let key_name = field_str(ctx.data, "key_name")?.unwrap_or("");
    let record = key_record(&key_id, key_name, &pkcs8);
    ctx.view
        .transact(&[
            Write::put(format!("{KEY_PREFIX}{key_id}"), storage::encode(&record)?)
                .expecting(qsafe_store::Expect::Absent),
        ])
        .await?;
    let mut body = json!({"csr": csr_pem, "key_id": key_id, "key_name": key_name});
    if export && let Some(map) = body.as_object_mut() {
        let key_pem = qsafe_crypto::encoding::pem_encode("PRIVATE KEY", &pkcs8)?;
        map.insert("private_key".into(), key_pem.into());
        map.insert("private_key_type".into(), keytype::name(alg).into());
    }
    Ok(Response::data(body))
}

/// `intermediate/set-signed`: `certificate` holds the signed CA certificate, then optionally
/// its chain; the key is one this mount generated.
pub(crate) async fn set_signed(ctx: &Ctx<'_>) -> Result<Response> {
    let bundle = cert::pem_certificates(required(ctx.data, "certificate")?)?;
    let (leaf, chain) = bundle
        .split_first()
        .ok_or_else(|| Error::InvalidInput("\"certificate\" holds no PEM certificate".into()))?;
    let info = CertInfo::parse(leaf)?;
    if !info.is_ca {
        return Err(Error::InvalidInput(
            "the certificate is not a CA (basicConstraints cA is not set)".into(),
        ));
    }
    let key_id = find_key(ctx, &info).await?.ok_or_else(|| {
        Error::InvalidInput("no key of this mount matches the certificate's public key".into())
    })?;
    let stored = store_with_key(ctx, leaf.clone(), chain.to_vec(), key_id).await?;
    Ok(Response::data(json!({
        "imported_issuers": [stored],
        "imported_keys": [],
        "mapping": {stored.clone(): key_id_of(ctx, &stored).await?},
    })))
}

async fn key_id_of(ctx: &Ctx<'_>, issuer_id: &str) -> Result<String> {
    let issuer = ctx.engine.issuers.get(ctx.view, issuer_id).await?;
    Ok(issuer.record.key_id.clone().unwrap_or_default())
}

/// The stored key whose public key is the certificate's.
async fn find_key(ctx: &Ctx<'_>, info: &CertInfo) -> Result<Option<String>> {
    for key in storage::all_keys(ctx.view, KEY_PREFIX).await? {
        let id = &key[KEY_PREFIX.len()..];
        let (_, signer) = load_key(ctx.view, id).await?;
        let spki =
            qsafe_crypto::keys::PublicKey::from_raw(signer.algorithm(), signer.public_key_raw())?
                .to_spki_der()?;
        if spki == info.spki_der {
            return Ok(Some(id.to_owned()));
        }
    }
    Ok(None)
}

async fn store_with_key(
    ctx: &Ctx<'_>,
    certificate: Vec<u8>,
    chain: Vec<Vec<u8>>,
    key_id: String,
) -> Result<String> {
    let stored = store_new_issuer(
        ctx,
        NewIssuer {
            certificate,
            chain,
            key: None,
            existing_key: Some(key_id),
            issuer_name: field_str(ctx.data, "issuer_name")?.unwrap_or(""),
            key_name: "",
            may_become_default: true,
        },
    )
    .await?;
    Ok(stored.issuer_id)
}

/// `issuers/import/bundle` (and `config/ca`): `pem_bundle` with CA certificates and optionally
/// a private key (PKCS#8). The first certificate is imported as an issuer with the rest as its
/// chain; a key that matches it is stored with it.
pub(crate) async fn import(ctx: &Ctx<'_>) -> Result<Response> {
    let text = required(ctx.data, "pem_bundle")?;
    let blocks = cert::pem_blocks(text)?;
    let certs: Vec<Vec<u8>> = blocks
        .iter()
        .filter(|(l, _)| l == cert::CERT_LABEL)
        .map(|(_, d)| d.to_vec())
        .collect();
    let key = blocks
        .iter()
        .find(|(l, _)| l == "PRIVATE KEY")
        .map(|(_, d)| d);
    let (leaf, chain) = certs
        .split_first()
        .ok_or_else(|| Error::InvalidInput("pem_bundle holds no certificate".into()))?;
    let info = CertInfo::parse(leaf)?;
    if !info.is_ca {
        return Err(Error::InvalidInput(
            "the first certificate is not a CA".into(),
        ));
    }
    if let Some(der) = key {
        let signer = signer_from_pkcs8(der)?;
        let spki =
            qsafe_crypto::keys::PublicKey::from_raw(signer.algorithm(), signer.public_key_raw())?
                .to_spki_der()?;
        if spki != info.spki_der {
            return Err(Error::InvalidInput(
                "the private key does not match the first certificate".into(),
            ));
        }
    }
    let existing_key = match key {
        Some(_) => None,
        None => find_key(ctx, &info).await?,
    };
    let stored = store_new_issuer(
        ctx,
        NewIssuer {
            certificate: leaf.clone(),
            chain: chain.to_vec(),
            key: key.map(|k| k.as_slice()),
            existing_key,
            issuer_name: field_str(ctx.data, "issuer_name")?.unwrap_or(""),
            key_name: field_str(ctx.data, "key_name")?.unwrap_or(""),
            may_become_default: true,
        },
    )
    .await?;
    let issuer_id = stored.issuer_id;
    let imported_keys: Vec<String> = key.and(stored.key_id).into_iter().collect();
    Ok(Response::data(json!({
        "imported_issuers": [issuer_id],
        "imported_keys": imported_keys,
    })))
}
