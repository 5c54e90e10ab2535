//! JOSE known-answer tests: RFC 9964 Appendix A (ML-DSA JWK thumbprints and JWS), RFC 8037
//! Appendix A (Ed25519 JWK, thumbprint, deterministic JWS) and RFC 7515 Appendix A.3 (ES256 JWS).
//! The data is in tests/vectors/jose/ (see its README for provenance).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use qsafe_crypto::jose::{self, Jwk};
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{AlgorithmId, encoding};
use serde_json::{Map, Value};

const VECTORS: &str = include_str!("vectors/jose/jose.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

#[test]
fn rfc9964_ml_dsa_keys_thumbprints_and_signatures() {
    let v = vectors();
    let cases = v["rfc9964_appendix_a"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let alg = jose::alg_from_jws_name(case["alg"].as_str().unwrap()).unwrap();
        let seed = hex::decode(case["seed_hex"].as_str().unwrap()).unwrap();
        let key = SigningKey::from_private_key_bytes(alg, &seed).unwrap();
        let public = encoding::b64url_decode("pub", case["pub"].as_str().unwrap()).unwrap();
        assert_eq!(key.verifying_key().as_bytes(), public.as_slice(), "{alg}");

        let jwk = Jwk::from_signing_key(key).unwrap();
        let kid = case["kid"].as_str().unwrap();
        assert_eq!(jwk.thumbprint(), kid, "{alg} thumbprint");

        let verified = jose::verify_compact(jwk.verifying_key(), case["jws"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{alg}: RFC 9964 JWS rejected: {e}"));
        assert_eq!(
            String::from_utf8(verified.payload).unwrap(),
            "It\u{2019}s a dangerous business, Frodo, going out your door."
        );
        assert_eq!(verified.header["kid"], kid);
        assert_eq!(verified.header["alg"], alg.name());

        // A JWS of our own with the same key verifies, and the vector's signature does not verify
        // over another payload.
        let token = jose::sign_compact(jwk.signing_key().unwrap(), Map::new(), b"x").unwrap();
        jose::verify_compact(jwk.verifying_key(), &token).unwrap();
        let parts: Vec<&str> = case["jws"].as_str().unwrap().split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            encoding::b64url_encode(b"x"),
            parts[2]
        );
        assert!(jose::verify_compact(jwk.verifying_key(), &forged).is_err());
    }
}

#[test]
fn rfc8037_ed25519_jwk_thumbprint_and_deterministic_jws() {
    let v = vectors();
    let case = &v["rfc8037_appendix_a"];
    let jwk = Jwk::from_value(&case["jwk"]).unwrap();
    assert_eq!(jwk.algorithm(), AlgorithmId::Ed25519);
    assert_eq!(jwk.thumbprint(), case["thumbprint"].as_str().unwrap());
    // Ed25519 is deterministic, so the signature must be byte-identical to the RFC's.
    let token = jose::sign_compact(
        jwk.signing_key().unwrap(),
        Map::new(),
        case["payload"].as_str().unwrap().as_bytes(),
    )
    .unwrap();
    assert_eq!(token, case["jws"].as_str().unwrap());
    jose::verify_compact(jwk.verifying_key(), &token).unwrap();
    // The private JWK we write has the RFC's d and x.
    let written: Value = serde_json::from_str(&jwk.to_private_json().unwrap()).unwrap();
    assert_eq!(written["d"], case["jwk"]["d"]);
    assert_eq!(written["x"], case["jwk"]["x"]);
}

#[test]
fn rfc7515_a3_es256_jws_verifies() {
    let v = vectors();
    let case = &v["rfc7515_appendix_a3"];
    let jwk = Jwk::from_value(&case["jwk"]).unwrap();
    assert_eq!(jwk.algorithm(), AlgorithmId::EcdsaP256);
    let verified =
        jose::verify_compact(jwk.verifying_key(), case["jws"].as_str().unwrap()).unwrap();
    assert!(
        String::from_utf8(verified.payload)
            .unwrap()
            .contains("\"iss\":\"joe\"")
    );
    // Our own ES256 JWS with the RFC key: 64-byte r ‖ s signature, verifies.
    let token = jose::sign_compact(jwk.signing_key().unwrap(), Map::new(), b"acme").unwrap();
    let sig = token.rsplit('.').next().unwrap();
    assert_eq!(encoding::b64url_decode("sig", sig).unwrap().len(), 64);
    jose::verify_compact(jwk.verifying_key(), &token).unwrap();
}
