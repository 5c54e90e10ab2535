//! ECDSA-P256 over a caller-supplied SHA-256 digest (FIPS 186-5 §6.4 with the hash step done by
//! the caller; what Vault transit calls `prehashed`, and what pyca calls `utils.Prehashed`).
//!
//! Only ECDSA-P256 with SHA-256 is offered: aws-lc-rs 1.19 has no P-256 signing algorithm over
//! SHA-384 or SHA-512 digests. ML-DSA and the composite type sign the message itself (pure
//! ML-DSA, no HashML-DSA); Ed25519 has no prehashed mode here. The signatures are the same as
//! [`SigningKey::sign`] / [`SigningKey::sign_jose`] make over the message whose SHA-256 the digest
//! is, so either verify path accepts either.

use aws_lc_rs::digest::{self as lc_digest, Digest};
use aws_lc_rs::signature as lc;

use super::{Inner, SigningKey, VerifyingKey};
use crate::alg::AlgorithmId;
use crate::error::{Error, Result};

/// The one hash a P-256 prehashed digest may come from.
const DIGEST_HASH: AlgorithmId = AlgorithmId::Sha256;
/// Length of that digest.
const DIGEST_LEN: usize = 32;

/// The digest as aws-lc-rs takes it, after checking the key type, the hash and the length.
fn import(key_alg: AlgorithmId, hash: AlgorithmId, digest: &[u8]) -> Result<Digest> {
    if key_alg != AlgorithmId::EcdsaP256 {
        return Err(Error::WrongAlgorithmKind {
            alg: key_alg,
            operation: "signatures over a prehashed digest (ECDSA-P256 only)",
        });
    }
    if hash != DIGEST_HASH {
        return Err(Error::WrongAlgorithmKind {
            alg: hash,
            operation: "an ECDSA-P256 prehashed digest (SHA-256 only)",
        });
    }
    Error::check_len("SHA-256 digest", DIGEST_LEN, digest.len())?;
    Digest::import_less_safe(digest, &lc_digest::SHA256)
        .map_err(|_| Error::Provider("digest import"))
}

fn sign_with(pair: &lc::EcdsaKeyPair, digest: &Digest) -> Result<Vec<u8>> {
    pair.sign_digest(digest)
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| Error::Provider("ECDSA digest signing"))
}

impl SigningKey {
    /// Signs a digest the caller computed: `hash` must be [`AlgorithmId::Sha256`] and `digest` its
    /// 32-byte output; ECDSA-P256 keys only. The signature is DER `Ecdsa-Sig-Value`, as
    /// [`SigningKey::sign`] makes, and verifies with [`VerifyingKey::verify`] over the message.
    ///
    /// Errors: [`Error::WrongAlgorithmKind`] for another key type or hash,
    /// [`Error::InvalidLength`] for a digest that is not 32 bytes.
    pub fn sign_digest(&self, hash: AlgorithmId, digest: &[u8]) -> Result<Vec<u8>> {
        let digest = import(self.alg, hash, digest)?;
        match &self.inner {
            Inner::EcdsaP256 { der, .. } => sign_with(der, &digest),
            _ => Err(Error::Provider("prehashed signing key")),
        }
    }

    /// As [`SigningKey::sign_digest`], with the signature as fixed-width `r ‖ s` (RFC 7518 §3.4).
    pub fn sign_digest_jose(&self, hash: AlgorithmId, digest: &[u8]) -> Result<Vec<u8>> {
        let digest = import(self.alg, hash, digest)?;
        match &self.inner {
            Inner::EcdsaP256 { fixed, .. } => sign_with(fixed, &digest),
            _ => Err(Error::Provider("prehashed signing key")),
        }
    }
}

impl VerifyingKey {
    /// Checks a DER ECDSA-P256 signature over a caller-computed SHA-256 `digest`;
    /// [`Error::BadSignature`] if it does not verify, the errors of [`SigningKey::sign_digest`]
    /// for a wrong key type, hash or digest length.
    pub fn verify_digest(&self, hash: AlgorithmId, digest: &[u8], sig: &[u8]) -> Result<()> {
        let digest = import(self.alg, hash, digest)?;
        match &self.parsed {
            Some(parsed) => parsed
                .verify_digest_sig(&digest, sig)
                .map_err(|_| Error::BadSignature),
            None => Err(Error::Provider("prehashed verifying key")),
        }
    }

    /// As [`VerifyingKey::verify_digest`], for a fixed-width `r ‖ s` signature (RFC 7518 §3.4).
    pub fn verify_digest_jose(&self, hash: AlgorithmId, digest: &[u8], sig: &[u8]) -> Result<()> {
        let digest = import(self.alg, hash, digest)?;
        lc::UnparsedPublicKey::new(&lc::ECDSA_P256_SHA256_FIXED, &self.bytes)
            .verify_digest(&digest, sig)
            .map_err(|_| Error::BadSignature)
    }
}
