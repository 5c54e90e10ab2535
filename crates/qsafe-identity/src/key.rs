//! Named signing keys (Vault's `identity/oidc/key/:name`): an algorithm (ML-DSA-65 by default,
//! RFC 9964), a current key that signs, a next key published ahead of its use, and retired keys
//! published until the tokens they signed have expired (`verification_ttl`), so that a verifier
//! holding a JWKS fetched at any moment of a rotation knows every key in use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use qsafe_core::fields::{field_duration, field_str, field_str_list};
use qsafe_core::record::{self, Decoded};
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::alg::AlgorithmId;
use qsafe_crypto::jose::{Jwk, alg_from_jws_name, jws_alg_name};
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{Rng, encoding};
use qsafe_store::{Expect, View};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

use crate::{FORMAT, now};

/// `oidc/keys/<name>`.
pub(crate) const KEY_PREFIX: &str = "oidc/keys/";
/// The key clients use unless they name another; made on first use, as Vault's.
pub(crate) const DEFAULT_KEY: &str = "default";
/// Vault's defaults: rotate daily, publish a retired key for a day.
const DEFAULT_ROTATION: u64 = 24 * 3600;
const DEFAULT_VERIFICATION_TTL: u64 = 24 * 3600;

/// One key pair: its `kid` (the RFC 7638 thumbprint of its public JWK) and private bytes.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeyVersion {
    pub(crate) kid: String,
    /// The seed (ML-DSA, Ed25519) or scalar (ECDSA), base64.
    private_key: String,
    pub(crate) created: i64,
    /// For a retired key: published until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) verify_until: Option<i64>,
}

impl Drop for KeyVersion {
    fn drop(&mut self) {
        self.private_key.zeroize();
    }
}

/// The stored key (docs/formats.md §14).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) version: u32,
    /// The JWS `alg` (`ML-DSA-65`, `ML-DSA-44`, `ML-DSA-87`, `ES256`, `EdDSA`).
    pub(crate) algorithm: String,
    pub(crate) rotation_period: u64,
    pub(crate) verification_ttl: u64,
    /// Client ids that may sign with it (`*`: all).
    pub(crate) allowed_client_ids: Vec<String>,
    pub(crate) next_rotation: i64,
    pub(crate) current: KeyVersion,
    pub(crate) next: KeyVersion,
    #[serde(default)]
    pub(crate) retired: Vec<KeyVersion>,
}

impl KeyRecord {
    fn generate(algorithm: AlgorithmId, rng: &Rng, at: i64) -> Result<KeyVersion> {
        let key = SigningKey::generate(algorithm, rng).map_err(crypto)?;
        let private = key.private_key_bytes().map_err(crypto)?;
        let kid = Jwk::from_signing_key(key).map_err(crypto)?.thumbprint();
        Ok(KeyVersion {
            kid,
            private_key: encoding::b64_encode(&private),
            created: at,
            verify_until: None,
        })
    }

    /// The algorithm.
    pub(crate) fn algorithm(&self) -> Result<AlgorithmId> {
        alg_from_jws_name(&self.algorithm).map_err(crypto)
    }

    /// Whether `client_id` may sign with this key.
    pub(crate) fn allows(&self, client_id: &str) -> bool {
        self.allowed_client_ids
            .iter()
            .any(|c| c == "*" || c == client_id)
    }

    /// Every key a verifier should know at `at`: next, current, and retired ones still valid.
    pub(crate) fn published(&self, at: i64) -> impl Iterator<Item = &KeyVersion> {
        [&self.current, &self.next].into_iter().chain(
            self.retired
                .iter()
                .filter(move |k| k.verify_until.is_some_and(|until| until > at)),
        )
    }

    /// Retires the current key (published for `verification_ttl` more), makes the next key
    /// current and a new next key.
    pub(crate) fn rotate(&mut self, rng: &Rng, at: i64) -> Result<()> {
        let fresh = Self::generate(self.algorithm()?, rng, at)?;
        let mut old =
            std::mem::replace(&mut self.current, std::mem::replace(&mut self.next, fresh));
        old.verify_until = Some(at.saturating_add(secs(self.verification_ttl)));
        self.retired
            .retain(|k| k.verify_until.is_some_and(|u| u > at));
        self.retired.push(old);
        self.next_rotation = at.saturating_add(secs(self.rotation_period));
        Ok(())
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

fn crypto(e: qsafe_crypto::Error) -> Error {
    Error::Internal(format!("identity key: {e}"))
}

/// Parsed key pairs by `kid`, so a token costs a signature, not a key expansion.
#[derive(Default)]
pub(crate) struct KeyCache {
    pub(crate) records: Decoded,
    parsed: RwLock<HashMap<String, Arc<Jwk>>>,
}

/// Most parsed key pairs kept; past it, the cache starts again empty.
const PARSED_MAX: usize = 1024;

impl KeyCache {
    /// The named key, if it exists.
    pub(crate) async fn load(&self, view: &View, name: &str) -> Result<Option<Arc<KeyRecord>>> {
        self.records
            .load::<KeyRecord>(view, &format!("{KEY_PREFIX}{name}"))
            .await
    }

    /// The key pair of `version` (a JWK holding the private key, `kid` set).
    pub(crate) fn pair(&self, record: &KeyRecord, version: &KeyVersion) -> Result<Arc<Jwk>> {
        if let Some(hit) = self
            .parsed
            .read()
            .ok()
            .and_then(|p| p.get(&version.kid).cloned())
        {
            return Ok(hit);
        }
        let bytes = Zeroizing::new(
            encoding::b64_decode("identity key", &version.private_key).map_err(crypto)?,
        );
        let key =
            SigningKey::from_private_key_bytes(record.algorithm()?, &bytes).map_err(crypto)?;
        let jwk = Jwk::from_signing_key(key).map_err(crypto)?;
        if jwk.thumbprint() != version.kid {
            return Err(Error::Internal(format!(
                "identity key {}: kid does not match the key",
                version.kid
            )));
        }
        let jwk = Arc::new(jwk.with_kid(version.kid.clone()));
        if let Ok(mut parsed) = self.parsed.write() {
            if parsed.len() >= PARSED_MAX {
                parsed.clear();
            }
            parsed.insert(version.kid.clone(), jwk.clone());
        }
        Ok(jwk)
    }
}

/// Parses the `algorithm` field: a JWS name of a signature algorithm qsafe issues tokens with.
fn parse_algorithm(name: &str) -> Result<AlgorithmId> {
    let alg = alg_from_jws_name(name).map_err(|_| {
        Error::InvalidInput(format!(
            "algorithm {name:?} is not supported (ML-DSA-65, ML-DSA-44, ML-DSA-87, ES256, EdDSA)"
        ))
    })?;
    Ok(alg)
}

/// `POST oidc/key/:name`: creates the key or updates its settings (a new algorithm takes effect
/// at the next rotation, as in Vault; here the next key is regenerated at once so the change is
/// published before it signs).
pub(crate) async fn write(
    engine: &crate::Identity,
    view: &View,
    name: &str,
    data: Option<&Value>,
) -> Result<Response> {
    crate::check_name(name)?;
    let path = format!("{KEY_PREFIX}{name}");
    let loaded = record::load::<KeyRecord>(view, &path).await?;
    let at = now();
    let algorithm = field_str(data, "algorithm")?
        .map(parse_algorithm)
        .transpose()?;
    let rotation = field_duration(data, "rotation_period")?;
    let verification = field_duration(data, "verification_ttl")?;
    let allowed = field_str_list(data, "allowed_client_ids")?;
    for (what, value) in [
        ("rotation_period", rotation),
        ("verification_ttl", verification),
    ] {
        if value == Some(0) {
            return Err(Error::InvalidInput(format!("{what} must be positive")));
        }
    }
    let (mut key, expect) = match loaded {
        Some((key, revision)) => (key, Expect::Revision(revision)),
        None => {
            let alg = algorithm.unwrap_or(AlgorithmId::MlDsa65);
            (new_record(alg, &engine.rng, at)?, Expect::Absent)
        }
    };
    if let Some(alg) = algorithm
        && alg != key.algorithm()?
    {
        key.algorithm = jws_alg_name(alg).map_err(crypto)?.to_owned();
        key.next = KeyRecord::generate(alg, &engine.rng, at)?;
    }
    if let Some(r) = rotation {
        key.rotation_period = r;
        key.next_rotation = at.saturating_add(secs(r));
    }
    if let Some(v) = verification {
        key.verification_ttl = v;
    }
    if let Some(a) = allowed {
        key.allowed_client_ids = a;
    }
    record::save(view, &path, &key, expect).await?;
    Ok(Response::empty())
}

fn new_record(alg: AlgorithmId, rng: &Rng, at: i64) -> Result<KeyRecord> {
    Ok(KeyRecord {
        version: FORMAT,
        algorithm: jws_alg_name(alg).map_err(crypto)?.to_owned(),
        rotation_period: DEFAULT_ROTATION,
        verification_ttl: DEFAULT_VERIFICATION_TTL,
        allowed_client_ids: vec!["*".into()],
        next_rotation: at.saturating_add(secs(DEFAULT_ROTATION)),
        current: KeyRecord::generate(alg, rng, at)?,
        next: KeyRecord::generate(alg, rng, at)?,
        retired: Vec::new(),
    })
}

/// The `default` key, made (ML-DSA-65, all clients) if it does not exist yet.
pub(crate) async fn ensure_default(engine: &crate::Identity, view: &View) -> Result<()> {
    let path = format!("{KEY_PREFIX}{DEFAULT_KEY}");
    if view.revision(&path).await?.is_some() {
        return Ok(());
    }
    let key = new_record(AlgorithmId::MlDsa65, &engine.rng, now())?;
    match record::save(view, &path, &key, Expect::Absent).await {
        // Made meanwhile by another request: that one is the default key.
        Ok(()) | Err(Error::Conflict(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `GET oidc/key/:name`: settings and published key ids; never private material.
pub(crate) async fn read(engine: &crate::Identity, view: &View, name: &str) -> Result<Response> {
    let key = engine
        .keys
        .load(view, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no key {name:?}")))?;
    Ok(Response::data(json!({
        "algorithm": key.algorithm,
        "rotation_period": key.rotation_period,
        "verification_ttl": key.verification_ttl,
        "allowed_client_ids": key.allowed_client_ids,
        "next_rotation": key.next_rotation,
        "current_kid": key.current.kid,
        "next_kid": key.next.kid,
        "published_kids": key.published(now()).map(|k| k.kid.clone()).collect::<Vec<_>>(),
    })))
}

/// `POST oidc/key/:name/rotate`: rotates now; `verification_ttl` may override how long the
/// retired key stays published.
pub(crate) async fn rotate(
    engine: &crate::Identity,
    view: &View,
    name: &str,
    data: Option<&Value>,
) -> Result<Response> {
    let path = format!("{KEY_PREFIX}{name}");
    let (mut key, revision) = record::load::<KeyRecord>(view, &path)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no key {name:?}")))?;
    if let Some(v) = field_duration(data, "verification_ttl")? {
        key.verification_ttl = v;
    }
    key.rotate(&engine.rng, now())?;
    record::save(view, &path, &key, Expect::Revision(revision)).await?;
    Ok(Response::empty())
}

/// Rotates every key whose time has come (the periodic upkeep); a key rotated meanwhile by
/// another replica is left alone.
pub(crate) async fn rotate_due(engine: &crate::Identity, view: &View) -> Result<()> {
    let at = now();
    for path in crate::all_keys(view, KEY_PREFIX).await? {
        let Some((mut key, revision)) = record::load::<KeyRecord>(view, &path).await? else {
            continue;
        };
        if key.next_rotation > at {
            continue;
        }
        key.rotate(&engine.rng, at)?;
        match record::save(view, &path, &key, Expect::Revision(revision)).await {
            Ok(()) | Err(Error::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The public JWK of a published key version.
pub(crate) fn public_jwk(
    engine: &crate::Identity,
    record: &KeyRecord,
    version: &KeyVersion,
) -> Result<Value> {
    Ok(engine.keys.pair(record, version)?.to_public_value())
}
