//! `sign/:name[/:hash_algorithm]` and `verify/:name[/:hash_algorithm]` (Vault transit "Sign data"
//! and "Verify signed data"; OpenBao `path_sign_verify.go`). ML-DSA signs pure (empty context),
//! the hybrid type with qsafe-crypto's composite ML-DSA-65 + ECDSA-P256, ECDSA-P256 over SHA-256.
//! `prehashed=true` (ECDSA-P256 only) takes `input` as the SHA-256 digest the caller computed.

use qsafe_core::fields::{field_bool, field_str, field_u64, required};
use qsafe_core::{Error, Response, Result};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::Ctx;
use crate::batch;
use crate::input::{b64_required, format_versioned, parse_versioned, refuse};
use crate::path_hmac::{mac_algorithm, verify_one as verify_hmac};
use crate::policy::{KeyType, Keyring};

/// Length of a SHA-256 digest, the only prehashed input.
const DIGEST_LEN: usize = 32;

/// Options shared by every item of a request.
#[derive(Clone, Copy)]
struct Options {
    jws: bool,
    /// `input` is a SHA-256 digest, signed as is (ECDSA-P256 only).
    prehashed: bool,
    default_version: Option<u64>,
}

fn options(ctx: &Ctx<'_>, keyring: &Keyring, hash_in_path: Option<&str>) -> Result<Options> {
    let data = ctx.data;
    refuse(
        data,
        &[
            (
                "context",
                "key derivation is not available in qsafe transit",
            ),
            (
                "signature_algorithm",
                "it applies to RSA keys, which qsafe does not have",
            ),
        ],
    )?;
    let key_type = keyring.key_type();
    if !key_type.supports_signing() {
        return Err(Error::InvalidInput(format!(
            "key type {} does not support signing",
            key_type.name()
        )));
    }
    let prehashed = field_bool(data, "prehashed")?.unwrap_or(false);
    if prehashed {
        prehashed_allowed(key_type)?;
    }
    let hash = match hash_in_path {
        Some(h) => Some(h),
        None => match field_str(data, "hash_algorithm")? {
            Some(h) => Some(h),
            None => field_str(data, "algorithm")?,
        },
    };
    // ECDSA-P256 hashes with SHA-256 (and a prehashed input must be a SHA-256 digest); the other
    // types sign the message itself and ignore the hash algorithm (as Vault does for ed25519).
    if key_type == KeyType::EcdsaP256 && !matches!(hash, None | Some("sha2-256")) {
        return Err(Error::InvalidInput(
            "ecdsa-p256 keys sign with sha2-256 only".into(),
        ));
    }
    let jws = match field_str(data, "marshaling_algorithm")?.unwrap_or("asn1") {
        "asn1" => false,
        "jws" => true,
        other => {
            return Err(Error::InvalidInput(format!(
                "unknown marshaling_algorithm {other:?}; use \"asn1\" or \"jws\""
            )));
        }
    };
    Ok(Options {
        jws,
        prehashed,
        default_version: field_u64(data, "key_version")?,
    })
}

/// Refuses `prehashed` for every type but ECDSA-P256, saying why.
fn prehashed_allowed(key_type: KeyType) -> Result<()> {
    let why = match key_type {
        KeyType::EcdsaP256 => return Ok(()),
        KeyType::MlDsa44 | KeyType::MlDsa65 | KeyType::MlDsa87 => {
            "ML-DSA signs the message itself (pure ML-DSA, FIPS 204; HashML-DSA is not offered)"
        }
        KeyType::HybridMlDsa65EcdsaP256 => {
            "the composite ML-DSA-65 + ECDSA-P256 signature covers the message itself (pure \
             ML-DSA, no HashML-DSA)"
        }
        KeyType::Ed25519 => "Ed25519 signs the message itself (no Ed25519ph mode)",
        _ => "the key type does not sign",
    };
    Err(Error::InvalidInput(format!(
        "prehashed is supported for ecdsa-p256 keys only, not {}: {why}; send the message as \
         input",
        key_type.name()
    )))
}

/// The item's `input`; when prehashed, checked to be a SHA-256 digest.
fn input(item: &Value, opts: Options) -> Result<Zeroizing<Vec<u8>>> {
    let input = b64_required(Some(item), "input")?;
    if opts.prehashed && input.len() != DIGEST_LEN {
        return Err(Error::InvalidInput(format!(
            "prehashed input must be a {DIGEST_LEN}-byte sha2-256 digest, got {} bytes",
            input.len()
        )));
    }
    Ok(input)
}

fn sign_one(keyring: &Keyring, item: &Value, opts: Options) -> Result<Map<String, Value>> {
    let input = input(item, opts)?;
    let requested = field_u64(Some(item), "key_version")?.or(opts.default_version);
    let (n, version) = keyring.for_encryption(requested)?;
    let sig = if opts.prehashed {
        version.sign_digest(&input, opts.jws)?
    } else {
        version.sign(&input, opts.jws)?
    };
    let mut out = Map::new();
    out.insert(
        "signature".into(),
        json!(format_versioned(n, &sig, opts.jws)),
    );
    out.insert("key_version".into(), json!(n));
    Ok(out)
}

fn verify_one(keyring: &Keyring, item: &Value, opts: Options) -> Result<Map<String, Value>> {
    let input = input(item, opts)?;
    let (n, sig) = parse_versioned("signature", required(Some(item), "signature")?, opts.jws)?;
    let version = keyring.for_decryption(n)?;
    let valid = if opts.prehashed {
        version.verify_digest(&input, &sig, opts.jws)?
    } else {
        version.verify(&input, &sig, opts.jws)?
    };
    let mut out = Map::new();
    out.insert("valid".into(), json!(valid));
    Ok(out)
}

/// POST `sign/:name[/:hash_algorithm]`.
pub(crate) async fn sign(ctx: &Ctx<'_>, name: &str, hash: Option<&str>) -> Result<Response> {
    let items = batch::items(ctx.data)?;
    let keyring = ctx.key(name).await?;
    let opts = options(ctx, &keyring, hash)?;
    match items {
        Some(items) => batch::run(items, move |item| sign_one(&keyring, item, opts)).await,
        None => {
            let item = ctx.data.cloned().unwrap_or(Value::Null);
            let heavy = !matches!(keyring.key_type(), KeyType::EcdsaP256 | KeyType::Ed25519);
            batch::single(heavy, move || sign_one(&keyring, &item, opts)).await
        }
    }
}

/// Whether a request or item carries an `hmac` to check rather than a signature.
fn has_hmac(item: &Value) -> bool {
    item.get("hmac").is_some_and(|v| !v.is_null())
}

/// POST `verify/:name[/:hash_algorithm]`: `signature` or `hmac`; `valid` true or false.
pub(crate) async fn verify(ctx: &Ctx<'_>, name: &str, hash: Option<&str>) -> Result<Response> {
    let items = batch::items(ctx.data)?;
    let keyring = ctx.key(name).await?;
    let empty = Value::Null;
    let data = ctx.data.unwrap_or(&empty);
    let any_hmac = match &items {
        Some(items) => items.iter().any(has_hmac),
        None => has_hmac(data),
    };
    let any_sig = match &items {
        Some(items) => items.iter().any(|i| !has_hmac(i)),
        None => data.get("signature").is_some_and(|v| !v.is_null()),
    };
    if any_hmac && data.get("signature").is_some_and(|v| !v.is_null()) {
        return Err(Error::InvalidInput(
            "give either \"signature\" or \"hmac\", not both".into(),
        ));
    }
    let mac = if any_hmac {
        Some(mac_algorithm(ctx.data, hash)?)
    } else {
        None
    };
    let opts = if any_sig {
        Some(options(ctx, &keyring, hash)?)
    } else {
        None
    };
    let one = move |item: &Value| match (has_hmac(item), mac, opts) {
        (true, Some(alg), _) => verify_hmac(&keyring, item, alg),
        (false, _, Some(opts)) => verify_one(&keyring, item, opts),
        _ => Err(Error::InvalidInput(
            "missing \"signature\" or \"hmac\"".into(),
        )),
    };
    match items {
        Some(items) => batch::run(items, one).await,
        None => Ok(Response::data(Value::Object(one(data)?))),
    }
}
