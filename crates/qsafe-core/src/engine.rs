//! What the core hands an engine, and what an engine answers (DESIGN.md §2: engines hold domain
//! logic only; they see their mount's storage view and the request, never HTTP).

use async_trait::async_trait;
use qsafe_store::View;
use serde_json::Value;

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

/// A request as an engine sees it.
#[derive(Debug, Clone)]
pub struct EngineRequest {
    /// What is asked.
    pub operation: Operation,
    /// The path below the mount point (no leading `/`).
    pub path: String,
    /// The JSON body (POST/PUT/PATCH), if any.
    pub data: Option<Value>,
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
}

/// Makes an engine for a new or reloaded mount of its type.
pub trait EngineFactory: Send + Sync + 'static {
    /// The mount type it serves, e.g. `kv-v2`.
    fn kind(&self) -> &'static str;
    /// An engine instance for a mount with these options.
    fn build(&self, options: &Value) -> Result<std::sync::Arc<dyn Engine>>;
}
