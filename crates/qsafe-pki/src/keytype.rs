//! Key types as OpenBao 2.7 names them (`key_type` + `key_bits`): `mldsa` with 44, 65 (the
//! default) or 87; `ec` with 256; `ed25519`. RSA is refused: qsafe issues no RSA keys.

use qsafe_core::fields::{field_str, field_u64};
use qsafe_core::{Error, Result};
use qsafe_crypto::AlgorithmId;
use serde_json::Value;

/// `key_type` and `key_bits` of `data` (defaults `mldsa`, 65) as an algorithm.
pub fn from_fields(data: Option<&Value>) -> Result<AlgorithmId> {
    let key_type = field_str(data, "key_type")?.unwrap_or("mldsa");
    let bits = field_u64(data, "key_bits")?.unwrap_or(0);
    resolve(key_type, bits)
}

/// The algorithm of `key_type` with `bits` (0 = the type's default).
pub fn resolve(key_type: &str, bits: u64) -> Result<AlgorithmId> {
    match (key_type, bits) {
        ("mldsa" | "ml-dsa", 0 | 65) => Ok(AlgorithmId::MlDsa65),
        ("mldsa" | "ml-dsa", 44) => Ok(AlgorithmId::MlDsa44),
        ("mldsa" | "ml-dsa", 87) => Ok(AlgorithmId::MlDsa87),
        ("mldsa" | "ml-dsa", other) => Err(Error::InvalidInput(format!(
            "key_bits {other} is not an ML-DSA parameter set: use 44, 65 or 87"
        ))),
        ("ec", 0 | 256) => Ok(AlgorithmId::EcdsaP256),
        ("ec", other) => Err(Error::InvalidInput(format!(
            "key_bits {other} is not supported for ec keys: only P-256 (256)"
        ))),
        ("ed25519", 0) => Ok(AlgorithmId::Ed25519),
        ("ed25519", other) => Err(Error::InvalidInput(format!(
            "key_bits {other} does not apply to ed25519 keys"
        ))),
        ("rsa", _) => Err(Error::InvalidInput(
            "RSA keys are not supported: use key_type=mldsa (or ec for legacy trust stores)".into(),
        )),
        (other, _) => Err(Error::InvalidInput(format!(
            "unknown key_type {other:?}: use mldsa, ec or ed25519"
        ))),
    }
}

/// The `key_type` name of `alg`.
pub fn name(alg: AlgorithmId) -> &'static str {
    match alg {
        AlgorithmId::EcdsaP256 => "ec",
        AlgorithmId::Ed25519 => "ed25519",
        _ => "mldsa",
    }
}

/// The `key_bits` of `alg`.
pub fn bits(alg: AlgorithmId) -> u64 {
    match alg {
        AlgorithmId::MlDsa44 => 44,
        AlgorithmId::MlDsa65 => 65,
        AlgorithmId::MlDsa87 => 87,
        AlgorithmId::EcdsaP256 => 256,
        _ => 0,
    }
}

/// Whether a key of `alg` only signs (no key agreement or encipherment usages apply).
pub fn signature_only(alg: AlgorithmId) -> bool {
    !matches!(alg, AlgorithmId::EcdsaP256)
}
