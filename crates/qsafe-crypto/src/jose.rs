//! JOSE: JSON Web Keys and JSON Web Signatures for the signature algorithms qsafe issues tokens and
//! talks ACME with.
//!
//! | Key | JWK (`kty`) | JWS `alg` | Specification |
//! |---|---|---|---|
//! | ML-DSA-44/65/87 | `AKP`, with `alg`, `pub`, `priv` (the 32-byte seed) | `ML-DSA-44`, `ML-DSA-65`, `ML-DSA-87` | RFC 9964 |
//! | ECDSA-P256 | `EC`, `crv: "P-256"` | `ES256` (`r ‖ s`, 64 bytes) | RFC 7518 |
//! | Ed25519 | `OKP`, `crv: "Ed25519"` | `EdDSA` (`Ed25519` accepted) | RFC 8037, RFC 9864 |
//!
//! ML-DSA signs with the empty context string, as RFC 9964 requires. Composite signatures have no
//! registered JOSE algorithm yet and are refused here. Tokens signed by others with RS256
//! (Kubernetes service-account tokens) are verified, never made, by [`verify_with_set`].

pub mod foreign;
pub mod jwk;
pub mod jws;

pub use foreign::verify_with_set;
pub use jwk::{Jwk, jwk_set};
pub use jws::{
    Verified, peek_header, sign_compact, sign_flattened, verify_compact, verify_flattened,
};

use crate::alg::AlgorithmId;
use crate::error::{Error, Result};

/// The JWS `alg` value qsafe writes for a signature algorithm.
pub fn jws_alg_name(alg: AlgorithmId) -> Result<&'static str> {
    Ok(match alg {
        AlgorithmId::MlDsa44 => "ML-DSA-44",
        AlgorithmId::MlDsa65 => "ML-DSA-65",
        AlgorithmId::MlDsa87 => "ML-DSA-87",
        AlgorithmId::EcdsaP256 => "ES256",
        AlgorithmId::Ed25519 => "EdDSA",
        other => {
            return Err(Error::WrongAlgorithmKind {
                alg: other,
                operation: "JOSE (no registered JWS algorithm)",
            });
        }
    })
}

/// The algorithm a JWS `alg` value names. Exact, case-sensitive names only (RFC 7515 §4.1.1);
/// `none` and every algorithm qsafe does not implement are refused.
pub fn alg_from_jws_name(name: &str) -> Result<AlgorithmId> {
    Ok(match name {
        "ML-DSA-44" => AlgorithmId::MlDsa44,
        "ML-DSA-65" => AlgorithmId::MlDsa65,
        "ML-DSA-87" => AlgorithmId::MlDsa87,
        "ES256" => AlgorithmId::EcdsaP256,
        "EdDSA" | "Ed25519" => AlgorithmId::Ed25519,
        other => return Err(Error::UnknownAlgorithm(format!("JWS alg {}", clip(other)))),
    })
}

/// At most 64 characters of an untrusted string, for error messages.
fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}
