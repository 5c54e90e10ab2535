//! What the core hands an engine, and what an engine answers (DESIGN.md §2: engines hold domain
//! logic only; they see their mount's storage view and the request, never HTTP).

use async_trait::async_trait;
use qsafe_store::View;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::Result;
use crate::policy::Capability;

/// The operation a request asks for (Vault's logical operations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// GET.
    Read,
    /// POST or PUT: `create` if the target does not exist (per the engine), else `update`.
    Write,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
    /// LIST, or GET with `?list=true`.
    List,
}

impl Operation {
    /// The name in audit lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::List => "list",
        }
    }

    /// The capability a policy must grant, given whether the target exists.
    pub fn capability(self, exists: bool) -> Capability {
        match self {
            Self::Read => Capability::Read,
            Self::Write if exists => Capability::Update,
            Self::Write => Capability::Create,
            Self::Patch => Capability::Patch,
            Self::Delete => Capability::Delete,
            Self::List => Capability::List,
        }
    }
}

/// A body that is not JSON (an OCSP request, a DER CRL, an OAuth answer), with its media type;
/// in a response also its HTTP status and extra headers (Vault's `http_raw_body`,
/// `http_status_code`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBody {
    /// The `Content-Type`, e.g. `application/ocsp-request`.
    pub content_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The HTTP status of a response (200 unless set); unused in requests.
    pub status: u16,
    /// Headers a response adds (`Cache-Control`, `Location`, `WWW-Authenticate`); unused in
    /// requests.
    pub headers: Vec<(String, String)>,
}

impl RawBody {
    /// A body of `bytes` typed `content_type`, status 200, no extra header.
    pub fn new(content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            content_type: content_type.into(),
            bytes,
            status: 200,
            headers: Vec::new(),
        }
    }

    /// The same with HTTP status `status`.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same with the header `name: value` added.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The `Authorization` header of a request to an unauthenticated path, as sent (`Basic ...`,
/// `Bearer ...`), for engines that authenticate their own callers (OAuth client
/// authentication, RFC 6749 §2.3.1). Never logged or audited.
#[derive(Clone, PartialEq, Eq)]
pub struct Authorization(pub Zeroizing<String>);

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authorization(<redacted>)")
    }
}

/// A request as an engine sees it.
#[derive(Debug, Clone)]
pub struct EngineRequest {
    /// What is asked.
    pub operation: Operation,
    /// The path below the mount point (no leading `/`).
    pub path: String,
    /// The JSON body (POST/PUT/PATCH), if any.
    pub data: Option<Value>,
    /// A body that is not JSON (its `Content-Type` is not `application/json`), if any.
    pub raw: Option<RawBody>,
    /// Who asks; `None` on unauthenticated paths.
    pub requester: Option<Requester>,
    /// The `Authorization` header, on unauthenticated paths only.
    pub authorization: Option<Authorization>,
}

/// The principal behind a request, as engines may record it (a certificate's requester).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The token's display name.
    pub display_name: String,
    /// The token accessor, HMAC'd with the audit salt as in audit lines, so a record can be
    /// matched to its audit line without revealing the accessor.
    pub accessor_hmac: String,
}

impl EngineRequest {
    /// A request without a raw body.
    pub fn new(operation: Operation, path: impl Into<String>, data: Option<Value>) -> Self {
        Self {
            operation,
            path: path.into(),
            data,
            raw: None,
            requester: None,
            authorization: None,
        }
    }
}

/// An engine's answer: Vault's response body fields qsafe uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Response {
    /// `data` of the response; `None` answers 204 No Content.
    pub data: Option<Value>,
    /// `auth` (token endpoints): holds a new token's secret, HMAC'd in audit lines.
    pub auth: Option<Value>,
    /// `warnings`.
    pub warnings: Vec<String>,
    /// A body sent as is instead of Vault's JSON envelope (PEM, DER CRLs, OCSP responses).
    pub raw: Option<RawBody>,
}

impl Response {
    /// A response carrying `data`.
    pub fn data(data: Value) -> Self {
        Self {
            data: Some(data),
            ..Self::default()
        }
    }

    /// A response carrying an `auth` block.
    pub fn auth(auth: Value) -> Self {
        Self {
            auth: Some(auth),
            ..Self::default()
        }
    }

    /// 204 No Content.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A response whose body is `bytes` as they are, typed `content_type`.
    pub fn raw(content_type: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            raw: Some(RawBody::new(content_type, bytes)),
            ..Self::default()
        }
    }
}

/// A secrets engine mounted at a path.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Serves one request against its storage view.
    async fn handle(&self, storage: &View, request: &EngineRequest) -> Result<Response>;

    /// Whether `path` exists, for choosing `create` or `update` on a write. The default says it
    /// exists, so writes need `update`, as Vault does for engines without an existence check.
    async fn exists(&self, _storage: &View, _path: &str) -> Result<bool> {
        Ok(true)
    }

    /// Whether `path` is served without a token (Vault's `PathsSpecial.Unauthenticated`: a CA
    /// certificate, a CRL, OCSP). Such requests skip authentication and ACLs; they are still
    /// audited, with no `auth`. The default: none.
    fn unauthenticated(&self, _path: &str, _operation: Operation) -> bool {
        false
    }

    /// Whether `path` needs `sudo` besides the operation's capability (Vault's
    /// `PathsSpecial.Root`: deleting a CA, signing CSRs verbatim). The default: none.
    fn requires_sudo(&self, _path: &str) -> bool {
        false
    }

    /// Background upkeep (Vault's `PeriodicFunc`: rebuilding CRLs before they expire), called
    /// about once a minute while unsealed by [`crate::Core::periodic`]. The default does nothing.
    async fn periodic(&self, _storage: &View) -> Result<()> {
        Ok(())
    }

    /// A principal for a bearer token the token store does not know (the identity engine:
    /// a workload's access token), or `None`. Only built-in mounts are asked. The default: none.
    async fn authenticate(&self, _storage: &View, _bearer: &str) -> Result<Option<Principal>> {
        Ok(None)
    }
}

/// Who a bearer token an engine vouches for is ([`Engine::authenticate`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    /// A name for audit and display (`workload:users-api`).
    pub display_name: String,
    /// An identifier of the token, HMAC'd in audit lines like a token accessor (its `jti`).
    pub id: String,
    /// Its ACL policies (`root` is never granted this way).
    pub policies: Vec<String>,
    /// Expiry, Unix seconds.
    pub expires: i64,
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("display_name", &self.display_name)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

/// Makes an engine for a new or reloaded mount of its type.
pub trait EngineFactory: Send + Sync + 'static {
    /// The mount type it serves, e.g. `kv-v2`.
    fn kind(&self) -> &'static str;
    /// An engine instance for a mount with these options.
    fn build(&self, options: &Value) -> Result<std::sync::Arc<dyn Engine>>;
}
