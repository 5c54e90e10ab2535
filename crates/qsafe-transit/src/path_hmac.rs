//! `hmac/:name[/:algorithm]` and HMAC verification (Vault transit "Generate HMAC" and the `hmac`
//! field of "Verify signed data"; OpenBao `path_hmac.go`). Default algorithm: HMAC-SHA3-256
//! (blind indexes); HMAC-SHA2-256 on request. Every key type has a per-version HMAC key.

use qsafe_core::fields::{field_str, field_u64, required};
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::{AlgorithmId, hash};
use serde_json::{Map, Value, json};

use crate::Ctx;
use crate::batch;
use crate::input::{b64_required, format_versioned, parse_versioned};
use crate::policy::Keyring;

/// The MAC algorithm named in the URL or the `algorithm` / `hash_algorithm` field.
pub(crate) fn mac_algorithm(data: Option<&Value>, in_path: Option<&str>) -> Result<AlgorithmId> {
    let name = match in_path {
        Some(a) => Some(a),
        None => match field_str(data, "algorithm")? {
            Some(a) => Some(a),
            None => field_str(data, "hash_algorithm")?,
        },
    };
    match name.unwrap_or("sha3-256") {
        "sha3-256" => Ok(AlgorithmId::HmacSha3_256),
        "sha2-256" => Ok(AlgorithmId::HmacSha256),
        other => Err(Error::InvalidInput(format!(
            "unsupported HMAC algorithm {other:?}; use sha3-256 (default) or sha2-256"
        ))),
    }
}

fn hmac_one(
    keyring: &Keyring,
    item: &Value,
    alg: AlgorithmId,
    default_version: Option<u64>,
) -> Result<Map<String, Value>> {
    let input = b64_required(Some(item), "input")?;
    let requested = field_u64(Some(item), "key_version")?.or(default_version);
    let (n, version) = keyring.for_encryption(requested)?;
    let tag = version.hmac(alg, &input)?;
    let mut out = Map::new();
    out.insert("hmac".into(), json!(format_versioned(n, &tag, false)));
    out.insert("key_version".into(), json!(n));
    Ok(out)
}

/// Checks the `hmac` of `item` over its `input`: `valid` true or false.
pub(crate) fn verify_one(
    keyring: &Keyring,
    item: &Value,
    alg: AlgorithmId,
) -> Result<Map<String, Value>> {
    let input = b64_required(Some(item), "input")?;
    let (n, tag) = parse_versioned("hmac", required(Some(item), "hmac")?, false)?;
    let version = keyring.for_decryption(n)?;
    let valid = hash::hmac_verify(alg, version.hmac_key(), &input, &tag).is_ok();
    let mut out = Map::new();
    out.insert("valid".into(), json!(valid));
    Ok(out)
}

/// POST `hmac/:name[/:algorithm]`.
pub(crate) async fn hmac(ctx: &Ctx<'_>, name: &str, algorithm: Option<&str>) -> Result<Response> {
    let alg = mac_algorithm(ctx.data, algorithm)?;
    let items = batch::items(ctx.data)?;
    let keyring = ctx.key(name).await?;
    let default_version = field_u64(ctx.data, "key_version")?;
    match items {
        Some(items) => {
            batch::run(items, move |item| {
                hmac_one(&keyring, item, alg, default_version)
            })
            .await
        }
        None => {
            let empty = Value::Null;
            let out = hmac_one(&keyring, ctx.data.unwrap_or(&empty), alg, default_version)?;
            Ok(Response::data(Value::Object(out)))
        }
    }
}
