//! Kubernetes service-account tokens as a workload's bootstrap credential: a pod presents the
//! projected token of its service account (audience-bound, RS256 or ES256 as the cluster signs
//! them) and gets the identity of the workload bound to that namespace and service account.
//! The token is checked against the cluster's JWKS as configured here (`kubectl get --raw
//! /openid/v1/jwks`), its issuer and one of the configured audiences; unlike a join token it
//! may be presented again while it is valid (the kubelet refreshes it).

use qsafe_core::fields::{field_str, field_str_list};
use qsafe_core::record;
use qsafe_core::{Error, Response, Result};
use qsafe_crypto::jose::verify_with_set;
use qsafe_store::View;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{FORMAT, now};

/// `kubernetes`: the cluster whose tokens are accepted.
const CONFIG: &str = "kubernetes";
/// The `subject_token_type` of a service-account token (RFC 8693 §3).
pub(crate) const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
/// Clock skew allowed on `nbf`.
const SKEW: i64 = 60;
/// The longest token looked at.
const MAX_LEN: usize = 16 * 1024;

/// The stored cluster configuration.
#[derive(Serialize, Deserialize)]
struct Config {
    version: u32,
    issuer: String,
    jwks: Value,
    audiences: Vec<String>,
}

/// `POST kubernetes/config` `{"issuer", "jwks", "audiences"}`: the cluster's service-account
/// issuer (`kubectl get --raw /.well-known/openid-configuration`), its JWK set, and the
/// audiences a token must name one of (default `["qsafe"]`: `audience: qsafe` in the pod's
/// projected volume).
pub(crate) async fn write_config(view: &View, data: Option<&Value>) -> Result<Response> {
    let loaded = record::load::<Config>(view, CONFIG).await?;
    let expect = record::expect_of(&loaded);
    let old = loaded.map(|(c, _)| c);
    let issuer = match field_str(data, "issuer")? {
        Some(i) if !i.is_empty() => i.to_owned(),
        _ => old
            .as_ref()
            .map(|c| c.issuer.clone())
            .ok_or_else(|| Error::InvalidInput("issuer is required".into()))?,
    };
    let jwks = match data.and_then(|d| d.get("jwks")) {
        Some(v) => crate::check_public_jwks(v, true)?,
        None => old
            .as_ref()
            .map(|c| c.jwks.clone())
            .ok_or_else(|| Error::InvalidInput("jwks is required".into()))?,
    };
    let audiences = match field_str_list(data, "audiences")? {
        Some(a) if !a.is_empty() => a,
        Some(_) => return Err(Error::InvalidInput("audiences cannot be empty".into())),
        None => old.map_or_else(|| vec!["qsafe".to_owned()], |c| c.audiences),
    };
    let config = Config {
        version: FORMAT,
        issuer,
        jwks,
        audiences,
    };
    record::save(view, CONFIG, &config, expect).await?;
    Ok(Response::empty())
}

/// `GET kubernetes/config`.
pub(crate) async fn read_config(view: &View) -> Result<Response> {
    let (c, _) = record::load::<Config>(view, CONFIG)
        .await?
        .ok_or_else(|| Error::NotFound("no Kubernetes cluster is configured".into()))?;
    Ok(Response::data(json!({
        "issuer": c.issuer,
        "jwks": c.jwks,
        "audiences": c.audiences,
    })))
}

/// The namespace and service account a valid token of the configured cluster names.
pub(crate) async fn service_account(view: &View, token: &str) -> Result<Option<(String, String)>> {
    if token.len() > MAX_LEN {
        return Ok(None);
    }
    let Some((config, _)) = record::load::<Config>(view, CONFIG).await? else {
        return Ok(None);
    };
    let Ok(verified) = verify_with_set(&config.jwks, token) else {
        return Ok(None);
    };
    let Ok(Value::Object(claims)) = serde_json::from_slice::<Value>(&verified.payload) else {
        return Ok(None);
    };
    let at = now();
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => config.audiences.contains(a),
        Some(Value::Array(list)) => list.iter().any(|a| {
            a.as_str()
                .is_some_and(|a| config.audiences.iter().any(|c| c == a))
        }),
        _ => false,
    };
    let fresh = claims.get("iss").and_then(Value::as_str) == Some(config.issuer.as_str())
        && claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|e| e > at)
        && claims
            .get("nbf")
            .is_none_or(|n| n.as_i64().is_some_and(|n| n <= at + SKEW));
    if !aud_ok || !fresh {
        return Ok(None);
    }
    let Some(rest) = claims
        .get("sub")
        .and_then(Value::as_str)
        .and_then(|s| s.strip_prefix("system:serviceaccount:"))
    else {
        return Ok(None);
    };
    Ok(rest
        .split_once(':')
        .map(|(ns, sa)| (ns.to_owned(), sa.to_owned())))
}
