//! Tests of composite ML-DSA-65 + ECDSA-P256: the draft's test vectors and message-representative
//! examples, round trips, context binding, no mixing or stripping of halves, and typed errors for
//! malformed input.

use base64ct::{Base64, Encoding as _};
use der::Decode as _;

use super::*;

/// The draft-19 Appendix E entry for id-MLDSA65-ECDSA-P256-SHA512 (see the README next to it).
const VECTORS: &str =
    include_str!("../../../tests/vectors/composite/mldsa65-ecdsa-p256-sha512.json");

/// The P-256 group order n.
const P256_ORDER: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

fn b64(value: &serde_json::Value) -> Vec<u8> {
    Base64::decode_vec(value.as_str().unwrap()).unwrap()
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn key() -> CompositeSigningKey {
    CompositeSigningKey::generate(&Rng::new()).unwrap()
}

/// Splits a composite signature into its ML-DSA and ECDSA halves.
fn halves(sig: &[u8]) -> (&[u8], &[u8]) {
    sig.split_at(MLDSA_SIGNATURE_LEN)
}

fn joined(mldsa: &[u8], ecdsa: &[u8]) -> Vec<u8> {
    [mldsa, ecdsa].concat()
}

#[test]
fn draft_test_vectors() {
    let doc: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let m = b64(&doc["m"]);
    let ctx = b64(&doc["ctx"]);
    assert_eq!(m, b"The quick brown fox jumps over the lazy dog.");
    let tests = doc["tests"].as_array().unwrap();
    let mut count = 0;
    for test in tests {
        assert_eq!(test["tcId"], "id-MLDSA65-ECDSA-P256-SHA512");
        let pk = b64(&test["pk"]);
        let sk = b64(&test["sk"]);
        let s = b64(&test["s"]);
        let s_ctx = b64(&test["sWithContext"]);

        // Import sk: the derived public key is pk, and re-export gives back sk byte for byte.
        let key = CompositeSigningKey::from_private_bytes(&sk).unwrap();
        assert_eq!(key.public_key(), pk);
        assert_eq!(key.private_bytes().unwrap().as_slice(), sk.as_slice());

        // sk_pkcs8 wraps the same bytes under the composite OID that alg.rs registers.
        let pkcs8 = b64(&test["sk_pkcs8"]);
        let info = pkcs8::PrivateKeyInfoRef::from_der(&pkcs8).unwrap();
        assert_eq!(info.algorithm.oid, ALG.oid());
        assert_eq!(info.algorithm.oid.to_string(), "1.3.6.1.5.5.7.6.45");
        assert!(info.algorithm.parameters.is_none());
        assert_eq!(info.private_key.as_bytes(), sk.as_slice());

        // The published signatures verify, each only under its own context.
        verify(&pk, &m, &[], &s).unwrap();
        verify(&pk, &m, &ctx, &s_ctx).unwrap();
        assert_eq!(verify(&pk, &m, &ctx, &s), Err(Error::BadSignature));
        assert_eq!(verify(&pk, &m, &[], &s_ctx), Err(Error::BadSignature));
        assert_eq!(
            verify(&pk, b"The quick brown fox", &[], &s),
            Err(Error::BadSignature)
        );

        // Fresh signatures from the imported key verify under the published public key.
        verify(&pk, &m, &[], &key.sign(&m, &[]).unwrap()).unwrap();
        verify(&pk, &m, &ctx, &key.sign(&m, &ctx).unwrap()).unwrap();
        count += 1;
    }
    assert_eq!(count, 1);
    println!("composite draft-19 test vectors: {count} MLDSA65-ECDSA-P256-SHA512 case(s) passed");
}

#[test]
fn message_representative_matches_draft_appendix_d() {
    let m = h("00010203040506070809");
    let expected_no_ctx = h(concat!(
        "436f6d706f73697465416c676f726974686d5369676e61747572657332303235",
        "434f4d505349472d4d4c44534136352d45434453412d503235362d534841353132",
        "00",
        "0f89ee1fcb7b0a4f7809d1267a029719004c5a5e5ec323a7c3523a20974f9a3f",
        "202f56fadba4cd9e8d654ab9f2e96dc5c795ea176fa20ede8d854c342f903533",
    ));
    assert_eq!(message_representative(&m, &[]).unwrap(), expected_no_ctx);

    let expected_ctx = h(concat!(
        "436f6d706f73697465416c676f726974686d5369676e61747572657332303235",
        "434f4d505349472d4d4c44534136352d45434453412d503235362d534841353132",
        "08",
        "0813061205162623",
        "0f89ee1fcb7b0a4f7809d1267a029719004c5a5e5ec323a7c3523a20974f9a3f",
        "202f56fadba4cd9e8d654ab9f2e96dc5c795ea176fa20ede8d854c342f903533",
    ));
    assert_eq!(
        message_representative(&m, &h("0813061205162623")).unwrap(),
        expected_ctx
    );
}

#[test]
fn generate_sign_verify_and_reimport() {
    let key = key();
    let pk = key.public_key();
    assert_eq!(pk.len(), PUBLIC_KEY_LEN);
    assert_eq!(pk[MLDSA_PUBLIC_KEY_LEN], 0x04);
    let sk = key.private_bytes().unwrap();
    assert_eq!(sk.len(), PRIVATE_KEY_LEN);
    assert_eq!(&sk[SCALAR_LEN..SCALAR_LEN + 7], &EC_PRIVATE_KEY_HEAD);

    for (msg, ctx) in [
        (&b""[..], &b""[..]),
        (b"artifact digest", b""),
        (b"artifact digest", b"qsafe/artifact"),
        (&[0xabu8; 10_000][..], &[7u8; 255][..]),
    ] {
        let sig = key.sign(msg, ctx).unwrap();
        assert!((MLDSA_SIGNATURE_LEN + 8..=MLDSA_SIGNATURE_LEN + 72).contains(&sig.len()));
        verify(&pk, msg, ctx, &sig).unwrap();
    }

    let again = CompositeSigningKey::from_private_bytes(&sk).unwrap();
    assert_eq!(again.public_key(), pk);
    assert_eq!(again.private_bytes().unwrap(), sk);
    verify(&pk, b"x", b"", &again.sign(b"x", b"").unwrap()).unwrap();

    // Two generated keys share neither component.
    let other = CompositeSigningKey::generate(&Rng::new())
        .unwrap()
        .public_key();
    assert_ne!(other[..MLDSA_PUBLIC_KEY_LEN], pk[..MLDSA_PUBLIC_KEY_LEN]);
    assert_ne!(other[MLDSA_PUBLIC_KEY_LEN..], pk[MLDSA_PUBLIC_KEY_LEN..]);
}

#[test]
fn signing_is_hedged() {
    let key = key();
    let a = key.sign(b"same message", b"").unwrap();
    let b = key.sign(b"same message", b"").unwrap();
    assert_ne!(
        halves(&a).0,
        halves(&b).0,
        "ML-DSA half must use fresh randomness"
    );
    assert_ne!(halves(&a).1, halves(&b).1);
}

#[test]
fn context_is_bound() {
    let key = key();
    let pk = key.public_key();
    let sig = key.sign(b"msg", b"context A").unwrap();
    verify(&pk, b"msg", b"context A", &sig).unwrap();
    for other in [&b"context B"[..], b"", b"context A\0", b"context "] {
        assert_eq!(verify(&pk, b"msg", other, &sig), Err(Error::BadSignature));
    }
    assert_eq!(
        verify(&pk, b"msg2", b"context A", &sig),
        Err(Error::BadSignature)
    );

    // The longest context is 255 bytes; one more is a typed error on both sides.
    let long = [0x5au8; 255];
    verify(&pk, b"m", &long, &key.sign(b"m", &long).unwrap()).unwrap();
    let too_long = [0x5au8; 256];
    assert!(matches!(
        key.sign(b"m", &too_long),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        verify(&pk, b"m", &too_long, &sig),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn halves_cannot_be_swapped_mixed_or_stripped() {
    let key1 = key();
    let key2 = key();
    let pk1 = key1.public_key();
    let msg = b"release v1.2.3";
    let sig1 = key1.sign(msg, b"").unwrap();
    let (mldsa1, ecdsa1) = halves(&sig1);

    // Each half replaced by a valid half of another signature by the same key over another
    // message, or under another context.
    let other_msg = key1.sign(b"release v1.2.4", b"").unwrap();
    let other_ctx = key1.sign(msg, b"ctx").unwrap();
    for other in [&other_msg, &other_ctx] {
        let (mldsa_x, ecdsa_x) = halves(other);
        assert_eq!(
            verify(&pk1, msg, b"", &joined(mldsa_x, ecdsa1)),
            Err(Error::BadSignature)
        );
        assert_eq!(
            verify(&pk1, msg, b"", &joined(mldsa1, ecdsa_x)),
            Err(Error::BadSignature)
        );
    }

    // Halves taken from another key's signature over the same message.
    let sig2 = key2.sign(msg, b"").unwrap();
    let (mldsa2, ecdsa2) = halves(&sig2);
    assert_eq!(
        verify(&pk1, msg, b"", &joined(mldsa2, ecdsa1)),
        Err(Error::BadSignature)
    );
    assert_eq!(
        verify(&pk1, msg, b"", &joined(mldsa1, ecdsa2)),
        Err(Error::BadSignature)
    );

    // Component signatures made outside the composite: a plain ML-DSA signature of M' (empty
    // ML-DSA context instead of the label), a plain ML-DSA signature of the message itself, and an
    // ECDSA signature of the message itself.
    let m_prime = message_representative(msg, b"").unwrap();
    let plain_mldsa = key1
        .mldsa
        .sign_deterministic(&m_prime, b"")
        .unwrap()
        .encode();
    assert_eq!(
        verify(&pk1, msg, b"", &joined(plain_mldsa.as_slice(), ecdsa1)),
        Err(Error::BadSignature)
    );
    let raw_mldsa = key1.mldsa.sign_deterministic(msg, LABEL).unwrap().encode();
    assert_eq!(
        verify(&pk1, msg, b"", &joined(raw_mldsa.as_slice(), ecdsa1)),
        Err(Error::BadSignature)
    );
    let raw_ecdsa = key1
        .ecdsa
        .sign(&aws_lc_rs::rand::SystemRandom::new(), msg)
        .unwrap();
    assert_eq!(
        verify(&pk1, msg, b"", &joined(mldsa1, raw_ecdsa.as_ref())),
        Err(Error::BadSignature)
    );
    // Sanity: the composite's own ML-DSA half is a valid ML-DSA signature of M' under the label,
    // so the rejections above come from the binding, not from a broken half.
    let vk = key1.mldsa.verifying_key();
    let own = ml_dsa::Signature::<MlDsa65>::try_from(mldsa1).unwrap();
    assert!(vk.verify_with_context(&m_prime, LABEL, &own));
    assert!(!vk.verify_with_context(&m_prime, b"", &own));

    // Stripping: either half alone, or a half duplicated, is not a signature.
    for stripped in [
        mldsa1.to_vec(),
        ecdsa1.to_vec(),
        joined(mldsa1, mldsa1),
        joined(ecdsa1, mldsa1),
        joined(mldsa1, &[]),
    ] {
        assert_eq!(verify(&pk1, msg, b"", &stripped), Err(Error::BadSignature));
    }

    // A composite public key stitched from two keys verifies neither key's signature.
    let pk2 = key2.public_key();
    let stitched = joined(&pk1[..MLDSA_PUBLIC_KEY_LEN], &pk2[MLDSA_PUBLIC_KEY_LEN..]);
    assert_eq!(verify(&stitched, msg, b"", &sig1), Err(Error::BadSignature));
    assert_eq!(verify(&stitched, msg, b"", &sig2), Err(Error::BadSignature));
}

#[test]
fn malformed_signatures_are_bad_signatures_never_panics() {
    let key = key();
    let pk = key.public_key();
    let sig = key.sign(b"m", b"").unwrap();
    let mut lengths: Vec<usize> = (0..16).collect();
    lengths.extend([
        MLDSA_SIGNATURE_LEN - 1,
        MLDSA_SIGNATURE_LEN,
        MLDSA_SIGNATURE_LEN + 1,
        MLDSA_SIGNATURE_LEN + 7,
        MLDSA_SIGNATURE_LEN + 8,
    ]);
    lengths.extend(MLDSA_SIGNATURE_LEN + 9..sig.len());
    for len in lengths {
        assert_eq!(
            verify(&pk, b"m", b"", &sig[..len]),
            Err(Error::BadSignature),
            "truncated to {len}"
        );
    }
    // Trailing bytes after the DER signature, and an over-long tail.
    let mut extended = sig.clone();
    extended.push(0);
    assert_eq!(verify(&pk, b"m", b"", &extended), Err(Error::BadSignature));
    let long = joined(&sig, &[0u8; 80]);
    assert_eq!(verify(&pk, b"m", b"", &long), Err(Error::BadSignature));

    // Single bit flips in either half, and at the seam.
    for i in [
        0,
        100,
        MLDSA_SIGNATURE_LEN - 1,
        MLDSA_SIGNATURE_LEN,
        sig.len() - 1,
    ] {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            verify(&pk, b"m", b"", &bad),
            Err(Error::BadSignature),
            "flip {i}"
        );
    }

    // Random garbage of every plausible length.
    let rng = Rng::new();
    for len in [0, 1, 64, 3309, 3317, 3380, 3381, 3382, 5000] {
        let mut junk = vec![0u8; len];
        rng.fill(&mut junk).unwrap();
        assert_eq!(verify(&pk, b"m", b"", &junk), Err(Error::BadSignature));
        // A valid ML-DSA half followed by junk.
        let mixed = joined(halves(&sig).0, &junk[..len.min(72)]);
        assert_eq!(verify(&pk, b"m", b"", &mixed), Err(Error::BadSignature));
    }
}

#[test]
fn malformed_public_keys_are_typed_errors() {
    let key = key();
    let pk = key.public_key();
    let sig = key.sign(b"m", b"").unwrap();
    for len in [
        0,
        1,
        MLDSA_PUBLIC_KEY_LEN,
        PUBLIC_KEY_LEN - 1,
        PUBLIC_KEY_LEN + 1,
    ] {
        let mut bad = pk.clone();
        bad.resize(len, 0);
        assert_eq!(
            verify(&bad, b"m", b"", &sig),
            Err(Error::InvalidLength {
                what: "composite public key",
                expected: PUBLIC_KEY_LEN,
                got: len,
            })
        );
    }
    // Compressed-point prefix and two points that are not on the curve.
    let mut compressed = pk.clone();
    compressed[MLDSA_PUBLIC_KEY_LEN] = 0x02;
    let mut off_curve = pk.clone();
    off_curve[PUBLIC_KEY_LEN - 1] ^= 0x01;
    let mut zero = pk.clone();
    zero[MLDSA_PUBLIC_KEY_LEN + 1..].fill(0);
    for bad in [compressed, off_curve, zero] {
        assert!(matches!(
            verify(&bad, b"m", b"", &sig),
            Err(Error::InvalidKey { alg: ALG, .. })
        ));
    }
    // A different but well-formed ML-DSA key only makes the signature fail.
    let mut other_mldsa = pk.clone();
    other_mldsa[..MLDSA_PUBLIC_KEY_LEN].copy_from_slice(&key_other_mldsa_pk());
    assert_eq!(
        verify(&other_mldsa, b"m", b"", &sig),
        Err(Error::BadSignature)
    );
}

fn key_other_mldsa_pk() -> Vec<u8> {
    key().public_key()[..MLDSA_PUBLIC_KEY_LEN].to_vec()
}

/// A composite private key with the given `ECPrivateKey` body after the valid seed.
fn with_ec(ec_der: &[u8]) -> Vec<u8> {
    joined(&[0x11u8; SCALAR_LEN], ec_der)
}

fn canonical_ec(scalar: &[u8]) -> Vec<u8> {
    [&EC_PRIVATE_KEY_HEAD[..], scalar, &EC_PRIVATE_KEY_CURVE[..]].concat()
}

#[test]
fn malformed_private_keys_are_typed_errors() {
    let valid_scalar = [0x22u8; SCALAR_LEN];
    CompositeSigningKey::from_private_bytes(&with_ec(&canonical_ec(&valid_scalar))).unwrap();

    // Too short to hold the seed and any ECPrivateKey.
    for len in [0, 1, 31, 32] {
        assert!(matches!(
            CompositeSigningKey::from_private_bytes(&vec![0x11u8; len]),
            Err(Error::InvalidLength { got, .. }) if got == len
        ));
    }

    // Structurally broken DER: truncated anywhere, trailing data, wrong outer tag, version 0/2.
    let good = canonical_ec(&valid_scalar);
    for cut in 1..good.len() {
        assert!(
            matches!(
                CompositeSigningKey::from_private_bytes(&with_ec(&good[..cut])),
                Err(Error::Malformed { .. })
            ),
            "cut at {cut}"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    let mut wrong_tag = good.clone();
    wrong_tag[0] = 0x31;
    let mut version0 = good.clone();
    version0[4] = 0;
    let mut version2 = good.clone();
    version2[4] = 2;
    for bad in [trailing, wrong_tag, version0, version2] {
        assert!(matches!(
            CompositeSigningKey::from_private_bytes(&with_ec(&bad)),
            Err(Error::Malformed { .. })
        ));
    }

    // Well-formed but unacceptable: scalar 0, n, all-ones, a short scalar, another curve.
    let n: [u8; SCALAR_LEN] = h(P256_ORDER).try_into().unwrap();
    for scalar in [[0u8; SCALAR_LEN], n, [0xffu8; SCALAR_LEN]] {
        assert!(matches!(
            CompositeSigningKey::from_private_bytes(&with_ec(&canonical_ec(&scalar))),
            Err(Error::InvalidKey { alg: ALG, .. })
        ));
    }
    let short_scalar = [
        &[0x30, 0x30, 0x02, 0x01, 0x01, 0x04, 0x1f][..],
        &[0x22u8; 31][..],
        &EC_PRIVATE_KEY_CURVE[..],
    ]
    .concat();
    let p384 = [
        &EC_PRIVATE_KEY_HEAD[..],
        &valid_scalar[..],
        &[0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22][..],
    ]
    .concat();
    let p384 = [&[0x30, 0x2e][..], &p384[2..]].concat();
    for bad in [short_scalar, p384] {
        assert!(matches!(
            CompositeSigningKey::from_private_bytes(&with_ec(&bad)),
            Err(Error::InvalidKey { alg: ALG, .. })
        ));
    }

    // Random junk after the seed never panics.
    let rng = Rng::new();
    for len in [1, 2, 51, 52, 200] {
        let mut junk = vec![0u8; SCALAR_LEN + len];
        rng.fill(&mut junk).unwrap();
        assert!(CompositeSigningKey::from_private_bytes(&junk).is_err());
    }
}

#[test]
fn optional_ec_fields_are_checked_and_dropped_on_export() {
    let scalar = [0x22u8; SCALAR_LEN];
    let reference =
        CompositeSigningKey::from_private_bytes(&with_ec(&canonical_ec(&scalar))).unwrap();
    let point = reference.public_key()[MLDSA_PUBLIC_KEY_LEN..].to_vec();

    // ECPrivateKey with the [1] public key present (as OpenSSL writes it): accepted if it matches.
    let public_field = |point: &[u8]| {
        let mut field = vec![0xa1, 0x44, 0x03, 0x42, 0x00];
        field.extend_from_slice(point);
        field
    };
    let with_public = |point: &[u8]| {
        let body = [&canonical_ec(&scalar)[2..], &public_field(point)[..]].concat();
        [&[0x30, 0x77][..], &body[..]].concat()
    };
    let full = CompositeSigningKey::from_private_bytes(&with_ec(&with_public(&point))).unwrap();
    assert_eq!(full.public_key(), reference.public_key());
    assert_eq!(
        full.private_bytes().unwrap(),
        reference.private_bytes().unwrap()
    );
    assert_eq!(full.private_bytes().unwrap().len(), PRIVATE_KEY_LEN);

    // A public key that belongs to another scalar is rejected.
    let other = CompositeSigningKey::from_private_bytes(&with_ec(&canonical_ec(&[0x33; 32])))
        .unwrap()
        .public_key()[MLDSA_PUBLIC_KEY_LEN..]
        .to_vec();
    assert!(matches!(
        CompositeSigningKey::from_private_bytes(&with_ec(&with_public(&other))),
        Err(Error::InvalidKey { alg: ALG, .. })
    ));

    // Curve parameter absent: P-256 is implied by the algorithm; export restores it.
    let no_curve = [&[0x30, 0x25][..], &canonical_ec(&scalar)[2..2 + 3 + 2 + 32]].concat();
    let bare = CompositeSigningKey::from_private_bytes(&with_ec(&no_curve)).unwrap();
    assert_eq!(bare.public_key(), reference.public_key());
    assert_eq!(
        bare.private_bytes().unwrap(),
        reference.private_bytes().unwrap()
    );
}

#[test]
fn debug_output_is_redacted() {
    let key = key();
    let sk = key.private_bytes().unwrap();
    let shown = format!("{key:?}");
    assert!(shown.contains("redacted"));
    assert!(!shown.contains(&hex::encode(&sk[..8])));
    assert!(!shown.contains(&format!("{:?}", &sk[..4])));
}
