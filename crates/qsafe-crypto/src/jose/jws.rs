//! JSON Web Signatures (RFC 7515): compact serialization, and the flattened JSON serialization ACME
//! (RFC 8555 §6.2) uses.
//!
//! Verification is bound to one key: the header's `alg` must name exactly that key's algorithm
//! (no `none`, no algorithm chosen by the token), a `crit` header is refused because qsafe
//! implements no JWS extensions (so RFC 7797 unencoded payloads are refused too), and flattened
//! objects with an unprotected `header` are refused, as ACME requires.

use serde_json::{Map, Value};

use super::{alg_from_jws_name, jws_alg_name};
use crate::alg::AlgorithmId;
use crate::encoding::{b64url_decode, b64url_encode};
use crate::error::{Error, Result};
use crate::sig::{SigningKey, VerifyingKey};

/// A verified JWS: its protected header and payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The protected header; its `alg` matched the key.
    pub header: Map<String, Value>,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

/// Checks that a header's `alg` value names exactly `expected`.
fn check_alg(alg: &Value, expected: AlgorithmId) -> Result<()> {
    let name = alg
        .as_str()
        .ok_or_else(|| Error::malformed("JWS", "\"alg\" is not a string"))?;
    let named = alg_from_jws_name(name)?;
    if named == expected {
        Ok(())
    } else {
        Err(Error::AlgorithmMismatch {
            expected,
            found: named,
        })
    }
}

/// The base64url protected header and signature over `b64(header) . b64(payload)`.
fn sign_parts(
    key: &SigningKey,
    mut header: Map<String, Value>,
    payload_b64: &str,
) -> Result<(String, String)> {
    let alg = jws_alg_name(key.algorithm())?;
    if let Some(given) = header.get("alg") {
        check_alg(given, key.algorithm())?;
    }
    header.insert("alg".into(), alg.into());
    let header_b64 = b64url_encode(Value::Object(header).to_string().as_bytes());
    let input = format!("{header_b64}.{payload_b64}");
    let signature = key.sign_jose(input.as_bytes())?;
    Ok((header_b64, b64url_encode(&signature)))
}

/// Signs `payload` as a compact JWS. `header` holds the protected members besides `alg` (`kid`,
/// `typ`, ...); `alg` is set from the key (a conflicting `alg` in `header` is an error).
pub fn sign_compact(
    key: &SigningKey,
    header: Map<String, Value>,
    payload: &[u8],
) -> Result<String> {
    let payload_b64 = b64url_encode(payload);
    let (header_b64, sig_b64) = sign_parts(key, header, &payload_b64)?;
    Ok(format!("{header_b64}.{payload_b64}.{sig_b64}"))
}

/// Signs `payload` as a flattened JSON JWS: `{"protected", "payload", "signature"}`.
pub fn sign_flattened(
    key: &SigningKey,
    header: Map<String, Value>,
    payload: &[u8],
) -> Result<Value> {
    let payload_b64 = b64url_encode(payload);
    let (header_b64, sig_b64) = sign_parts(key, header, &payload_b64)?;
    Ok(serde_json::json!({
        "protected": header_b64,
        "payload": payload_b64,
        "signature": sig_b64,
    }))
}

fn decode_header(header_b64: &str) -> Result<Map<String, Value>> {
    let bytes = b64url_decode("JWS protected header", header_b64)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(Error::malformed(
            "JWS",
            "protected header is not a JSON object",
        )),
        Err(e) => Err(Error::malformed("JWS", format!("protected header: {e}"))),
    }
}

fn verify_parts(
    key: &VerifyingKey,
    header_b64: &str,
    payload_b64: &str,
    sig_b64: &str,
) -> Result<Verified> {
    let header = decode_header(header_b64)?;
    let alg = header
        .get("alg")
        .ok_or_else(|| Error::malformed("JWS", "protected header has no \"alg\""))?;
    check_alg(alg, key.algorithm())?;
    if header.contains_key("crit") {
        return Err(Error::malformed(
            "JWS",
            "\"crit\" names extensions qsafe does not implement",
        ));
    }
    let signature = b64url_decode("JWS signature", sig_b64)?;
    let payload = b64url_decode("JWS payload", payload_b64)?;
    key.verify_jose(format!("{header_b64}.{payload_b64}").as_bytes(), &signature)?;
    Ok(Verified { header, payload })
}

/// Verifies a compact JWS under `key` and returns its header and payload.
pub fn verify_compact(key: &VerifyingKey, token: &str) -> Result<Verified> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => verify_parts(key, h, p, s),
        _ => Err(Error::malformed(
            "JWS",
            "compact form needs exactly three parts",
        )),
    }
}

/// Verifies a flattened JSON JWS (`protected`, `payload`, `signature`) under `key`.
pub fn verify_flattened(key: &VerifyingKey, jws: &Value) -> Result<Verified> {
    let m = jws
        .as_object()
        .ok_or_else(|| Error::malformed("JWS", "not a JSON object"))?;
    if m.contains_key("header") || m.contains_key("signatures") {
        return Err(Error::malformed(
            "JWS",
            "only the flattened form with a protected header alone is accepted",
        ));
    }
    let member = |name: &'static str| {
        m.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::malformed("JWS", format!("missing string member \"{name}\"")))
    };
    verify_parts(
        key,
        member("protected")?,
        member("payload")?,
        member("signature")?,
    )
}

/// The protected header of a compact JWS, NOT verified: only for choosing the key (by `kid` or
/// `alg`) to call [`verify_compact`] with.
pub fn peek_header(token: &str) -> Result<Map<String, Value>> {
    let header_b64 = token
        .split('.')
        .next()
        .ok_or_else(|| Error::malformed("JWS", "empty token"))?;
    decode_header(header_b64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn kid(k: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("kid".into(), k.into());
        m
    }

    #[test]
    fn compact_and_flattened_round_trip() {
        let rng = Rng::new();
        for alg in [
            AlgorithmId::MlDsa44,
            AlgorithmId::MlDsa65,
            AlgorithmId::MlDsa87,
            AlgorithmId::EcdsaP256,
            AlgorithmId::Ed25519,
        ] {
            let key = SigningKey::generate(alg, &rng).unwrap();
            let token = sign_compact(&key, kid("k"), b"{\"sub\":\"alice\"}").unwrap();
            let v = verify_compact(key.verifying_key(), &token).unwrap();
            assert_eq!(v.payload, b"{\"sub\":\"alice\"}");
            assert_eq!(v.header["alg"], jws_alg_name(alg).unwrap());
            assert_eq!(peek_header(&token).unwrap()["kid"], "k");

            let flat = sign_flattened(&key, Map::new(), b"").unwrap();
            assert!(
                verify_flattened(key.verifying_key(), &flat)
                    .unwrap()
                    .payload
                    .is_empty()
            );
        }
    }

    #[test]
    fn rejects_tampering_and_algorithm_games() {
        let rng = Rng::new();
        let key = SigningKey::generate(AlgorithmId::MlDsa65, &rng).unwrap();
        let vk = key.verifying_key();
        let token = sign_compact(&key, Map::new(), b"payload").unwrap();
        let parts: Vec<&str> = token.split('.').collect();

        // Another payload under the same signature.
        let forged = format!("{}.{}.{}", parts[0], b64url_encode(b"payloaX"), parts[2]);
        assert_eq!(verify_compact(vk, &forged), Err(Error::BadSignature));
        // Another key of the same algorithm.
        let other = SigningKey::generate(AlgorithmId::MlDsa65, &rng).unwrap();
        assert_eq!(
            verify_compact(other.verifying_key(), &token),
            Err(Error::BadSignature)
        );
        // A header naming another algorithm, "none", or a crit extension.
        for header in [
            r#"{"alg":"ML-DSA-44"}"#,
            r#"{"alg":"none"}"#,
            r#"{"alg":"ml-dsa-65"}"#,
            r#"{"alg":"ML-DSA-65","crit":["b64"],"b64":false}"#,
            r#"{"typ":"JWT"}"#,
            r#"["alg"]"#,
        ] {
            let t = format!(
                "{}.{}.{}",
                b64url_encode(header.as_bytes()),
                parts[1],
                parts[2]
            );
            assert!(verify_compact(vk, &t).is_err(), "{header}");
        }
        // Structure: part counts, padding.
        assert!(verify_compact(vk, &format!("{token}.x")).is_err());
        assert!(verify_compact(vk, &format!("{}.{}", parts[0], parts[1])).is_err());
        assert!(verify_compact(vk, &format!("{token}=")).is_err());
        // Signing with a conflicting alg in the header.
        let mut h = Map::new();
        h.insert("alg".into(), "ES256".into());
        assert!(sign_compact(&key, h, b"x").is_err());
        // Flattened with an unprotected header.
        let mut flat = sign_flattened(&key, Map::new(), b"x").unwrap();
        flat["header"] = serde_json::json!({"kid": "x"});
        assert!(verify_flattened(vk, &flat).is_err());
    }
}
