//! The qsafe SDK (DESIGN.md §2): a client for qsafe's Vault-shaped API over TLS with
//! X25519MLKEM768 and ML-DSA certificate verification (rustls on aws-lc-rs): the raw request
//! layer the CLI uses, typed [`Kv`], [`Transit`] and [`Pki`] clients, a [`SecretProvider`] for
//! start-up secrets, a [`FieldEncryptor`] for PII fields and blind indexes, and a
//! [`JwtVerifier`] (with a tower [`BearerAuthLayer`]) for qsafe's access tokens.

pub mod fields;
pub mod jwt;
pub mod kv;
pub mod mtls;
pub mod pki;
pub mod provider;
pub mod transit;

pub use fields::FieldEncryptor;
pub use jwt::{BearerAuthLayer, Claims, JwtVerifier, VerifierOptions, VerifyError};
pub use kv::{Kv, Secret, VersionMetadata};
pub use mtls::{Bootstrap, CertificateProvider, MtlsOptions};
pub use pki::{IssueRequest, IssuedCertificate, Pki};
pub use provider::SecretProvider;
pub use transit::{Item, OfflineEncryptor, Transit};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde_json::Value;
use zeroize::Zeroizing;

/// What went wrong talking to qsafe.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (address, CA file).
    #[error("{0}")]
    Config(String),
    /// The request did not get an answer.
    #[error("cannot reach {addr}: {source}")]
    Transport {
        /// The server address.
        addr: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error.
    #[error("{status}: {}", .errors.join("; "))]
    Api {
        /// The HTTP status.
        status: StatusCode,
        /// The `errors` of the body.
        errors: Vec<String>,
    },
    /// The server's answer is not what the API promises (or a local encoding failed).
    #[error("unexpected answer: {0}")]
    Decode(String),
    /// A create found the object already there (transit keys: the server leaves an existing
    /// key as it is, with a warning).
    #[error("{0}")]
    Exists(String),
    /// One item of a batch failed (its position in the input, and the server's message).
    #[error("item {index}: {error}")]
    Item {
        /// Position in the input.
        index: usize,
        /// The server's message for it.
        error: String,
    },
}

/// `path` with each `/`-separated segment percent-encoded (all but RFC 3986 unreserved
/// characters), so a secret or key name holding `?`, `#`, `%` or spaces reaches the server as
/// itself instead of ending the path.
pub fn encode_path(path: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    path.split('/')
        .map(|segment| utf8_percent_encode(segment, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The `data` of an answer.
pub(crate) fn data_of(answer: Option<Value>) -> Result<Value> {
    answer
        .and_then(|mut v| v.get_mut("data").map(Value::take))
        .ok_or_else(|| Error::Decode("the answer has no \"data\"".into()))
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where and how to reach qsafe.
#[derive(Clone)]
pub struct Config {
    /// `https://host:port`.
    pub addr: String,
    /// A token (`X-Vault-Token`).
    pub token: Option<Zeroizing<String>>,
    /// PEM CA bundle to trust instead of none (qsafe's dev CA, or your own).
    pub ca_cert: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("ca_cert", &self.ca_cert)
            .finish()
    }
}

impl Config {
    /// From `QSAFE_ADDR`/`QSAFE_TOKEN`/`QSAFE_CACERT`, falling back to Vault's `VAULT_ADDR`,
    /// `VAULT_TOKEN`, `VAULT_CACERT`; the address defaults to `https://127.0.0.1:8200`.
    pub fn from_env() -> Self {
        let var = |q: &str, v: &str| std::env::var(q).or_else(|_| std::env::var(v)).ok();
        Self {
            addr: var("QSAFE_ADDR", "VAULT_ADDR")
                .unwrap_or_else(|| "https://127.0.0.1:8200".into()),
            token: var("QSAFE_TOKEN", "VAULT_TOKEN").map(Zeroizing::new),
            ca_cert: var("QSAFE_CACERT", "VAULT_CACERT").map(PathBuf::from),
        }
    }
}

/// A connection to one qsafe server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Config,
    /// The token requests carry: `config.token` at first; [`Client::set_token`] replaces it for
    /// every clone (a workload's access token, renewed by [`mtls::CertificateProvider`]).
    token: Arc<std::sync::RwLock<Option<Zeroizing<String>>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .finish()
    }
}

fn roots(ca: Option<&Path>) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let Some(ca) = ca else {
        return Ok(roots);
    };
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| Error::Config(format!("{}: {e}", ca.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| Error::Config(format!("{}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| Error::Config(format!("{}: {e}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(Error::Config(format!("{}: no certificates", ca.display())));
    }
    Ok(roots)
}

impl Client {
    /// A client for `config`. TLS trusts only `config.ca_cert` (qsafe has no implicit trust
    /// store yet).
    pub fn new(config: Config) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(e.to_string()))?
            .with_root_certificates(roots(config.ca_cert.as_deref())?)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let token = Arc::new(std::sync::RwLock::new(config.token.clone()));
        Ok(Self {
            http,
            config,
            token,
        })
    }

    /// Replaces the token this client and all its clones send.
    pub fn set_token(&self, token: Option<Zeroizing<String>>) {
        let mut slot = self.token.write().unwrap_or_else(|e| e.into_inner());
        *slot = token;
    }

    /// The token this client sends, if any.
    pub fn token(&self) -> Option<Zeroizing<String>> {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.config.addr
    }

    /// Sends `method` to `/v1/<path>` with an optional JSON body; returns the JSON answer, or
    /// `None` for 204.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Option<Value>> {
        let body = body.map_or(Body::None, Body::Json);
        let (status, _, bytes) = self.exchange(method, path, body).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let value: Option<Value> = serde_json::from_slice(&bytes).ok();
        // Health answers its state with 501/503 and a normal body.
        let health = path.trim_start_matches('/').starts_with("sys/health");
        if status.is_success() || (health && value.is_some()) {
            return Ok(value);
        }
        Err(api_error(status, &bytes))
    }

    /// Sends `method` to `/v1/<path>` with an optional raw body (its media type and bytes, e.g.
    /// `application/ocsp-request`); returns the answer's `Content-Type` (empty when absent) and
    /// bytes as they are — for the endpoints that do not answer in Vault's JSON envelope (PKI
    /// `ca`, `crl`, `ocsp`). A non-2xx answer is [`Error::Api`], as with [`Client::request`].
    pub async fn request_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<(String, Vec<u8>)> {
        let body = body.map_or(Body::None, |(media, bytes)| Body::Raw(media, bytes));
        let (status, content_type, bytes) = self.exchange(method, path, body).await?;
        if status.is_success() {
            Ok((content_type, bytes))
        } else {
            Err(api_error(status, &bytes))
        }
    }

    /// One round trip: the status, `Content-Type` and body of whatever the server answered.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
    ) -> Result<(StatusCode, String, Vec<u8>)> {
        let url = format!(
            "{}/v1/{}",
            self.config.addr.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        let mut request = self.http.request(method, &url);
        if let Some(token) = self.token() {
            request = request.header("X-Vault-Token", token.as_str());
        }
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Raw(media, bytes) => request
                .header(reqwest::header::CONTENT_TYPE, media)
                .body(bytes),
        };
        let transport = |source| Error::Transport {
            addr: self.config.addr.clone(),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.map_err(transport)?;
        Ok((status, content_type, bytes.to_vec()))
    }
}

/// What a request carries.
enum Body<'a> {
    None,
    Json(&'a Value),
    /// Media type and bytes.
    Raw(&'a str, Vec<u8>),
}

/// The [`Error::Api`] of a non-2xx answer: the `errors` of a JSON body, else the body's start.
fn api_error(status: StatusCode, body: &[u8]) -> Error {
    let errors = serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(|v| v.get("errors"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_else(|| vec![String::from_utf8_lossy(body).chars().take(200).collect()]);
    Error::Api { status, errors }
}

#[cfg(test)]
mod tests {
    use super::encode_path;

    #[test]
    fn path_segments_keep_their_reserved_characters() {
        assert_eq!(encode_path("app/db"), "app/db");
        assert_eq!(encode_path("app#prod/a?b"), "app%23prod/a%3Fb");
        assert_eq!(encode_path("50%/x y"), "50%25/x%20y");
        assert_eq!(encode_path("a-b_c.d~e"), "a-b_c.d~e");
    }
}
