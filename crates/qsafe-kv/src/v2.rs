//! KV v2 (developer.hashicorp.com/vault/api-docs/secret/kv/kv-v2): the route table of a
//! versioned KV mount. Each endpoint group is its own file below `v2/`, as OpenBao's
//! `path_*.go`.

use async_trait::async_trait;
use qsafe_core::{Engine, EngineRequest, Error, Operation, Response, Result};
use qsafe_store::View;
use serde_json::Value;

use crate::secret_path;
use crate::storage::metadata_key;

mod config;
mod data;
mod metadata;
mod subkeys;
mod versions;

/// A KV version 2 mount: versioned secrets with metadata, check-and-set, soft delete, undelete
/// and destroy.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvV2;

/// The endpoint a path below the mount names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Config,
    Data(&'a str),
    Delete(&'a str),
    Undelete(&'a str),
    Destroy(&'a str),
    Metadata(&'a str),
    Subkeys(&'a str),
}

fn route(path: &str) -> Result<Route<'_>> {
    if path == "config" {
        return Ok(Route::Config);
    }
    if path == "metadata" {
        return Ok(Route::Metadata(""));
    }
    let unsupported = || Error::NotFound(format!("unsupported path {path:?}"));
    let (group, rest) = path.split_once('/').ok_or_else(unsupported)?;
    Ok(match group {
        "data" => Route::Data(rest),
        "delete" => Route::Delete(rest),
        "undelete" => Route::Undelete(rest),
        "destroy" => Route::Destroy(rest),
        "metadata" => Route::Metadata(rest),
        "subkeys" => Route::Subkeys(rest),
        _ => return Err(unsupported()),
    })
}

/// The request body or query parameters, which must be a JSON object when present.
pub(crate) fn params(data: Option<&Value>) -> Result<Option<&Value>> {
    match data {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(Error::InvalidInput(
            "the request body must be a JSON object".into(),
        )),
    }
}

fn unsupported_operation(op: Operation) -> Error {
    Error::InvalidInput(format!(
        "unsupported operation {:?} on this path",
        op.as_str()
    ))
}

#[async_trait]
impl Engine for KvV2 {
    async fn handle(&self, view: &View, request: &EngineRequest) -> Result<Response> {
        let params = params(request.data.as_ref())?;
        let op = request.operation;
        match (route(&request.path)?, op) {
            (Route::Config, Operation::Read) => config::read(view).await,
            (Route::Config, Operation::Write) => config::write(view, params).await,
            (Route::Data(p), Operation::Read) => data::read(view, p, params).await,
            (Route::Data(p), Operation::Write) => data::write(view, p, params).await,
            (Route::Data(p), Operation::Patch) => data::patch(view, p, params).await,
            (Route::Data(p), Operation::Delete) => data::delete(view, p).await,
            (Route::Delete(p), Operation::Write) => versions::delete(view, p, params).await,
            (Route::Undelete(p), Operation::Write) => versions::undelete(view, p, params).await,
            (Route::Destroy(p), Operation::Write) => versions::destroy(view, p, params).await,
            (Route::Metadata(p), Operation::List) => metadata::list(view, p).await,
            (Route::Metadata(p), Operation::Read) => metadata::read(view, p).await,
            (Route::Metadata(p), Operation::Write) => metadata::write(view, p, params).await,
            (Route::Metadata(p), Operation::Patch) => metadata::patch(view, p, params).await,
            (Route::Metadata(p), Operation::Delete) => metadata::delete(view, p).await,
            (Route::Subkeys(p), Operation::Read) => subkeys::read(view, p, params).await,
            _ => Err(unsupported_operation(op)),
        }
    }

    /// A secret exists once it has metadata, so a first write needs `create` and later ones
    /// `update`, as Vault's existence check for `data/` and `metadata/`.
    async fn exists(&self, view: &View, path: &str) -> Result<bool> {
        match route(path) {
            Ok(Route::Data(p) | Route::Metadata(p)) => {
                if secret_path::check(p).is_err() {
                    return Ok(false);
                }
                Ok(view.get(&metadata_key(p)).await?.is_some())
            }
            _ => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("config").unwrap(), Route::Config);
        assert_eq!(route("data/a/b").unwrap(), Route::Data("a/b"));
        assert_eq!(route("metadata").unwrap(), Route::Metadata(""));
        assert_eq!(route("metadata/").unwrap(), Route::Metadata(""));
        assert_eq!(route("destroy/x").unwrap(), Route::Destroy("x"));
        for bad in ["", "data", "configs", "nope/a", "versions/a/1"] {
            assert!(matches!(route(bad), Err(Error::NotFound(_))), "{bad}");
        }
    }
}
