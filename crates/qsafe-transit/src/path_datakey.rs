//! `datakey/:plaintext|wrapped/:name` (Vault transit "Generate data key"; OpenBao
//! `path_datakey.go`): a fresh random key, returned encrypted under the transit key.

use qsafe_core::fields::field_u64;
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::encoding::b64_encode;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::Ctx;
use crate::input::{NO_DERIVATION, b64_field, format_versioned, refuse};
use crate::path_encrypt::check_encryption;

/// POST `datakey/:kind/:name`.
pub(crate) async fn datakey(ctx: &Ctx<'_>, kind: &str, name: &str) -> Result<Response> {
    let with_plaintext = match kind {
        "plaintext" => true,
        "wrapped" => false,
        other => {
            return Err(Error::InvalidInput(format!(
                "data key kind {other:?} is neither \"plaintext\" nor \"wrapped\""
            )));
        }
    };
    refuse(ctx.data, NO_DERIVATION)?;
    let bits = field_u64(ctx.data, "bits")?.unwrap_or(256);
    if !matches!(bits, 128 | 256 | 512) {
        return Err(Error::InvalidInput("bits must be 128, 256 or 512".into()));
    }
    let aad = b64_field(ctx.data, "associated_data")?;
    let keyring = ctx.key(name).await?;
    check_encryption(&keyring)?;
    let (n, version) = keyring.for_encryption(field_u64(ctx.data, "key_version")?)?;
    let mut key = Zeroizing::new(vec![0u8; usize::try_from(bits / 8).unwrap_or(32)]);
    ctx.engine.rng.fill(&mut key)?;
    let ciphertext = version.encrypt(&aad, &key, &ctx.engine.rng)?;
    let mut out = json!({
        "ciphertext": format_versioned(n, &ciphertext, false),
        "key_version": n,
    });
    if with_plaintext {
        let encoded = Zeroizing::new(b64_encode(&key));
        if let Value::Object(map) = &mut out {
            map.insert("plaintext".into(), json!(encoded.as_str()));
        }
    }
    Ok(Response::data(out))
}
