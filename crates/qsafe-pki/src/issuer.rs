//! Issuers (OpenBao's multi-issuer model): CA certificates with their chain and key, the
//! `default` reference, and their parsed forms cached by storage revision, so a change made by
//! another replica is seen on the next request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use qsafe_core::{Error, Result};
use qsafe_crypto::encoding::{b64_decode, b64_encode};
use qsafe_crypto::keys::PrivateKey;
use qsafe_store::{Revision, View};

use crate::cert::CertInfo;
use crate::signer::Signer;
use crate::storage::{
    self, ISSUER_PREFIX, ISSUERS_CONFIG, IssuerRecord, IssuersConfig, KEY_PREFIX, KeyRecord,
};

/// An issuer ready to sign.
pub struct LoadedIssuer {
    /// The stored record.
    pub record: IssuerRecord,
    /// Its certificate's facts.
    pub info: CertInfo,
    /// Its key, if the mount holds it.
    pub signer: Option<Signer>,
    /// rcgen's view of it (subject, key identifier method, key), if the mount holds the key.
    pub rcgen: Option<rcgen::Issuer<'static, Signer>>,
    /// What CRLs need of it (Name bytes, key identifier).
    pub crl: crate::crl::IssuerInfo,
    /// What OCSP needs of it (CertID hashes, responder id).
    pub ocsp: crate::ocsp::IssuerKeyHashes,
    /// Its certificate, then `ca_chain`, DER each (decoded once).
    chain: Vec<Vec<u8>>,
    /// The same, PEM each (every issuance answers with them).
    chain_pem: Vec<String>,
}

impl LoadedIssuer {
    /// The key, or why this issuer cannot sign `what`.
    pub fn signer_for(&self, usage: &str, what: &str) -> Result<&Signer> {
        if self.record.revoked {
            return Err(Error::InvalidInput(format!(
                "issuer {} is revoked and signs no {what}",
                self.record.id
            )));
        }
        if !self.record.usage.split(',').any(|u| u.trim() == usage) {
            return Err(Error::InvalidInput(format!(
                "issuer {} is not allowed {usage} (usage {:?})",
                self.record.id, self.record.usage
            )));
        }
        self.signer.as_ref().ok_or_else(|| {
            Error::InvalidInput(format!(
                "issuer {} has no private key in this mount and cannot sign {what}",
                self.record.id
            ))
        })
    }

    /// The chain from this issuer up: its certificate, then `ca_chain`, DER each.
    pub fn chain_der(&self) -> Result<Vec<Vec<u8>>> {
        Ok(self.chain.clone())
    }

    /// [`chain_der`](Self::chain_der) as PEM.
    pub fn chain_pem(&self) -> &[String] {
        &self.chain_pem
    }
}

/// How long the list of a mount's issuer ids is reused before it is listed again: an issuer
/// another replica adds is answered for (OCSP) within this time; this replica's own changes
/// clear it at once.
const LIST_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Parsed issuers by id, each with the revision it was parsed from, and the list of ids.
#[derive(Default)]
pub struct IssuerCache {
    loaded: RwLock<HashMap<String, (Revision, Arc<LoadedIssuer>)>>,
    ids: RwLock<Option<(std::time::Instant, Vec<String>)>>,
}

impl IssuerCache {
    /// The issuer `id`, or NotFound.
    pub async fn get(&self, view: &View, id: &str) -> Result<Arc<LoadedIssuer>> {
        let key = format!("{ISSUER_PREFIX}{id}");
        let missing = || Error::NotFound(format!("no issuer {id:?}"));
        // Decrypting and decoding the record (base64 certificates) costs more than the rest of
        // a request; only a changed revision is read.
        let current = view.revision(&key).await?.ok_or_else(missing)?;
        if let Some(loaded) = self.cached(id, current) {
            return Ok(loaded);
        }
        let value = view.get(&key).await?.ok_or_else(missing)?;
        let revision = value.revision;
        if let Some(loaded) = self.cached(id, revision) {
            return Ok(loaded);
        }
        let record: IssuerRecord = serde_json::from_slice(&value.value)
            .map_err(|e| Error::Internal(format!("record {key} does not decode: {e}")))?;
        let loaded = Arc::new(parse(view, record).await?);
        if let Ok(mut cache) = self.loaded.write() {
            cache.insert(id.to_owned(), (revision, loaded.clone()));
        }
        Ok(loaded)
    }

    /// The decoded issuer `id` if it is the one at `revision`.
    fn cached(&self, id: &str, revision: Revision) -> Option<Arc<LoadedIssuer>> {
        let cache = self.loaded.read().ok()?;
        let (rev, loaded) = cache.get(id)?;
        (*rev == revision).then(|| loaded.clone())
    }

    /// The issuer a reference names: `default`, an id, or a name.
    pub async fn resolve(&self, view: &View, reference: &str) -> Result<Arc<LoadedIssuer>> {
        let id = resolve_id(view, reference).await?;
        self.get(view, &id).await
    }

    /// Every issuer of the mount.
    pub async fn all(&self, view: &View) -> Result<Vec<Arc<LoadedIssuer>>> {
        let cached = self.ids.read().ok().and_then(|ids| {
            ids.as_ref()
                .filter(|(at, _)| at.elapsed() < LIST_TTL)
                .map(|(_, ids)| ids.clone())
        });
        let ids = match cached {
            Some(ids) => ids,
            None => {
                let ids: Vec<String> = storage::all_keys(view, ISSUER_PREFIX)
                    .await?
                    .into_iter()
                    .map(|key| key[ISSUER_PREFIX.len()..].to_owned())
                    .collect();
                if let Ok(mut slot) = self.ids.write() {
                    *slot = Some((std::time::Instant::now(), ids.clone()));
                }
                ids
            }
        };
        let mut all = Vec::new();
        for id in &ids {
            match self.get(view, id).await {
                Ok(issuer) => all.push(issuer),
                Err(Error::NotFound(_)) => {} // deleted meanwhile
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    /// Forgets `id` (deleted).
    pub fn forget(&self, id: &str) {
        if let Ok(mut cache) = self.loaded.write() {
            cache.remove(id);
        }
        self.forget_list();
    }

    /// Forgets the list of ids (an issuer was added or removed).
    pub fn forget_list(&self) {
        if let Ok(mut ids) = self.ids.write() {
            *ids = None;
        }
    }
}

async fn parse(view: &View, record: IssuerRecord) -> Result<LoadedIssuer> {
    let info = CertInfo::parse(&record.certificate)
        .map_err(|e| Error::Internal(format!("issuer {} certificate: {e}", record.id)))?;
    let signer = match &record.key_id {
        Some(key_id) => Some(load_key(view, key_id).await?.1),
        None => None,
    };
    let rcgen = match &signer {
        Some(signer) => Some(
            rcgen::Issuer::from_ca_cert_der(&record.certificate.as_slice().into(), signer.clone())
                .map_err(|e| Error::Internal(format!("issuer {}: {e}", record.id)))?,
        ),
        None => None,
    };
    let crl = crate::crl::IssuerInfo::new(&record.certificate)
        .map_err(|e| Error::Internal(format!("issuer {}: {e}", record.id)))?;
    let ocsp = crate::ocsp::IssuerKeyHashes::new(&record.certificate)
        .map_err(|e| Error::Internal(format!("issuer {}: {e}", record.id)))?;
    let mut chain = vec![record.certificate.clone()];
    for c in &record.ca_chain {
        chain.push(b64_decode("ca_chain", c).map_err(|e| Error::Internal(e.to_string()))?);
    }
    let chain_pem = chain
        .iter()
        .map(|c| crate::cert::to_pem(c))
        .collect::<Result<_>>()?;
    Ok(LoadedIssuer {
        record,
        info,
        signer,
        rcgen,
        crl,
        ocsp,
        chain,
        chain_pem,
    })
}

/// The key `key_id` as stored and as a signer.
pub async fn load_key(view: &View, key_id: &str) -> Result<(KeyRecord, Signer)> {
    let (record, _) = storage::load::<KeyRecord>(view, &format!("{KEY_PREFIX}{key_id}"))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no key {key_id:?}")))?;
    let der = zeroize::Zeroizing::new(
        b64_decode("key", &record.pkcs8).map_err(|e| Error::Internal(e.to_string()))?,
    );
    let signer = signer_from_pkcs8(&der)
        .map_err(|_| Error::Internal(format!("key {key_id} does not decode")))?;
    Ok((record, signer))
}

/// A signer from PKCS#8 DER (any of the key types X.509 issuance uses).
pub fn signer_from_pkcs8(der: &[u8]) -> Result<Signer> {
    match PrivateKey::from_pkcs8_der(der) {
        Ok(PrivateKey::Signing(key)) => Signer::new(Arc::new(key)).ok_or_else(|| {
            Error::InvalidInput("the key's type cannot sign X.509 certificates".into())
        }),
        Ok(_) => Err(Error::InvalidInput("the key is not a signature key".into())),
        Err(e) => Err(Error::InvalidInput(format!("private key: {e}"))),
    }
}

/// A new key of `alg`: its seed-only PKCS#8 DER and its signer.
pub fn new_key(
    alg: qsafe_crypto::AlgorithmId,
    rng: &qsafe_crypto::Rng,
) -> Result<(zeroize::Zeroizing<Vec<u8>>, Signer)> {
    let key = PrivateKey::generate(alg, rng)?;
    let pkcs8 = key.to_pkcs8_der()?;
    let PrivateKey::Signing(key) = key else {
        return Err(Error::Internal(
            "a signature algorithm made a KEM key".into(),
        ));
    };
    let signer = Signer::new(Arc::new(key))
        .ok_or_else(|| Error::InvalidInput(format!("{} cannot sign certificates", alg.name())))?;
    Ok((pkcs8, signer))
}

/// A key record holding `pkcs8`.
pub fn key_record(id: &str, name: &str, pkcs8: &[u8]) -> KeyRecord {
    KeyRecord {
        version: storage::FORMAT,
        id: id.to_owned(),
        name: name.to_owned(),
        pkcs8: b64_encode(pkcs8),
    }
}

/// The id `reference` names.
pub async fn resolve_id(view: &View, reference: &str) -> Result<String> {
    let reference = reference.trim();
    if reference.is_empty() || reference == "default" {
        let config = storage::load::<IssuersConfig>(view, ISSUERS_CONFIG).await?;
        return config.and_then(|(c, _)| c.default).ok_or_else(|| {
            Error::InvalidInput(
                "this mount has no default issuer: generate or import a CA first".into(),
            )
        });
    }
    if view
        .get(&format!("{ISSUER_PREFIX}{reference}"))
        .await?
        .is_some()
    {
        return Ok(reference.to_owned());
    }
    for key in storage::all_keys(view, ISSUER_PREFIX).await? {
        if let Some((record, _)) = storage::load::<IssuerRecord>(view, &key).await?
            && record.name == reference
        {
            return Ok(record.id);
        }
    }
    Err(Error::NotFound(format!("no issuer {reference:?}")))
}
