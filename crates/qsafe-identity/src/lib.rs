//! The identity engine: an OpenID Connect provider with Vault's `identity/oidc/...` API
//! (developer.hashicorp.com/vault/api-docs/secret/identity/oidc-provider), signing tokens with
//! ML-DSA-65 by default (RFC 9964). Route table below; one module per resource. Behaviour and
//! departures from Vault: docs/identity.md; stored records: docs/formats.md §14.
//!
//! Mounted once, at `identity/`, on every server (as Vault's identity store).

mod assertion;
mod authorize;
mod client;
mod exchange;
mod grant;
mod key;
mod kubernetes;
mod oauth;
mod provider;
mod scope;
mod token;
mod user;
mod workload;

use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use qsafe_core::record::all_keys;
use qsafe_core::{
    CoreHandle, Engine, EngineFactory, EngineRequest, Error, Operation, Response, Result,
};
use qsafe_crypto::Rng;
use qsafe_store::View;
use serde_json::{Value, json};

/// Format version of every record.
pub(crate) const FORMAT: u32 = 1;

/// The address clients reach the server at (`https://qsafe.example:8200`), which issuer URLs
/// start with; set once the listener knows its port, shared by every engine built.
#[derive(Debug, Clone, Default)]
pub struct ApiAddr(Arc<RwLock<String>>);

impl ApiAddr {
    /// Sets it (no trailing `/`).
    pub fn set(&self, addr: &str) {
        if let Ok(mut slot) = self.0.write() {
            addr.trim_end_matches('/').clone_into(&mut slot);
        }
    }

    /// The address (empty until set).
    pub fn get(&self) -> String {
        self.0.read().map(|a| a.clone()).unwrap_or_default()
    }
}

/// Builds the identity engine (mount type `identity`).
#[derive(Debug, Clone)]
pub struct IdentityFactory {
    api_addr: ApiAddr,
    core: CoreHandle,
}

impl IdentityFactory {
    /// A factory whose providers' issuers start with `api_addr` unless a provider sets its own,
    /// and whose workloads get certificates from PKI mounts through `core`.
    pub fn new(api_addr: ApiAddr, core: CoreHandle) -> Self {
        Self { api_addr, core }
    }
}

impl EngineFactory for IdentityFactory {
    fn kind(&self) -> &'static str {
        "identity"
    }

    fn build(&self, _options: &Value) -> Result<Arc<dyn Engine>> {
        Ok(Arc::new(Identity {
            api_addr: self.api_addr.clone(),
            core: self.core.clone(),
            rng: Rng::new(),
            keys: key::KeyCache::default(),
            clients: client::ClientCache::default(),
            providers: provider::ProviderCache::default(),
        }))
    }
}

/// The engine.
pub(crate) struct Identity {
    pub(crate) api_addr: ApiAddr,
    pub(crate) core: CoreHandle,
    pub(crate) rng: Rng,
    pub(crate) keys: key::KeyCache,
    pub(crate) clients: client::ClientCache,
    pub(crate) providers: provider::ProviderCache,
}

/// The Unix time now.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A resource name: 1 to 128 of `A-Z a-z 0-9 _ - .`.
pub(crate) fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "name {:?}: 1 to 128 letters, digits, '_', '-' or '.'",
            name.chars().take(64).collect::<String>()
        )))
    }
}

/// The record `prefix` + `name`, if `name` is a valid name and the record exists.
pub(crate) async fn load_named<T: serde::de::DeserializeOwned>(
    view: &View,
    prefix: &str,
    name: &str,
) -> Result<Option<T>> {
    if check_name(name).is_err() {
        return Ok(None);
    }
    Ok(
        qsafe_core::record::load::<T>(view, &format!("{prefix}{name}"))
            .await?
            .map(|(r, _)| r),
    )
}

/// Deletes the records under `prefix` that `expired` says are done with (periodic upkeep); a
/// record changed meanwhile is left for the next sweep.
pub(crate) async fn sweep<T: serde::de::DeserializeOwned>(
    view: &View,
    prefix: &str,
    expired: impl Fn(&T) -> bool,
) -> Result<()> {
    use qsafe_store::{Expect, Write};
    for path in all_keys(view, prefix).await? {
        if let Some((r, revision)) = qsafe_core::record::load::<T>(view, &path).await?
            && expired(&r)
        {
            let _ = view
                .transact(&[Write::delete(&path).expecting(Expect::Revision(revision))])
                .await;
        }
    }
    Ok(())
}

/// A JWK set of public keys (a JSON object, or its text): a non-empty `keys` array, no private
/// member, each key one qsafe's JOSE reads — or, with `rsa`, an RSA key (`n`, `e`), which qsafe
/// only verifies with.
pub(crate) fn check_public_jwks(value: &Value, rsa: bool) -> Result<Value> {
    let set: Value = match value {
        Value::String(text) => serde_json::from_str(text)
            .map_err(|_| Error::InvalidInput("jwks is not JSON".into()))?,
        other => other.clone(),
    };
    let keys = set["keys"]
        .as_array()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| Error::InvalidInput("jwks needs a non-empty \"keys\" array".into()))?;
    for key in keys {
        let readable = if rsa && key["kty"] == "RSA" {
            key["n"].is_string() && key["e"].is_string()
        } else {
            qsafe_crypto::jose::Jwk::from_value(key).is_ok()
        };
        if !readable || key.get("d").is_some() || key.get("priv").is_some() {
            return Err(Error::InvalidInput(format!(
                "jwks: key {} is not a public key qsafe reads",
                key.get("kid").and_then(Value::as_str).unwrap_or("(no kid)")
            )));
        }
    }
    Ok(set)
}

/// `LIST` of the names under `prefix`.
async fn list(view: &View, prefix: &str, what: &str) -> Result<Response> {
    let keys: Vec<String> = all_keys(view, prefix)
        .await?
        .into_iter()
        .map(|k| k[prefix.len()..].to_owned())
        .collect();
    if keys.is_empty() {
        return Err(Error::NotFound(format!("no {what}")));
    }
    Ok(Response::data(json!({ "keys": keys })))
}

/// Deletes the record at `prefix` + `name` (absent already: fine, as Vault).
async fn delete(view: &View, prefix: &str, name: &str) -> Result<Response> {
    check_name(name)?;
    view.delete(&format!("{prefix}{name}")).await?;
    Ok(Response::empty())
}

#[async_trait]
impl Engine for Identity {
    async fn handle(&self, view: &View, request: &EngineRequest) -> Result<Response> {
        let result = self.route(view, request).await;
        // A client, workload or provider written or deleted may change which keys a provider
        // publishes: forget the cached key names (after the change, so none is cached from
        // before it).
        let management = ["oidc/client/", "oidc/provider/", "workload/"]
            .iter()
            .any(|p| request.path.starts_with(p));
        if management
            && matches!(request.operation, Operation::Write | Operation::Delete)
            && !self.unauthenticated(&request.path, request.operation)
        {
            self.providers.forget_keys();
        }
        result
    }

    /// Discovery, JWKS and the login page are public; the token, introspection and revocation
    /// endpoints authenticate OAuth clients themselves, userinfo its bearer token.
    fn unauthenticated(&self, path: &str, operation: Operation) -> bool {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        matches!(
            (parts.as_slice(), operation),
            (
                [
                    "oidc",
                    "provider",
                    _,
                    ".well-known",
                    "openid-configuration" | "keys"
                ],
                Operation::Read
            ) | (
                ["oidc", "provider", _, "token" | "introspect" | "revoke"],
                Operation::Write
            ) | (
                [
                    "oidc",
                    "provider",
                    _,
                    "authorize" | "userinfo" | "end-session"
                ],
                Operation::Read | Operation::Write
            )
        )
    }

    /// A workload's access token naming the audience `qsafe` is a principal on qsafe's API,
    /// with the workload's policies.
    async fn authenticate(
        &self,
        view: &View,
        bearer: &str,
    ) -> Result<Option<qsafe_core::Principal>> {
        workload::principal(self, view, bearer).await
    }

    /// Rotates keys whose period is over, forgets expired revocations and join tokens.
    async fn periodic(&self, view: &View) -> Result<()> {
        key::rotate_due(self, view).await?;
        token::tidy_revoked(view).await?;
        grant::tidy(view).await?;
        workload::tidy_join_tokens(view).await
    }
}

impl Identity {
    /// Serves one request (the route table).
    async fn route(&self, view: &View, request: &EngineRequest) -> Result<Response> {
        use Operation::{Delete, List, Read, Write};

        let data = request.data.as_ref();
        let parts: Vec<&str> = request.path.trim_end_matches('/').split('/').collect();
        match (parts.as_slice(), request.operation) {
            (["oidc", "key"], List | Read) => list(view, key::KEY_PREFIX, "keys").await,
            (["oidc", "key", n], Write) => key::write(self, view, n, data).await,
            (["oidc", "key", n], Read) => key::read(self, view, n).await,
            (["oidc", "key", n], Delete) => self.delete_key(view, n).await,
            (["oidc", "key", n, "rotate"], Write) => key::rotate(self, view, n, data).await,
            (["oidc", "client"], List | Read) => list(view, client::CLIENT_PREFIX, "clients").await,
            (["oidc", "client", n], Write) => client::write(self, view, n, data).await,
            (["oidc", "client", n], Read) => client::read(self, view, n).await,
            (["oidc", "client", n], Delete) => client::delete(view, n).await,
            (["oidc", "provider"], List | Read) => {
                list(view, provider::PROVIDER_PREFIX, "providers").await
            }
            (["oidc", "provider", n], Write) => provider::write(view, n, data).await,
            (["oidc", "provider", n], Read) => provider::read(self, view, n).await,
            (["oidc", "provider", n], Delete) => delete(view, provider::PROVIDER_PREFIX, n).await,
            (["oidc", "provider", n, ".well-known", "openid-configuration"], Read) => {
                provider::discovery(self, view, n).await
            }
            (["oidc", "provider", n, ".well-known", "keys"], Read) => {
                provider::jwks(self, view, n).await
            }
            (["oidc", "provider", n, "token"], Write) => {
                token::answer(token::token(self, view, n, request).await)
            }
            (["oidc", "provider", n, "introspect"], Write) => {
                token::answer(token::introspect(self, view, n, request).await)
            }
            (["oidc", "provider", n, "revoke"], Write) => {
                token::answer(token::revoke(self, view, n, request).await)
            }
            (["oidc", "scope"], List | Read) => list(view, scope::SCOPE_PREFIX, "scopes").await,
            (["oidc", "scope", n], Write) => scope::write_scope(view, n, data).await,
            (["oidc", "scope", n], Read) => scope::read_scope(view, n).await,
            (["oidc", "scope", n], Delete) => delete(view, scope::SCOPE_PREFIX, n).await,
            (["oidc", "assignment"], List | Read) => {
                list(view, scope::ASSIGNMENT_PREFIX, "assignments").await
            }
            (["oidc", "assignment", n], Write) => scope::write_assignment(view, n, data).await,
            (["oidc", "assignment", n], Read) => scope::read_assignment(view, n).await,
            (["oidc", "assignment", n], Delete) => delete(view, scope::ASSIGNMENT_PREFIX, n).await,
            (["oidc", "provider", n, "authorize"], Read | Write) => {
                let provider = self
                    .providers
                    .load(self, view, n)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no provider {n:?}")))?;
                if request.operation == Write {
                    authorize::submit(self, view, &provider, data).await
                } else {
                    authorize::show(self, view, &provider, data).await
                }
            }
            (["oidc", "provider", n, "end-session"], Read | Write) => {
                let provider = self
                    .providers
                    .load(self, view, n)
                    .await?
                    .ok_or_else(|| Error::NotFound(format!("no provider {n:?}")))?;
                authorize::end_session(self, view, &provider, data).await
            }
            (["oidc", "provider", n, "userinfo"], Read | Write) => {
                token::answer(grant::userinfo(self, view, n, request).await)
            }
            (["user"], List | Read) => list(view, user::USER_PREFIX, "users").await,
            (["user", n], Write) => user::write(self, view, n, data).await,
            (["user", n], Read) => user::read(view, n).await,
            (["user", n], Delete) => delete(view, user::USER_PREFIX, n).await,
            (["config"], Read) => workload::read_config(view).await,
            (["config"], Write) => workload::write_config(view, data).await,
            (["workload"], List | Read) => list(view, workload::WORKLOAD_PREFIX, "workloads").await,
            (["workload", n], Write) => workload::write(self, view, n, data).await,
            (["workload", n], Read) => workload::read(view, n).await,
            (["workload", n], Delete) => workload::delete(view, n).await,
            (["kubernetes", "config"], Read) => kubernetes::read_config(view).await,
            (["kubernetes", "config"], Write) => kubernetes::write_config(view, data).await,
            (["workload", n, "join-token"], Write) => {
                workload::join_token(self, view, n, data).await
            }
            (["workload", n, "rotate"], Write) => workload::end_tokens(view, n, false).await,
            (["workload", n, "revoke"], Write) => {
                workload::end_tokens(view, n, true).await?;
                workload::revoke_certificates(self, view, n).await
            }
            _ => Err(Error::NotFound(format!(
                "unsupported path: no identity path {:?} for {}",
                request.path,
                request.operation.as_str()
            ))),
        }
    }

    /// `DELETE oidc/key/:name`: refused while a client uses the key (Vault's rule).
    async fn delete_key(&self, view: &View, name: &str) -> Result<Response> {
        check_name(name)?;
        for path in all_keys(view, client::CLIENT_PREFIX).await? {
            let client_name = &path[client::CLIENT_PREFIX.len()..];
            if let Some(c) = self.clients.by_name(view, client_name).await?
                && c.key == name
            {
                return Err(Error::InvalidInput(format!(
                    "key {name:?} is used by client {client_name:?}"
                )));
            }
        }
        delete(view, key::KEY_PREFIX, name).await
    }
}
