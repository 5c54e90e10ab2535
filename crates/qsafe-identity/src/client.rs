//! OAuth clients (Vault's `identity/oidc/client/:name`; RFC 6749 §2): confidential clients with
//! a secret shown once at creation and stored only as its SHA-256, and public clients. Client
//! authentication at the token, introspection and revocation endpoints: `client_secret_basic`
//! and `client_secret_post` (RFC 6749 §2.3.1).

use std::sync::Arc;

use qsafe_core::fields::{field_duration, field_str, field_str_list};
use qsafe_core::record::{self, Decoded};
use qsafe_core::{Authorization, Error, Response, Result};
use qsafe_crypto::encoding::{b64_decode, b64url_encode};
use qsafe_crypto::hash;
use qsafe_store::{Expect, View, Write};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::oauth::OAuthError;
use crate::{FORMAT, key};

/// `oidc/clients/<name>`.
pub(crate) const CLIENT_PREFIX: &str = "oidc/clients/";
/// `oidc/client-ids/<client_id>`: the name of the client with that id.
const CLIENT_ID_PREFIX: &str = "oidc/client-ids/";
/// What a client secret starts with (so scanners can find leaked ones).
const SECRET_PREFIX: &str = "qso_secret_";
const DEFAULT_TTL: u64 = 24 * 3600;

/// The stored client (docs/formats.md §14).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ClientRecord {
    pub(crate) version: u32,
    pub(crate) name: String,
    pub(crate) client_id: String,
    /// Hex SHA-256 of the secret; `None` for a public client. The secret is 256 random bits,
    /// so a fast hash is enough: there is nothing to guess.
    secret_sha256: Option<String>,
    /// `confidential` or `public`.
    pub(crate) client_type: String,
    /// The named key that signs its tokens.
    pub(crate) key: String,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) assignments: Vec<String>,
    pub(crate) id_token_ttl: u64,
    pub(crate) access_token_ttl: u64,
    /// Grants it may use (`client_credentials`, ...).
    pub(crate) grant_types: Vec<String>,
    /// Scopes it may ask for (empty: any the provider supports).
    pub(crate) scopes: Vec<String>,
    /// Audiences its access tokens may name (empty: its own client id only).
    pub(crate) audiences: Vec<String>,
    /// `client_secret_basic` (a secret, by Basic or in the body), `private_key_jwt` or `none`.
    #[serde(default)]
    pub(crate) auth_method: String,
    /// The public JWK set its `private_key_jwt` assertions are checked with.
    #[serde(default)]
    pub(crate) jwks: Option<Value>,
    /// Where end-session may send the browser back to.
    #[serde(default)]
    pub(crate) post_logout_redirect_uris: Vec<String>,
}

impl ClientRecord {
    /// Whether it authenticates (with a secret or a signed assertion).
    pub(crate) fn confidential(&self) -> bool {
        self.client_type == "confidential"
    }

    /// Whether `secret` is its secret (constant time).
    fn secret_matches(&self, secret: &str) -> bool {
        self.secret_sha256.as_ref().is_some_and(|stored| {
            hex::decode(stored)
                .is_ok_and(|stored| hash::ct_eq(&stored, &hash::sha256(secret.as_bytes())))
        })
    }
}

/// Clients by name, decoded once per revision.
#[derive(Default)]
pub(crate) struct ClientCache {
    records: Decoded,
}

impl ClientCache {
    /// The client named `name`.
    pub(crate) async fn by_name(
        &self,
        view: &View,
        name: &str,
    ) -> Result<Option<Arc<ClientRecord>>> {
        self.records
            .load::<ClientRecord>(view, &format!("{CLIENT_PREFIX}{name}"))
            .await
    }

    /// The client whose id is `client_id`.
    pub(crate) async fn by_id(
        &self,
        view: &View,
        client_id: &str,
    ) -> Result<Option<Arc<ClientRecord>>> {
        if client_id.is_empty() || client_id.contains('/') {
            return Ok(None);
        }
        let Some(name) = self
            .records
            .load::<String>(view, &format!("{CLIENT_ID_PREFIX}{client_id}"))
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .by_name(view, &name)
            .await?
            .filter(|c| c.client_id == client_id))
    }
}

const GRANTS: [&str; 4] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:token-exchange",
];

/// `POST oidc/client/:name`: creates a client (answering its `client_id` and, for a
/// confidential client, its `client_secret`, shown this once) or updates its settings.
pub(crate) async fn write(
    engine: &crate::Identity,
    view: &View,
    name: &str,
    data: Option<&Value>,
) -> Result<Response> {
    crate::check_name(name)?;
    let path = format!("{CLIENT_PREFIX}{name}");
    let loaded = record::load::<ClientRecord>(view, &path).await?;
    let creating = loaded.is_none();
    let client_type = field_str(data, "client_type")?;
    if let (Some((old, _)), Some(t)) = (&loaded, client_type)
        && t != old.client_type
    {
        return Err(Error::InvalidInput("client_type cannot be changed".into()));
    }
    let client_type = client_type.unwrap_or("confidential");
    if !matches!(client_type, "confidential" | "public") {
        return Err(Error::InvalidInput(format!(
            "client_type {client_type:?}: confidential or public"
        )));
    }
    let mut secret = None;
    let (mut client, expect) = match loaded {
        Some((client, revision)) => (client, Expect::Revision(revision)),
        None => {
            let client_id = b64url_encode(engine.rng.bytes::<24>().map_err(rng)?.as_ref());
            let method = match (client_type, field_str(data, "token_endpoint_auth_method")?) {
                ("public", None | Some("none")) => "none",
                ("confidential", None | Some("client_secret_basic" | "client_secret_post")) => {
                    "client_secret_basic"
                }
                ("confidential", Some("private_key_jwt")) => "private_key_jwt",
                (_, Some(other)) => {
                    return Err(Error::InvalidInput(format!(
                        "token_endpoint_auth_method {other:?} does not suit a {client_type} client"
                    )));
                }
                (_, None) => "none",
            };
            let secret_hash = if method == "client_secret_basic" {
                let s = Zeroizing::new(format!(
                    "{SECRET_PREFIX}{}",
                    b64url_encode(engine.rng.bytes::<32>().map_err(rng)?.as_ref())
                ));
                let h = hex::encode(hash::sha256(s.as_bytes()));
                secret = Some(s);
                Some(h)
            } else {
                None
            };
            let grants = if client_type == "confidential" {
                GRANTS.iter().map(|g| (*g).to_owned()).collect()
            } else {
                vec!["authorization_code".into(), "refresh_token".into()]
            };
            let client = ClientRecord {
                version: FORMAT,
                name: name.to_owned(),
                client_id,
                secret_sha256: secret_hash,
                client_type: client_type.to_owned(),
                key: key::DEFAULT_KEY.into(),
                redirect_uris: Vec::new(),
                assignments: Vec::new(),
                id_token_ttl: DEFAULT_TTL,
                access_token_ttl: DEFAULT_TTL,
                grant_types: grants,
                scopes: Vec::new(),
                audiences: Vec::new(),
                auth_method: method.to_owned(),
                jwks: None,
                post_logout_redirect_uris: Vec::new(),
            };
            (client, Expect::Absent)
        }
    };
    apply(&mut client, data)?;
    if client.auth_method == "private_key_jwt" && client.jwks.is_none() {
        return Err(Error::InvalidInput(
            "a private_key_jwt client needs its public keys in jwks".into(),
        ));
    }
    if client.key == key::DEFAULT_KEY {
        key::ensure_default(engine, view).await?;
    } else if engine.keys.load(view, &client.key).await?.is_none() {
        return Err(Error::InvalidInput(format!("no key {:?}", client.key)));
    }
    let mut writes = vec![Write::put(&path, record::encode(&client)?).expecting(expect)];
    if creating {
        writes.push(
            Write::put(
                format!("{CLIENT_ID_PREFIX}{}", client.client_id),
                record::encode(&client.name)?,
            )
            .expecting(Expect::Absent),
        );
    }
    view.transact(&writes).await.map_err(record::conflict)?;
    Ok(match secret {
        Some(secret) => Response::data(json!({
            "client_id": client.client_id,
            "client_secret": secret.as_str(),
        })),
        None if creating => Response::data(json!({"client_id": client.client_id})),
        None => Response::empty(),
    })
}

fn rng(e: qsafe_crypto::Error) -> Error {
    Error::Internal(format!("random: {e}"))
}

/// The settable fields of `data` applied to `client`.
fn apply(client: &mut ClientRecord, data: Option<&Value>) -> Result<()> {
    if let Some(k) = field_str(data, "key")? {
        crate::check_name(k)?;
        client.key = k.to_owned();
    }
    for (name, slot) in [
        ("redirect_uris", &mut client.redirect_uris),
        (
            "post_logout_redirect_uris",
            &mut client.post_logout_redirect_uris,
        ),
        ("assignments", &mut client.assignments),
        ("scopes", &mut client.scopes),
        ("audiences", &mut client.audiences),
    ] {
        if let Some(list) = field_str_list(data, name)? {
            *slot = list;
        }
    }
    if let Some(jwks) = data.and_then(|d| d.get("jwks")) {
        client.jwks = Some(crate::check_public_jwks(jwks, false)?);
    }
    if let Some(grants) = field_str_list(data, "grant_types")? {
        if let Some(g) = grants.iter().find(|g| !GRANTS.contains(&g.as_str())) {
            return Err(Error::InvalidInput(format!("unknown grant type {g:?}")));
        }
        if !client.confidential() && grants.iter().any(|g| g == "client_credentials") {
            return Err(Error::InvalidInput(
                "a public client cannot use client_credentials".into(),
            ));
        }
        client.grant_types = grants;
    }
    for (name, slot) in [
        ("id_token_ttl", &mut client.id_token_ttl),
        ("access_token_ttl", &mut client.access_token_ttl),
    ] {
        if let Some(ttl) = field_duration(data, name)? {
            if ttl == 0 {
                return Err(Error::InvalidInput(format!("{name} must be positive")));
            }
            *slot = ttl;
        }
    }
    Ok(())
}

/// `GET oidc/client/:name`: settings and `client_id`; the secret is not kept to be shown.
pub(crate) async fn read(engine: &crate::Identity, view: &View, name: &str) -> Result<Response> {
    let c = engine
        .clients
        .by_name(view, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no client {name:?}")))?;
    Ok(Response::data(json!({
        "client_id": c.client_id,
        "client_type": c.client_type,
        "key": c.key,
        "redirect_uris": c.redirect_uris,
        "assignments": c.assignments,
        "id_token_ttl": c.id_token_ttl,
        "access_token_ttl": c.access_token_ttl,
        "grant_types": c.grant_types,
        "scopes": c.scopes,
        "audiences": c.audiences,
        "token_endpoint_auth_method": c.auth_method,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "jwks": c.jwks,
    })))
}

/// `DELETE oidc/client/:name`: the client and its id; its tokens stop passing introspection.
pub(crate) async fn delete(view: &View, name: &str) -> Result<Response> {
    let path = format!("{CLIENT_PREFIX}{name}");
    if let Some((c, revision)) = record::load::<ClientRecord>(view, &path).await? {
        view.transact(&[
            Write::delete(&path).expecting(Expect::Revision(revision)),
            Write::delete(format!("{CLIENT_ID_PREFIX}{}", c.client_id)),
        ])
        .await
        .map_err(record::conflict)?;
    }
    Ok(Response::empty())
}

/// The client a token, introspection or revocation request authenticates as: HTTP Basic
/// (`client_secret_basic`, id and secret form-urlencoded, RFC 6749 §2.3.1), `client_id` and
/// `client_secret` in the body (`client_secret_post`), or a signed assertion
/// (`private_key_jwt`, addressed to one of `audiences`); a public client by `client_id` alone
/// when `public_ok`. Two methods at once, a wrong secret or assertion, or an unknown client:
/// `invalid_client`.
pub(crate) async fn authenticate(
    engine: &crate::Identity,
    view: &View,
    authorization: Option<&Authorization>,
    data: Option<&Value>,
    public_ok: bool,
    audiences: &[String],
) -> std::result::Result<Arc<ClientRecord>, OAuthError> {
    let form_id = field_str(data, "client_id").ok().flatten();
    let form_secret = field_str(data, "client_secret").ok().flatten();
    let assertion = field_str(data, "client_assertion").ok().flatten();
    let basic = match authorization.map(|a| a.0.as_str()) {
        Some(h) if h.len() > 6 && h[..6].eq_ignore_ascii_case("basic ") => {
            Some(parse_basic(&h[6..]).ok_or_else(|| OAuthError::invalid_client(true))?)
        }
        _ => None,
    };
    let methods = usize::from(basic.is_some())
        + usize::from(form_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use one client authentication method",
        ));
    }
    if let Some(assertion) = assertion {
        if field_str(data, "client_assertion_type").ok().flatten()
            != Some(crate::assertion::ASSERTION_TYPE)
        {
            return Err(OAuthError::invalid_request(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let id = crate::assertion::claimed_client(assertion)
            .ok_or_else(|| OAuthError::invalid_client(false))?;
        if form_id.is_some_and(|f| f != id) {
            return Err(OAuthError::invalid_client(false));
        }
        let client = engine
            .clients
            .by_id(view, &id)
            .await
            .map_err(OAuthError::server)?
            .filter(|c| c.auth_method == "private_key_jwt")
            .ok_or_else(|| OAuthError::invalid_client(false))?;
        let jwks = client
            .jwks
            .as_ref()
            .ok_or_else(|| OAuthError::invalid_client(false))?;
        crate::assertion::check(view, &client.client_id, jwks, assertion, audiences).await?;
        return Ok(client);
    }
    let (id, secret, used_basic) = match basic {
        Some((id, secret)) => (id, Some(secret), true),
        None => {
            let id = form_id.ok_or_else(|| OAuthError::invalid_client(false))?;
            let secret = form_secret.map(|s| Zeroizing::new(s.to_owned()));
            (id.to_owned(), secret, false)
        }
    };
    let client = engine
        .clients
        .by_id(view, &id)
        .await
        .map_err(OAuthError::server)?
        .ok_or_else(|| OAuthError::invalid_client(used_basic))?;
    match secret {
        Some(secret) if client.secret_matches(&secret) => Ok(client),
        None if public_ok && !client.confidential() => Ok(client),
        _ => Err(OAuthError::invalid_client(used_basic)),
    }
}

/// The client `request` authenticates as ([`authenticate`]), which `provider` must serve.
pub(crate) async fn caller(
    engine: &crate::Identity,
    view: &View,
    provider: &crate::provider::Provider,
    request: &qsafe_core::EngineRequest,
    public_ok: bool,
) -> std::result::Result<Arc<ClientRecord>, OAuthError> {
    let client = authenticate(
        engine,
        view,
        request.authorization.as_ref(),
        request.data.as_ref(),
        public_ok,
        &provider.audiences(),
    )
    .await?;
    if provider.record.allows(&client.client_id) {
        Ok(client)
    } else {
        Err(OAuthError::unauthorized_client(
            "this provider does not serve the client",
        ))
    }
}

/// `base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(b64: &str) -> Option<(String, Zeroizing<String>)> {
    let raw = Zeroizing::new(b64_decode("Basic credentials", b64.trim()).ok()?);
    let text = std::str::from_utf8(&raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| -> Option<String> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(&format!("v={}", s.replace('&', "%26").replace('=', "%3D")))
                .ok()?;
        pairs.into_iter().next().map(|(_, v)| v)
    };
    Some((decode(id)?, Zeroizing::new(decode(secret)?)))
}

#[cfg(test)]
mod tests {
    use super::parse_basic;
    use qsafe_crypto::encoding::b64_encode;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = b64_encode(b"my%20id:s3cr%3At+x");
        let (id, secret) = parse_basic(&header).unwrap();
        assert_eq!(id, "my id");
        assert_eq!(secret.as_str(), "s3cr:t x");
        assert!(parse_basic("not base64!").is_none());
        assert!(parse_basic(&b64_encode(b"no colon")).is_none());
    }
}
