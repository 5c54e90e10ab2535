//! The PKI secrets engine: a certificate authority with the OpenBao PKI HTTP API
//! (openbao.org/api-docs/secret/pki), ML-DSA-65 by default (RFC 9881), CRLs (RFC 5280 §5) and an
//! OCSP responder (RFC 6960). Route table below; one module per endpoint group. Behaviour and
//! departures from OpenBao: docs/pki.md; stored records: docs/formats.md §13.

pub mod cert;
pub mod crl;
mod crl_state;
pub mod csr;
mod issue;
pub mod issuer;
pub mod keytype;
pub mod names;
pub mod ocsp;
mod ocsp_cache;
mod path_config;
mod path_fetch;
mod path_intermediate;
mod path_issue;
mod path_issuers;
mod path_ocsp;
mod path_revoke;
mod path_roles;
mod path_root;
mod path_tidy;
pub mod profile;
pub mod role;
pub mod serial;
pub mod signer;
pub mod storage;

use std::sync::Arc;

use async_trait::async_trait;
use qsafe_core::{
    CertificateLog, Engine, EngineFactory, EngineRequest, Error, Operation, Requester, Response,
    Result,
};
use qsafe_crypto::Rng;
use qsafe_store::View;
use serde_json::Value;

/// Builds PKI engines (mount type `pki`); every certificate they issue goes to `log`.
#[derive(Clone)]
pub struct PkiFactory {
    log: Arc<dyn CertificateLog>,
}

impl PkiFactory {
    /// A factory whose engines hand issued certificates to `log`.
    pub fn new(log: Arc<dyn CertificateLog>) -> Self {
        Self { log }
    }
}

impl std::fmt::Debug for PkiFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkiFactory")
    }
}

impl EngineFactory for PkiFactory {
    fn kind(&self) -> &'static str {
        "pki"
    }

    fn build(&self, _options: &Value) -> Result<Arc<dyn Engine>> {
        Ok(Arc::new(Pki {
            issuers: issuer::IssuerCache::default(),
            rng: Rng::new(),
            log: self.log.clone(),
            crl_lock: tokio::sync::Mutex::new(()),
            certs: qsafe_store::GroupCommit::default(),
            records: storage::Decoded::default(),
            ocsp_responses: ocsp_cache::ResponseCache::default(),
        }))
    }
}

/// One mounted CA.
pub(crate) struct Pki {
    pub(crate) issuers: issuer::IssuerCache,
    pub(crate) rng: Rng,
    pub(crate) log: Arc<dyn CertificateLog>,
    /// One CRL build at a time in this process (other replicas are fenced by revisions).
    pub(crate) crl_lock: tokio::sync::Mutex<()>,
    /// Certificate records of concurrent issuances share one durable commit.
    pub(crate) certs: qsafe_store::GroupCommit,
    /// Roles and configuration, decoded once per revision.
    pub(crate) records: storage::Decoded,
    /// Signed OCSP responses that nonce-less requests may be given again.
    pub(crate) ocsp_responses: ocsp_cache::ResponseCache,
}

/// What every handler takes.
pub(crate) struct Ctx<'a> {
    pub(crate) engine: &'a Pki,
    pub(crate) view: &'a View,
    pub(crate) data: Option<&'a Value>,
    pub(crate) request: &'a EngineRequest,
}

impl Ctx<'_> {
    pub(crate) fn requester(&self) -> Option<&Requester> {
        self.request.requester.as_ref()
    }
}

#[async_trait]
impl Engine for Pki {
    async fn handle(&self, view: &View, request: &EngineRequest) -> Result<Response> {
        use Operation::{Delete, List, Patch, Read, Write};
        let ctx = Ctx {
            engine: self,
            view,
            data: request.data.as_ref(),
            request,
        };
        let parts: Vec<&str> = request.path.trim_end_matches('/').split('/').collect();
        match (parts.as_slice(), request.operation) {
            // CA hierarchy
            (["root", "generate", kind] | ["issuers", "generate", "root", kind], Write) => {
                path_root::generate(&ctx, kind).await
            }
            (["root", "rotate", kind], Write) => path_root::rotate(&ctx, kind).await,
            (["root", "replace"], Write) => path_issuers::replace_default(&ctx).await,
            (["root"], Delete) => path_root::delete_all(&ctx).await,
            (["root", "sign-intermediate"], Write) => {
                path_root::sign_intermediate(&ctx, "default").await
            }
            (["issuer", r, "sign-intermediate"], Write) => {
                path_root::sign_intermediate(&ctx, r).await
            }
            (
                ["intermediate", "generate", kind] | ["issuers", "generate", "intermediate", kind],
                Write,
            ) => path_intermediate::generate(&ctx, kind).await,
            (["intermediate", "set-signed"], Write) => path_intermediate::set_signed(&ctx).await,
            (["config", "ca"] | ["issuers", "import", "bundle" | "cert"], Write) => {
                path_intermediate::import(&ctx).await
            }
            (["issuers"], List | Read) => path_issuers::list(&ctx).await,
            (["issuer", r], Read) => path_issuers::read(&ctx, r).await,
            (["issuer", r], Write | Patch) => path_issuers::update(&ctx, r).await,
            (["issuer", r], Delete) => path_issuers::delete(&ctx, r).await,
            (["issuer", r, fmt @ ("json" | "pem" | "der")], Read) => {
                path_issuers::fetch(&ctx, r, fmt).await
            }
            (["issuer", r, "revoke"], Write) => path_revoke::revoke_issuer(&ctx, r).await,
            (["config", "issuers"], Read) => path_issuers::read_config(&ctx).await,
            (["config", "issuers"], Write) => path_issuers::write_config(&ctx).await,
            (["config", "urls"], Read) => path_config::read_urls(&ctx).await,
            (["config", "urls"], Write) => path_config::write_urls(&ctx).await,
            (["config", "crl"], Read) => path_config::read_crl(&ctx).await,
            (["config", "crl"], Write) => path_config::write_crl(&ctx).await,
            // Roles
            (["roles"], List | Read) => path_roles::list(&ctx).await,
            (["roles", name], Read) => path_roles::read(&ctx, name).await,
            (["roles", name], Write) => path_roles::write(&ctx, name, false).await,
            (["roles", name], Patch) => path_roles::write(&ctx, name, true).await,
            (["roles", name], Delete) => path_roles::delete(&ctx, name).await,
            // Issuance
            (["issue", role], Write) => path_issue::issue(&ctx, "", role).await,
            (["issuer", r, "issue", role], Write) => path_issue::issue(&ctx, r, role).await,
            (["sign", role], Write) => path_issue::sign(&ctx, "", role).await,
            (["issuer", r, "sign", role], Write) => path_issue::sign(&ctx, r, role).await,
            (["sign-verbatim", rest @ ..], Write) if rest.len() <= 1 => {
                path_issue::sign_verbatim(&ctx, "default", rest.first().copied()).await
            }
            (["issuer", r, "sign-verbatim", rest @ ..], Write) if rest.len() <= 1 => {
                path_issue::sign_verbatim(&ctx, r, rest.first().copied()).await
            }
            // Revocation
            (["revoke"], Write) => path_revoke::revoke(&ctx, false).await,
            (["revoke-with-key"], Write) => path_revoke::revoke(&ctx, true).await,
            (["tidy"], Write) => path_tidy::tidy(&ctx).await,
            // Fetching (unauthenticated)
            (["ca"], Read) => path_fetch::ca(&ctx, "der").await,
            (["ca", "pem"], Read) => path_fetch::ca(&ctx, "pem").await,
            (["ca_chain"] | ["cert", "ca_chain"], Read) => path_fetch::ca_chain(&ctx).await,
            (["cert", "ca"], Read) => path_fetch::ca_json(&ctx).await,
            (["cert", "crl"], Read) => crl_state::fetch_json(&ctx).await,
            (["cert", serial], Read) => path_fetch::cert(&ctx, serial, "json").await,
            (["cert", serial, "raw"], Read) => path_fetch::cert(&ctx, serial, "der").await,
            (["cert", serial, "raw", "pem"], Read) => path_fetch::cert(&ctx, serial, "pem").await,
            (["certs"], List | Read) => path_fetch::list_certs(&ctx).await,
            (["certs", "revoked"], List | Read) => path_fetch::list_revoked(&ctx).await,
            (["crl", "rotate"], Read | Write) => crl_state::rotate(&ctx, false).await,
            (["crl", "rotate-delta"], Read | Write) => crl_state::rotate(&ctx, true).await,
            (["crl", rest @ ..], Read) if rest.len() <= 2 => {
                crl_state::fetch(&ctx, "default", rest, false).await
            }
            (["issuer", r, "crl", rest @ ..], Read) if rest.len() <= 2 => {
                crl_state::fetch(&ctx, r, rest, true).await
            }
            (["ocsp"], Write) => path_ocsp::post(&ctx).await,
            // The base64 request may hold `/` anywhere, the last character included: it is
            // taken from the path as sent, not from the split.
            (["ocsp", _, ..], Read) => path_ocsp::get(&ctx).await,
            // Vault's wording for paths an engine does not serve (its tools key on it).
            _ => Err(Error::NotFound(format!(
                "unsupported path: no pki path {:?} for {}",
                request.path,
                request.operation.as_str()
            ))),
        }
    }

    /// As OpenBao's `PathsSpecial.Unauthenticated`: CA certificates, chains, issued
    /// certificates, CRLs and OCSP are public.
    fn unauthenticated(&self, path: &str, operation: Operation) -> bool {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        match (parts.as_slice(), operation) {
            (["ocsp", ..], Operation::Write | Operation::Read) => true,
            (_, Operation::Read) => {
                matches!(
                    parts.as_slice(),
                    ["ca"]
                        | ["ca", "pem"]
                        | ["ca_chain"]
                        | ["cert", ..]
                        | ["crl", ..]
                        | ["issuer", _, "json" | "pem" | "der"]
                        | ["issuer", _, "crl", ..]
                ) && !matches!(parts.as_slice(), ["crl", "rotate" | "rotate-delta"])
            }
            _ => false,
        }
    }

    /// As OpenBao's `PathsSpecial.Root`, plus `sign-verbatim` (no name policy applies to it).
    fn requires_sudo(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        matches!(
            parts.as_slice(),
            ["root"]
                | ["root", "sign-self-issued"]
                | ["sign-verbatim", ..]
                | ["issuer", _, "sign-verbatim", ..]
        )
    }

    /// Rebuilds CRLs that are near their nextUpdate (OpenBao's periodic function).
    async fn periodic(&self, view: &View) -> Result<()> {
        crl_state::periodic(self, view).await
    }
}
