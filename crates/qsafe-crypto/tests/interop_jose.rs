//! JOSE interop with an independent implementation, Python `jwcrypto` (RFC 9964 ML-DSA AKP keys,
//! ES256, EdDSA), both ways: qsafe's JWKs, thumbprints and JWSs (compact and flattened) are
//! checked by the peer, and the peer's by qsafe.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

#[path = "support/peer.rs"]
mod peer;

use qsafe_crypto::jose::{self, Jwk};
use qsafe_crypto::sig::SigningKey;
use qsafe_crypto::{AlgorithmId, Rng};
use serde_json::{Map, Value, json};

const PAYLOAD: &[u8] = b"{\"iss\":\"https://qsafe.test\",\"sub\":\"users-api\"}";

#[test]
fn jwcrypto_accepts_qsafe_and_qsafe_accepts_jwcrypto() {
    let Some(python) = peer::python(&[
        "jwcrypto.jwk",
        "cryptography.hazmat.primitives.asymmetric.mldsa",
    ]) else {
        return;
    };
    let rng = Rng::new();
    let algs = [
        AlgorithmId::MlDsa44,
        AlgorithmId::MlDsa65,
        AlgorithmId::MlDsa87,
        AlgorithmId::EcdsaP256,
        AlgorithmId::Ed25519,
    ];
    let items: Vec<Value> = algs
        .iter()
        .map(|&alg| {
            let jwk = Jwk::from_signing_key(SigningKey::generate(alg, &rng).unwrap()).unwrap();
            let jwk = jwk.with_kid(format!("qsafe-{alg}"));
            let key = jwk.signing_key().unwrap();
            let mut header = Map::new();
            header.insert("kid".into(), jwk.thumbprint().into());
            json!({
                "alg": jose::jws_alg_name(alg).unwrap(),
                "private_jwk": jwk.to_private_json().unwrap().as_str(),
                "public_jwk": jwk.to_public_json(),
                "thumbprint": jwk.thumbprint(),
                "jws": jose::sign_compact(key, header.clone(), PAYLOAD).unwrap(),
                "flattened": jose::sign_flattened(key, header, PAYLOAD).unwrap(),
            })
        })
        .collect();
    let reply = peer::run_json(
        &python,
        "jose_peer.py",
        &json!({ "qsafe": items, "payload": hex::encode(PAYLOAD) }),
    );
    let peer_items = reply["peer"].as_array().unwrap();
    assert_eq!(peer_items.len(), algs.len());
    for item in peer_items {
        let alg = item["alg"].as_str().unwrap();
        let private = Jwk::from_json(item["private_jwk"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{alg}: jwcrypto private JWK rejected: {e}"));
        let public = Jwk::from_json(item["public_jwk"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{alg}: jwcrypto public JWK rejected: {e}"));
        assert_eq!(private.verifying_key(), public.verifying_key(), "{alg}");
        assert!(private.signing_key().is_some() && public.signing_key().is_none());
        assert_eq!(
            public.thumbprint(),
            item["thumbprint"].as_str().unwrap(),
            "{alg}"
        );
        let token = item["jws"].as_str().unwrap();
        assert_eq!(jose::peek_header(token).unwrap()["kid"], item["thumbprint"]);
        let verified = jose::verify_compact(public.verifying_key(), token)
            .unwrap_or_else(|e| panic!("{alg}: jwcrypto JWS rejected: {e}"));
        assert_eq!(verified.payload, PAYLOAD);
    }
    eprintln!(
        "jwcrypto accepted {} qsafe JWK/JWS sets; qsafe accepted {} jwcrypto sets",
        algs.len(),
        peer_items.len()
    );
}
