//! OIDC providers (Vault's `identity/oidc/provider/:name`): an issuer, the clients it serves
//! and its scopes; its discovery document (OpenID Connect Discovery 1.0 §3) and JWKS (RFC 7517
//! §5, ML-DSA keys as `kty: "AKP"` per RFC 9964). The `default` provider exists without being
//! made, serving every client, as Vault's.

use std::collections::BTreeSet;
use std::sync::Arc;

use qsafe_core::fields::{field_str, field_str_list};
use qsafe_core::record::{self, Decoded};
use qsafe_core::{Error, RawBody, Response, Result};
use qsafe_store::{Expect, View};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::key::{self, KeyRecord};
use crate::{FORMAT, now};

/// `oidc/providers/<name>`.
pub(crate) const PROVIDER_PREFIX: &str = "oidc/providers/";
/// Where the provider's endpoints live below the server's address.
const PATH: &str = "/v1/identity/oidc/provider/";
/// The longest a JWKS may be cached (it also ends at the next rotation).
const JWKS_MAX_AGE: i64 = 3600;

/// The stored provider (docs/formats.md §14).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ProviderRecord {
    pub(crate) version: u32,
    /// `scheme://host:port` the issuer URL starts with; empty: the server's `api_addr`.
    pub(crate) issuer: String,
    /// Client ids served (`*`: all).
    pub(crate) allowed_client_ids: Vec<String>,
    pub(crate) scopes_supported: Vec<String>,
}

impl ProviderRecord {
    fn default_provider() -> Self {
        Self {
            version: FORMAT,
            issuer: String::new(),
            allowed_client_ids: vec!["*".into()],
            scopes_supported: Vec::new(),
        }
    }

    /// Whether it serves `client_id`.
    pub(crate) fn allows(&self, client_id: &str) -> bool {
        self.allowed_client_ids
            .iter()
            .any(|c| c == "*" || c == client_id)
    }
}

/// A provider with its issuer URL worked out.
pub(crate) struct Provider {
    pub(crate) record: Arc<ProviderRecord>,
    /// `<issuer or api_addr>/v1/identity/oidc/provider/<name>`.
    pub(crate) issuer: String,
}

impl Provider {
    /// What a client assertion may name as its `aud`: the issuer or one of its endpoints.
    pub(crate) fn audiences(&self) -> Vec<String> {
        let mut list = vec![self.issuer.clone()];
        for endpoint in ["token", "introspect", "revoke"] {
            list.push(format!("{}/{endpoint}", self.issuer));
        }
        list
    }
}

/// How long the names of the keys a provider's clients and workloads use are reused before
/// they are listed again: a client or workload another replica adds is answered for (JWKS,
/// introspection) within this time; this replica's own changes clear them at once.
const KEY_NAMES_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// The names of the keys a provider uses, by issuer, with when they were listed.
type KeyNames = std::collections::HashMap<String, (std::time::Instant, Arc<BTreeSet<String>>)>;

/// Providers by name, decoded once per revision, and the key names each uses.
#[derive(Default)]
pub(crate) struct ProviderCache {
    records: Decoded,
    key_names: std::sync::RwLock<KeyNames>,
}

impl ProviderCache {
    /// Forgets the key names (a client or workload was added, changed or removed).
    pub(crate) fn forget_keys(&self) {
        if let Ok(mut names) = self.key_names.write() {
            names.clear();
        }
    }

    /// The provider `name` (`default` exists without being written: every client, no scope).
    pub(crate) async fn load(
        &self,
        engine: &crate::Identity,
        view: &View,
        name: &str,
    ) -> Result<Option<Provider>> {
        let record = match self
            .records
            .load::<ProviderRecord>(view, &format!("{PROVIDER_PREFIX}{name}"))
            .await?
        {
            Some(r) => r,
            None if name == "default" => Arc::new(ProviderRecord::default_provider()),
            None => return Ok(None),
        };
        let base = if record.issuer.is_empty() {
            engine.api_addr.get()
        } else {
            record.issuer.clone()
        };
        let issuer = format!("{}{PATH}{name}", base.trim_end_matches('/'));
        Ok(Some(Provider { record, issuer }))
    }
}

/// `POST oidc/provider/:name`.
pub(crate) async fn write(view: &View, name: &str, data: Option<&Value>) -> Result<Response> {
    crate::check_name(name)?;
    let path = format!("{PROVIDER_PREFIX}{name}");
    let loaded = record::load::<ProviderRecord>(view, &path).await?;
    let (mut p, expect) = match loaded {
        Some((p, revision)) => (p, Expect::Revision(revision)),
        None if name == "default" => (ProviderRecord::default_provider(), Expect::Absent),
        None => (
            ProviderRecord {
                allowed_client_ids: Vec::new(),
                ..ProviderRecord::default_provider()
            },
            Expect::Absent,
        ),
    };
    if let Some(issuer) = field_str(data, "issuer")? {
        p.issuer = check_issuer(issuer)?;
    }
    if let Some(ids) = field_str_list(data, "allowed_client_ids")? {
        p.allowed_client_ids = ids;
    }
    if let Some(scopes) = field_str_list(data, "scopes_supported")? {
        for s in &scopes {
            if view
                .revision(&format!("{}{s}", crate::scope::SCOPE_PREFIX))
                .await?
                .is_none()
            {
                return Err(Error::InvalidInput(format!("no scope {s:?}")));
            }
        }
        p.scopes_supported = scopes;
    }
    record::save(view, &path, &p, expect).await?;
    Ok(Response::empty())
}

/// An issuer is `https://host[:port]` (or `http://` for a loopback test), with no path, query
/// or fragment (Vault's rule).
fn check_issuer(issuer: &str) -> Result<String> {
    let bad = || {
        Error::InvalidInput(format!(
            "issuer {issuer:?} must be scheme://host[:port] with no path"
        ))
    };
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '@']) {
        return Err(bad());
    }
    Ok(issuer.trim_end_matches('/').to_owned())
}

/// `GET oidc/provider/:name`.
pub(crate) async fn read(engine: &crate::Identity, view: &View, name: &str) -> Result<Response> {
    let p = found(engine, view, name).await?;
    Ok(Response::data(json!({
        "issuer": p.issuer,
        "allowed_client_ids": p.record.allowed_client_ids,
        "scopes_supported": p.record.scopes_supported,
    })))
}

async fn found(engine: &crate::Identity, view: &View, name: &str) -> Result<Provider> {
    engine
        .providers
        .load(engine, view, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no provider {name:?}")))
}

/// The named keys of the clients and workloads `provider` serves, loaded (their names listed
/// at most once per [`KEY_NAMES_TTL`]).
pub(crate) async fn keys_of(
    engine: &crate::Identity,
    view: &View,
    provider: &Provider,
) -> Result<Vec<Arc<KeyRecord>>> {
    let cached = engine.providers.key_names.read().ok().and_then(|names| {
        names
            .get(&provider.issuer)
            .filter(|(at, _)| at.elapsed() < KEY_NAMES_TTL)
            .map(|(_, names)| names.clone())
    });
    let names = match cached {
        Some(names) => names,
        None => {
            let names = Arc::new(key_names(engine, view, provider).await?);
            if let Ok(mut all) = engine.providers.key_names.write() {
                all.insert(
                    provider.issuer.clone(),
                    (std::time::Instant::now(), names.clone()),
                );
            }
            names
        }
    };
    let mut keys = Vec::new();
    for name in names.iter() {
        if let Some(k) = engine.keys.load(view, name).await? {
            keys.push(k);
        }
    }
    Ok(keys)
}

async fn key_names(
    engine: &crate::Identity,
    view: &View,
    provider: &Provider,
) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for path in crate::all_keys(view, crate::client::CLIENT_PREFIX).await? {
        let name = &path[crate::client::CLIENT_PREFIX.len()..];
        if let Some(c) = engine.clients.by_name(view, name).await?
            && provider.record.allows(&c.client_id)
        {
            names.insert(c.key.clone());
        }
    }
    for path in crate::all_keys(view, crate::workload::WORKLOAD_PREFIX).await? {
        let name = &path[crate::workload::WORKLOAD_PREFIX.len()..];
        if let Some(w) = crate::workload::load(view, name).await?
            && provider.record.allows(&w.spiffe_id)
        {
            names.insert(w.key.clone());
        }
    }
    Ok(names)
}

/// `GET oidc/provider/:name/.well-known/openid-configuration`.
pub(crate) async fn discovery(
    engine: &crate::Identity,
    view: &View,
    name: &str,
) -> Result<Response> {
    let p = found(engine, view, name).await?;
    let mut algs = BTreeSet::new();
    for k in keys_of(engine, view, &p).await? {
        algs.insert(k.algorithm.clone());
    }
    let mut scopes: Vec<String> = ["openid", "profile", "email", "groups"]
        .map(str::to_owned)
        .to_vec();
    scopes.extend(p.record.scopes_supported.iter().cloned());
    let auth_methods = json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt"
    ]);
    let doc = json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/authorize", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "userinfo_endpoint": format!("{}/userinfo", p.issuer),
        "end_session_endpoint": format!("{}/end-session", p.issuer),
        "jwks_uri": format!("{}/.well-known/keys", p.issuer),
        "introspection_endpoint": format!("{}/introspect", p.issuer),
        "revocation_endpoint": format!("{}/revoke", p.issuer),
        "grant_types_supported": [
            "authorization_code", "refresh_token", "client_credentials", crate::exchange::GRANT
        ],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": scopes,
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp",
            "preferred_username", "name", "email", "groups"
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic", "client_secret_post", "private_key_jwt", "none"
        ],
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
    });
    Ok(public_json(&doc, JWKS_MAX_AGE))
}

/// `GET oidc/provider/:name/.well-known/keys`: every key a token of this provider may be signed
/// with now or soon; cacheable until the next rotation (at most an hour).
pub(crate) async fn jwks(engine: &crate::Identity, view: &View, name: &str) -> Result<Response> {
    let p = found(engine, view, name).await?;
    let at = now();
    let mut keys = Vec::new();
    let mut max_age = JWKS_MAX_AGE;
    for k in keys_of(engine, view, &p).await? {
        max_age = max_age.min(k.next_rotation.saturating_sub(at).max(0));
        for version in k.published(at) {
            keys.push(key::public_jwk(engine, &k, version)?);
        }
    }
    Ok(public_json(&json!({"keys": keys}), max_age))
}

/// A JSON document anyone may cache for `max_age` seconds.
fn public_json(body: &Value, max_age: i64) -> Response {
    let raw = RawBody::new("application/json", body.to_string().into_bytes())
        .with_header("cache-control", format!("public, max-age={max_age}"));
    Response {
        raw: Some(raw),
        ..Response::default()
    }
}
