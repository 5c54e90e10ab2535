//! `decrypt/:name` (Vault transit "Decrypt data"; OpenBao `path_decrypt.go`).

use qsafe_core::fields::required;
use qsafe_core::{Response, Result};
use qsafe_crypto::SecretBytes;
use qsafe_crypto::encoding::b64_encode;
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::Ctx;
use crate::batch;
use crate::input::{NO_DERIVATION, b64_field, parse_versioned, refuse};
use crate::path_encrypt::check_encryption;
use crate::policy::Keyring;

/// Opens the `ciphertext` of `item` with its `associated_data`.
pub(crate) fn open(keyring: &Keyring, item: &Value) -> Result<SecretBytes> {
    refuse(Some(item), NO_DERIVATION)?;
    let text = required(Some(item), "ciphertext")?;
    let (n, envelope) = parse_versioned("ciphertext", text, false)?;
    let aad = b64_field(Some(item), "associated_data")?;
    keyring.for_decryption(n)?.decrypt(&aad, &envelope)
}

fn decrypt_one(keyring: &Keyring, item: &Value) -> Result<Map<String, Value>> {
    let plaintext = open(keyring, item)?;
    let mut out = Map::new();
    let encoded = Zeroizing::new(b64_encode(&plaintext));
    out.insert("plaintext".into(), json!(encoded.as_str()));
    Ok(out)
}

/// POST `decrypt/:name`.
pub(crate) async fn decrypt(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let items = batch::items(ctx.data)?;
    let keyring = ctx.key(name).await?;
    check_encryption(&keyring)?;
    match items {
        Some(items) => batch::run(items, move |item| decrypt_one(&keyring, item)).await,
        None => {
            let empty = Value::Null;
            let out = decrypt_one(&keyring, ctx.data.unwrap_or(&empty))?;
            Ok(Response::data(Value::Object(out)))
        }
    }
}
