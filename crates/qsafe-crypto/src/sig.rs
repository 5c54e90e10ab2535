//! Digital signatures: ML-DSA-44/65/87 (FIPS 204, pure, empty context), ECDSA-P256 with SHA-256
//! (FIPS 186-5), Ed25519 (RFC 8032), and composite ML-DSA-65 + ECDSA-P256
//! (draft-ietf-lamps-pq-composite-sigs-19; docs/formats.md §6). ECDSA-P256 also signs and verifies
//! a caller-supplied SHA-256 digest (`prehashed`, module `prehashed`).
//!
//! ML-DSA, ECDSA and Ed25519 run on aws-lc-rs. Private keys are held in their smallest standard
//! form, which is also their export form: the 32-byte ML-DSA seed (FIPS 204 ξ), the 32-byte Ed25519
//! seed, the 32-byte big-endian ECDSA scalar.

pub(crate) mod composite;
mod prehashed;

use core::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsRawBytes as _;
use aws_lc_rs::signature::{self as lc, KeyPair as _};
use zeroize::Zeroizing;

use crate::alg::{AlgorithmId, AlgorithmKind};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Length of an ML-DSA seed ξ (FIPS 204 Algorithm 1), of an Ed25519 seed and of a P-256 scalar.
pub const SEED_LEN: usize = 32;

/// aws-lc-rs algorithms and sizes of an ML-DSA parameter set (FIPS 204 Table 2).
struct MlDsaParams {
    signing: &'static lc::PqdsaSigningAlgorithm,
    verifying: &'static lc::PqdsaVerificationAlgorithm,
    pk_len: usize,
    sk_len: usize,
}

fn mldsa_params(alg: AlgorithmId) -> Option<MlDsaParams> {
    let (signing, verifying, pk_len, sk_len) = match alg {
        AlgorithmId::MlDsa44 => (&lc::ML_DSA_44_SIGNING, &lc::ML_DSA_44, 1312, 2560),
        AlgorithmId::MlDsa65 => (&lc::ML_DSA_65_SIGNING, &lc::ML_DSA_65, 1952, 4032),
        AlgorithmId::MlDsa87 => (&lc::ML_DSA_87_SIGNING, &lc::ML_DSA_87, 2592, 4896),
        _ => return None,
    };
    Some(MlDsaParams {
        signing,
        verifying,
        pk_len,
        sk_len,
    })
}

/// RFC 5915 ECPrivateKey for a P-256 scalar, without the optional public key (aws-lc derives it).
fn p256_ec_private_key_der(scalar: &[u8; SEED_LEN]) -> Zeroizing<Vec<u8>> {
    const PREFIX: [u8; 7] = [0x30, 0x31, 0x02, 0x01, 0x01, 0x04, 0x20];
    // [0] { OID 1.2.840.10045.3.1.7 (prime256v1) }
    const CURVE: [u8; 12] = [
        0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
    ];
    let mut der = Zeroizing::new(Vec::with_capacity(51));
    der.extend_from_slice(&PREFIX);
    der.extend_from_slice(scalar);
    der.extend_from_slice(&CURVE);
    der
}

enum Inner {
    MlDsa {
        /// ξ; `None` for a key imported in the expanded form only.
        seed: Option<Zeroizing<[u8; SEED_LEN]>>,
        pair: lc::PqdsaKeyPair,
    },
    EcdsaP256 {
        scalar: Zeroizing<[u8; SEED_LEN]>,
        /// Signs with DER-encoded (r, s), as X.509, TLS and CMS carry them.
        der: lc::EcdsaKeyPair,
        /// Signs with fixed-width r ‖ s, as JOSE (RFC 7518 §3.4) carries them.
        fixed: lc::EcdsaKeyPair,
    },
    Ed25519 {
        seed: Zeroizing<[u8; SEED_LEN]>,
        pair: lc::Ed25519KeyPair,
    },
    Composite(composite::CompositeSigningKey),
}

/// A private signing key.
pub struct SigningKey {
    alg: AlgorithmId,
    inner: Inner,
    public: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("key", &"<redacted>")
            .finish()
    }
}

impl SigningKey {
    /// A new key whose private material is drawn from `rng`.
    pub fn generate(alg: AlgorithmId, rng: &Rng) -> Result<Self> {
        alg.expect_kind(AlgorithmKind::Signature, "signing")?;
        match alg {
            AlgorithmId::MlDsa65EcdsaP256 => {
                Self::from_composite(composite::CompositeSigningKey::generate(rng)?)
            }
            AlgorithmId::EcdsaP256 => {
                // A uniformly random scalar is ≥ n with probability < 2⁻³²; draw again then.
                for _ in 0..8 {
                    match Self::from_private_key_bytes(alg, rng.bytes::<SEED_LEN>()?.as_ref()) {
                        Err(Error::InvalidKey { .. }) => continue,
                        other => return other,
                    }
                }
                Err(Error::Entropy("no valid P-256 scalar in 8 draws"))
            }
            _ => Self::from_private_key_bytes(alg, rng.bytes::<SEED_LEN>()?.as_ref()),
        }
    }

    /// A key from its private-key bytes: the 32-byte seed for ML-DSA and Ed25519, the 32-byte
    /// big-endian scalar for ECDSA-P256, the composite draft's private-key encoding for composite.
    pub fn from_private_key_bytes(alg: AlgorithmId, bytes: &[u8]) -> Result<Self> {
        alg.expect_kind(AlgorithmKind::Signature, "signing")?;
        if alg == AlgorithmId::MlDsa65EcdsaP256 {
            return Self::from_composite(composite::CompositeSigningKey::from_private_bytes(
                bytes,
            )?);
        }
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        Error::check_len("private key", SEED_LEN, bytes.len())?;
        seed.copy_from_slice(bytes);
        if let Some(params) = mldsa_params(alg) {
            let pair = lc::PqdsaKeyPair::from_seed(params.signing, seed.as_ref())
                .map_err(|_| Error::invalid_key(alg, "seed rejected"))?;
            return Self::from_mldsa(alg, Some(seed), pair);
        }
        let inner = match alg {
            AlgorithmId::EcdsaP256 => {
                let der = p256_ec_private_key_der(&seed);
                let pair = |signing| {
                    lc::EcdsaKeyPair::from_private_key_der(signing, &der).map_err(|_| {
                        Error::invalid_key(alg, "scalar is zero or not below the group order")
                    })
                };
                Inner::EcdsaP256 {
                    der: pair(&lc::ECDSA_P256_SHA256_ASN1_SIGNING)?,
                    fixed: pair(&lc::ECDSA_P256_SHA256_FIXED_SIGNING)?,
                    scalar: seed,
                }
            }
            AlgorithmId::Ed25519 => Inner::Ed25519 {
                pair: lc::Ed25519KeyPair::from_seed_unchecked(seed.as_ref())
                    .map_err(|_| Error::invalid_key(alg, "seed rejected"))?,
                seed,
            },
            other => {
                return Err(Error::WrongAlgorithmKind {
                    alg: other,
                    operation: "signing",
                });
            }
        };
        let public_bytes = match &inner {
            Inner::EcdsaP256 { der, .. } => der.public_key().as_ref().to_vec(),
            Inner::Ed25519 { pair, .. } => pair.public_key().as_ref().to_vec(),
            _ => return Err(Error::Provider("signing key construction")),
        };
        Ok(Self {
            alg,
            inner,
            public: VerifyingKey::from_bytes(alg, &public_bytes)?,
        })
    }

    /// An ML-DSA key from its expanded FIPS 204 private-key encoding (no seed). Such a key signs,
    /// but cannot be exported in the seed-only form.
    pub fn from_expanded(alg: AlgorithmId, sk: &[u8]) -> Result<Self> {
        let params = mldsa_params(alg).ok_or(Error::WrongAlgorithmKind {
            alg,
            operation: "expanded ML-DSA key import",
        })?;
        Error::check_len("ML-DSA expanded private key", params.sk_len, sk.len())?;
        let pair = lc::PqdsaKeyPair::from_raw_private_key(params.signing, sk)
            .map_err(|_| Error::invalid_key(alg, "expanded key rejected"))?;
        Self::from_mldsa(alg, None, pair)
    }

    fn from_mldsa(
        alg: AlgorithmId,
        seed: Option<Zeroizing<[u8; SEED_LEN]>>,
        pair: lc::PqdsaKeyPair,
    ) -> Result<Self> {
        let public = VerifyingKey::from_bytes(alg, pair.public_key().as_ref())?;
        Ok(Self {
            alg,
            inner: Inner::MlDsa { seed, pair },
            public,
        })
    }

    fn from_composite(key: composite::CompositeSigningKey) -> Result<Self> {
        let alg = AlgorithmId::MlDsa65EcdsaP256;
        let public = VerifyingKey::from_bytes(alg, &key.public_key())?;
        Ok(Self {
            alg,
            inner: Inner::Composite(key),
            public,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> AlgorithmId {
        self.alg
    }

    /// The matching public key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.public
    }

    /// The private-key bytes (secret!) in the form [`SigningKey::from_private_key_bytes`] takes.
    pub fn private_key_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        match &self.inner {
            Inner::MlDsa {
                seed: Some(seed), ..
            } => Ok(Zeroizing::new(seed.to_vec())),
            Inner::MlDsa { seed: None, .. } => Err(Error::NotExportable(
                "ML-DSA key was imported in expanded form; its seed is unknown",
            )),
            Inner::EcdsaP256 { scalar, .. } => Ok(Zeroizing::new(scalar.to_vec())),
            Inner::Ed25519 { seed, .. } => Ok(Zeroizing::new(seed.to_vec())),
            Inner::Composite(key) => key.private_bytes(),
        }
    }

    /// The FIPS 204 expanded private key (secret!), for software that only reads that form.
    pub fn expanded_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        match &self.inner {
            Inner::MlDsa { pair, .. } => pair
                .private_key()
                .as_raw_bytes()
                .map(|raw| Zeroizing::new(raw.as_ref().to_vec()))
                .map_err(|_| Error::Provider("ML-DSA expanded key export")),
            _ => Err(Error::WrongAlgorithmKind {
                alg: self.alg,
                operation: "expanded-key export",
            }),
        }
    }

    /// Signs `msg`. ML-DSA signs hedged (FIPS 204 §3.4) with an empty context; ECDSA signatures
    /// are DER `Ecdsa-Sig-Value`; composite signs with an empty context.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::MlDsa { pair, .. } => {
                let mut sig = vec![0u8; pair.algorithm().signature_len()];
                let n = pair
                    .sign(msg, &mut sig)
                    .map_err(|_| Error::Provider("ML-DSA signing"))?;
                sig.truncate(n);
                Ok(sig)
            }
            Inner::EcdsaP256 { der, .. } => ecdsa_sign(der, msg),
            Inner::Ed25519 { pair, .. } => pair
                .try_sign(msg)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| Error::Provider("Ed25519 signing")),
            Inner::Composite(key) => key.sign(msg, &[]),
        }
    }

    /// Signs `msg` in the encoding JOSE uses: as [`SigningKey::sign`], except that ECDSA signatures
    /// are fixed-width `r ‖ s` (RFC 7518 §3.4).
    pub fn sign_jose(&self, msg: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            Inner::EcdsaP256 { fixed, .. } => ecdsa_sign(fixed, msg),
            _ => self.sign(msg),
        }
    }
}

fn parse_component(
    verifying: &'static dyn lc::VerificationAlgorithm,
    bytes: &[u8],
    alg: AlgorithmId,
) -> Result<()> {
    lc::UnparsedPublicKey::new(verifying, bytes)
        .parse()
        .map(|_| ())
        .map_err(|_| Error::invalid_key(alg, "component public key rejected"))
}

fn ecdsa_sign(pair: &lc::EcdsaKeyPair, msg: &[u8]) -> Result<Vec<u8>> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    pair.sign(&rng, msg)
        .map(|s| s.as_ref().to_vec())
        .map_err(|_| Error::Provider("ECDSA signing"))
}

/// A public verification key.
#[derive(Clone)]
pub struct VerifyingKey {
    alg: AlgorithmId,
    bytes: Vec<u8>,
    /// Parsed once for ML-DSA and Ed25519, shared by clones.
    parsed: Option<Arc<lc::ParsedPublicKey>>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg && self.bytes == other.bytes
    }
}

impl Eq for VerifyingKey {}

impl VerifyingKey {
    /// A public key from its raw encoding: FIPS 204 `pk` for ML-DSA, the uncompressed SEC1 point
    /// (65 bytes) for ECDSA-P256, 32 bytes for Ed25519, the draft's encoding for composite.
    pub fn from_bytes(alg: AlgorithmId, bytes: &[u8]) -> Result<Self> {
        alg.expect_kind(AlgorithmKind::Signature, "signature verification")?;
        let parse = |verifying: &'static dyn lc::VerificationAlgorithm| {
            lc::UnparsedPublicKey::new(verifying, bytes)
                .parse()
                .map(|p| Some(Arc::new(p)))
                .map_err(|_| Error::invalid_key(alg, "public key rejected"))
        };
        let parsed = if let Some(params) = mldsa_params(alg) {
            Error::check_len("ML-DSA public key", params.pk_len, bytes.len())?;
            parse(params.verifying)?
        } else {
            match alg {
                AlgorithmId::EcdsaP256 => {
                    Error::check_len("P-256 public key (uncompressed point)", 65, bytes.len())?;
                    parse(&lc::ECDSA_P256_SHA256_ASN1)?
                }
                AlgorithmId::Ed25519 => {
                    Error::check_len("Ed25519 public key", 32, bytes.len())?;
                    parse(&lc::ED25519)?
                }
                AlgorithmId::MlDsa65EcdsaP256 => {
                    Error::check_len(
                        "composite public key",
                        composite::PUBLIC_KEY_LEN,
                        bytes.len(),
                    )?;
                    // Both halves must be valid keys at import, not only at first verify.
                    let (mldsa, ec) = bytes.split_at(composite::PUBLIC_KEY_LEN - 65);
                    parse_component(&lc::ML_DSA_65, mldsa, alg)?;
                    parse_component(&lc::ECDSA_P256_SHA256_ASN1, ec, alg)?;
                    None
                }
                other => {
                    return Err(Error::WrongAlgorithmKind {
                        alg: other,
                        operation: "signature verification",
                    });
                }
            }
        };
        Ok(Self {
            alg,
            bytes: bytes.to_vec(),
            parsed,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> AlgorithmId {
        self.alg
    }

    /// The raw encoding.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Checks `sig` over `msg`; [`Error::BadSignature`] if it does not verify.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        match &self.parsed {
            Some(parsed) => parsed.verify_sig(msg, sig).map_err(|_| Error::BadSignature),
            None => composite::verify(&self.bytes, msg, &[], sig),
        }
    }

    /// Checks a signature in the JOSE encoding (ECDSA as fixed-width `r ‖ s`, RFC 7518 §3.4).
    pub fn verify_jose(&self, msg: &[u8], sig: &[u8]) -> Result<()> {
        if self.alg == AlgorithmId::EcdsaP256 {
            return lc::UnparsedPublicKey::new(&lc::ECDSA_P256_SHA256_FIXED, &self.bytes)
                .verify(msg, sig)
                .map_err(|_| Error::BadSignature);
        }
        self.verify(msg, sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: [AlgorithmId; 5] = [
        AlgorithmId::MlDsa44,
        AlgorithmId::MlDsa65,
        AlgorithmId::MlDsa87,
        AlgorithmId::EcdsaP256,
        AlgorithmId::Ed25519,
    ];

    #[test]
    fn sign_verify_round_trip_and_reimport() {
        let rng = Rng::new();
        for alg in SIMPLE {
            let key = SigningKey::generate(alg, &rng).unwrap();
            let sig = key.sign(b"message").unwrap();
            key.verifying_key().verify(b"message", &sig).unwrap();
            assert_eq!(
                key.verifying_key().verify(b"messagf", &sig),
                Err(Error::BadSignature),
                "{alg}"
            );
            let jose = key.sign_jose(b"m").unwrap();
            key.verifying_key().verify_jose(b"m", &jose).unwrap();
            let again =
                SigningKey::from_private_key_bytes(alg, &key.private_key_bytes().unwrap()).unwrap();
            assert_eq!(again.verifying_key(), key.verifying_key(), "{alg}");
        }
    }

    #[test]
    fn signature_sizes_match_fips_204() {
        let rng = Rng::new();
        for (alg, len) in [
            (AlgorithmId::MlDsa44, 2420),
            (AlgorithmId::MlDsa65, 3309),
            (AlgorithmId::MlDsa87, 4627),
        ] {
            let key = SigningKey::generate(alg, &rng).unwrap();
            assert_eq!(key.sign(b"x").unwrap().len(), len);
        }
        let ecdsa = SigningKey::generate(AlgorithmId::EcdsaP256, &rng).unwrap();
        assert_eq!(ecdsa.sign_jose(b"x").unwrap().len(), 64);
    }

    #[test]
    fn expanded_import_signs_but_cannot_export_a_seed() {
        let key = SigningKey::generate(AlgorithmId::MlDsa65, &Rng::new()).unwrap();
        let expanded =
            SigningKey::from_expanded(AlgorithmId::MlDsa65, &key.expanded_bytes().unwrap())
                .unwrap();
        assert_eq!(expanded.verifying_key(), key.verifying_key());
        let sig = expanded.sign(b"x").unwrap();
        key.verifying_key().verify(b"x", &sig).unwrap();
        assert!(matches!(
            expanded.private_key_bytes(),
            Err(Error::NotExportable(_))
        ));
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert!(matches!(
            SigningKey::from_private_key_bytes(AlgorithmId::MlDsa65, &[0u8; 31]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            SigningKey::from_private_key_bytes(AlgorithmId::EcdsaP256, &[0xff; 32]),
            Err(Error::InvalidKey { .. })
        ));
        assert!(matches!(
            SigningKey::generate(AlgorithmId::MlKem768, &Rng::new()),
            Err(Error::WrongAlgorithmKind { .. })
        ));
        assert!(VerifyingKey::from_bytes(AlgorithmId::EcdsaP256, &[4u8; 65]).is_err());
        let key = SigningKey::generate(AlgorithmId::MlDsa65, &Rng::new()).unwrap();
        assert_eq!(
            key.verifying_key().verify(b"x", &[0u8; 5]),
            Err(Error::BadSignature)
        );
    }
}
