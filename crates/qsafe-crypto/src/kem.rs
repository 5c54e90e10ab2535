//! Key encapsulation: ML-KEM-512/768/1024 (FIPS 203) and the X-Wing hybrid (X25519 + ML-KEM-768).
//!
//! Private keys are held as their seeds — FIPS 203 §7.1 `d ‖ z` (64 bytes) for ML-KEM, 32 bytes
//! for X-Wing — which is also their at-rest and PKCS#8 form. aws-lc-rs 1.19 cannot import an
//! ML-KEM seed, so libcrux-ml-kem expands the seed once (FIPS 203 Algorithm 16,
//! `ML-KEM.KeyGen_internal`) and the expanded key is handed to aws-lc-rs, which does every
//! encapsulation and decapsulation. (libcrux rather than RustCrypto `ml-kem`: measured here,
//! seed → aws-lc key takes 18 µs through libcrux and 57 µs through RustCrypto, against 20 µs for
//! aws-lc's own random key generation.)

pub(crate) mod xwing;

use core::fmt;
use std::sync::Arc;

use aws_lc_rs::kem as lc;
use zeroize::Zeroizing;

use crate::alg::{AlgorithmId, AlgorithmKind};
use crate::error::{Error, Result};
use crate::rng::Rng;

/// Length of every shared secret qsafe's KEMs produce.
pub const SHARED_SECRET_LEN: usize = 32;

/// A KEM shared secret, zeroized on drop.
pub struct SharedSecret(Zeroizing<[u8; SHARED_SECRET_LEN]>);

impl SharedSecret {
    pub(crate) fn new(bytes: Zeroizing<[u8; SHARED_SECRET_LEN]>) -> Self {
        Self(bytes)
    }

    fn from_slice(bytes: &[u8]) -> Result<Self> {
        Error::check_len("shared secret", SHARED_SECRET_LEN, bytes.len())?;
        let mut out = Zeroizing::new([0u8; SHARED_SECRET_LEN]);
        out.copy_from_slice(bytes);
        Ok(Self(out))
    }

    /// The secret bytes.
    pub fn as_bytes(&self) -> &[u8; SHARED_SECRET_LEN] {
        &self.0
    }
}

impl fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SharedSecret(<redacted>)")
    }
}

/// Sizes of an ML-KEM parameter set (FIPS 203 Table 3) and its aws-lc-rs algorithm.
struct MlKemParams {
    lc: &'static lc::Algorithm,
    ek_len: usize,
    dk_len: usize,
    ct_len: usize,
}

fn mlkem_params(alg: AlgorithmId) -> Result<MlKemParams> {
    let (lc, ek_len, dk_len, ct_len) = match alg {
        AlgorithmId::MlKem512 => (&lc::ML_KEM_512, 800, 1632, 768),
        AlgorithmId::MlKem768 => (&lc::ML_KEM_768, 1184, 2400, 1088),
        AlgorithmId::MlKem1024 => (&lc::ML_KEM_1024, 1568, 3168, 1568),
        other => {
            return Err(Error::WrongAlgorithmKind {
                alg: other,
                operation: "ML-KEM",
            });
        }
    };
    Ok(MlKemParams {
        lc,
        ek_len,
        dk_len,
        ct_len,
    })
}

/// Length of an ML-KEM seed `d ‖ z`.
pub const MLKEM_SEED_LEN: usize = 64;

/// Expands an ML-KEM seed `d ‖ z` into (expanded decapsulation key, encapsulation key) bytes
/// with libcrux-ml-kem's `ML-KEM.KeyGen_internal(d, z)` (FIPS 203 Algorithm 16).
fn mlkem_expand(
    alg: AlgorithmId,
    seed: &[u8; MLKEM_SEED_LEN],
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>)> {
    macro_rules! expand {
        ($module:ident) => {{
            let (sk, pk) = libcrux_ml_kem::$module::generate_key_pair(*seed).into_parts();
            let expanded = Zeroizing::new(sk.as_slice().to_vec());
            let mut sk = Zeroizing::new(<[u8; _]>::from(sk));
            zeroize::Zeroize::zeroize(&mut *sk);
            (expanded, pk.as_slice().to_vec())
        }};
    }
    Ok(match alg {
        AlgorithmId::MlKem512 => expand!(mlkem512),
        AlgorithmId::MlKem768 => expand!(mlkem768),
        AlgorithmId::MlKem1024 => expand!(mlkem1024),
        other => {
            return Err(Error::WrongAlgorithmKind {
                alg: other,
                operation: "ML-KEM",
            });
        }
    })
}

/// An ML-KEM key from its seed: the aws-lc-rs decapsulation key and the encapsulation key bytes.
/// Used by this module and by X-Wing.
pub(crate) fn mlkem_from_seed(
    alg: AlgorithmId,
    seed: &[u8; MLKEM_SEED_LEN],
) -> Result<(lc::DecapsulationKey, Vec<u8>)> {
    let params = mlkem_params(alg)?;
    let (expanded, ek) = mlkem_expand(alg, seed)?;
    let dk = lc::DecapsulationKey::new(params.lc, &expanded)
        .map_err(|_| Error::invalid_key(alg, "expanded key rejected by aws-lc"))?;
    Ok((dk, ek))
}

/// ML-KEM-768 encapsulation with caller-chosen randomness `m` (FIPS 203 Algorithm 17), through
/// libcrux-ml-kem. Only for known-answer tests: production encapsulation draws `m` inside aws-lc-rs.
#[cfg(test)]
pub(crate) fn mlkem768_encapsulate_derand(
    ek: &[u8],
    m: &[u8; 32],
) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
    let key = libcrux_ml_kem::mlkem768::MlKem768PublicKey::try_from(ek).map_err(|_| {
        Error::InvalidLength {
            what: "ML-KEM-768 encapsulation key",
            expected: 1184,
            got: ek.len(),
        }
    })?;
    if !libcrux_ml_kem::mlkem768::validate_public_key(&key) {
        return Err(Error::invalid_key(
            AlgorithmId::MlKem768,
            "modulus check failed",
        ));
    }
    let (ct, ss) = libcrux_ml_kem::mlkem768::encapsulate(&key, *m);
    Ok((ct.as_slice().to_vec(), Zeroizing::new(ss)))
}

enum Secret {
    MlKem {
        /// `d ‖ z`; `None` for a key imported in the expanded form only.
        seed: Option<Zeroizing<[u8; MLKEM_SEED_LEN]>>,
        key: lc::DecapsulationKey,
    },
    XWing(xwing::XWingSecret),
}

/// A KEM private (decapsulation) key.
pub struct DecapsulationKey {
    alg: AlgorithmId,
    secret: Secret,
    public: EncapsulationKey,
}

impl fmt::Debug for DecapsulationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecapsulationKey")
            .field("alg", &self.alg)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl DecapsulationKey {
    /// A new key from a seed drawn from `rng`.
    pub fn generate(alg: AlgorithmId, rng: &Rng) -> Result<Self> {
        match alg {
            AlgorithmId::XWing => {
                Self::from_seed(alg, rng.bytes::<{ xwing::SEED_LEN }>()?.as_ref())
            }
            _ => Self::from_seed(alg, rng.bytes::<MLKEM_SEED_LEN>()?.as_ref()),
        }
    }

    /// The key derived from its seed: 64 bytes `d ‖ z` for ML-KEM, 32 bytes for X-Wing.
    pub fn from_seed(alg: AlgorithmId, seed: &[u8]) -> Result<Self> {
        alg.expect_kind(AlgorithmKind::Kem, "key encapsulation")?;
        if alg == AlgorithmId::XWing {
            let secret = xwing::XWingSecret::from_seed(seed)?;
            let public = EncapsulationKey::from_bytes(alg, secret.public_key())?;
            return Ok(Self {
                alg,
                secret: Secret::XWing(secret),
                public,
            });
        }
        Error::check_len("ML-KEM seed", MLKEM_SEED_LEN, seed.len())?;
        let mut fixed = Zeroizing::new([0u8; MLKEM_SEED_LEN]);
        fixed.copy_from_slice(seed);
        let (key, ek) = mlkem_from_seed(alg, &fixed)?;
        let public = EncapsulationKey::from_bytes(alg, &ek)?;
        Ok(Self {
            alg,
            secret: Secret::MlKem {
                seed: Some(fixed),
                key,
            },
            public,
        })
    }

    /// An ML-KEM key from its expanded FIPS 203 decapsulation-key encoding (no seed). Such a key
    /// works, but cannot be exported in the seed-only form.
    pub fn from_expanded(alg: AlgorithmId, dk: &[u8]) -> Result<Self> {
        let params = mlkem_params(alg)?;
        Error::check_len("ML-KEM expanded decapsulation key", params.dk_len, dk.len())?;
        // FIPS 203 §7.3 input check: the hash stored in dk must be H(ek).
        let ek = &dk[params.ek_len - 32..][..params.ek_len];
        let h = &dk[params.dk_len - 64..params.dk_len - 32];
        if !crate::hash::ct_eq(h, &crate::hash::sha3_256(ek)) {
            return Err(Error::invalid_key(
                alg,
                "expanded key fails the FIPS 203 hash check",
            ));
        }
        let key = lc::DecapsulationKey::new(params.lc, dk)
            .map_err(|_| Error::invalid_key(alg, "expanded key rejected"))?;
        let public = EncapsulationKey::from_bytes(alg, ek)?;
        Ok(Self {
            alg,
            secret: Secret::MlKem { seed: None, key },
            public,
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> AlgorithmId {
        self.alg
    }

    /// The seed (secret!): `d ‖ z` for ML-KEM, 32 bytes for X-Wing. Fails for an ML-KEM key
    /// imported from its expanded form.
    pub fn seed(&self) -> Result<&[u8]> {
        match &self.secret {
            Secret::MlKem {
                seed: Some(seed), ..
            } => Ok(seed.as_ref()),
            Secret::MlKem { seed: None, .. } => Err(Error::NotExportable(
                "ML-KEM key was imported in expanded form; its seed is unknown",
            )),
            Secret::XWing(secret) => Ok(secret.seed()),
        }
    }

    /// The FIPS 203 expanded decapsulation key (secret!), for interoperability with software that
    /// only reads that form. ML-KEM only.
    pub fn expanded_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        match &self.secret {
            Secret::MlKem { key, .. } => key
                .key_bytes()
                .map(|b| Zeroizing::new(b.as_ref().to_vec()))
                .map_err(|_| Error::Provider("ML-KEM key export")),
            Secret::XWing(_) => Err(Error::WrongAlgorithmKind {
                alg: self.alg,
                operation: "expanded-key export",
            }),
        }
    }

    /// The matching public key.
    pub fn encapsulation_key(&self) -> &EncapsulationKey {
        &self.public
    }

    /// Recovers the shared secret from a ciphertext. An ML-KEM ciphertext of the right length that
    /// was tampered with yields a different, pseudorandom secret (implicit rejection, FIPS 203
    /// §6.3), so callers authenticate what they derive from it.
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<SharedSecret> {
        match &self.secret {
            Secret::MlKem { key, .. } => {
                let params = mlkem_params(self.alg)?;
                Error::check_len("ML-KEM ciphertext", params.ct_len, ciphertext.len())?;
                let ss = key
                    .decapsulate(lc::Ciphertext::from(ciphertext))
                    .map_err(|_| Error::DecryptionFailed)?;
                SharedSecret::from_slice(ss.as_ref())
            }
            Secret::XWing(secret) => secret.decapsulate(ciphertext).map(SharedSecret::new),
        }
    }
}

/// A KEM public (encapsulation) key.
#[derive(Clone)]
pub struct EncapsulationKey {
    alg: AlgorithmId,
    bytes: Vec<u8>,
    /// The parsed aws-lc-rs ML-KEM key (for X-Wing, its ML-KEM-768 half), shared by clones.
    parsed: Arc<lc::EncapsulationKey>,
}

impl fmt::Debug for EncapsulationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncapsulationKey")
            .field("alg", &self.alg)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl PartialEq for EncapsulationKey {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg && self.bytes == other.bytes
    }
}

impl Eq for EncapsulationKey {}

impl EncapsulationKey {
    /// A public key from its raw encoding (FIPS 203 `ek`; X-Wing's 1216-byte key). ML-KEM keys
    /// get the FIPS 203 §7.2 modulus check.
    pub fn from_bytes(alg: AlgorithmId, bytes: &[u8]) -> Result<Self> {
        alg.expect_kind(AlgorithmKind::Kem, "key encapsulation")?;
        if alg == AlgorithmId::XWing {
            let mlkem_half = xwing::parse_public_key(bytes)?;
            return Ok(Self {
                alg,
                bytes: bytes.to_vec(),
                parsed: Arc::new(mlkem_half),
            });
        }
        let params = mlkem_params(alg)?;
        Error::check_len("ML-KEM encapsulation key", params.ek_len, bytes.len())?;
        mlkem_modulus_check(bytes).map_err(|_| Error::invalid_key(alg, "modulus check failed"))?;
        let parsed = lc::EncapsulationKey::new(params.lc, bytes)
            .map_err(|_| Error::invalid_key(alg, "rejected by aws-lc"))?;
        Ok(Self {
            alg,
            bytes: bytes.to_vec(),
            parsed: Arc::new(parsed),
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

    /// A fresh shared secret and the ciphertext that carries it to the private-key holder.
    pub fn encapsulate(&self) -> Result<(Vec<u8>, SharedSecret)> {
        if self.alg == AlgorithmId::XWing {
            let (ct, ss) = xwing::encapsulate(&self.parsed, &self.bytes)?;
            return Ok((ct, SharedSecret::new(ss)));
        }
        let (ct, ss) = self
            .parsed
            .encapsulate()
            .map_err(|_| Error::Provider("ML-KEM encapsulation"))?;
        Ok((ct.as_ref().to_vec(), SharedSecret::from_slice(ss.as_ref())?))
    }
}

/// FIPS 203 §7.2 encapsulation-key check: every 12-bit coefficient of `t` is below q = 3329.
fn mlkem_modulus_check(ek: &[u8]) -> core::result::Result<(), ()> {
    const Q: u16 = 3329;
    let t = &ek[..ek.len() - 32];
    for chunk in t.chunks_exact(3) {
        let a = u16::from(chunk[0]) | (u16::from(chunk[1] & 0x0f) << 8);
        let b = u16::from(chunk[1] >> 4) | (u16::from(chunk[2]) << 4);
        if a >= Q || b >= Q {
            return Err(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlkem_round_trip_all_sizes() {
        let rng = Rng::new();
        for alg in [
            AlgorithmId::MlKem512,
            AlgorithmId::MlKem768,
            AlgorithmId::MlKem1024,
        ] {
            let dk = DecapsulationKey::generate(alg, &rng).unwrap();
            let (ct, ss) = dk.encapsulation_key().encapsulate().unwrap();
            assert_eq!(dk.decapsulate(&ct).unwrap().as_bytes(), ss.as_bytes());
            // Same seed, same key.
            let again = DecapsulationKey::from_seed(alg, dk.seed().unwrap()).unwrap();
            assert_eq!(again.encapsulation_key(), dk.encapsulation_key());
            // Expanded import agrees and keeps working.
            let expanded =
                DecapsulationKey::from_expanded(alg, &dk.expanded_bytes().unwrap()).unwrap();
            assert_eq!(expanded.decapsulate(&ct).unwrap().as_bytes(), ss.as_bytes());
            assert!(matches!(expanded.seed(), Err(Error::NotExportable(_))));
        }
    }

    #[test]
    fn tampered_ciphertext_gives_another_secret() {
        let dk = DecapsulationKey::generate(AlgorithmId::MlKem768, &Rng::new()).unwrap();
        let (mut ct, ss) = dk.encapsulation_key().encapsulate().unwrap();
        ct[10] ^= 1;
        assert_ne!(dk.decapsulate(&ct).unwrap().as_bytes(), ss.as_bytes());
    }

    #[test]
    fn bad_lengths_and_algorithms_are_typed_errors() {
        let rng = Rng::new();
        assert!(matches!(
            DecapsulationKey::from_seed(AlgorithmId::MlKem768, &[0u8; 63]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(matches!(
            DecapsulationKey::generate(AlgorithmId::MlDsa65, &rng),
            Err(Error::WrongAlgorithmKind { .. })
        ));
        let dk = DecapsulationKey::generate(AlgorithmId::MlKem768, &rng).unwrap();
        assert!(matches!(
            dk.decapsulate(&[0u8; 1087]),
            Err(Error::InvalidLength { .. })
        ));
        assert!(EncapsulationKey::from_bytes(AlgorithmId::MlKem768, &[0u8; 10]).is_err());
        // A coefficient of 0xfff is above q.
        let mut ek = dk.encapsulation_key().as_bytes().to_vec();
        ek[0] = 0xff;
        ek[1] |= 0x0f;
        assert!(matches!(
            EncapsulationKey::from_bytes(AlgorithmId::MlKem768, &ek),
            Err(Error::InvalidKey { .. })
        ));
        let mut dk_bytes = dk.expanded_bytes().unwrap();
        dk_bytes[2400 - 40] ^= 1;
        assert!(DecapsulationKey::from_expanded(AlgorithmId::MlKem768, &dk_bytes).is_err());
    }
}
