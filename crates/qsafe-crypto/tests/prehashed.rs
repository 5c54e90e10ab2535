//! ECDSA-P256 over a caller-supplied SHA-256 digest (`SigningKey::sign_digest` and friends):
//! agreement with signing the message, refusals, and interop with Python `cryptography`'s
//! `ec.ECDSA(utils.Prehashed(hashes.SHA256()))` in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/peer.rs"]
#[allow(
    dead_code,
    reason = "this test runs its peer inline, not from tests/interop/"
)]
mod peer;

use qsafe_crypto::hash::sha256;
use qsafe_crypto::keys::PublicKey;
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{AlgorithmId, Error, Rng};
use serde_json::json;

const MESSAGE: &[u8] = b"qsafe prehashed: the caller hashed this";

fn p256() -> SigningKey {
    SigningKey::generate(AlgorithmId::EcdsaP256, &Rng::new()).unwrap()
}

#[test]
fn digest_signatures_and_message_signatures_verify_each_other() {
    let key = p256();
    let vk = key.verifying_key();
    let digest = sha256(MESSAGE);
    let sha = AlgorithmId::Sha256;

    let over_digest = key.sign_digest(sha, &digest).unwrap();
    assert_eq!(over_digest[0], 0x30, "DER SEQUENCE");
    vk.verify(MESSAGE, &over_digest).unwrap();
    vk.verify_digest(sha, &digest, &over_digest).unwrap();

    let over_message = key.sign(MESSAGE).unwrap();
    vk.verify_digest(sha, &digest, &over_message).unwrap();

    let jose = key.sign_digest_jose(sha, &digest).unwrap();
    assert_eq!(jose.len(), 64, "r || s");
    vk.verify_jose(MESSAGE, &jose).unwrap();
    vk.verify_digest_jose(sha, &digest, &jose).unwrap();
    vk.verify_digest_jose(sha, &digest, &key.sign_jose(MESSAGE).unwrap())
        .unwrap();
}

#[test]
fn wrong_digest_signature_or_encoding_does_not_verify() {
    let key = p256();
    let vk = key.verifying_key();
    let sha = AlgorithmId::Sha256;
    let digest = sha256(MESSAGE);
    let sig = key.sign_digest(sha, &digest).unwrap();
    let mut other = digest;
    other[31] ^= 1;
    assert_eq!(
        vk.verify_digest(sha, &other, &sig),
        Err(Error::BadSignature)
    );
    assert_eq!(
        vk.verify(b"another message", &sig),
        Err(Error::BadSignature)
    );
    let mut flipped = sig.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(
        vk.verify_digest(sha, &digest, &flipped),
        Err(Error::BadSignature)
    );
    // The DER signature is not a JOSE one, and the reverse.
    assert_eq!(
        vk.verify_digest_jose(sha, &digest, &sig),
        Err(Error::BadSignature)
    );
    let jose = key.sign_digest_jose(sha, &digest).unwrap();
    assert_eq!(
        vk.verify_digest(sha, &digest, &jose),
        Err(Error::BadSignature)
    );
    // Another key's signature.
    assert_eq!(
        p256().verifying_key().verify_digest(sha, &digest, &sig),
        Err(Error::BadSignature)
    );
    assert_eq!(
        vk.verify_digest(sha, &digest, &[]),
        Err(Error::BadSignature)
    );
}

#[test]
fn digest_of_the_wrong_length_is_refused() {
    let key = p256();
    let vk = key.verifying_key();
    let sha = AlgorithmId::Sha256;
    let good = key.sign_digest(sha, &sha256(MESSAGE)).unwrap();
    for len in [0, 1, 20, 31, 33, 48, 64] {
        let digest = vec![7u8; len];
        let wrong = Error::InvalidLength {
            what: "SHA-256 digest",
            expected: 32,
            got: len,
        };
        assert_eq!(key.sign_digest(sha, &digest), Err(wrong.clone()), "{len}");
        assert_eq!(key.sign_digest_jose(sha, &digest), Err(wrong.clone()));
        assert_eq!(vk.verify_digest(sha, &digest, &good), Err(wrong.clone()));
        assert_eq!(vk.verify_digest_jose(sha, &digest, &good), Err(wrong));
    }
}

#[test]
fn other_hashes_are_refused() {
    let key = p256();
    let vk = key.verifying_key();
    let digest = [1u8; 32];
    for hash in [
        AlgorithmId::Sha3_256,
        AlgorithmId::HmacSha256,
        AlgorithmId::MlDsa65,
    ] {
        let refused = |r: Result<(), Error>| {
            assert!(
                matches!(r, Err(Error::WrongAlgorithmKind { alg, .. }) if alg == hash),
                "{hash}: {r:?}"
            );
        };
        refused(key.sign_digest(hash, &digest).map(drop));
        refused(key.sign_digest_jose(hash, &digest).map(drop));
        refused(vk.verify_digest(hash, &digest, &[0x30]));
        refused(vk.verify_digest_jose(hash, &digest, &[0u8; 64]));
    }
}

#[test]
fn other_key_types_are_refused() {
    let rng = Rng::new();
    let digest = sha256(MESSAGE);
    let sha = AlgorithmId::Sha256;
    for alg in [
        AlgorithmId::MlDsa44,
        AlgorithmId::MlDsa65,
        AlgorithmId::MlDsa87,
        AlgorithmId::Ed25519,
        AlgorithmId::MlDsa65EcdsaP256,
    ] {
        let key = SigningKey::generate(alg, &rng).unwrap();
        let sig = key.sign(MESSAGE).unwrap();
        let refused = |r: Result<(), Error>| {
            assert!(
                matches!(r, Err(Error::WrongAlgorithmKind { alg: a, .. }) if a == alg),
                "{alg}: {r:?}"
            );
        };
        refused(key.sign_digest(sha, &digest).map(drop));
        refused(key.sign_digest_jose(sha, &digest).map(drop));
        refused(key.verifying_key().verify_digest(sha, &digest, &sig));
        refused(key.verifying_key().verify_digest_jose(sha, &digest, &sig));
    }
}

#[test]
fn python_cryptography_prehashed_agrees_both_ways() {
    let Some(python) = peer::python(&["cryptography.hazmat.primitives.asymmetric.utils"]) else {
        return;
    };
    let sha = AlgorithmId::Sha256;
    let key = p256();
    let digest = sha256(MESSAGE);
    let peer_message = b"signed by python over a digest";
    let public_pem = PublicKey::Verifying(key.verifying_key().clone())
        .to_pem()
        .unwrap();
    let reply = peer::run_json(
        &python,
        "pyca_prehashed.py",
        &json!({
            "public_pem": public_pem,
            "digest": hex::encode(digest),
            "der": hex::encode(key.sign_digest(sha, &digest).unwrap()),
            "jose": hex::encode(key.sign_digest_jose(sha, &digest).unwrap()),
            "peer_digest": hex::encode(sha256(peer_message)),
        }),
    );
    let PublicKey::Verifying(theirs) =
        PublicKey::from_pem(reply["public_pem"].as_str().unwrap()).unwrap()
    else {
        panic!("peer key is not a verifying key")
    };
    assert_eq!(theirs.algorithm(), AlgorithmId::EcdsaP256);
    let sig = hex::decode(reply["signature"].as_str().unwrap()).unwrap();
    theirs
        .verify_digest(sha, &sha256(peer_message), &sig)
        .unwrap();
    theirs.verify(peer_message, &sig).unwrap();
    assert_eq!(
        theirs.verify_digest(sha, &digest, &sig),
        Err(Error::BadSignature)
    );
    println!("python cryptography and qsafe agree on prehashed ECDSA-P256");
}
