//! A typed client for a KV v2 mount (Vault/OpenBao KV v2 API: `data/`, `metadata/`, `delete/`,
//! `undelete/`, `destroy/`), as `hvac`'s `secrets.kv.v2` offers it.

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{Client, Error, Result, data_of, encode_path};

/// A KV v2 mount, e.g. `client.kv("secret")`.
#[derive(Debug, Clone)]
pub struct Kv {
    client: Client,
    mount: String,
}

/// The metadata of one version, as a read or a write returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionMetadata {
    /// The version number, from 1.
    pub version: u64,
    /// RFC 3339.
    pub created_time: String,
    /// RFC 3339, or empty when the version is not deleted.
    #[serde(default)]
    pub deletion_time: String,
    /// Whether the data was destroyed.
    #[serde(default)]
    pub destroyed: bool,
    /// The key's custom metadata.
    #[serde(default)]
    pub custom_metadata: Option<Map<String, Value>>,
}

/// One version of a secret. Its `Debug` shows the field names, never the values.
#[derive(Clone, Deserialize)]
pub struct Secret {
    /// The secret's fields.
    pub data: Map<String, Value>,
    /// Its version's metadata.
    pub metadata: VersionMetadata,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("fields", &self.data.keys().collect::<Vec<_>>())
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl Secret {
    /// A field as a string (`None` when absent or not a string).
    pub fn field(&self, name: &str) -> Option<&str> {
        self.data.get(name).and_then(Value::as_str)
    }
}

fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
}

impl Kv {
    pub(crate) fn new(client: Client, mount: &str) -> Self {
        Self {
            client,
            mount: mount.trim_matches('/').to_owned(),
        }
    }

    fn path(&self, part: &str, path: &str) -> String {
        format!(
            "{}/{part}/{}",
            encode_path(&self.mount),
            encode_path(path.trim_matches('/'))
        )
    }

    /// The current version of `path`, or `None` if it does not exist or is deleted.
    pub async fn read(&self, path: &str) -> Result<Option<Secret>> {
        self.read_version(path, 0).await
    }

    /// Version `version` of `path` (0 = current), or `None` if absent, deleted or destroyed.
    pub async fn read_version(&self, path: &str, version: u64) -> Result<Option<Secret>> {
        let mut url = self.path("data", path);
        if version > 0 {
            url.push_str(&format!("?version={version}"));
        }
        match self.client.request(Method::GET, &url, None).await {
            Ok(answer) => decode(data_of(answer)?).map(Some),
            Err(Error::Api { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a new version; with `cas`, only if the current version is `cas` (0: only if the
    /// secret does not exist yet).
    pub async fn write(
        &self,
        path: &str,
        data: &Map<String, Value>,
        cas: Option<u64>,
    ) -> Result<VersionMetadata> {
        self.new_version(Method::POST, path, data, cas).await
    }

    /// Merges `data` into the current version (JSON merge patch) as a new version.
    pub async fn patch(
        &self,
        path: &str,
        data: &Map<String, Value>,
        cas: Option<u64>,
    ) -> Result<VersionMetadata> {
        self.new_version(Method::PATCH, path, data, cas).await
    }

    async fn new_version(
        &self,
        method: Method,
        path: &str,
        data: &Map<String, Value>,
        cas: Option<u64>,
    ) -> Result<VersionMetadata> {
        let mut body = json!({ "data": data });
        if let Some(cas) = cas {
            body["options"] = json!({ "cas": cas });
        }
        let answer = self
            .client
            .request(method, &self.path("data", path), Some(&body))
            .await?;
        decode(data_of(answer)?)
    }

    /// Soft-deletes the current version.
    pub async fn delete(&self, path: &str) -> Result<()> {
        self.client
            .request(Method::DELETE, &self.path("data", path), None)
            .await
            .map(drop)
    }

    async fn versions(&self, part: &str, path: &str, versions: &[u64]) -> Result<()> {
        self.client
            .request(
                Method::POST,
                &self.path(part, path),
                Some(&json!({ "versions": versions })),
            )
            .await
            .map(drop)
    }

    /// Soft-deletes the given versions.
    pub async fn delete_versions(&self, path: &str, versions: &[u64]) -> Result<()> {
        self.versions("delete", path, versions).await
    }

    /// Restores soft-deleted versions.
    pub async fn undelete(&self, path: &str, versions: &[u64]) -> Result<()> {
        self.versions("undelete", path, versions).await
    }

    /// Destroys the data of the given versions for good.
    pub async fn destroy(&self, path: &str, versions: &[u64]) -> Result<()> {
        self.versions("destroy", path, versions).await
    }

    /// The key's metadata (versions, custom metadata, settings) as the server answers it.
    pub async fn metadata(&self, path: &str) -> Result<Option<Value>> {
        match self
            .client
            .request(Method::GET, &self.path("metadata", path), None)
            .await
        {
            Ok(answer) => data_of(answer).map(Some),
            Err(Error::Api { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes the key's settings or custom metadata (`max_versions`, `cas_required`,
    /// `delete_version_after`, `custom_metadata`).
    pub async fn write_metadata(&self, path: &str, settings: &Value) -> Result<()> {
        self.client
            .request(Method::POST, &self.path("metadata", path), Some(settings))
            .await
            .map(drop)
    }

    /// Deletes every version and the metadata of `path`.
    pub async fn delete_metadata(&self, path: &str) -> Result<()> {
        self.client
            .request(Method::DELETE, &self.path("metadata", path), None)
            .await
            .map(drop)
    }

    /// The keys and folders (ending in `/`) under `folder`; empty when there are none.
    pub async fn list(&self, folder: &str) -> Result<Vec<String>> {
        let url = format!("{}/", self.path("metadata", folder).trim_end_matches('/'));
        match self
            .client
            .request(Method::GET, &format!("{url}?list=true"), None)
            .await
        {
            Ok(answer) => {
                let keys = data_of(answer)?
                    .get("keys")
                    .cloned()
                    .unwrap_or(Value::Array(Vec::new()));
                decode(keys)
            }
            Err(Error::Api { status, .. }) if status == StatusCode::NOT_FOUND => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

impl Client {
    /// The KV v2 mount at `mount` (e.g. `"secret"`).
    pub fn kv(&self, mount: &str) -> Kv {
        Kv::new(self.clone(), mount)
    }
}
