//! X-Wing: the X25519 + ML-KEM-768 hybrid KEM of draft-connolly-cfrg-xwing-kem-06.
//!
//! A key is a 32-byte seed. SHAKE256 stretches it to 96 bytes: the first 64 are the ML-KEM-768
//! seed `d ‖ z`, the last 32 the X25519 private scalar. Public keys are `pk_M ‖ pk_X`
//! (1184 + 32 bytes), ciphertexts `ct_M ‖ ct_X` (1088 + 32 bytes), and the shared secret is
//! `SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ "\.//^\")`, which stays secret while either half holds.
//!
//! ML-KEM runs in aws-lc-rs (the seed expanded by libcrux, as for plain ML-KEM); X25519 in
//! aws-lc-rs. One departure from the draft's letter: aws-lc refuses an X25519 exchange whose
//! result is all zeros (a low-order peer point). Such a point can only come from a malicious
//! party, and qsafe answers it with an error rather than a secret derived from a public value.

use aws_lc_rs::agreement::{self, UnparsedPublicKey, X25519};
use aws_lc_rs::kem as lc;
use sha3::{Digest, Sha3_256};
use shake::{ExtendableOutput, Shake256, Update, XofReader};
use zeroize::Zeroizing;

use super::{MLKEM_SEED_LEN, mlkem_from_seed};
use crate::alg::AlgorithmId;
use crate::error::{Error, Result};

/// Length of an X-Wing private key (its seed).
pub(crate) const SEED_LEN: usize = 32;
const X25519_LEN: usize = 32;
const MLKEM768_EK_LEN: usize = 1184;
const MLKEM768_CT_LEN: usize = 1088;
/// Length of an X-Wing public key.
pub(crate) const PUBLIC_KEY_LEN: usize = MLKEM768_EK_LEN + X25519_LEN;
/// Length of an X-Wing ciphertext.
pub(crate) const CIPHERTEXT_LEN: usize = MLKEM768_CT_LEN + X25519_LEN;
/// The draft's domain-separation label, the ASCII art `\.//^\`.
const LABEL: &[u8; 6] = br"\.//^\";

/// An X-Wing private key: its seed and the two expanded component keys.
pub(crate) struct XWingSecret {
    seed: Zeroizing<[u8; SEED_LEN]>,
    mlkem: lc::DecapsulationKey,
    x25519: agreement::PrivateKey,
    public: Vec<u8>,
}

impl XWingSecret {
    /// The key derived from its 32-byte seed (the draft's `expandDecapsulationKey`).
    pub(crate) fn from_seed(seed: &[u8]) -> Result<Self> {
        Error::check_len("X-Wing seed", SEED_LEN, seed.len())?;
        let mut fixed = Zeroizing::new([0u8; SEED_LEN]);
        fixed.copy_from_slice(seed);

        let mut expanded = Zeroizing::new([0u8; MLKEM_SEED_LEN + X25519_LEN]);
        let mut xof = Shake256::default();
        xof.update(seed);
        xof.finalize_xof().read(expanded.as_mut());

        let mut mlkem_seed = Zeroizing::new([0u8; MLKEM_SEED_LEN]);
        mlkem_seed.copy_from_slice(&expanded[..MLKEM_SEED_LEN]);
        let (mlkem, pk_m) = mlkem_from_seed(AlgorithmId::MlKem768, &mlkem_seed)?;
        let x25519 = agreement::PrivateKey::from_private_key(&X25519, &expanded[MLKEM_SEED_LEN..])
            .map_err(|_| Error::invalid_key(AlgorithmId::XWing, "X25519 scalar rejected"))?;
        let pk_x = x25519
            .compute_public_key()
            .map_err(|_| Error::Provider("X25519 public key"))?;

        let mut public = pk_m;
        public.extend_from_slice(pk_x.as_ref());
        Ok(Self {
            seed: fixed,
            mlkem,
            x25519,
            public,
        })
    }

    /// The seed (secret!).
    pub(crate) fn seed(&self) -> &[u8] {
        self.seed.as_ref()
    }

    /// The 1216-byte public key `pk_M ‖ pk_X`.
    pub(crate) fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// Recovers the shared secret from a 1120-byte ciphertext.
    pub(crate) fn decapsulate(&self, ct: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        Error::check_len("X-Wing ciphertext", CIPHERTEXT_LEN, ct.len())?;
        let (ct_m, ct_x) = ct.split_at(MLKEM768_CT_LEN);
        let ss_m = self
            .mlkem
            .decapsulate(lc::Ciphertext::from(ct_m))
            .map_err(|_| Error::DecryptionFailed)?;
        let ss_x = x25519_agree(&self.x25519, ct_x)?;
        let pk_x = &self.public[MLKEM768_EK_LEN..];
        Ok(combine(ss_m.as_ref(), ss_x.as_ref(), ct_x, pk_x))
    }
}

/// Checks the length and the ML-KEM-768 half (FIPS 203 §7.2 modulus check) of a public key.
fn validate_public_key(pk: &[u8]) -> Result<()> {
    Error::check_len("X-Wing public key", PUBLIC_KEY_LEN, pk.len())?;
    super::mlkem_modulus_check(&pk[..MLKEM768_EK_LEN])
        .map_err(|_| Error::invalid_key(AlgorithmId::XWing, "ML-KEM-768 modulus check failed"))
}

/// Validates a public key and parses its ML-KEM-768 half for [`encapsulate`].
pub(crate) fn parse_public_key(pk: &[u8]) -> Result<lc::EncapsulationKey> {
    validate_public_key(pk)?;
    lc::EncapsulationKey::new(&lc::ML_KEM_768, &pk[..MLKEM768_EK_LEN])
        .map_err(|_| Error::invalid_key(AlgorithmId::XWing, "ML-KEM-768 key rejected"))
}

/// A fresh shared secret for the public key `pk` (whose ML-KEM half is `ek_m`, from
/// [`parse_public_key`]) and the ciphertext carrying it.
pub(crate) fn encapsulate(
    ek_m: &lc::EncapsulationKey,
    pk: &[u8],
) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
    Error::check_len("X-Wing public key", PUBLIC_KEY_LEN, pk.len())?;
    let pk_x = &pk[MLKEM768_EK_LEN..];
    let (ct_m, ss_m) = ek_m
        .encapsulate()
        .map_err(|_| Error::Provider("ML-KEM-768 encapsulation"))?;
    let eph = agreement::PrivateKey::generate(&X25519)
        .map_err(|_| Error::Provider("X25519 ephemeral key"))?;
    finish_encapsulation(ct_m.as_ref(), ss_m.as_ref(), &eph, pk_x)
}

/// `EncapsulateDerand`: encapsulation with caller-chosen randomness `eseed` (32 bytes for
/// ML-KEM, 32 for the ephemeral X25519 scalar). Known-answer tests only.
#[cfg(test)]
pub(crate) fn encapsulate_derand(
    pk: &[u8],
    eseed: &[u8; 64],
) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
    validate_public_key(pk)?;
    let (pk_m, pk_x) = pk.split_at(MLKEM768_EK_LEN);
    let mut m = [0u8; 32];
    m.copy_from_slice(&eseed[..32]);
    let (ct_m, ss_m) = super::mlkem768_encapsulate_derand(pk_m, &m)?;
    let eph = agreement::PrivateKey::from_private_key(&X25519, &eseed[32..])
        .map_err(|_| Error::Provider("X25519 ephemeral key"))?;
    finish_encapsulation(&ct_m, ss_m.as_ref(), &eph, pk_x)
}

fn finish_encapsulation(
    ct_m: &[u8],
    ss_m: &[u8],
    eph: &agreement::PrivateKey,
    pk_x: &[u8],
) -> Result<(Vec<u8>, Zeroizing<[u8; 32]>)> {
    let ct_x = eph
        .compute_public_key()
        .map_err(|_| Error::Provider("X25519 public key"))?;
    let ss_x = x25519_agree(eph, pk_x)?;
    let ss = combine(ss_m, ss_x.as_ref(), ct_x.as_ref(), pk_x);
    let mut ct = Vec::with_capacity(CIPHERTEXT_LEN);
    ct.extend_from_slice(ct_m);
    ct.extend_from_slice(ct_x.as_ref());
    Ok((ct, ss))
}

fn x25519_agree(private: &agreement::PrivateKey, peer: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    agreement::agree(
        private,
        UnparsedPublicKey::new(&X25519, peer),
        Error::invalid_key(AlgorithmId::XWing, "X25519 exchange with a low-order point"),
        |shared| {
            let mut out = Zeroizing::new([0u8; 32]);
            out.copy_from_slice(shared);
            Ok(out)
        },
    )
}

/// The X-Wing combiner.
fn combine(ss_m: &[u8], ss_x: &[u8], ct_x: &[u8], pk_x: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut h = Sha3_256::new();
    Digest::update(&mut h, ss_m);
    Digest::update(&mut h, ss_x);
    Digest::update(&mut h, ct_x);
    Digest::update(&mut h, pk_x);
    Digest::update(&mut h, LABEL);
    Zeroizing::new(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// Vectors from draft-connolly-cfrg-xwing-kem (see tests/vectors/xwing/README.md).
    const VECTORS: &str = include_str!("../../tests/vectors/xwing/test-vectors.json");

    #[derive(serde::Deserialize)]
    struct Vector {
        seed: String,
        eseed: String,
        ss: String,
        pk: String,
        ct: String,
    }

    fn unhex(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn draft_vectors() {
        let vectors: Vec<Vector> = serde_json::from_str(VECTORS).unwrap();
        assert!(vectors.len() >= 3);
        for v in vectors {
            let key = XWingSecret::from_seed(&unhex(&v.seed)).unwrap();
            assert_eq!(hex::encode(key.public_key()), v.pk);
            let eseed: [u8; 64] = unhex(&v.eseed).try_into().unwrap();
            let (ct, ss) = encapsulate_derand(key.public_key(), &eseed).unwrap();
            assert_eq!(hex::encode(&ct), v.ct);
            assert_eq!(hex::encode(ss.as_ref()), v.ss);
            assert_eq!(
                hex::encode(key.decapsulate(&unhex(&v.ct)).unwrap().as_ref()),
                v.ss
            );
        }
    }

    #[test]
    fn random_round_trip_and_tamper() {
        let seed = Rng::new().bytes::<SEED_LEN>().unwrap();
        let key = XWingSecret::from_seed(seed.as_ref()).unwrap();
        let ek = parse_public_key(key.public_key()).unwrap();
        let (mut ct, ss) = encapsulate(&ek, key.public_key()).unwrap();
        assert_eq!(key.decapsulate(&ct).unwrap().as_ref(), ss.as_ref());
        // Tampering with either half changes the secret.
        ct[5] ^= 1;
        assert_ne!(key.decapsulate(&ct).unwrap().as_ref(), ss.as_ref());
        ct[5] ^= 1;
        ct[CIPHERTEXT_LEN - 1] ^= 0x40;
        assert_ne!(key.decapsulate(&ct).unwrap().as_ref(), ss.as_ref());
    }

    #[test]
    fn bad_inputs_are_errors() {
        assert!(XWingSecret::from_seed(&[0u8; 31]).is_err());
        let key = XWingSecret::from_seed(&[7u8; 32]).unwrap();
        assert!(key.decapsulate(&[0u8; CIPHERTEXT_LEN - 1]).is_err());
        assert!(validate_public_key(&[0u8; PUBLIC_KEY_LEN + 1]).is_err());
        // An all-zero X25519 point is low-order: rejected, not turned into a secret.
        let ek = parse_public_key(key.public_key()).unwrap();
        let mut ct = encapsulate(&ek, key.public_key()).unwrap().0;
        ct[MLKEM768_CT_LEN..].fill(0);
        assert!(key.decapsulate(&ct).is_err());
        let mut pk = key.public_key().to_vec();
        pk[MLKEM768_EK_LEN..].fill(0);
        assert!(encapsulate(&ek, &pk).is_err());
        assert!(parse_public_key(&pk[..PUBLIC_KEY_LEN - 1]).is_err());
    }
}
