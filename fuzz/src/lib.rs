//! The bodies of the fuzz targets of qsafe-crypto's decoders and qsafe-pki's parsers ([`pki`]),
//! as plain functions over `&[u8]`.
//!
//! Each `fuzz_targets/<name>.rs` is a libFuzzer wrapper around the function of the same name
//! here, so the bodies also build and run on stable Rust, without libFuzzer: `tests/seeds.rs`
//! replays the committed seed corpus (`seeds/<name>/`) through every target, and
//! `examples/replay.rs` replays any file or directory (a crash artifact, a local corpus).
//!
//! What the targets hold the decoders to: arbitrary bytes give `Ok` or `Err`, never a panic, and
//! whatever decodes re-encodes to bytes that decode to the same key (the PKI targets' own checks
//! are in [`pki`]).

use std::sync::LazyLock;

use qsafe_crypto::jose::{self, Jwk};
use qsafe_crypto::kem::DecapsulationKey;
use qsafe_crypto::keys::{PrivateKey, PublicKey};
use qsafe_crypto::sig::{SigningKey, VerifyingKey};
use qsafe_crypto::{AlgorithmId, envelope};

pub mod pki;
pub use pki::{pki_certificate, pki_csr, pki_ocsp_request};

/// A target's body.
pub type Body = fn(&[u8]);

/// Every target: its name (`fuzz_targets/<name>.rs`, `seeds/<name>/`) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("pkcs8_parse", pkcs8_parse),
    ("spki_parse", spki_parse),
    ("envelope_open", envelope_open),
    ("jwk_parse", jwk_parse),
    ("jws_verify", jws_verify),
    ("pki_csr", pki_csr),
    ("pki_ocsp_request", pki_ocsp_request),
    ("pki_certificate", pki_certificate),
];

/// The body of the target `name`.
pub fn target(name: &str) -> Option<Body> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// ---------------------------------------------------------------------------------------------
// Fixed keys. The targets that need a key use these; the seed envelopes and JWS in `seeds/` were
// made with them (`cargo test --test seeds -- --ignored regenerate_seeds`).

/// The byte every fixed key's seed is made of.
pub const KEY_SEED_BYTE: u8 = 0x42;
/// The associated data the seed envelopes were sealed with.
pub const ENVELOPE_AAD: &[u8] = b"fuzz";
/// The key of the symmetric seed envelope.
pub const SYMMETRIC_KEY: [u8; envelope::SYMMETRIC_KEY_LEN] = [KEY_SEED_BYTE; 32];

/// The KEMs an envelope can be sealed to.
pub const KEMS: [AlgorithmId; 4] = [
    AlgorithmId::MlKem512,
    AlgorithmId::MlKem768,
    AlgorithmId::MlKem1024,
    AlgorithmId::XWing,
];
/// The algorithms JOSE signs with.
pub const JOSE_ALGS: [AlgorithmId; 5] = [
    AlgorithmId::MlDsa44,
    AlgorithmId::MlDsa65,
    AlgorithmId::MlDsa87,
    AlgorithmId::EcdsaP256,
    AlgorithmId::Ed25519,
];

/// The fixed decapsulation key of `alg` (a seed of [`KEY_SEED_BYTE`]s).
pub fn kem_key(alg: AlgorithmId) -> DecapsulationKey {
    let len = if alg == AlgorithmId::XWing { 32 } else { 64 };
    DecapsulationKey::from_seed(alg, &vec![KEY_SEED_BYTE; len]).expect("fixed KEM key")
}

/// The fixed signing key of `alg` (a seed, or P-256 scalar, of [`KEY_SEED_BYTE`]s).
pub fn signing_key(alg: AlgorithmId) -> SigningKey {
    SigningKey::from_private_key_bytes(alg, &[KEY_SEED_BYTE; qsafe_crypto::sig::SEED_LEN])
        .expect("fixed signing key")
}

static KEM_KEYS: LazyLock<Vec<DecapsulationKey>> =
    LazyLock::new(|| KEMS.into_iter().map(kem_key).collect());

static JOSE_KEYS: LazyLock<Vec<VerifyingKey>> = LazyLock::new(|| {
    JOSE_ALGS
        .into_iter()
        .map(|alg| signing_key(alg).verifying_key().clone())
        .collect()
});

/// A JWK set of the same keys, each with its algorithm's name as `kid`, and an RSA key whose
/// modulus is a fixed odd 2,048-bit number (no token verifies under it: the RS256 path is
/// parsed and refused).
static JOSE_SET: LazyLock<serde_json::Value> = LazyLock::new(|| {
    let mut keys: Vec<serde_json::Value> = JOSE_KEYS
        .iter()
        .map(|k| {
            let name = jose::jws_alg_name(k.algorithm()).expect("a JOSE algorithm");
            Jwk::from_verifying_key(k)
                .expect("a JOSE key")
                .with_kid(name)
                .to_public_value()
        })
        .collect();
    let mut n = vec![0xC5u8; 256];
    n[255] |= 1;
    keys.push(serde_json::json!({
        "kty": "RSA", "kid": "RS256", "alg": "RS256",
        "n": qsafe_crypto::encoding::b64url_encode(&n), "e": "AQAB",
    }));
    serde_json::json!({ "keys": keys })
});

// ---------------------------------------------------------------------------------------------
// The targets

/// PKCS#8 private keys, as DER and as PEM (the same bytes read as lossy UTF-8).
pub fn pkcs8_parse(data: &[u8]) {
    if let Ok(key) = PrivateKey::from_pkcs8_der(data) {
        private_key_round_trip(&key);
    }
    if let Ok(key) = PrivateKey::from_pem(&String::from_utf8_lossy(data)) {
        private_key_round_trip(&key);
    }
}

fn private_key_round_trip(key: &PrivateKey) {
    let der = key
        .to_pkcs8_der()
        .expect("a decoded private key re-encodes");
    let again = PrivateKey::from_pkcs8_der(&der).expect("a re-encoded private key decodes");
    assert_eq!(again.algorithm(), key.algorithm());
    assert_eq!(again.public_key(), key.public_key());
}

/// SubjectPublicKeyInfo public keys, as DER and as PEM (the same bytes read as lossy UTF-8).
pub fn spki_parse(data: &[u8]) {
    if let Ok(key) = PublicKey::from_spki_der(data) {
        public_key_round_trip(&key);
    }
    if let Ok(key) = PublicKey::from_pem(&String::from_utf8_lossy(data)) {
        public_key_round_trip(&key);
    }
}

fn public_key_round_trip(key: &PublicKey) {
    let der = key.to_spki_der().expect("a decoded public key re-encodes");
    let again = PublicKey::from_spki_der(&der).expect("a re-encoded public key decodes");
    assert_eq!(&again, key);
    key.fingerprint()
        .expect("a decoded public key has a fingerprint");
}

/// Envelopes: the header, then opening with the fixed key of every KEM and the fixed symmetric
/// key.
pub fn envelope_open(data: &[u8]) {
    let _ = envelope::inspect(data);
    for key in KEM_KEYS.iter() {
        let _ = envelope::open(key, ENVELOPE_AAD, data);
    }
    let _ = envelope::open_symmetric(&SYMMETRIC_KEY, ENVELOPE_AAD, data);
}

/// JWKs (UTF-8 JSON text). A JWK that parses must re-serialize, public and private part, to one
/// that parses to the same key.
pub fn jwk_parse(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(jwk) = Jwk::from_json(text) else {
        return;
    };
    let public = Jwk::from_json(&jwk.to_public_json()).expect("a public JWK round-trips");
    assert_eq!(public.verifying_key(), jwk.verifying_key());
    assert_eq!(public.thumbprint(), jwk.thumbprint());
    assert_eq!(public.kid(), jwk.kid());
    assert!(public.signing_key().is_none());
    if jwk.signing_key().is_some() {
        let json = jwk.to_private_json().expect("a private JWK serializes");
        let private = Jwk::from_json(&json).expect("a private JWK round-trips");
        assert_eq!(private.verifying_key(), jwk.verifying_key());
        assert!(private.signing_key().is_some());
    }
}

/// JWS: a compact token (the bytes read as lossy UTF-8) and, if the bytes are JSON, a flattened
/// JWS, each verified under the fixed key of every JOSE algorithm, and the compact token against
/// a JWK set of those keys and an RSA key. What verifies must name exactly the key's algorithm.
pub fn jws_verify(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let _ = jose::peek_header(&token);
    let flattened = serde_json::from_slice::<serde_json::Value>(data).ok();
    for key in JOSE_KEYS.iter() {
        if let Ok(verified) = jose::verify_compact(key, &token) {
            check_verified(key, &verified);
        }
        if let Some(jws) = &flattened
            && let Ok(verified) = jose::verify_flattened(key, jws)
        {
            check_verified(key, &verified);
        }
    }
    // A token checked against a set, as Kubernetes service-account tokens and client
    // assertions are: what verifies was signed by the key its kid names, with that key's alg.
    if let Ok(verified) = jose::verify_with_set(&JOSE_SET, &token) {
        let kid = verified
            .header
            .get("kid")
            .and_then(serde_json::Value::as_str);
        let alg = verified
            .header
            .get("alg")
            .and_then(serde_json::Value::as_str);
        assert!(
            kid.is_some() && kid == alg,
            "verified under the key its kid names"
        );
    }
}

fn check_verified(key: &VerifyingKey, verified: &jose::Verified) {
    let alg = verified
        .header
        .get("alg")
        .and_then(serde_json::Value::as_str)
        .expect("a verified JWS has a string alg");
    assert_eq!(
        jose::alg_from_jws_name(alg).expect("a verified JWS names a known alg"),
        key.algorithm()
    );
}
