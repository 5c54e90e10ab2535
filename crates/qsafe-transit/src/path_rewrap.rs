//! `rewrap/:name` (Vault transit "Rewrap data"; OpenBao `path_rewrap.go`): decrypts and encrypts
//! again under the latest (or the given) version, without returning the plaintext.

use qsafe_core::fields::field_u64;
use qsafe_core::{Response, Result};
use qsafe_crypto::Rng;
use serde_json::{Map, Value};

use crate::Ctx;
use crate::batch;
use crate::path_decrypt::open;
use crate::path_encrypt::{check_encryption, seal};
use crate::policy::Keyring;

fn rewrap_one(
    keyring: &Keyring,
    rng: &Rng,
    item: &Value,
    default_version: Option<u64>,
) -> Result<Map<String, Value>> {
    let plaintext = open(keyring, item)?;
    seal(keyring, rng, item, &plaintext, default_version)
}

/// POST `rewrap/:name`.
pub(crate) async fn rewrap(ctx: &Ctx<'_>, name: &str) -> Result<Response> {
    let items = batch::items(ctx.data)?;
    let keyring = ctx.key(name).await?;
    check_encryption(&keyring)?;
    let default_version = field_u64(ctx.data, "key_version")?;
    let rng = ctx.engine.rng.clone();
    match items {
        Some(items) => {
            batch::run(items, move |item| {
                rewrap_one(&keyring, &rng, item, default_version)
            })
            .await
        }
        None => {
            let empty = Value::Null;
            let out = rewrap_one(&keyring, &rng, ctx.data.unwrap_or(&empty), default_version)?;
            Ok(Response::data(Value::Object(out)))
        }
    }
}
