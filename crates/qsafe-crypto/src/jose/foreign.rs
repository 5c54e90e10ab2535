//! Verification of compact JWS signed by others with a key taken from their JWK set (RFC 7517
//! §5): every algorithm of [`Jwk`], and RS256 (RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256,
//! 2,048 to 8,192-bit keys, on aws-lc-rs), which Kubernetes signs service-account tokens with
//! by default. Verification only: qsafe never signs with RSA.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde_json::Value;

use super::{Jwk, Verified, peek_header, verify_compact};
use crate::encoding::b64url_decode;
use crate::error::{Error, Result};

/// Verifies `token` with the key of `set` (`{"keys": [...]}`) its `kid` names (or the only key,
/// when it names none): the header's `alg` must be the key's, `none` is refused, and so is a
/// `crit` header.
pub fn verify_with_set(set: &Value, token: &str) -> Result<Verified> {
    let header = peek_header(token)?;
    let kid = header.get("kid").and_then(Value::as_str);
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::malformed("JWK set", "no \"keys\" array"))?;
    let key = match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .ok_or_else(|| Error::malformed("JWS", "no key of the set has the token's kid"))?;
    if key.get("kty").and_then(Value::as_str) == Some("RSA") {
        return verify_rs256(key, &header, token);
    }
    let jwk = Jwk::from_value(key)?;
    verify_compact(jwk.verifying_key(), token)
}

fn verify_rs256(
    key: &Value,
    header: &serde_json::Map<String, Value>,
    token: &str,
) -> Result<Verified> {
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(Error::UnknownAlgorithm(
            "an RSA key verifies RS256 only".into(),
        ));
    }
    if key
        .get("alg")
        .and_then(Value::as_str)
        .is_some_and(|a| a != "RS256")
    {
        return Err(Error::UnknownAlgorithm(
            "the RSA key is for another algorithm".into(),
        ));
    }
    if header.contains_key("crit") {
        return Err(Error::malformed(
            "JWS",
            "\"crit\" names extensions qsafe does not implement",
        ));
    }
    let member = |name: &'static str| {
        key.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::malformed("RSA JWK", format!("no \"{name}\"")))
            .and_then(|v| b64url_decode("RSA JWK", v))
    };
    let (n, e) = (member("n")?, member("e")?);
    let (input, sig_b64) = token
        .rsplit_once('.')
        .ok_or_else(|| Error::malformed("JWS", "compact form needs three parts"))?;
    let mut parts = input.split('.');
    let (Some(_), Some(payload_b64), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::malformed("JWS", "compact form needs three parts"));
    };
    let signature = b64url_decode("JWS signature", sig_b64)?;
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
        .map_err(|_| Error::BadSignature)?;
    Ok(Verified {
        header: header.clone(),
        payload: b64url_decode("JWS payload", payload_b64)?,
    })
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
    use serde_json::json;

    use super::*;
    use crate::encoding::b64url_encode;

    fn rs256(key: &RsaKeyPair, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url_encode(header.to_string().as_bytes()),
            b64url_encode(claims.to_string().as_bytes())
        );
        let mut sig = vec![0; key.public_modulus_len()];
        key.sign(
            &RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            input.as_bytes(),
            &mut sig,
        )
        .unwrap();
        format!("{input}.{}", b64url_encode(&sig))
    }

    fn jwk_of(key: &RsaKeyPair, kid: &str) -> Value {
        // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017).
        let (body, _) = tlv(key.public_key().as_ref());
        let (n, rest) = tlv(body);
        let (e, _) = tlv(rest);
        let unsigned = |i: &[u8]| {
            i.iter()
                .skip_while(|b| **b == 0)
                .copied()
                .collect::<Vec<u8>>()
        };
        json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
               "n": b64url_encode(&unsigned(n)), "e": b64url_encode(&unsigned(e))})
    }

    /// The contents of the DER element at the start of `der`, and what follows it.
    fn tlv(der: &[u8]) -> (&[u8], &[u8]) {
        let (len, start) = match der[1] {
            l if l < 0x80 => (usize::from(l), 2),
            0x81 => (usize::from(der[2]), 3),
            0x82 => (usize::from(der[2]) << 8 | usize::from(der[3]), 4),
            _ => panic!("unexpected DER length"),
        };
        (&der[start..start + len], &der[start + len..])
    }

    #[test]
    fn rs256_tokens_verify_against_their_set_and_nothing_else() {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let other = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let set = json!({"keys": [jwk_of(&other, "b"), jwk_of(&key, "a")]});
        let claims = json!({"sub": "system:serviceaccount:shop:api"});
        let token = rs256(&key, &json!({"alg": "RS256", "kid": "a"}), &claims);
        let verified = verify_with_set(&set, &token).unwrap();
        assert_eq!(verified.payload, claims.to_string().into_bytes());
        // The other key's kid, an unknown kid, a changed payload, another alg: refused.
        let wrong_kid = rs256(&key, &json!({"alg": "RS256", "kid": "b"}), &claims);
        assert_eq!(verify_with_set(&set, &wrong_kid), Err(Error::BadSignature));
        let unknown = rs256(&key, &json!({"alg": "RS256", "kid": "z"}), &claims);
        assert!(verify_with_set(&set, &unknown).is_err());
        let (head, _, sig) = {
            let mut p = token.split('.');
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        };
        let changed = format!("{head}.{}.{sig}", b64url_encode(b"{\"sub\":\"admin\"}"));
        assert_eq!(verify_with_set(&set, &changed), Err(Error::BadSignature));
        let none = format!(
            "{}.{}.",
            b64url_encode(b"{\"alg\":\"none\",\"kid\":\"a\"}"),
            b64url_encode(claims.to_string().as_bytes())
        );
        assert!(verify_with_set(&set, &none).is_err());
    }
}
