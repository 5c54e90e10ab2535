//! Digests (FIPS 180-4 SHA-2, FIPS 202 SHA-3), HMAC (RFC 2104), HKDF (RFC 5869) and
//! constant-time comparison.
//!
//! SHA-2, SHA3-256, HMAC-SHA256 and HKDF run on aws-lc-rs; HMAC-SHA3-256, which aws-lc-rs does not
//! offer, runs on RustCrypto `hmac` + `sha3`.

use aws_lc_rs::{digest, hkdf, hmac as lc_hmac};
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::alg::AlgorithmId;
use crate::error::{Error, Result};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    fixed(digest::digest(&digest::SHA256, data).as_ref())
}

/// SHA-512 of `data`.
pub fn sha512(data: &[u8]) -> [u8; 64] {
    fixed(digest::digest(&digest::SHA512, data).as_ref())
}

/// SHA3-256 of `data`.
pub fn sha3_256(data: &[u8]) -> [u8; 32] {
    fixed(digest::digest(&digest::SHA3_256, data).as_ref())
}

/// The digest of `data` under a digest algorithm id (SHA-256 or SHA3-256).
pub fn digest(alg: AlgorithmId, data: &[u8]) -> Result<Vec<u8>> {
    match alg {
        AlgorithmId::Sha256 => Ok(sha256(data).to_vec()),
        AlgorithmId::Sha3_256 => Ok(sha3_256(data).to_vec()),
        other => Err(Error::WrongAlgorithmKind {
            alg: other,
            operation: "digest",
        }),
    }
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = lc_hmac::Key::new(lc_hmac::HMAC_SHA256, key);
    fixed(lc_hmac::sign(&key, data).as_ref())
}

/// HMAC-SHA3-256 of `data` under `key` (the default for blind indexes).
pub fn hmac_sha3_256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so construction cannot fail; the fallback is unreachable.
    let Ok(mut mac) = <hmac::SimpleHmac<sha3::Sha3_256> as KeyInit>::new_from_slice(key) else {
        return [0u8; 32];
    };
    mac.update(data);
    fixed(&mac.finalize().into_bytes())
}

/// The MAC of `data` under `key` with a MAC algorithm id.
pub fn hmac(alg: AlgorithmId, key: &[u8], data: &[u8]) -> Result<[u8; 32]> {
    match alg {
        AlgorithmId::HmacSha256 => Ok(hmac_sha256(key, data)),
        AlgorithmId::HmacSha3_256 => Ok(hmac_sha3_256(key, data)),
        other => Err(Error::WrongAlgorithmKind {
            alg: other,
            operation: "HMAC",
        }),
    }
}

/// Checks a MAC tag in constant time.
pub fn hmac_verify(alg: AlgorithmId, key: &[u8], data: &[u8], tag: &[u8]) -> Result<()> {
    if ct_eq(&hmac(alg, key, data)?, tag) {
        Ok(())
    } else {
        Err(Error::BadSignature)
    }
}

/// HKDF-Extract with SHA-256 (RFC 5869 §2.2): the pseudorandom key, zeroized on drop.
pub fn hkdf_extract_sha256(salt: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    // HKDF-Extract(salt, IKM) = HMAC-Hash(salt, IKM); an empty salt means HashLen zeros, which
    // HMAC pads to the same key.
    Zeroizing::new(hmac_sha256(salt, ikm))
}

/// HKDF-Expand with SHA-256 (RFC 5869 §2.3) from a 32-byte PRK into `out` (at most 8160 bytes).
pub fn hkdf_expand_sha256(prk: &[u8; 32], info: &[u8], out: &mut [u8]) -> Result<()> {
    let prk = hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, prk);
    let info = [info];
    let okm = prk
        .expand(&info, OutLen(out.len()))
        .map_err(|_| Error::Provider("HKDF-Expand: output too long"))?;
    okm.fill(out)
        .map_err(|_| Error::Provider("HKDF-Expand: output too long"))
}

/// HKDF-SHA256 extract-then-expand into `out`.
pub fn hkdf_sha256_into(salt: &[u8], ikm: &[u8], info: &[u8], out: &mut [u8]) -> Result<()> {
    hkdf_expand_sha256(&hkdf_extract_sha256(salt, ikm), info, out)
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

struct OutLen(usize);

impl hkdf::KeyType for OutLen {
    fn len(&self) -> usize {
        self.0
    }
}

fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn sha_known_answers() {
        // FIPS 180-4 / FIPS 202 examples for "abc".
        assert_eq!(
            sha256(b"abc").to_vec(),
            h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        assert_eq!(
            sha3_256(b"abc").to_vec(),
            h("3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532")
        );
    }

    #[test]
    fn hmac_sha256_rfc4231_case_2() {
        assert_eq!(
            hmac_sha256(b"Jefe", b"what do ya want for nothing?").to_vec(),
            h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        );
    }

    #[test]
    fn hmac_sha3_256_nist_sample() {
        // NIST CSRC "HMAC_SHA3-256" example 1: key 00..1f, message "Sample message for keylen<blocklen".
        let key: Vec<u8> = (0u8..32).collect();
        assert_eq!(
            hmac_sha3_256(&key, b"Sample message for keylen<blocklen").to_vec(),
            h("4fe8e202c4f058e8dddc23d8c34e467343e23555e24fc2f025d598f558f67205")
        );
    }

    #[test]
    fn hkdf_rfc5869_case_1() {
        let ikm = [0x0bu8; 22];
        let salt = h("000102030405060708090a0b0c");
        let info = h("f0f1f2f3f4f5f6f7f8f9");
        let prk = hkdf_extract_sha256(&salt, &ikm);
        assert_eq!(
            prk.to_vec(),
            h("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let mut okm = [0u8; 42];
        hkdf_expand_sha256(&prk, &info, &mut okm).unwrap();
        assert_eq!(
            okm.to_vec(),
            h(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            )
        );
    }

    #[test]
    fn macs_verify_in_constant_time_and_reject_wrong_tags() {
        let tag = hmac(AlgorithmId::HmacSha3_256, b"k", b"m").unwrap();
        hmac_verify(AlgorithmId::HmacSha3_256, b"k", b"m", &tag).unwrap();
        assert_eq!(
            hmac_verify(AlgorithmId::HmacSha3_256, b"k", b"n", &tag),
            Err(Error::BadSignature)
        );
        assert_eq!(
            hmac_verify(AlgorithmId::HmacSha3_256, b"k", b"m", &tag[..31]),
            Err(Error::BadSignature)
        );
        assert!(hmac(AlgorithmId::MlDsa65, b"k", b"m").is_err());
    }
}
