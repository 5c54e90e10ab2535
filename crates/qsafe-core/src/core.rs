//! `Core`: the one choke point every request passes (DESIGN.md §3):
//! sealed? → authenticate → route → ACL → audit request → engine → audit response.

mod internal;

pub use internal::CoreHandle;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use qsafe_crypto::Rng;
use qsafe_store::{Expect, Seal, SealStatus, UnsealKey, View, Write};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use crate::audit::{AuditLog, AuditSalt, Record};
use crate::engine::{
    Engine, EngineFactory, EngineRequest, Operation, RawBody, Requester, Response,
};
use crate::error::{Error, Result};
use crate::mount::{MOUNTS_PATH, MountEntry, MountTable};
use crate::policy::{Acl, Capability, Policy};
use crate::token::{Kind, NewToken, ROOT_POLICY, TokenEntry, TokenStore};

/// Where the audit salt is stored.
pub const AUDIT_SALT_PATH: &str = "core/audit-salt";
/// Paths that need `sudo` besides the operation's capability.
const ROOT_PROTECTED: [&str; 2] = ["sys/seal", "sys/rotate"];
/// Vault's "which mount serves this path" endpoint, used by the `vault`/`bao kv` commands.
const UI_MOUNTS: &str = "sys/internal/ui/mounts/";
/// Storage prefix of ACL policies, by name.
pub const POLICY_PREFIX: &str = "sys/policy/";

/// The credential a request carries.
#[derive(Clone, Default)]
pub enum Credential {
    /// None: only unauthenticated endpoints (served outside `execute`) accept it.
    #[default]
    None,
    /// `X-Vault-Token` or `Authorization: Bearer`.
    Token(Zeroizing<String>),
    /// `X-Api-Key`.
    ApiKey(Zeroizing<String>),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Token(_) => "Token(<redacted>)",
            Self::ApiKey(_) => "ApiKey(<redacted>)",
        })
    }
}

/// A request as the core sees it. Its `Debug` shows neither the credential nor the data.
#[derive(Clone)]
pub struct Request {
    /// What is asked.
    pub operation: Operation,
    /// The path after `/v1/`, without a leading `/`.
    pub path: String,
    /// The JSON body, if any.
    pub data: Option<Value>,
    /// A body that is not JSON, if any (OCSP requests).
    pub raw: Option<RawBody>,
    /// Who asks.
    pub credential: Credential,
    /// The `Authorization` header as sent, handed only to engines serving unauthenticated
    /// paths (OAuth client authentication); never audited.
    pub authorization: Option<crate::Authorization>,
    /// The caller's address, for the audit line.
    pub client: Option<String>,
    /// An identifier for correlating the audit lines and the log.
    pub id: String,
}

impl Request {
    /// A request from inside the process (set-up steps, tests) made with `token`; no client
    /// address, the id `internal`.
    pub fn internal(
        operation: Operation,
        path: impl Into<String>,
        data: Option<Value>,
        token: &str,
    ) -> Self {
        Self {
            operation,
            path: path.into(),
            data,
            raw: None,
            credential: Credential::Token(Zeroizing::new(token.to_owned())),
            authorization: None,
            client: None,
            id: "internal".into(),
        }
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data", &self.data.as_ref().map(|_| "<redacted>"))
            .field(
                "raw",
                &self.raw.as_ref().map(|r| (&r.content_type, r.bytes.len())),
            )
            .field("credential", &self.credential)
            .field("client", &self.client)
            .field("id", &self.id)
            .finish()
    }
}

/// What `init` returns, once: the unseal shares and the root token. `Debug` redacts both.
pub struct InitOutput {
    /// Base64 shares (none for auto-unseal).
    pub shares: Vec<Zeroizing<String>>,
    /// The root token's secret.
    pub root_token: Zeroizing<String>,
}

impl std::fmt::Debug for InitOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InitOutput({} shares, root token: <redacted>)",
            self.shares.len()
        )
    }
}

struct Mounted {
    entry: MountEntry,
    engine: Arc<dyn Engine>,
    view: View,
}

/// What exists only while unsealed.
pub(crate) struct Active {
    tokens: TokenStore,
    salt: AuditSalt,
    mounts: tokio::sync::RwLock<Vec<Mounted>>,
}

/// The core of one server.
pub struct Core {
    seal: Arc<Seal>,
    audit: Arc<AuditLog>,
    factories: HashMap<&'static str, Arc<dyn EngineFactory>>,
    /// Mounts every activation makes sure exist (path, engine type), as Vault's `identity/`.
    builtin: Vec<(&'static str, &'static str)>,
    active: RwLock<Option<Arc<Active>>>,
    rng: Rng,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("audit", &self.audit)
            .field("engines", &self.factories.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// A core over `seal` writing to `audit`, with no engine types yet.
    pub fn new(seal: Arc<Seal>, audit: AuditLog) -> Self {
        Self {
            seal,
            audit: Arc::new(audit),
            factories: HashMap::new(),
            builtin: Vec::new(),
            active: RwLock::new(None),
            rng: Rng::new(),
        }
    }

    /// Makes engines of `factory.kind()` mountable.
    pub fn register(&mut self, factory: Arc<dyn EngineFactory>) {
        self.factories.insert(factory.kind(), factory);
    }

    /// Makes engines of `factory.kind()` mountable and keeps one always mounted at `path`
    /// (`identity/`): made on activation if missing, never unmounted.
    pub fn register_builtin(&mut self, path: &'static str, factory: Arc<dyn EngineFactory>) {
        self.builtin.push((path, factory.kind()));
        self.register(factory);
    }

    /// Initialized? Sealed? Unseal progress.
    pub async fn seal_status(&self) -> Result<SealStatus> {
        Ok(self.seal.status().await?)
    }

    /// Initializes (Shamir with `shares`/`threshold`, or auto-unseal with `auto_key`), creates
    /// the root token (with the chosen `root_token_id`, if any) and leaves the core active.
    pub async fn init(
        &self,
        shares: u8,
        threshold: u8,
        auto_key: Option<&UnsealKey>,
        root_token_id: Option<Zeroizing<String>>,
    ) -> Result<InitOutput> {
        let shares = match auto_key {
            Some(key) => {
                self.seal.init_auto(key).await?;
                Vec::new()
            }
            None => self.seal.init_shamir(shares, threshold).await?,
        };
        self.activate().await?;
        let root = self
            .active()?
            .tokens
            .create(NewToken {
                kind: Kind::Token,
                policies: vec![ROOT_POLICY.into()],
                display_name: "root".into(),
                ttl: 0,
                max_ttl: 0,
                renewable: false,
                id: root_token_id,
            })
            .await?;
        Ok(InitOutput {
            shares,
            root_token: root.secret,
        })
    }

    /// Gives one unseal share; activates the core when the threshold is reached.
    pub async fn submit_share(&self, share: &str) -> Result<SealStatus> {
        let status = self.seal.submit_share(share).await?;
        if !status.sealed && self.active_opt().is_none() {
            self.activate().await?;
        }
        Ok(status)
    }

    /// Forgets the unseal shares given so far.
    pub fn reset_unseal_progress(&self) {
        self.seal.reset_progress();
    }

    /// Unseals with the whole unseal key (auto-unseal) and activates.
    pub async fn unseal_with_key(&self, key: &UnsealKey) -> Result<()> {
        self.seal.unseal_with_key(key).await?;
        self.activate().await
    }

    /// Seals: forgets the token store, mounts, salts, the keyring and the root key.
    pub fn seal(&self) {
        if let Ok(mut active) = self.active.write() {
            *active = None;
        }
        self.seal.seal();
    }

    /// Builds what lives only while unsealed: token store, audit salt, mounted engines.
    async fn activate(&self) -> Result<()> {
        let barrier = self.seal.barrier().clone();
        let tokens = TokenStore::open(barrier.clone()).await?;
        let salt = AuditSalt::from_bytes(
            *crate::salt::load_or_create(&barrier, AUDIT_SALT_PATH, &self.rng).await?,
        );
        let table = self.ensure_builtin().await?;
        let mut mounts = Vec::new();
        for entry in table.mounts {
            mounts.push(self.instantiate(entry)?);
        }
        let active = Arc::new(Active {
            tokens,
            salt,
            mounts: tokio::sync::RwLock::new(mounts),
        });
        if let Ok(mut slot) = self.active.write() {
            *slot = Some(active);
        }
        Ok(())
    }

    fn active_opt(&self) -> Option<Arc<Active>> {
        self.active.read().ok().and_then(|a| a.clone())
    }

    fn active(&self) -> Result<Arc<Active>> {
        self.active_opt()
            .ok_or(Error::Store(qsafe_store::Error::Sealed))
    }

    fn instantiate(&self, entry: MountEntry) -> Result<Mounted> {
        let factory = self
            .factories
            .get(entry.kind.as_str())
            .ok_or_else(|| Error::InvalidInput(format!("unknown engine type {:?}", entry.kind)))?;
        let engine = factory.build(&entry.options)?;
        let view = View::new(self.seal.barrier().clone(), entry.storage_prefix())?;
        Ok(Mounted {
            entry,
            engine,
            view,
        })
    }

    /// The mount table, with every built-in mount added if missing (a replica adding them at the
    /// same time makes the write conflict; the table is then read again).
    async fn ensure_builtin(&self) -> Result<MountTable> {
        loop {
            let (mut table, revision) = self.load_table().await?;
            let missing: Vec<_> = self
                .builtin
                .iter()
                .filter(|(path, _)| !table.mounts.iter().any(|m| m.path == *path))
                .collect();
            if missing.is_empty() {
                return Ok(table);
            }
            for (path, kind) in missing {
                table.add(MountEntry {
                    path: (*path).to_owned(),
                    kind: (*kind).to_owned(),
                    uuid: self.new_uuid()?,
                    description: "built in".into(),
                    options: Value::Null,
                })?;
            }
            let write =
                Write::put(MOUNTS_PATH, encode(&table)?).expecting(Expect::Revision(revision));
            match self.seal.barrier().transact(&[write]).await {
                Ok(_) => return Ok(table),
                Err(qsafe_store::Error::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    async fn load_table(&self) -> Result<(MountTable, qsafe_store::Revision)> {
        let barrier = self.seal.barrier();
        let value = match barrier.get(MOUNTS_PATH).await? {
            Some(value) => value,
            None => {
                // First activation (or a crash before it finished): an empty table. A replica
                // that writes it first wins; either way it is read back.
                let empty = encode(&MountTable {
                    version: 1,
                    mounts: Vec::new(),
                })?;
                match barrier
                    .transact(&[Write::put(MOUNTS_PATH, empty).expecting(Expect::Absent)])
                    .await
                {
                    Ok(_) | Err(qsafe_store::Error::Conflict { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
                barrier
                    .get(MOUNTS_PATH)
                    .await?
                    .ok_or_else(|| Error::Internal("no mount table".into()))?
            }
        };
        let table = serde_json::from_slice(&value.value)
            .map_err(|_| Error::Internal("mount table does not decode".into()))?;
        Ok((table, value.revision))
    }

    /// Runs every mounted engine's periodic upkeep once (a no-op while sealed). Failures are
    /// logged, not returned: one engine's failure does not stop the others'.
    pub async fn periodic(&self) {
        let Some(active) = self.active_opt() else {
            return;
        };
        let mounts: Vec<(String, Arc<dyn Engine>, View)> = active
            .mounts
            .read()
            .await
            .iter()
            .map(|m| (m.entry.path.clone(), m.engine.clone(), m.view.clone()))
            .collect();
        for (path, engine, view) in mounts {
            if let Err(e) = engine.periodic(&view).await {
                tracing::warn!(mount = %path, error = %e, "periodic upkeep failed");
            }
        }
    }

    /// HMACs `value` with this server's audit salt (`/v1/sys/audit-hash`).
    pub fn audit_hash(&self, value: &str) -> Result<String> {
        Ok(self.active()?.salt.hash(value))
    }

    /// Serves one request through the whole pipeline: authenticated, or on a path its engine
    /// serves without a token.
    pub async fn execute(&self, request: Request) -> Result<Response> {
        let active = self.active()?;
        if let Some(result) = self.execute_unauthenticated(&active, &request).await {
            return result;
        }
        let salt = &active.salt;
        let principal = match self.authenticate(&active, &request.credential).await {
            Ok(principal) => principal,
            Err(e) => {
                // Refused credentials are audited too: who tried what, and why it failed.
                let mut fields = audit_fields(&request, Value::Null, None);
                self.audit.append(&Record {
                    kind: "request",
                    fields: fields.clone(),
                })?;
                fields.insert("error".into(), e.to_string().into());
                self.audit.append(&Record {
                    kind: "response",
                    fields,
                })?;
                return Err(e);
            }
        };
        let acl = self.acl(&principal).await?;
        // HMAC'd once, for both the request and the response line.
        let request_data = request.data.as_ref().map(|data| salt.hash_strings(data));
        let auth = json!({
            "accessor": salt.hash(&principal.accessor),
            "display_name": principal.display_name,
            "policies": principal.policies,
        });
        let audit_base = |kind: &'static str| Record {
            kind,
            fields: audit_fields(&request, auth.clone(), request_data.as_ref()),
        };

        let result = self.dispatch(&active, &acl, &principal, &request, || {
            self.audit.append(&audit_base("request"))
        });
        let result = result.await;
        let mut record = audit_base("response");
        add_outcome(&mut record.fields, salt, &result);
        // A response that cannot be audited is not returned (fail closed), even if the engine
        // already acted.
        self.audit.append(&record)?;
        result
    }

    /// Serves `request` without a token if its engine says the path needs none (CA
    /// certificates, CRLs, OCSP); `None` if it does need one.
    async fn execute_unauthenticated(
        &self,
        active: &Active,
        request: &Request,
    ) -> Option<Result<Response>> {
        let path = request.path.as_str();
        if path.starts_with("sys/") || path.starts_with("auth/") {
            return None;
        }
        let mounts = active.mounts.read().await;
        let (mounted, rest) = mounts
            .iter()
            .find_map(|m| m.entry.strip(path).map(|rest| (m, rest)))?;
        if !mounted.engine.unauthenticated(rest, request.operation) {
            return None;
        }
        let salt = &active.salt;
        let request_data = request.data.as_ref().map(|data| salt.hash_strings(data));
        let fields = audit_fields(request, Value::Null, request_data.as_ref());
        if let Err(e) = self.audit.append(&Record {
            kind: "request",
            fields: fields.clone(),
        }) {
            return Some(Err(e));
        }
        let result = mounted
            .engine
            .handle(
                &mounted.view,
                &EngineRequest {
                    operation: request.operation,
                    path: rest.to_owned(),
                    data: request.data.clone(),
                    raw: request.raw.clone(),
                    requester: None,
                    authorization: request.authorization.clone(),
                },
            )
            .await;
        let mut record = Record {
            kind: "response",
            fields,
        };
        add_outcome(&mut record.fields, salt, &result);
        Some(self.audit.append(&record).and(result))
    }

    async fn dispatch(
        &self,
        active: &Active,
        acl: &Acl,
        principal: &TokenEntry,
        request: &Request,
        audit_request: impl FnOnce() -> Result<()>,
    ) -> Result<Response> {
        let path = request.path.as_str();
        // Every token may look itself up, renew and revoke itself (Vault's default policy).
        let self_service = matches!(
            path,
            "auth/token/lookup-self" | "auth/token/renew-self" | "auth/token/revoke-self"
        );
        if let Some(target) = path.strip_prefix(UI_MOUNTS) {
            // The Vault/OpenBao CLIs ask which engine serves a path before every `kv` command;
            // any token with some access to that path (or its KV v2 forms) may know.
            audit_request()?;
            return self.ui_mount(active, acl, target).await;
        }
        if path.starts_with("sys/") || path.starts_with("auth/") {
            let capability = request.operation.capability(true);
            if !self_service && !acl.allows(path, capability) {
                return Err(denied(path));
            }
            // Root-protected paths need `sudo` as well (Vault's list, for what qsafe has).
            if ROOT_PROTECTED.contains(&path) && !acl.allows(path, Capability::Sudo) {
                return Err(denied(path));
            }
            audit_request()?;
            return crate::sys::handle(self, active, principal, request).await;
        }
        let mounts = active.mounts.read().await;
        let (mounted, rest) = mounts
            .iter()
            .find_map(|m| m.entry.strip(path).map(|rest| (m, rest)))
            .ok_or_else(|| {
                Error::NotFound(format!("unsupported path: no handler for route {path:?}"))
            })?;
        // A write needs `create` on a new path and `update` on an existing one; a caller granted
        // both (the root token, most service policies) needs no existence check, which costs the
        // engine a storage read and decrypt.
        let exists = match request.operation {
            Operation::Write
                if acl.allows(path, Capability::Create) && acl.allows(path, Capability::Update) =>
            {
                true
            }
            Operation::Write => mounted.engine.exists(&mounted.view, rest).await?,
            _ => true,
        };
        if !acl.allows(path, request.operation.capability(exists)) {
            return Err(denied(path));
        }
        if mounted.engine.requires_sudo(rest) && !acl.allows(path, Capability::Sudo) {
            return Err(denied(path));
        }
        audit_request()?;
        mounted
            .engine
            .handle(
                &mounted.view,
                &EngineRequest {
                    operation: request.operation,
                    path: rest.to_owned(),
                    data: request.data.clone(),
                    raw: request.raw.clone(),
                    requester: Some(Requester {
                        display_name: principal.display_name.clone(),
                        accessor_hmac: active.salt.hash(&principal.accessor),
                    }),
                    authorization: None,
                },
            )
            .await
    }

    async fn authenticate(&self, active: &Active, credential: &Credential) -> Result<TokenEntry> {
        let (secret, kind) = match credential {
            Credential::None => {
                return Err(Error::PermissionDenied("no token or API key given".into()));
            }
            Credential::Token(t) => (t, Kind::Token),
            Credential::ApiKey(k) => (k, Kind::ApiKey),
        };
        // A JWT an engine vouches for; anything else (even a token ID chosen to look like
        // one) is looked up in the token store.
        if kind == Kind::Token
            && internal::looks_like_jwt(secret)
            && let Some(entry) = self.authenticate_bearer(active, secret).await?
        {
            return Ok(entry);
        }
        let entry = active.tokens.lookup(secret).await?;
        if entry.kind != kind {
            // An API key in a token header (or the reverse) is refused like an unknown one.
            return Err(Error::PermissionDenied(
                "invalid, expired or revoked token".into(),
            ));
        }
        Ok(entry)
    }

    async fn acl(&self, principal: &TokenEntry) -> Result<Acl> {
        if principal.is_root() {
            return Ok(Acl::root());
        }
        let mut policies = Vec::new();
        for name in &principal.policies {
            // A policy deleted since the token was made grants nothing.
            if let Some(policy) = self.read_policy(name).await? {
                policies.push(policy);
            }
        }
        Ok(Acl::new(policies))
    }

    pub(crate) async fn read_policy(&self, name: &str) -> Result<Option<Policy>> {
        let Some(text) = self
            .seal
            .barrier()
            .get(&format!("{POLICY_PREFIX}{name}"))
            .await?
        else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&text.value)
            .map_err(|_| Error::Internal("policy is not UTF-8".into()))?;
        Ok(Some(Policy::parse(name, text)?))
    }

    pub(crate) fn rng(&self) -> &Rng {
        &self.rng
    }

    pub(crate) fn barrier(&self) -> &Arc<qsafe_store::Barrier> {
        self.seal.barrier()
    }

    pub(crate) fn tokens<'a>(&self, active: &'a Active) -> &'a TokenStore {
        &active.tokens
    }

    pub(crate) async fn mount(&self, active: &Active, entry: MountEntry) -> Result<()> {
        let mounted = self.instantiate(entry.clone())?;
        let mut mounts = active.mounts.write().await;
        let (mut table, revision) = self.load_table().await?;
        table.add(entry)?;
        self.seal
            .barrier()
            .transact(&[
                Write::put(MOUNTS_PATH, encode(&table)?).expecting(Expect::Revision(revision))
            ])
            .await?;
        mounts.push(mounted);
        Ok(())
    }

    pub(crate) async fn unmount(&self, active: &Active, path: &str) -> Result<()> {
        if self.builtin.iter().any(|(p, _)| *p == path) {
            return Err(Error::InvalidInput(format!(
                "{path} is built in and cannot be disabled"
            )));
        }
        let mut mounts = active.mounts.write().await;
        let (mut table, revision) = self.load_table().await?;
        let entry = table
            .remove(path)
            .ok_or_else(|| Error::NotFound(format!("no mount at {path}")))?;
        self.seal
            .barrier()
            .transact(&[
                Write::put(MOUNTS_PATH, encode(&table)?).expecting(Expect::Revision(revision))
            ])
            .await?;
        mounts.retain(|m| m.entry.path != path);
        // Other requests need not wait for the sweep.
        drop(mounts);
        // The mount is gone from the table first, so a crash mid-sweep leaves only unreachable
        // data; sweep it now.
        let barrier = self.seal.barrier();
        let prefix = entry.storage_prefix();
        loop {
            let page = barrier.keys(&prefix, None, 1000).await?;
            if page.keys.is_empty() {
                break;
            }
            let deletes: Vec<Write> = page.keys.into_iter().map(Write::delete).collect();
            barrier.transact(&deletes).await?;
        }
        Ok(())
    }

    /// `sys/internal/ui/mounts/<path>`: the mount serving `target`, if the ACL grants anything
    /// below that mount (as Vault), or on `target` or the KV v2 paths the CLI derives from it;
    /// 403 otherwise.
    async fn ui_mount(&self, active: &Active, acl: &Acl, target: &str) -> Result<Response> {
        let target = target.trim_start_matches('/');
        let mounts = active.mounts.read().await;
        let (entry, rest) = mounts
            .iter()
            .find_map(|m| m.entry.strip(target).map(|rest| (&m.entry, rest)))
            .ok_or_else(|| denied(target))?;
        let visible = acl.any_access_under(&entry.path)
            || std::iter::once(target.to_owned())
                .chain(
                    [
                        "data", "metadata", "delete", "undelete", "destroy", "subkeys",
                    ]
                    .iter()
                    .map(|part| format!("{}{part}/{rest}", entry.path)),
                )
                .any(|p| acl.capabilities(&p).any());
        if !visible {
            return Err(denied(target));
        }
        Ok(Response::data(json!({
            "path": entry.path,
            "type": entry.kind,
            "description": entry.description,
            "options": entry.options,
            "uuid": entry.uuid,
        })))
    }

    pub(crate) async fn mount_list(&self, active: &Active) -> Vec<MountEntry> {
        active
            .mounts
            .read()
            .await
            .iter()
            .map(|m| m.entry.clone())
            .collect()
    }

    pub(crate) fn new_uuid(&self) -> Result<String> {
        new_uuid(&self.rng)
    }
}

/// The fields every audit line of `request` carries. Raw bodies are described (type and
/// length), never copied.
fn audit_fields(
    request: &Request,
    auth: Value,
    request_data: Option<&Value>,
) -> Map<String, Value> {
    let mut fields = Map::new();
    fields.insert("request_id".into(), request.id.clone().into());
    fields.insert("operation".into(), request.operation.as_str().into());
    fields.insert("path".into(), request.path.clone().into());
    fields.insert("client".into(), request.client.clone().into());
    fields.insert("auth".into(), auth);
    if let Some(data) = request_data {
        fields.insert("request_data".into(), data.clone());
    }
    if let Some(raw) = &request.raw {
        fields.insert("request_raw".into(), describe_raw(raw));
    }
    fields
}

fn describe_raw(raw: &RawBody) -> Value {
    json!({"content_type": raw.content_type, "length": raw.bytes.len()})
}

/// Adds a response line's status and HMAC'd data, or its error.
fn add_outcome(fields: &mut Map<String, Value>, salt: &AuditSalt, result: &Result<Response>) {
    match result {
        Ok(response) => {
            let has_body =
                response.data.is_some() || response.auth.is_some() || response.raw.is_some();
            let status = match &response.raw {
                Some(raw) => raw.status,
                None if has_body => 200,
                None => 204,
            };
            fields.insert("status".into(), status.into());
            if let Some(data) = &response.data {
                fields.insert("response_data".into(), salt.hash_strings(data));
            }
            if let Some(auth) = &response.auth {
                fields.insert("response_auth".into(), salt.hash_strings(auth));
            }
            if let Some(raw) = &response.raw {
                fields.insert("response_raw".into(), describe_raw(raw));
            }
        }
        Err(e) => {
            fields.insert("error".into(), e.to_string().into());
        }
    }
}

/// A random identifier in the UUID text form (mount uuids, PKI issuer and key ids).
pub fn new_uuid(rng: &Rng) -> Result<String> {
    let h = hex::encode(*rng.bytes::<16>()?);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn denied(path: &str) -> Error {
    Error::PermissionDenied(format!("no policy allows this on {path:?}"))
}

fn encode(table: &MountTable) -> Result<Vec<u8>> {
    serde_json::to_vec(table).map_err(|e| Error::Internal(format!("encode mount table: {e}")))
}
