//! `encrypt/:name` (Vault transit "Encrypt data"; OpenBao `path_encrypt.go`): HPKE envelopes for
//! ML-KEM and X-Wing keys, AES-256-GCM envelopes for aes256-gcm96 keys; a missing key is created.

use std::sync::Arc;

use qsafe_core::fields::{field_str, field_u64};
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::Rng;
use serde_json::{Map, Value, json};

use crate::Ctx;
use crate::batch;
use crate::cache::KeyCache;
use crate::input::{NO_DERIVATION, b64_field, b64_required, format_versioned, refuse};
use crate::policy::{KeyType, Keyring};

/// Fails unless the key can encrypt.
pub(crate) fn check_encryption(keyring: &Keyring) -> Result<()> {
    if keyring.key_type().supports_encryption() {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "key type {} does not support encryption",
            keyring.key_type().name()
        )))
    }
}

/// The key `name` for encryption, created with the request's `type` if it does not exist.
async fn upsert(ctx: &Ctx<'_>, name: &str) -> Result<Arc<Keyring>> {
    let keys = &ctx.engine.keys;
    if let Some(keyring) = keys.load(ctx.view, name, &ctx.engine.rng).await? {
        return Ok(keyring);
    }
    let key_type = KeyType::parse(field_str(ctx.data, "type")?.unwrap_or("ml-kem-768"))?;
    if !key_type.supports_encryption() {
        return Err(Error::InvalidInput(format!(
            "key type {} does not support encryption",
            key_type.name()
        )));
    }
    let record = KeyCache::new_record(name, key_type, &ctx.engine.rng).await?;
    match keys.create(ctx.view, &record).await {
        // Another request created it first: use theirs.
        Ok(()) | Err(Error::Conflict(_)) => ctx.key(name).await,
        Err(e) => Err(e),
    }
}

/// One encryption: `plaintext`, `associated_data`, `key_version` of `item`.
pub(crate) fn encrypt_one(
    keyring: &Keyring,
    rng: &Rng,
    item: &Value,
    default_version: Option<u64>,
) -> Result<Map<String, Value>> {
    let plaintext = b64_required(Some(item), "plaintext")?;
    seal(keyring, rng, item, &plaintext, default_version)
}

/// Encrypts `plaintext` with the item's `associated_data` under its `key_version` (or
/// `default_version`, or the latest): the `ciphertext` and `key_version` of an answer. Shared
/// by encrypt and rewrap.
pub(crate) fn seal(
    keyring: &Keyring,
    rng: &Rng,
    item: &Value,
    plaintext: &[u8],
    default_version: Option<u64>,
) -> Result<Map<String, Value>> {
    let aad = b64_field(Some(item), "associated_data")?;
    let requested = field_u64(Some(item), "key_version")?.or(default_version);
    let (n, version) = keyring.for_encryption(requested)?;
    let ciphertext = version.encrypt(&aad, plaintext, rng)?;
    let mut out = Map::new();
    out.insert(
        "ciphertext".into(),
        json!(format_versioned(n, &ciphertext, false)),
    );
    out.insert("key_version".into(), json!(n));
    Ok(out)
}

/// POST `encrypt/:name`.
pub(crate) async fn encrypt(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    refuse(ctx.data, NO_DERIVATION)?;
    let items = batch::items(ctx.data)?;
    let keyring = upsert(ctx, name).await?;
    check_encryption(&keyring)?;
    let default_version = field_u64(ctx.data, "key_version")?;
    let rng = ctx.engine.rng.clone();
    match items {
        Some(items) => {
            batch::run(items, move |item| {
                refuse(Some(item), NO_DERIVATION)?;
                encrypt_one(&keyring, &rng, item, default_version)
            })
            .await
        }
        None => {
            let empty = Value::Null;
            let item = ctx.data.unwrap_or(&empty);
            let out = encrypt_one(&keyring, &rng, item, default_version)?;
            Ok(Response::data(Value::Object(out)))
        }
    }
}
