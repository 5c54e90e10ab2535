//! The transit secrets engine: encryption as a service with the Vault/OpenBao transit HTTP API
//! (developer.hashicorp.com/vault/api-docs/secret/transit) and post-quantum key types. Route
//! table below; one module per endpoint group as OpenBao's `builtin/logical/transit/path_*.go`.
//! Behaviour and departures from Vault: docs/transit.md; stored formats: docs/formats.md §12.

mod batch;
mod cache;
mod input;
mod path_backup;
mod path_config;
mod path_datakey;
mod path_decrypt;
mod path_encrypt;
mod path_export;
mod path_hash;
mod path_hmac;
mod path_keys;
mod path_random;
mod path_rewrap;
mod path_rotate;
mod path_sign_verify;
mod policy;

use std::sync::Arc;

use async_trait::async_trait;
use qsafe_core::{Engine, EngineFactory, EngineRequest, Error, Operation, Response, Result};
use qsafe_crypto::Rng;
use qsafe_store::View;
use serde_json::Value;

/// Builds transit engines (mount type `transit`).
#[derive(Debug, Default, Clone, Copy)]
pub struct TransitFactory;

impl EngineFactory for TransitFactory {
    fn kind(&self) -> &'static str {
        "transit"
    }

    fn build(&self, _options: &Value) -> Result<Arc<dyn Engine>> {
        Ok(Arc::new(Transit::default()))
    }
}

/// One mounted transit engine: its parsed-key cache and random source.
#[derive(Default)]
pub(crate) struct Transit {
    pub(crate) keys: cache::KeyCache,
    pub(crate) rng: Rng,
}

/// A request's view, body and the engine, as every handler takes them.
pub(crate) struct Ctx<'a> {
    pub(crate) engine: &'a Transit,
    pub(crate) view: &'a View,
    pub(crate) data: Option<&'a Value>,
}

impl Ctx<'_> {
    /// The parsed key `name`, or NotFound.
    pub(crate) async fn key(&self, name: &str) -> Result<Arc<policy::Keyring>> {
        self.engine
            .keys
            .require(self.view, name, &self.engine.rng)
            .await
    }
}

fn unsupported(path: &str) -> Error {
    Error::InvalidInput(format!("unsupported operation on transit path {path:?}"))
}

#[async_trait]
impl Engine for Transit {
    async fn handle(&self, view: &View, request: &EngineRequest) -> Result<Response> {
        use Operation::{Delete, List, Read, Write};
        let ctx = Ctx {
            engine: self,
            view,
            data: request.data.as_ref(),
        };
        let parts: Vec<&str> = request.path.trim_end_matches('/').split('/').collect();
        let op = request.operation;
        match (parts.as_slice(), op) {
            (["keys"], List | Read) => path_keys::list(&ctx).await,
            (["keys", name], Read) => path_keys::read(&ctx, name).await,
            (["keys", name], Write) => path_keys::create(&ctx, name).await,
            (["keys", name], Delete) => path_keys::delete(&ctx, name).await,
            (["keys", name, "config"], Write) => path_config::write(&ctx, name).await,
            (["keys", name, "rotate"], Write) => path_rotate::rotate(&ctx, name).await,
            (["keys", name, "trim"], Write) => path_rotate::trim(&ctx, name).await,
            (["encrypt", name], Write) => path_encrypt::encrypt(&ctx, name).await,
            (["decrypt", name], Write) => path_decrypt::decrypt(&ctx, name).await,
            (["rewrap", name], Write) => path_rewrap::rewrap(&ctx, name).await,
            (["datakey", kind, name], Write) => path_datakey::datakey(&ctx, kind, name).await,
            (["random", rest @ ..], Write) if rest.len() <= 2 => path_random::random(&ctx, rest),
            (["hash", rest @ ..], Write) if rest.len() <= 1 => path_hash::hash(&ctx, rest.first()),
            (["hmac", name, rest @ ..], Write) if rest.len() <= 1 => {
                path_hmac::hmac(&ctx, name, rest.first().copied()).await
            }
            (["sign", name, rest @ ..], Write) if rest.len() <= 1 => {
                path_sign_verify::sign(&ctx, name, rest.first().copied()).await
            }
            (["verify", name, rest @ ..], Write) if rest.len() <= 1 => {
                path_sign_verify::verify(&ctx, name, rest.first().copied()).await
            }
            (["export", kind, name, rest @ ..], Read) if rest.len() <= 1 => {
                path_export::export(&ctx, kind, name, rest.first().copied()).await
            }
            (["backup", name], Read) => path_backup::backup(&ctx, name).await,
            (["restore", rest @ ..], Write) if rest.len() <= 1 => {
                path_backup::restore(&ctx, rest.first().copied()).await
            }
            (
                ["keys", ..]
                | ["encrypt" | "decrypt" | "rewrap" | "backup", _]
                | [
                    "datakey" | "hmac" | "sign" | "verify" | "export" | "random" | "hash"
                    | "restore",
                    ..,
                ],
                _,
            ) if parts.len() <= 4 => Err(unsupported(&request.path)),
            _ => Err(Error::NotFound(format!(
                "no transit path {:?}",
                request.path
            ))),
        }
    }

    /// As Vault: an encrypt to a missing key creates it, so it needs the `create` capability.
    async fn exists(&self, view: &View, path: &str) -> Result<bool> {
        match path
            .trim_end_matches('/')
            .split('/')
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["encrypt", name] if cache::check_name(name).is_ok() => {
                self.keys.exists(view, name).await
            }
            _ => Ok(true),
        }
    }
}
