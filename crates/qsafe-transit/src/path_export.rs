//! `export/:type/:name[/:version]` (Vault transit "Export key"; OpenBao `path_export.go`).
//! Private material only for keys created or configured `exportable`. Encodings (docs/transit.md):
//! PKCS#8 PEM (seed-only where the algorithm has one) for asymmetric private keys, SPKI PEM for
//! public keys, standard base64 for AES and HMAC keys.

use qsafe_core::{Error, Response, Result};
use qsafe_crypto::encoding::b64_encode;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::Ctx;
use crate::policy::{KeyVersion, Keyring, crypto};

/// What an export asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Encryption,
    Signing,
    Hmac,
    Public,
}

fn kind(name: &str) -> Result<Kind> {
    match name {
        "encryption-key" => Ok(Kind::Encryption),
        "signing-key" => Ok(Kind::Signing),
        "hmac-key" => Ok(Kind::Hmac),
        "public-key" => Ok(Kind::Public),
        other => Err(Error::InvalidInput(format!(
            "unknown export type {other:?}; use encryption-key, signing-key, hmac-key or public-key"
        ))),
    }
}

fn check(keyring: &Keyring, kind: Kind) -> Result<()> {
    let t = keyring.key_type();
    let fits = match kind {
        Kind::Encryption => t.supports_encryption(),
        Kind::Signing => t.supports_signing(),
        Kind::Hmac => true,
        Kind::Public => t.algorithm().is_some(),
    };
    if !fits {
        return Err(Error::InvalidInput(format!(
            "a {} key has no key of this export type",
            t.name()
        )));
    }
    if kind != Kind::Public && !keyring.config.exportable {
        return Err(Error::InvalidInput(format!(
            "key {:?} is not exportable; only its public key can be exported",
            keyring.config.name
        )));
    }
    Ok(())
}

fn encode(version: &KeyVersion, kind: Kind) -> Result<Zeroizing<String>> {
    let text = match kind {
        Kind::Hmac => b64_encode(version.hmac_key()),
        Kind::Public => version
            .public_key()
            .ok_or_else(|| Error::Internal("no public key".into()))?
            .to_pem()
            .map_err(crypto)?,
        Kind::Encryption | Kind::Signing => {
            match (version.private_key(), version.symmetric_key()) {
                (Some(private), _) => return private.to_pem().map_err(crypto),
                (None, Some(key)) => b64_encode(key),
                (None, None) => return Err(Error::Internal("no private key".into())),
            }
        }
    };
    Ok(Zeroizing::new(text))
}

/// GET `export/:type/:name[/:version]` (`version` a number or `latest`; absent: every version).
pub(crate) async fn export(
    ctx: &Ctx<'_>,
    kind_name: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Response> {
    let kind = kind(kind_name)?;
    let keyring = ctx.key(name).await?;
    check(&keyring, kind)?;
    let wanted =
        match version {
            None | Some("") => None,
            Some("latest") => Some(keyring.config.latest_version),
            Some(v) => Some(v.parse::<u64>().map_err(|_| {
                Error::InvalidInput("version must be a number or \"latest\"".into())
            })?),
        };
    let mut keys = Map::new();
    for (n, v) in keyring.versions() {
        if wanted.is_none_or(|w| w == n) {
            keys.insert(n.to_string(), json!(encode(v, kind)?.as_str()));
        }
    }
    if keys.is_empty() {
        return Err(Error::InvalidInput(format!(
            "version {} of key {name:?} does not exist or has been trimmed",
            version.unwrap_or("")
        )));
    }
    Ok(Response::data(json!({
        "name": keyring.config.name,
        "type": keyring.key_type().name(),
        "keys": Value::Object(keys),
    })))
}
