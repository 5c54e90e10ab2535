//! `private_key_jwt` client authentication (OpenID Connect Core §9, RFC 7523 §2.2, §3): the
//! client signs a short JWT with its own key — ML-DSA by choice, the public half registered as
//! the client's `jwks` — instead of sending a secret. Checked: the signature under the
//! registered key its `kid` names, `iss` = `sub` = the client id, `aud` naming this provider (its
//! issuer or the endpoint), `exp` in the future and at most 10 minutes away, and a `jti` never
//! seen before (remembered until `exp`, so an assertion works once).

use qsafe_crypto::encoding::b64url_decode;
use qsafe_crypto::hash;
use qsafe_crypto::jose::{Jwk, peek_header, verify_compact};
use qsafe_store::{Expect, View, Write};
use serde_json::Value;

use crate::now;
use crate::oauth::OAuthError;

/// The `client_assertion_type` of a JWT assertion.
pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// `oidc/assertions/<hex SHA-256 of client id and jti>`: assertions seen.
pub(crate) const SEEN_PREFIX: &str = "oidc/assertions/";
/// The farthest `exp` accepted.
const MAX_LIFE: i64 = 600;
/// The longest assertion looked at.
const MAX_LEN: usize = 16 * 1024;

/// The `iss` of an assertion, read before it is verified (only to find the client).
pub(crate) fn claimed_client(assertion: &str) -> Option<String> {
    if assertion.len() > MAX_LEN {
        return None;
    }
    let payload = assertion.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&b64url_decode("assertion", payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// Checks `assertion` for client `client_id` registered with the JWK set `jwks`, addressed to
/// one of `audiences`.
pub(crate) async fn check(
    view: &View,
    client_id: &str,
    jwks: &Value,
    assertion: &str,
    audiences: &[String],
) -> Result<(), OAuthError> {
    let fail = || OAuthError::invalid_client(false);
    let header = peek_header(assertion).map_err(|_| fail())?;
    let kid = header.get("kid").and_then(Value::as_str);
    let keys: Vec<Jwk> = jwks["keys"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|k| Jwk::from_value(k).ok())
        .collect();
    let key = match kid {
        Some(kid) => keys.iter().find(|k| k.kid() == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
    .ok_or_else(fail)?;
    let verified = verify_compact(key.verifying_key(), assertion).map_err(|_| fail())?;
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&verified.payload) else {
        return Err(fail());
    };
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => audiences.contains(a),
        Some(Value::Array(list)) => list
            .iter()
            .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
        _ => false,
    };
    let at = now();
    let exp_ok = claims
        .get("exp")
        .and_then(Value::as_i64)
        .is_some_and(|exp| exp > at && exp <= at + MAX_LIFE);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) || !aud_ok || !exp_ok {
        return Err(fail());
    }
    let jti = text("jti").ok_or_else(fail)?;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(at);
    // Remembered until it expires: the same assertion twice is refused.
    let seen = format!(
        "{SEEN_PREFIX}{}",
        hex::encode(hash::sha256(format!("{client_id}\n{jti}").as_bytes()))
    );
    let body = serde_json::to_vec(&serde_json::json!({"exp": exp}))
        .map_err(|e| OAuthError::server(qsafe_core::Error::Internal(e.to_string())))?;
    match view
        .transact(&[Write::put(seen, body).expecting(Expect::Absent)])
        .await
    {
        Ok(_) => Ok(()),
        Err(qsafe_store::Error::Conflict { .. }) => Err(fail()),
        Err(e) => Err(OAuthError::server(e.into())),
    }
}
