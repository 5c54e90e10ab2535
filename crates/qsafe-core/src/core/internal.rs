//! What engines ask of each other through the core: a late-bound [`CoreHandle`],
//! [`Core::execute_internal`] (one engine's audited request to another's mount) and the bearer
//! tokens a built-in engine vouches for (a workload's access token as a principal).

use std::sync::Arc;

use qsafe_store::View;
use serde_json::{Value, json};

use super::{Active, Core, Credential, Request, add_outcome, audit_fields, new_uuid};
use crate::audit::Record;
use crate::engine::{Engine, EngineRequest, Operation, Requester, Response};
use crate::error::{Error, Result};
use crate::token::{Kind, ROOT_POLICY, TokenEntry};

/// A late-bound handle on the core, for engines that ask other engines for something
/// ([`Core::execute_internal`]): set once the core is shared, and weak, so the core and its
/// engines do not keep each other alive.
#[derive(Clone, Default)]
pub struct CoreHandle(Arc<std::sync::OnceLock<std::sync::Weak<Core>>>);

impl CoreHandle {
    /// Points the handle at `core` (once; later calls change nothing).
    pub fn set(&self, core: &Arc<Core>) {
        let _ = self.0.set(Arc::downgrade(core));
    }

    /// The core, if set and still alive.
    pub fn get(&self) -> Option<Arc<Core>> {
        self.0.get().and_then(std::sync::Weak::upgrade)
    }
}

impl std::fmt::Debug for CoreHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.get().is_some() {
            "CoreHandle(set)"
        } else {
            "CoreHandle(unset)"
        })
    }
}

impl Core {
    /// Serves `operation` on `path` for another engine (the identity engine asking a PKI mount
    /// for a workload's certificate): no token and no ACL — engines are this server's own code
    /// — but audited like any request, `auth.display_name` being `on_behalf` and
    /// `auth.policies` `["internal"]`. `sys/` and `auth/` paths are refused.
    pub async fn execute_internal(
        &self,
        on_behalf: &str,
        operation: Operation,
        path: &str,
        data: Option<Value>,
    ) -> Result<Response> {
        let active = self.active()?;
        if path.starts_with("sys/") || path.starts_with("auth/") {
            return Err(Error::PermissionDenied(format!(
                "an engine may not ask for {path}"
            )));
        }
        let request = Request {
            operation,
            path: path.to_owned(),
            data,
            raw: None,
            credential: Credential::None,
            authorization: None,
            client: None,
            id: new_uuid(&self.rng)?,
        };
        let salt = &active.salt;
        let request_data = request.data.as_ref().map(|d| salt.hash_strings(d));
        let auth = json!({"display_name": on_behalf, "policies": ["internal"]});
        let fields = audit_fields(&request, auth, request_data.as_ref());
        self.audit.append(&Record {
            kind: "request",
            fields: fields.clone(),
        })?;
        let result = self.dispatch_internal(&active, on_behalf, &request).await;
        let mut record = Record {
            kind: "response",
            fields,
        };
        add_outcome(&mut record.fields, salt, &result);
        self.audit.append(&record)?;
        result
    }

    async fn dispatch_internal(
        &self,
        active: &Active,
        on_behalf: &str,
        request: &Request,
    ) -> Result<Response> {
        let mounts = active.mounts.read().await;
        let (mounted, rest) = mounts
            .iter()
            .find_map(|m| m.entry.strip(&request.path).map(|rest| (m, rest)))
            .ok_or_else(|| Error::NotFound(format!("no mount serves {}", request.path)))?;
        let (engine, view) = (mounted.engine.clone(), mounted.view.clone());
        let engine_request = EngineRequest {
            operation: request.operation,
            path: rest.to_owned(),
            data: request.data.clone(),
            raw: None,
            requester: Some(Requester {
                display_name: on_behalf.to_owned(),
                accessor_hmac: active.salt.hash(on_behalf),
            }),
            authorization: None,
        };
        // Not under the mount table's lock: the engine may take its time.
        drop(mounts);
        engine.handle(&view, &engine_request).await
    }

    /// A JWT bearer token: a principal if a built-in engine vouches for it (a workload's
    /// access token), never with the root policy.
    pub(super) async fn authenticate_bearer(
        &self,
        active: &Active,
        token: &str,
    ) -> Result<Option<TokenEntry>> {
        let candidates: Vec<(Arc<dyn Engine>, View)> = active
            .mounts
            .read()
            .await
            .iter()
            .filter(|m| self.builtin.iter().any(|(path, _)| *path == m.entry.path))
            .map(|m| (m.engine.clone(), m.view.clone()))
            .collect();
        for (engine, view) in candidates {
            if let Some(p) = engine.authenticate(&view, token).await? {
                return Ok(Some(TokenEntry {
                    version: 1,
                    kind: Kind::Token,
                    accessor: p.id,
                    policies: p
                        .policies
                        .into_iter()
                        .filter(|n| n != ROOT_POLICY)
                        .collect(),
                    display_name: p.display_name,
                    created: 0,
                    expires: Some(p.expires),
                    ttl: 0,
                    renewable: false,
                    max_expires: Some(p.expires),
                }));
            }
        }
        Ok(None)
    }
}

/// Whether `token` has the shape of a compact JWS (three base64url parts, a JSON header):
/// qsafe's own tokens never do.
pub(super) fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ")
        && token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::looks_like_jwt;

    #[test]
    fn only_compact_jws_shapes_are_offered_to_engines() {
        assert!(looks_like_jwt(
            "eyJhbGciOiJNTC1EU0EtNjUifQ.eyJzdWIiOiJ4In0.c2ln"
        ));
        for not in [
            "dev-root",
            "qsafe.s.abc",
            "eyJhbGciOiJub25lIn0.eyJ9",
            "eyJ.a.b.c",
            "eyJ x.y.z",
        ] {
            assert!(!looks_like_jwt(not), "{not}");
        }
    }
}
