//! Property tests: round trips hold for arbitrary messages and associated data, and every decoder
//! of untrusted bytes answers arbitrary or mutated input with a typed error, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::LazyLock;

use proptest::prelude::*;
use qsafe_crypto::kem::DecapsulationKey;
use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{AlgorithmId, Error, Rng, envelope};

static RNG: LazyLock<Rng> = LazyLock::new(Rng::new);
static KEM: LazyLock<DecapsulationKey> =
    LazyLock::new(|| DecapsulationKey::generate(AlgorithmId::MlKem768, &RNG).unwrap());
static XWING: LazyLock<DecapsulationKey> =
    LazyLock::new(|| DecapsulationKey::generate(AlgorithmId::XWing, &RNG).unwrap());
static SIGNERS: LazyLock<Vec<SigningKey>> = LazyLock::new(|| {
    [
        AlgorithmId::MlDsa65,
        AlgorithmId::EcdsaP256,
        AlgorithmId::Ed25519,
        AlgorithmId::MlDsa65EcdsaP256,
    ]
    .into_iter()
    .map(|alg| SigningKey::generate(alg, &RNG).unwrap())
    .collect()
});
static KEY_DER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    PrivateKey::generate(AlgorithmId::MlDsa65, &RNG)
        .unwrap()
        .to_pkcs8_der()
        .unwrap()
        .to_vec()
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn hpke_envelopes_round_trip(pt in proptest::collection::vec(any::<u8>(), 0..2048),
                                 aad in proptest::collection::vec(any::<u8>(), 0..64),
                                 xwing in any::<bool>()) {
        let key = if xwing { &*XWING } else { &*KEM };
        let sealed = envelope::seal(key.encapsulation_key(), &aad, &pt).unwrap();
        let opened = envelope::open(key, &aad, &sealed).unwrap();
        prop_assert_eq!(opened.as_slice(), pt.as_slice());
    }

    #[test]
    fn a_flipped_bit_anywhere_is_rejected(pt in proptest::collection::vec(any::<u8>(), 0..256),
                                         pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let sealed = envelope::seal(KEM.encapsulation_key(), b"aad", &pt).unwrap();
        let mut bad = sealed.clone();
        let i = pos.index(bad.len());
        bad[i] ^= 1 << bit;
        prop_assert!(envelope::open(&KEM, b"aad", &bad).is_err());
    }

    #[test]
    fn symmetric_envelopes_round_trip(pt in proptest::collection::vec(any::<u8>(), 0..2048),
                                      aad in proptest::collection::vec(any::<u8>(), 0..64)) {
        let key = [7u8; 32];
        let sealed = envelope::seal_symmetric(&key, &aad, &pt, &RNG).unwrap();
        let opened = envelope::open_symmetric(&key, &aad, &sealed).unwrap();
        prop_assert_eq!(opened.as_slice(), pt.as_slice());
    }

    #[test]
    fn signatures_round_trip_and_bind_the_message(msg in proptest::collection::vec(any::<u8>(), 0..512),
                                                   which in 0usize..4) {
        let key = &SIGNERS[which];
        let sig = key.sign(&msg).unwrap();
        key.verifying_key().verify(&msg, &sig).unwrap();
        let mut other = msg.clone();
        other.push(0);
        prop_assert_eq!(key.verifying_key().verify(&other, &sig), Err(Error::BadSignature));
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let _ = PrivateKey::from_pkcs8_der(&bytes);
        let _ = PublicKey::from_spki_der(&bytes);
        let _ = envelope::inspect(&bytes);
        let _ = envelope::open(&KEM, b"", &bytes);
        let _ = envelope::open_symmetric(&[0u8; 32], b"", &bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = PrivateKey::from_pem(&text);
        let _ = PublicKey::from_pem(&text);
        for alg in AlgorithmId::ALL {
            let _ = PublicKey::from_raw(alg, &bytes);
            let _ = SigningKey::from_private_key_bytes(alg, &bytes);
            let _ = DecapsulationKey::from_seed(alg, &bytes);
        }
    }

    #[test]
    fn mutated_private_keys_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(),
                                        cut in any::<prop::sample::Index>()) {
        let mut der = KEY_DER.clone();
        let i = pos.index(der.len());
        der[i] = byte;
        let _ = PrivateKey::from_pkcs8_der(&der);
        let _ = PrivateKey::from_pkcs8_der(&KEY_DER[..cut.index(KEY_DER.len())]);
    }
}
