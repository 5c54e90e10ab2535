//! The grants a signed-in user's client uses: `authorization_code` with PKCE (RFC 6749 §4.1.3,
//! RFC 7636 §4.6) answering an access token, an ID token (OpenID Connect Core §2, §3.1.3.3)
//! and a refresh token; `refresh_token` with rotation and reuse detection (OAuth 2.0 Security
//! BCP, RFC 9700 §4.14.2: a refresh token works once; presenting a spent one revokes its whole
//! family); and userinfo (OpenID Connect Core §5.3).

use qsafe_core::record;
use qsafe_core::{EngineRequest, RawBody, Response};
use qsafe_crypto::encoding::b64url_encode;
use qsafe_crypto::hash;
use qsafe_store::{Expect, View, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::authorize::{CodeRecord, code_key};
use crate::client::{self, ClientRecord};
use crate::oauth::{OAuthError, json_response, required};
use crate::provider::Provider;
use crate::token::{Signer, active_claims, granted_audience, mint, provider_of, revoke_jti, sign};
use crate::user::{self, UserRecord};
use crate::{FORMAT, Identity, now};

/// `oidc/refresh/<hex SHA-256 of the token>`.
const REFRESH_PREFIX: &str = "oidc/refresh/";
/// `oidc/families/<id>`: a chain of refresh tokens from one sign-in.
const FAMILY_PREFIX: &str = "oidc/families/";
/// How long a refresh token lives.
const REFRESH_TTL: i64 = 30 * 24 * 3600;

type OAuthResult<T> = Result<T, OAuthError>;

/// A stored refresh token.
#[derive(Serialize, Deserialize)]
struct RefreshRecord {
    version: u32,
    family: String,
    client_id: String,
    user: String,
    scope: String,
    expires_at: i64,
    used: bool,
}

/// A refresh-token family.
#[derive(Serialize, Deserialize)]
struct Family {
    version: u32,
    revoked: bool,
    expires_at: i64,
}

fn server(e: impl Into<qsafe_core::Error>) -> OAuthError {
    OAuthError::server(e.into())
}

fn refresh_key(token: &str) -> String {
    format!(
        "{REFRESH_PREFIX}{}",
        hex::encode(hash::sha256(token.as_bytes()))
    )
}

/// RFC 7636 §4.1: 43 to 128 of `A-Z a-z 0-9 - . _ ~`, and §4.6: its S256 is the challenge.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    well_formed
        && hash::ct_eq(
            b64url_encode(&hash::sha256(verifier.as_bytes())).as_bytes(),
            challenge.as_bytes(),
        )
}

/// `grant_type=authorization_code`.
pub(crate) async fn authorization_code(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    request: &EngineRequest,
) -> OAuthResult<Response> {
    let data = request.data.as_ref();
    let client = client::caller(engine, view, provider, request, true).await?;
    let code = required(data, "code")?;
    let verifier = required(data, "code_verifier")?;
    let redirect_uri = required(data, "redirect_uri")?;
    let key = code_key(code);
    let bad = || OAuthError::invalid_grant("the code is unknown, expired or already used");
    let (mut stored, revision) = record::load::<CodeRecord>(view, &key)
        .await
        .map_err(server)?
        .ok_or_else(bad)?;
    if stored.used {
        // A replayed code: what its first exchange issued is revoked (RFC 6749 §4.1.2).
        revoke_issued(view, &stored).await?;
        return Err(bad());
    }
    if stored.client_id != client.client_id
        || stored.redirect_uri != redirect_uri
        || stored.expires_at <= now()
    {
        return Err(bad());
    }
    if !verifier_matches(verifier, &stored.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the challenge",
        ));
    }
    let user = live_user(view, &stored.user).await?;
    // Spent before anything is issued: of two racing exchanges, one wins.
    stored.used = true;
    let family = new_id(engine)?;
    stored.family = Some(family.clone());
    let body = record::encode(&stored).map_err(server)?;
    view.transact(&[Write::put(&key, body).expecting(Expect::Revision(revision))])
        .await
        .map_err(|_| bad())?;
    let scope = stored.scope.clone();
    let mut answer = tokens(
        engine,
        view,
        provider,
        &client,
        &user,
        &scope,
        Some(&family),
    )
    .await?;
    // What was issued, so a replay of the code can revoke it.
    if let Some((jti, exp)) = answer.jti.take() {
        stored.issued_jtis.push((jti, exp));
        if let Ok(Some((_, revision))) = record::load::<CodeRecord>(view, &key).await {
            let _ = view
                .transact(&[Write::put(&key, record::encode(&stored).map_err(server)?)
                    .expecting(Expect::Revision(revision))])
                .await;
        }
    }
    let mut body = answer.body;
    let id_token = id_token(engine, view, provider, &client, &user, &stored).await?;
    body["id_token"] = id_token.into();
    Ok(json_response(&body))
}

/// Revokes the access token and refresh family a code's first exchange issued.
async fn revoke_issued(view: &View, code: &CodeRecord) -> OAuthResult<()> {
    for (jti, exp) in &code.issued_jtis {
        revoke_jti(view, jti, *exp).await.map_err(server)?;
    }
    if let Some(family) = &code.family {
        revoke_family(view, family).await?;
    }
    Ok(())
}

async fn revoke_family(view: &View, family: &str) -> OAuthResult<()> {
    let stored = Family {
        version: FORMAT,
        revoked: true,
        expires_at: now() + REFRESH_TTL,
    };
    view.put(
        &format!("{FAMILY_PREFIX}{family}"),
        &record::encode(&stored).map_err(server)?,
    )
    .await
    .map_err(server)?;
    Ok(())
}

fn new_id(engine: &Identity) -> OAuthResult<String> {
    let id = engine
        .rng
        .bytes::<32>()
        .map_err(|e| server(qsafe_core::Error::Internal(format!("random: {e}"))))?;
    Ok(b64url_encode(id.as_ref()))
}

async fn live_user(view: &View, name: &str) -> OAuthResult<UserRecord> {
    user::load(view, name)
        .await
        .map_err(server)?
        .filter(|u| !u.disabled)
        .ok_or_else(|| OAuthError::invalid_grant("the user is disabled or gone"))
}

/// What [`tokens`] made: the token response body, and the access token's `jti` and `exp`.
struct Issued {
    body: Value,
    jti: Option<(String, i64)>,
}

/// An access token for `user` through `client`, and a refresh token in `family` when the
/// client may refresh.
async fn tokens(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    client: &ClientRecord,
    user: &UserRecord,
    scope: &str,
    family: Option<&str>,
) -> OAuthResult<Issued> {
    let mut claims = Map::new();
    claims.insert("sub".into(), user.id.clone().into());
    claims.insert(
        "aud".into(),
        granted_audience(&client.audiences, &client.client_id, None)?,
    );
    claims.insert("client_id".into(), client.client_id.clone().into());
    claims.insert("user".into(), user.name.clone().into());
    let signer = Signer {
        key: &client.key,
        who: &client.client_id,
        ttl: client.access_token_ttl,
    };
    let minted = mint(engine, view, provider, signer, claims, scope.to_owned()).await?;
    let mut body = minted.body;
    if let Some(family) = family
        && client.grant_types.iter().any(|g| g == "refresh_token")
    {
        body["refresh_token"] = new_refresh(engine, view, family, client, user, scope)
            .await?
            .into();
    }
    Ok(Issued {
        body,
        jti: Some((minted.jti, minted.exp)),
    })
}

async fn new_refresh(
    engine: &Identity,
    view: &View,
    family: &str,
    client: &ClientRecord,
    user: &UserRecord,
    scope: &str,
) -> OAuthResult<String> {
    let token = format!("qsr_{}", new_id(engine)?);
    let stored = RefreshRecord {
        version: FORMAT,
        family: family.to_owned(),
        client_id: client.client_id.clone(),
        user: user.name.clone(),
        scope: scope.to_owned(),
        expires_at: now() + REFRESH_TTL,
        used: false,
    };
    view.transact(&[Write::put(
        refresh_key(&token),
        record::encode(&stored).map_err(server)?,
    )
    .expecting(Expect::Absent)])
        .await
        .map_err(server)?;
    Ok(token)
}

/// The ID token of a sign-in.
async fn id_token(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    client: &ClientRecord,
    user: &UserRecord,
    code: &CodeRecord,
) -> OAuthResult<String> {
    let scopes: Vec<&str> = code.scope.split(' ').collect();
    let mut claims = user.claims(&scopes);
    let at = now();
    claims.insert("iss".into(), provider.issuer.clone().into());
    claims.insert("aud".into(), client.client_id.clone().into());
    claims.insert("azp".into(), client.client_id.clone().into());
    claims.insert("iat".into(), at.into());
    let ttl = i64::try_from(client.id_token_ttl).unwrap_or(i64::MAX);
    claims.insert("exp".into(), at.saturating_add(ttl).into());
    claims.insert("auth_time".into(), code.auth_time.into());
    if let Some(nonce) = &code.nonce {
        claims.insert("nonce".into(), nonce.clone().into());
    }
    sign(engine, view, &client.key, &client.client_id, "JWT", claims).await
}

/// `grant_type=refresh_token`: a new access token and a new refresh token; the one presented
/// is spent. A spent one presented again revokes its family.
pub(crate) async fn refresh(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    request: &EngineRequest,
) -> OAuthResult<Response> {
    let data = request.data.as_ref();
    let client = client::caller(engine, view, provider, request, true).await?;
    let token = required(data, "refresh_token")?;
    let key = refresh_key(token);
    let bad =
        || OAuthError::invalid_grant("the refresh token is unknown, expired, spent or revoked");
    let (mut stored, revision) = record::load::<RefreshRecord>(view, &key)
        .await
        .map_err(server)?
        .ok_or_else(bad)?;
    if stored.client_id != client.client_id {
        return Err(bad());
    }
    if stored.used {
        revoke_family(view, &stored.family).await?;
        tracing::warn!(client = %client.name, "a spent refresh token was presented; its family is revoked");
        return Err(bad());
    }
    let family = record::load::<Family>(view, &format!("{FAMILY_PREFIX}{}", stored.family))
        .await
        .map_err(server)?;
    if family.is_some_and(|(f, _)| f.revoked) || stored.expires_at <= now() {
        return Err(bad());
    }
    stored.used = true;
    view.transact(&[Write::put(&key, record::encode(&stored).map_err(server)?)
        .expecting(Expect::Revision(revision))])
        .await
        .map_err(|_| bad())?;
    let user = live_user(view, &stored.user).await?;
    let issued = tokens(
        engine,
        view,
        provider,
        &client,
        &user,
        &stored.scope,
        Some(&stored.family),
    )
    .await?;
    Ok(json_response(&issued.body))
}

/// `GET`/`POST userinfo` with `Authorization: Bearer <access token>`: the user's claims for
/// the token's scopes; 401 with `WWW-Authenticate: Bearer error="invalid_token"` otherwise.
pub(crate) async fn userinfo(
    engine: &Identity,
    view: &View,
    name: &str,
    request: &EngineRequest,
) -> OAuthResult<Response> {
    let provider = provider_of(engine, view, name).await?;
    let token = request
        .authorization
        .as_ref()
        .map(|a| a.0.as_str())
        .and_then(|h| {
            h.get(..7)
                .filter(|p| p.eq_ignore_ascii_case("bearer "))
                .map(|_| &h[7..])
        })
        .map(str::trim);
    let claims = match token {
        Some(t) => active_claims(engine, view, &provider, t)
            .await
            .map_err(server)?,
        None => None,
    };
    let user = match claims
        .as_ref()
        .and_then(|c| c.get("user"))
        .and_then(Value::as_str)
    {
        Some(u) => user::load(view, u).await.map_err(server)?,
        None => None,
    };
    let (Some(claims), Some(user)) = (claims, user) else {
        let raw = RawBody::new("application/json", b"{}".to_vec())
            .with_status(401)
            .with_header("www-authenticate", "Bearer error=\"invalid_token\"")
            .with_header("cache-control", "no-store");
        return Ok(Response {
            raw: Some(raw),
            ..Response::default()
        });
    };
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let scopes: Vec<&str> = scope.split(' ').collect();
    Ok(json_response(&Value::Object(user.claims(&scopes))))
}

/// Deletes expired codes, refresh tokens and families (periodic upkeep).
pub(crate) async fn tidy(view: &View) -> qsafe_core::Result<()> {
    let at = now();
    // Codes are kept an hour past expiry, so a late replay still finds them used.
    crate::sweep(view, crate::authorize::CODE_PREFIX, |c: &CodeRecord| {
        c.expires_at + 3600 <= at
    })
    .await?;
    crate::sweep(view, REFRESH_PREFIX, |r: &RefreshRecord| r.expires_at <= at).await?;
    crate::sweep(view, FAMILY_PREFIX, |f: &Family| f.expires_at <= at).await
}
