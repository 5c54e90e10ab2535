//! Envelope encryption: self-describing, versioned ciphertexts.
//!
//! * Public-key envelopes are RFC 9180 HPKE, base mode, single-shot, with the post-quantum KEMs
//!   of draft-ietf-hpke-pq (ML-KEM-512/768/1024, and X-Wing as `MLKEM768-X25519`), HKDF-SHA256
//!   and AES-256-GCM. Anyone holding only the public key can seal; any HPKE implementation with
//!   those ids can open what qsafe seals and vice versa.
//! * Symmetric envelopes are AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce.
//!
//! The byte layout of both is documented in `docs/formats.md` ("Envelopes").

mod hpke;

use crate::secret::SecretBytes;
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::alg::AlgorithmId;
use crate::error::{Error, Result};
use crate::kem::{DecapsulationKey, EncapsulationKey};
use crate::rng::Rng;

/// Format version written in byte 0.
pub const VERSION: u8 = 0x01;
/// Byte 1 of a public-key (HPKE) envelope.
pub const KIND_HPKE: u8 = 0x01;
/// Byte 1 of a symmetric envelope.
pub const KIND_SYMMETRIC: u8 = 0x02;
/// The HPKE `info` string is this prefix followed by the 8 header bytes.
pub const HPKE_INFO_PREFIX: &[u8] = b"qsafe envelope v1";

/// Length of a public-key envelope's header.
pub const HPKE_HEADER_LEN: usize = 8;
const SYMMETRIC_HEADER_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Length of a symmetric envelope key.
pub const SYMMETRIC_KEY_LEN: usize = 32;

/// HPKE KEM ids (draft-ietf-hpke-pq §3) and encapsulation lengths.
fn kem_id(alg: AlgorithmId) -> Result<(u16, usize)> {
    match alg {
        AlgorithmId::MlKem512 => Ok((0x0040, 768)),
        AlgorithmId::MlKem768 => Ok((0x0041, 1088)),
        AlgorithmId::MlKem1024 => Ok((0x0042, 1568)),
        AlgorithmId::XWing => Ok((0x647a, 1120)),
        other => Err(Error::WrongAlgorithmKind {
            alg: other,
            operation: "envelope encryption",
        }),
    }
}

fn kem_of_id(id: u16) -> Result<AlgorithmId> {
    [
        AlgorithmId::MlKem512,
        AlgorithmId::MlKem768,
        AlgorithmId::MlKem1024,
        AlgorithmId::XWing,
    ]
    .into_iter()
    .find(|alg| matches!(kem_id(*alg), Ok((i, _)) if i == id))
    .ok_or_else(|| Error::malformed("envelope", format!("unknown KEM id {id:#06x}")))
}

/// What an envelope's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeKind {
    /// Sealed to a KEM public key of this algorithm.
    PublicKey(AlgorithmId),
    /// Sealed with a symmetric AES-256-GCM key.
    Symmetric,
}

/// Reads an envelope's header without decrypting it.
pub fn inspect(envelope: &[u8]) -> Result<EnvelopeKind> {
    match envelope {
        [VERSION, KIND_HPKE, k0, k1, ..] if envelope.len() >= HPKE_HEADER_LEN => {
            let (kdf, aead_id) = (&envelope[4..6], &envelope[6..8]);
            if kdf != hpke::KDF_HKDF_SHA256.to_be_bytes()
                || aead_id != hpke::AEAD_AES_256_GCM.to_be_bytes()
            {
                return Err(Error::malformed("envelope", "unsupported KDF or AEAD id"));
            }
            kem_of_id(u16::from_be_bytes([*k0, *k1])).map(EnvelopeKind::PublicKey)
        }
        [VERSION, KIND_SYMMETRIC, a0, a1, ..] => {
            if u16::from_be_bytes([*a0, *a1]) != hpke::AEAD_AES_256_GCM {
                return Err(Error::malformed("envelope", "unsupported AEAD id"));
            }
            Ok(EnvelopeKind::Symmetric)
        }
        [VERSION, kind, ..] => Err(Error::malformed(
            "envelope",
            format!("unknown kind {kind:#04x}"),
        )),
        [version, ..] => Err(Error::malformed(
            "envelope",
            format!("unsupported version {version:#04x}"),
        )),
        [] => Err(Error::malformed("envelope", "empty")),
    }
}

/// The 8-byte header of a public-key envelope to a key of `alg`. An envelope is this header,
/// followed by exactly what RFC 9180 single-shot `Seal` returns (`enc ‖ ct`) with
/// `info` = [`HPKE_INFO_PREFIX`] ‖ header, so any HPKE implementation can produce or consume one.
pub fn hpke_header_for(alg: AlgorithmId) -> Result<[u8; HPKE_HEADER_LEN]> {
    kem_id(alg).map(|(kem, _)| hpke_header(kem))
}

/// The HPKE `info` of an envelope to a key of `alg` (see [`hpke_header_for`]).
pub fn hpke_info_for(alg: AlgorithmId) -> Result<Vec<u8>> {
    hpke_header_for(alg).map(|h| hpke_info(&h))
}

fn hpke_header(kem: u16) -> [u8; HPKE_HEADER_LEN] {
    let mut header = [VERSION, KIND_HPKE, 0, 0, 0, 0, 0, 0];
    header[2..4].copy_from_slice(&kem.to_be_bytes());
    header[4..6].copy_from_slice(&hpke::KDF_HKDF_SHA256.to_be_bytes());
    header[6..8].copy_from_slice(&hpke::AEAD_AES_256_GCM.to_be_bytes());
    header
}

fn hpke_info(header: &[u8]) -> Vec<u8> {
    [HPKE_INFO_PREFIX, header].concat()
}

fn suite(kem: u16) -> hpke::Suite {
    hpke::Suite {
        kem_id: kem,
        aead_id: hpke::AEAD_AES_256_GCM,
    }
}

/// Seals `plaintext` to `recipient`, binding `aad` (which the opener must present again).
pub fn seal(recipient: &EncapsulationKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    seal_with(recipient, aad, plaintext, EncapsulationKey::encapsulate)
}

/// [`seal`] with the encapsulation step supplied (known-answer tests fix its randomness).
fn seal_with(
    recipient: &EncapsulationKey,
    aad: &[u8],
    plaintext: &[u8],
    encapsulate: impl FnOnce(&EncapsulationKey) -> Result<(Vec<u8>, crate::kem::SharedSecret)>,
) -> Result<Vec<u8>> {
    let (kem, _) = kem_id(recipient.algorithm())?;
    let header = hpke_header(kem);
    let (enc, shared) = encapsulate(recipient)?;
    let context = suite(kem).key_schedule(shared.as_bytes(), &hpke_info(&header))?;
    let mut out = Vec::with_capacity(header.len() + enc.len() + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(&enc);
    context.seal_append(aad, plaintext, &mut out)?;
    Ok(out)
}

/// Opens an envelope sealed to `key`'s public key with the same `aad`.
pub fn open(key: &DecapsulationKey, aad: &[u8], envelope: &[u8]) -> Result<SecretBytes> {
    let EnvelopeKind::PublicKey(alg) = inspect(envelope)? else {
        return Err(Error::malformed(
            "envelope",
            "symmetric envelope given to a KEM key",
        ));
    };
    if alg != key.algorithm() {
        return Err(Error::AlgorithmMismatch {
            expected: key.algorithm(),
            found: alg,
        });
    }
    let (kem, enc_len) = kem_id(alg)?;
    let body = &envelope[HPKE_HEADER_LEN..];
    if body.len() < enc_len + TAG_LEN {
        return Err(Error::malformed("envelope", "truncated"));
    }
    let (enc, ct) = body.split_at(enc_len);
    let shared = key.decapsulate(enc)?;
    suite(kem)
        .key_schedule(shared.as_bytes(), &hpke_info(&envelope[..HPKE_HEADER_LEN]))?
        .open(aad, ct)
}

fn aes_key(key: &[u8]) -> Result<LessSafeKey> {
    Error::check_len("AES-256-GCM key", SYMMETRIC_KEY_LEN, key.len())?;
    UnboundKey::new(&aead::AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| Error::Provider("AES-256-GCM key"))
}

fn symmetric_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    [header, aad].concat()
}

/// Seals `plaintext` under a 32-byte AES-256-GCM key with a random nonce from `rng`.
pub fn seal_symmetric(key: &[u8], aad: &[u8], plaintext: &[u8], rng: &Rng) -> Result<Vec<u8>> {
    seal_symmetric_with_nonce(key, aad, plaintext, *rng.bytes::<NONCE_LEN>()?)
}

fn seal_symmetric_with_nonce(
    key: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    nonce: [u8; NONCE_LEN],
) -> Result<Vec<u8>> {
    let cipher = aes_key(key)?;
    let mut header = [VERSION, KIND_SYMMETRIC, 0, 0];
    header[2..4].copy_from_slice(&hpke::AEAD_AES_256_GCM.to_be_bytes());
    let mut out = Vec::with_capacity(SYMMETRIC_HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let start = SYMMETRIC_HEADER_LEN + NONCE_LEN;
    let tag = cipher
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(symmetric_aad(&header, aad)),
            &mut out[start..],
        )
        .map_err(|_| Error::Provider("AES-256-GCM seal"))?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Opens a symmetric envelope.
pub fn open_symmetric(key: &[u8], aad: &[u8], envelope: &[u8]) -> Result<SecretBytes> {
    if inspect(envelope)? != EnvelopeKind::Symmetric {
        return Err(Error::malformed(
            "envelope",
            "public-key envelope given to a symmetric key",
        ));
    }
    let cipher = aes_key(key)?;
    if envelope.len() < SYMMETRIC_HEADER_LEN + NONCE_LEN + TAG_LEN {
        return Err(Error::malformed("envelope", "truncated"));
    }
    let (header, rest) = envelope.split_at(SYMMETRIC_HEADER_LEN);
    let (nonce, ct) = rest.split_at(NONCE_LEN);
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(nonce);
    let mut plaintext = SecretBytes::from(ct.to_vec());
    let buf = plaintext.vec_mut();
    let len = cipher
        .open_in_place(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(symmetric_aad(header, aad)),
            buf,
        )
        .map_err(|_| Error::DecryptionFailed)?
        .len();
    buf.truncate(len);
    Ok(plaintext)
}

#[cfg(test)]
mod vectors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpke_round_trip_every_kem_and_aad_binding() {
        let rng = Rng::new();
        for alg in [
            AlgorithmId::MlKem512,
            AlgorithmId::MlKem768,
            AlgorithmId::MlKem1024,
            AlgorithmId::XWing,
        ] {
            let key = DecapsulationKey::generate(alg, &rng).unwrap();
            let env = seal(key.encapsulation_key(), b"row 7", b"secret pii").unwrap();
            assert_eq!(inspect(&env).unwrap(), EnvelopeKind::PublicKey(alg));
            assert_eq!(
                open(&key, b"row 7", &env).unwrap().as_slice(),
                b"secret pii"
            );
            assert_eq!(
                open(&key, b"row 8", &env).unwrap_err(),
                Error::DecryptionFailed,
                "{alg}"
            );
        }
    }

    #[test]
    fn tampering_anywhere_fails() {
        let rng = Rng::new();
        let key = DecapsulationKey::generate(AlgorithmId::MlKem768, &rng).unwrap();
        let env = seal(key.encapsulation_key(), b"", b"hello").unwrap();
        for i in [8, 100, env.len() - 1] {
            let mut bad = env.clone();
            bad[i] ^= 0x80;
            assert_eq!(
                open(&key, b"", &bad).unwrap_err(),
                Error::DecryptionFailed,
                "byte {i}"
            );
        }
        // Header bytes are checked before any crypto.
        let mut bad = env.clone();
        bad[3] = 0x99;
        assert!(matches!(
            open(&key, b"", &bad),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            open(&key, b"", &env[..50]),
            Err(Error::Malformed { .. })
        ));
        let other = DecapsulationKey::generate(AlgorithmId::MlKem1024, &rng).unwrap();
        assert!(matches!(
            open(&other, b"", &env),
            Err(Error::AlgorithmMismatch { .. })
        ));
        let wrong = DecapsulationKey::generate(AlgorithmId::MlKem768, &rng).unwrap();
        assert_eq!(
            open(&wrong, b"", &env).unwrap_err(),
            Error::DecryptionFailed
        );
    }

    #[test]
    fn symmetric_round_trip_and_failures() {
        let rng = Rng::new();
        let key = rng.bytes::<32>().unwrap();
        let env = seal_symmetric(key.as_ref(), b"ctx", b"data", &rng).unwrap();
        assert_eq!(env.len(), 4 + 12 + 4 + 16);
        assert_eq!(
            open_symmetric(key.as_ref(), b"ctx", &env)
                .unwrap()
                .as_slice(),
            b"data"
        );
        assert_eq!(
            open_symmetric(key.as_ref(), b"ctz", &env).unwrap_err(),
            Error::DecryptionFailed
        );
        assert!(open_symmetric(&[0u8; 16], b"ctx", &env).is_err());
        assert!(matches!(
            open_symmetric(key.as_ref(), b"ctx", &env[..20]),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(inspect(&[2, 1]), Err(Error::Malformed { .. })));
        assert!(matches!(inspect(&[]), Err(Error::Malformed { .. })));
    }
}
