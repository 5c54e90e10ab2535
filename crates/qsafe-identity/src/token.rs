//! The token endpoint (RFC 6749 §3.2) with the `client_credentials` grant (§4.4), access tokens
//! as JWTs (RFC 9068 `at+jwt`, RFC 7519 claims) signed by the client's key, introspection
//! (RFC 7662) and revocation (RFC 7009).

use qsafe_core::fields::field_str;
use qsafe_core::record;
use qsafe_core::{EngineRequest, Response, Result};
use qsafe_crypto::encoding::b64url_encode;
use qsafe_crypto::jose::{peek_header, sign_compact, verify_compact};
use qsafe_store::{Expect, View, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{self, ClientRecord};
use crate::oauth::{OAuthError, json_response, required};
use crate::provider::{Provider, keys_of};
use crate::{Identity, now};

/// `oidc/revoked/<jti>`: revoked tokens, kept until they expire.
const REVOKED_PREFIX: &str = "oidc/revoked/";
/// The longest token accepted for introspection or revocation, in bytes (an ML-DSA-87 token
/// with generous claims stays well below it).
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Clock skew allowed for `nbf` and `iat`.
const SKEW: i64 = 60;

/// A revocation record.
#[derive(Serialize, Deserialize)]
struct Revoked {
    exp: i64,
}

/// Records access token `jti` (expiring at `exp`) as revoked.
pub(crate) async fn revoke_jti(view: &View, jti: &str, exp: i64) -> Result<()> {
    let body = record::encode(&Revoked { exp })?;
    match view
        .transact(&[Write::put(format!("{REVOKED_PREFIX}{jti}"), body).expecting(Expect::Absent)])
        .await
    {
        Ok(_) | Err(qsafe_store::Error::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

type OAuthResult<T> = std::result::Result<T, OAuthError>;

/// Folds an OAuth outcome into the engine's answer.
pub(crate) fn answer(outcome: OAuthResult<Response>) -> Result<Response> {
    Ok(outcome.unwrap_or_else(|e| e.response()))
}

/// `POST oidc/provider/:name/token`: `client_credentials`, or a token exchange (a workload's
/// bootstrap, `crate::exchange`).
pub(crate) async fn token(
    engine: &Identity,
    view: &View,
    name: &str,
    request: &EngineRequest,
) -> OAuthResult<Response> {
    let provider = provider_of(engine, view, name).await?;
    let data = request.data.as_ref();
    let grant = required(data, "grant_type")?;
    match grant {
        "client_credentials" => client_credentials(engine, view, &provider, request).await,
        crate::exchange::GRANT => crate::exchange::exchange(engine, view, &provider, data).await,
        "authorization_code" => {
            crate::grant::authorization_code(engine, view, &provider, request).await
        }
        "refresh_token" => crate::grant::refresh(engine, view, &provider, request).await,
        other => Err(OAuthError::unsupported_grant_type(other)),
    }
}

async fn client_credentials(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    request: &EngineRequest,
) -> OAuthResult<Response> {
    let data = request.data.as_ref();
    let client = client::caller(engine, view, provider, request, false).await?;
    if !client.grant_types.iter().any(|g| g == "client_credentials") {
        return Err(OAuthError::unauthorized_client(
            "the client may not use client_credentials",
        ));
    }
    let scope = granted_scope(provider, &client, data)?;
    let mut claims = Map::new();
    claims.insert("sub".into(), client.client_id.clone().into());
    claims.insert(
        "aud".into(),
        granted_audience(&client.audiences, &client.client_id, data)?,
    );
    claims.insert("client_id".into(), client.client_id.clone().into());
    let signer = Signer {
        key: &client.key,
        who: &client.client_id,
        ttl: client.access_token_ttl,
    };
    issue(engine, view, provider, signer, claims, scope).await
}

/// Who signs a token and for how long.
pub(crate) struct Signer<'a> {
    /// The named key.
    pub(crate) key: &'a str,
    /// The id the key's `allowed_client_ids` must allow.
    pub(crate) who: &'a str,
    /// The token's life, seconds.
    pub(crate) ttl: u64,
}

/// Signs an access token with `claims` plus iss, exp, iat, nbf, jti and scope, and answers it
/// as RFC 6749 §5.1 (with RFC 8693 §2.2.1's `issued_token_type`).
pub(crate) async fn issue(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    signer: Signer<'_>,
    claims: Map<String, Value>,
    scope: String,
) -> OAuthResult<Response> {
    let minted = mint(engine, view, provider, signer, claims, scope).await?;
    Ok(json_response(&minted.body))
}

/// An access token made by [`mint`]: the token response body, its `jti` and `exp`.
pub(crate) struct Minted {
    pub(crate) body: Value,
    pub(crate) jti: String,
    pub(crate) exp: i64,
}

/// Signs an access token (see [`issue`]) and answers the token response body.
pub(crate) async fn mint(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    signer: Signer<'_>,
    mut claims: Map<String, Value>,
    scope: String,
) -> OAuthResult<Minted> {
    let at = now();
    let exp = at.saturating_add(i64::try_from(signer.ttl).unwrap_or(i64::MAX));
    claims.insert("iss".into(), provider.issuer.clone().into());
    claims.insert("exp".into(), exp.into());
    claims.insert("iat".into(), at.into());
    claims.insert("nbf".into(), at.into());
    let jti = engine
        .rng
        .bytes::<16>()
        .map_err(|e| OAuthError::server(qsafe_core::Error::Internal(e.to_string())))?;
    let jti = b64url_encode(jti.as_ref());
    claims.insert("jti".into(), jti.clone().into());
    if !scope.is_empty() {
        claims.insert("scope".into(), scope.clone().into());
    }
    let token = sign(engine, view, signer.key, signer.who, "at+jwt", claims).await?;
    let mut body = json!({
        "access_token": token,
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "token_type": "Bearer",
        "expires_in": exp - at,
    });
    if !scope.is_empty() {
        body["scope"] = scope.into();
    }
    Ok(Minted { body, jti, exp })
}

pub(crate) async fn provider_of(
    engine: &Identity,
    view: &View,
    name: &str,
) -> OAuthResult<Provider> {
    engine
        .providers
        .load(engine, view, name)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::invalid_request(format!("no provider {name:?}")))
}

/// The scopes asked for (space-separated, RFC 6749 §3.3), each allowed to the client and
/// supported by the provider; none asked: none granted.
fn granted_scope(
    provider: &Provider,
    client: &ClientRecord,
    data: Option<&Value>,
) -> OAuthResult<String> {
    let asked = field_str(data, "scope").ok().flatten().unwrap_or_default();
    let mut granted: Vec<&str> = Vec::new();
    for s in asked.split(' ').filter(|s| !s.is_empty()) {
        let allowed = (client.scopes.is_empty() || client.scopes.iter().any(|c| c == s))
            && provider.record.scopes_supported.iter().any(|p| p == s);
        if !allowed {
            let s: String = s.chars().take(80).collect();
            return Err(OAuthError::invalid_scope(format!(
                "scope {s:?} is not allowed"
            )));
        }
        if !granted.contains(&s) {
            granted.push(s);
        }
    }
    Ok(granted.join(" "))
}

/// The `audience` asked for (one or several, RFC 8693 §2.1), each in `allowed` (when that is
/// empty: `own` alone); none asked: all of them.
pub(crate) fn granted_audience(
    allowed: &[String],
    own: &str,
    data: Option<&Value>,
) -> OAuthResult<Value> {
    let own = [own.to_owned()];
    let allowed = if allowed.is_empty() {
        &own[..]
    } else {
        allowed
    };
    let asked: Vec<String> = match data.and_then(|d| d.get("audience")) {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| OAuthError::invalid_request("audience must be strings"))?,
        Some(_) => return Err(OAuthError::invalid_request("audience must be strings")),
    };
    if let Some(bad) = asked.iter().find(|a| !allowed.contains(a)) {
        let bad: String = bad.chars().take(80).collect();
        return Err(OAuthError::invalid_target(format!(
            "audience {bad:?} is not allowed"
        )));
    }
    let list = if asked.is_empty() {
        allowed.to_vec()
    } else {
        asked
    };
    Ok(match list.as_slice() {
        [one] => one.clone().into(),
        _ => list.into(),
    })
}

/// Signs `claims` as a JWT of type `typ` with the current version of the key `key_name`, which
/// must allow `who` (off the async workers).
pub(crate) async fn sign(
    engine: &Identity,
    view: &View,
    key_name: &str,
    who: &str,
    typ: &'static str,
    claims: Map<String, Value>,
) -> OAuthResult<String> {
    let key = engine
        .keys
        .load(view, key_name)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| {
            OAuthError::server(qsafe_core::Error::Internal(format!("no key {key_name:?}")))
        })?;
    if !key.allows(who) {
        return Err(OAuthError::unauthorized_client(
            "the signing key does not allow it",
        ));
    }
    let pair = engine
        .keys
        .pair(&key, &key.current)
        .map_err(OAuthError::server)?;
    let payload = Value::Object(claims).to_string();
    qsafe_core::cpu::run("token", move || {
        let mut header = Map::new();
        header.insert("typ".into(), typ.into());
        if let Some(kid) = pair.kid() {
            header.insert("kid".into(), kid.into());
        }
        let signer = pair.signing_key().ok_or_else(|| {
            qsafe_core::Error::Internal("identity key has no private half".into())
        })?;
        sign_compact(signer, header, payload.as_bytes())
            .map_err(|e| qsafe_core::Error::Internal(format!("signing a token: {e}")))
    })
    .await
    .and_then(|r| r)
    .map_err(OAuthError::server)
}

/// The claims of `token` if it is one of `provider`'s, its signature valid under a published
/// key, unexpired, not revoked and its client still there.
pub(crate) async fn active_claims(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    token: &str,
) -> Result<Option<Map<String, Value>>> {
    if token.len() > MAX_TOKEN_LEN {
        return Ok(None);
    }
    let Ok(header) = peek_header(token) else {
        return Ok(None);
    };
    let Some(kid) = header.get("kid").and_then(Value::as_str) else {
        return Ok(None);
    };
    let at = now();
    let mut verified = None;
    for key in keys_of(engine, view, provider).await? {
        if let Some(version) = key.published(at).find(|v| v.kid == kid) {
            let pair = engine.keys.pair(&key, version)?;
            verified = verify_compact(pair.verifying_key(), token).ok();
            break;
        }
    }
    let Some(verified) = verified else {
        return Ok(None);
    };
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&verified.payload) else {
        return Ok(None);
    };
    let num = |name: &str| claims.get(name).and_then(Value::as_i64);
    let fresh = claims.get("iss").and_then(Value::as_str) == Some(provider.issuer.as_str())
        && num("exp").is_some_and(|exp| exp > at)
        && num("nbf").is_none_or(|nbf| nbf <= at + SKEW);
    if !fresh {
        return Ok(None);
    }
    let Some(jti) = claims.get("jti").and_then(Value::as_str) else {
        return Ok(None);
    };
    if jti.contains('/')
        || view
            .revision(&format!("{REVOKED_PREFIX}{jti}"))
            .await?
            .is_some()
    {
        return Ok(None);
    }
    // A workload's token lives while the workload honours it; a client's while the client
    // exists.
    if let Some(workload) = claims.get("workload").and_then(Value::as_str) {
        let iat = num("iat").unwrap_or(i64::MIN);
        let sub = claims.get("sub").and_then(Value::as_str);
        let honoured = crate::workload::load(view, workload)
            .await?
            .is_some_and(|w| w.honours(iat) && sub == Some(w.spiffe_id.as_str()));
        return Ok(honoured.then_some(claims));
    }
    if let Some(user) = claims.get("user").and_then(Value::as_str)
        && !crate::user::load(view, user).await?.is_some_and(|u| {
            !u.disabled && claims.get("sub").and_then(Value::as_str) == Some(u.id.as_str())
        })
    {
        return Ok(None);
    }
    let client_id = claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if engine.clients.by_id(view, client_id).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(claims))
}

/// `POST oidc/provider/:name/introspect` (RFC 7662 §2): any client of the provider may ask.
pub(crate) async fn introspect(
    engine: &Identity,
    view: &View,
    name: &str,
    request: &EngineRequest,
) -> OAuthResult<Response> {
    let provider = provider_of(engine, view, name).await?;
    let data = request.data.as_ref();
    // Any client the provider serves may ask (the answer is about the token, not the caller).
    client::caller(engine, view, &provider, request, false).await?;
    let token = required(data, "token")?;
    let claims = active_claims(engine, view, &provider, token)
        .await
        .map_err(OAuthError::server)?;
    Ok(json_response(&match claims {
        Some(mut claims) => {
            claims.insert("active".into(), true.into());
            claims.insert("token_type".into(), "Bearer".into());
            Value::Object(claims)
        }
        None => json!({"active": false}),
    }))
}

/// `POST oidc/provider/:name/revoke` (RFC 7009 §2): a client revokes its own token; any other
/// token (invalid, expired, another client's) is answered 200 the same and left alone.
pub(crate) async fn revoke(
    engine: &Identity,
    view: &View,
    name: &str,
    request: &EngineRequest,
) -> OAuthResult<Response> {
    let provider = provider_of(engine, view, name).await?;
    let data = request.data.as_ref();
    let caller = client::caller(engine, view, &provider, request, false).await?;
    let token = required(data, "token")?;
    let claims = active_claims(engine, view, &provider, token)
        .await
        .map_err(OAuthError::server)?;
    if let Some(claims) = claims
        && claims.get("client_id").and_then(Value::as_str) == Some(caller.client_id.as_str())
        && let (Some(jti), Some(exp)) = (
            claims.get("jti").and_then(Value::as_str),
            claims.get("exp").and_then(Value::as_i64),
        )
    {
        revoke_jti(view, jti, exp)
            .await
            .map_err(OAuthError::server)?;
    }
    Ok(json_response(&json!({})))
}

/// Deletes revocation records of tokens that have expired (periodic upkeep), and records of
/// client assertions seen (both `{"exp"}` records).
pub(crate) async fn tidy_revoked(view: &View) -> Result<()> {
    let at = now();
    for prefix in [REVOKED_PREFIX, crate::assertion::SEEN_PREFIX] {
        crate::sweep(view, prefix, |r: &Revoked| r.exp < at - SKEW).await?;
    }
    Ok(())
}
