//! KV v1 (developer.hashicorp.com/vault/api-docs/secret/kv/kv-v1): one unversioned JSON
//! object per path. `GET/POST/PUT/DELETE :path`, `LIST :folder/`.

use async_trait::async_trait;
use qsafe_core::{Engine, EngineRequest, Error, Operation, Response, Result};
use qsafe_store::{View, Write};
use serde_json::{Value, json};

use crate::secret_path;
use crate::storage::{SecretRecord, V1_PREFIX, encode, list_all, load};

/// A KV version 1 mount: the request body is the secret, stored as is; a write replaces it.
#[derive(Debug, Clone, Copy, Default)]
pub struct KvV1;

fn key(path: &str) -> String {
    format!("{V1_PREFIX}{path}")
}

async fn read(view: &View, path: &str) -> Result<Response> {
    secret_path::check(path)?;
    match load::<SecretRecord>(view, &key(path)).await? {
        Some((record, _)) => Ok(Response::data(Value::Object(record.data))),
        None => Err(Error::NotFound(format!("no secret at {path:?}"))),
    }
}

async fn write(view: &View, path: &str, body: Option<&Value>) -> Result<Response> {
    secret_path::check(path)?;
    let data = match body {
        None | Some(Value::Null) => return Err(Error::InvalidInput("no data provided".into())),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err(Error::InvalidInput(
                "the secret must be a JSON object".into(),
            ));
        }
    };
    // A whole-value replacement: nothing is read first, so nothing can be lost to a race.
    let record = encode(&SecretRecord::new(data))?;
    view.transact(&[Write::put(key(path), record)]).await?;
    Ok(Response::empty())
}

async fn delete(view: &View, path: &str) -> Result<Response> {
    secret_path::check(path)?;
    view.delete(&key(path)).await?;
    Ok(Response::empty())
}

async fn list(view: &View, path: &str) -> Result<Response> {
    let folder = secret_path::folder(path)?;
    let keys = list_all(view, &key(&folder)).await?;
    if keys.is_empty() {
        return Err(Error::NotFound(format!("no secrets below {folder:?}")));
    }
    Ok(Response::data(json!({ "keys": keys })))
}

#[async_trait]
impl Engine for KvV1 {
    async fn handle(&self, view: &View, request: &EngineRequest) -> Result<Response> {
        let path = request.path.as_str();
        match request.operation {
            Operation::Read => read(view, path).await,
            Operation::Write => write(view, path, request.data.as_ref()).await,
            Operation::Delete => delete(view, path).await,
            Operation::List => list(view, path).await,
            Operation::Patch => Err(Error::InvalidInput(
                "unsupported operation \"patch\" on a kv version 1 mount".into(),
            )),
        }
    }

    /// A path exists when a secret is stored there: a first write needs `create`.
    async fn exists(&self, view: &View, path: &str) -> Result<bool> {
        if secret_path::check(path).is_err() {
            return Ok(false);
        }
        Ok(view.get(&key(path)).await?.is_some())
    }
}
