//! The Vault-shaped HTTP API over `Core` (docs/api.md): the unauthenticated seal endpoints and
//! health, and everything else under `/v1/` through `Core::execute`. Handlers only extract,
//! call and map.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use qsafe_core::{Core, Credential, Operation, RawBody, Request};
use qsafe_crypto::encoding::{b64_decode, b64_encode};
use qsafe_store::UnsealKey;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// Largest request body accepted.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    core: Arc<Core>,
    rng: qsafe_crypto::Rng,
    metrics: Arc<Metrics>,
    auto_unseal: Option<Arc<UnsealKey>>,
}

/// The API router over `core`.
pub fn router(core: Arc<Core>) -> Router {
    router_with_auto_unseal(core, None)
}

/// The API router over `core`, whose `sys/init` uses `auto_unseal` (when configured) instead of
/// making Shamir shares.
pub fn router_with_auto_unseal(core: Arc<Core>, auto_unseal: Option<Arc<UnsealKey>>) -> Router {
    let state = AppState {
        core,
        rng: qsafe_crypto::Rng::new(),
        metrics: Arc::new(Metrics::default()),
        auto_unseal,
    };
    Router::new()
        .route("/v1/sys/health", get(health).head(health))
        .route("/v1/sys/metrics", get(metrics))
        .route("/v1/sys/openapi.json", get(openapi))
        .route("/v1/sys/seal-status", get(seal_status))
        .route("/v1/sys/leader", get(leader))
        .route("/v1/sys/init", get(init_status).put(init).post(init))
        .route("/v1/sys/unseal", post(unseal).put(unseal))
        .route("/v1/{*path}", any(logical))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

/// The OpenAPI 3.1 document of this API (`src/openapi.json`; a test checks every path in it is
/// served).
pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
        .into_response()
}

/// Counts every request for `/v1/sys/metrics`.
async fn count(
    State(state): State<AppState>,
    request: axum::extract::Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    state
        .metrics
        .observe(&method, response.status().as_u16(), started);
    response
}

/// Prometheus text; the token needs `read` on `sys/metrics`.
async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .core
        .execute(Request {
            operation: Operation::Read,
            path: "sys/metrics".into(),
            data: None,
            raw: None,
            credential: credential(&headers),
            authorization: None,
            client: Some(client.ip().to_string()),
            id: request_id(&state),
        })
        .await?;
    let sealed = state.core.seal_status().await?.sealed;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(sealed),
    )
        .into_response())
}

/// A random 128-bit request id: audit lines of different runs and replicas never share one.
fn request_id(state: &AppState) -> String {
    match state.rng.bytes::<16>() {
        Ok(bytes) => hex::encode(*bytes),
        Err(_) => "0".repeat(32),
    }
}

/// Vault's health codes: 200 active, 501 not initialized, 503 sealed.
async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let status = state.core.seal_status().await?;
    let code = match (status.initialized, status.sealed) {
        (false, _) => StatusCode::NOT_IMPLEMENTED,
        (true, true) => StatusCode::SERVICE_UNAVAILABLE,
        (true, false) => StatusCode::OK,
    };
    let body = json!({
        "initialized": status.initialized,
        "sealed": status.sealed,
        "standby": false,
        "server_time_utc": time::OffsetDateTime::now_utc().unix_timestamp(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    Ok((code, Json(body)).into_response())
}

async fn seal_status_body(core: &Core) -> Result<Value, ApiError> {
    let status = core.seal_status().await?;
    let (kind, n, t) = match &status.config {
        Some(c) => (
            match c.kind {
                qsafe_store::SealKind::Shamir => "shamir",
                qsafe_store::SealKind::Auto => "auto",
            },
            c.secret_shares,
            c.secret_threshold,
        ),
        None => ("shamir", 0, 0),
    };
    Ok(json!({
        "type": kind,
        "initialized": status.initialized,
        "sealed": status.sealed,
        "t": t,
        "n": n,
        "progress": status.progress,
        "nonce": "",
        "version": env!("CARGO_PKG_VERSION"),
        "migration": false,
        "recovery_seal": false,
        "storage_type": "sql",
    }))
}

async fn seal_status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(seal_status_body(&state.core).await?))
}

/// One node, always its own leader (Vault's shape; `bao status` asks).
async fn leader(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let sealed = state.core.seal_status().await?.sealed;
    Ok(Json(json!({
        "ha_enabled": false,
        "is_self": !sealed,
        "active_time": "0001-01-01T00:00:00Z",
        "leader_address": "",
        "leader_cluster_address": "",
        "performance_standby": false,
        "performance_standby_last_remote_wal": 0,
    })))
}

async fn init_status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let status = state.core.seal_status().await?;
    Ok(Json(json!({"initialized": status.initialized})))
}

#[derive(Deserialize)]
struct InitBody {
    #[serde(default = "one")]
    secret_shares: u8,
    #[serde(default = "one")]
    secret_threshold: u8,
}

fn one() -> u8 {
    1
}

async fn init(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let body: InitBody = parse_json(&body)?;
    let out = state
        .core
        .init(
            body.secret_shares,
            body.secret_threshold,
            state.auto_unseal.as_deref(),
            None,
        )
        .await?;
    let base64: Vec<&str> = out.shares.iter().map(|s| s.as_str()).collect();
    let hex_keys = out
        .shares
        .iter()
        .map(|s| b64_decode("share", s).map(|b| Zeroizing::new(hex::encode(Zeroizing::new(b)))))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::from(qsafe_core::Error::from(e)))?;
    let hex_keys: Vec<&str> = hex_keys.iter().map(|s| s.as_str()).collect();
    Ok(Json(json!({
        "keys": hex_keys,
        "keys_base64": base64,
        "root_token": out.root_token.as_str(),
    })))
}

#[derive(Deserialize)]
struct UnsealBody {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    reset: bool,
}

async fn unseal(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
    let body: UnsealBody = parse_json(&body)?;
    if body.reset {
        state.core.reset_unseal_progress();
    } else {
        let key = body
            .key
            .ok_or_else(|| ApiError::bad_request("missing \"key\""))?;
        let key = Zeroizing::new(key);
        // The Vault CLI sends shares as given: hex or base64.
        let share = match hex::decode(key.trim()).map(Zeroizing::new) {
            Ok(bytes) => Zeroizing::new(b64_encode(&bytes)),
            Err(_) => Zeroizing::new(key.trim().to_owned()),
        };
        state.core.submit_share(&share).await?;
    }
    Ok(Json(seal_status_body(&state.core).await?))
}

async fn logical(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    method: Method,
    Path(path): Path<String>,
    Query(mut query): Query<std::collections::BTreeMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let listing = query
        .remove("list")
        .is_some_and(|v| v == "true" || v == "1");
    let operation = match method.as_str() {
        "GET" | "HEAD" if listing => Operation::List,
        "GET" | "HEAD" => Operation::Read,
        "POST" | "PUT" => Operation::Write,
        "PATCH" => Operation::Patch,
        "DELETE" => Operation::Delete,
        "LIST" => Operation::List,
        other => {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("method {other} not allowed"),
            ));
        }
    };
    let raw = raw_media_type(&headers)
        .filter(|_| !body.is_empty())
        .map(|media| RawBody::new(media, body.to_vec()));
    let data = if raw.is_some() {
        None
    } else if is_form(&headers) {
        Some(parse_form(&body)?)
    } else if !body.is_empty() {
        Some(parse_json::<Value>(&body)?)
    } else if !query.is_empty() {
        // As Vault does: a request without a body takes its parameters from the query string
        // (`GET secret/data/app?version=2`, `DELETE secret/metadata/app?...`), as strings.
        Some(Value::Object(
            query
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        ))
    } else {
        None
    };
    let id = request_id(&state);
    let response = state
        .core
        .execute(Request {
            operation,
            path: path.trim_start_matches('/').to_owned(),
            data,
            raw,
            credential: credential(&headers),
            authorization: authorization(&headers),
            client: Some(client.ip().to_string()),
            id: id.clone(),
        })
        .await?;
    if let Some(raw) = response.raw {
        return Ok(raw_response(raw));
    }
    if response.data.is_none() && response.auth.is_none() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(Json(json!({
        "request_id": id,
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": response.data,
        "auth": response.auth,
        "warnings": if response.warnings.is_empty() { Value::Null } else { json!(response.warnings) },
    }))
    .into_response())
}

/// An engine's raw answer with its status and headers (a header that is not valid HTTP is an
/// engine bug: left out and logged).
fn raw_response(raw: RawBody) -> Response {
    let status = StatusCode::from_u16(raw.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, raw.content_type)],
        raw.bytes,
    )
        .into_response();
    for (name, value) in raw.headers {
        match (
            axum::http::HeaderName::try_from(name.as_str()),
            axum::http::HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => tracing::error!(header = %name, "an engine answered an invalid header"),
        }
    }
    response
}

/// Whether the body is an HTML form (`application/x-www-form-urlencoded`: OAuth token,
/// introspection and revocation requests, RFC 6749 §4.4.2).
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A form body as a JSON object of strings; a name given more than once becomes an array of
/// its values, in order (RFC 8693's repeated `audience`).
fn parse_form(body: &[u8]) -> Result<Value, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        ApiError::bad_request("the form body is not application/x-www-form-urlencoded")
    })?;
    let mut map = serde_json::Map::new();
    for (name, value) in pairs {
        match map.get_mut(&name) {
            None => {
                map.insert(name, Value::String(value));
            }
            Some(Value::Array(values)) => values.push(Value::String(value)),
            Some(first) => *first = Value::Array(vec![first.take(), Value::String(value)]),
        }
    }
    Ok(Value::Object(map))
}

/// The `Authorization` header as sent, for engines serving unauthenticated paths.
fn authorization(headers: &HeaderMap) -> Option<qsafe_core::Authorization> {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| qsafe_core::Authorization(Zeroizing::new(v.trim().to_owned())))
}

/// Media types whose bodies reach engines as bytes instead of JSON (RFC 6960 OCSP requests,
/// RFC 2986 / RFC 5280 objects). Any other body is parsed as JSON whatever its type, as Vault
/// does.
const RAW_MEDIA_TYPES: [&str; 5] = [
    "application/ocsp-request",
    "application/pkcs10",
    "application/pkix-cert",
    "application/pkix-crl",
    "application/octet-stream",
];

fn raw_media_type(headers: &HeaderMap) -> Option<&'static str> {
    let value = headers
        .get(axum::http::header::CONTENT_TYPE)?
        .to_str()
        .ok()?;
    let media = value.split(';').next()?.trim();
    RAW_MEDIA_TYPES
        .into_iter()
        .find(|known| known.eq_ignore_ascii_case(media))
}

/// The token or API key a request carries: `X-Vault-Token`, `Authorization: Bearer`, or
/// `X-Api-Key`.
fn credential(headers: &HeaderMap) -> Credential {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| Zeroizing::new(v.trim().to_owned()))
    };
    if let Some(token) = header("x-vault-token") {
        return Credential::Token(token);
    }
    if let Some(auth) = header("authorization")
        && let Some(token) = auth.strip_prefix("Bearer ")
    {
        return Credential::Token(Zeroizing::new(token.trim().to_owned()));
    }
    if let Some(key) = header("x-api-key") {
        return Credential::ApiKey(key);
    }
    Credential::None
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))
}
