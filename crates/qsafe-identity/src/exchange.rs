//! Token exchange (RFC 8693) for workload bootstrap: a pod presents a join token, or its
//! Kubernetes service-account token, as its `subject_token` and receives an access token for its workload's logical identity — `sub`
//! the workload's SPIFFE ID, `workload` its name — whatever pod, restart or replica asks — and,
//! given a CSR, a certificate from the workload's PKI mount with the SPIFFE ID as URI SAN. No
//! client authentication: the subject token is the credential.
//!
//! A running workload renews with its own access token for qsafe (one naming the audience
//! `qsafe` and no other, still active) as the subject token: the answer is a new access token for the same
//! workload (and a new certificate given a CSR), so a pod bootstrapped with a one-time join
//! token keeps its identity while the workload is enabled and not rotated — rotating or
//! revoking the workload ends the chain.

use qsafe_core::Response;
use qsafe_core::fields::field_str;
use qsafe_store::View;
use serde_json::{Map, Value};

use crate::Identity;
use crate::kubernetes;
use crate::oauth::OAuthError;
use crate::oauth::{json_response, required};
use crate::provider::Provider;
use crate::token::{Signer, granted_audience, mint};
use crate::workload::{self, JOIN_TOKEN_TYPE};

/// A workload's own access token for qsafe, as the subject of a renewal.
pub(crate) const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// The grant type.
pub(crate) const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Exchanges the join token in `subject_token` for the workload's access token.
pub(crate) async fn exchange(
    engine: &Identity,
    view: &View,
    provider: &Provider,
    data: Option<&Value>,
) -> Result<Response, OAuthError> {
    let subject = required(data, "subject_token")?;
    let kind = required(data, "subject_token_type")?;
    let refused = || {
        OAuthError::invalid_grant(
            "the subject token is unknown, spent, expired, not for qsafe, or its workload disabled",
        )
    };
    // A join token is spent only once the request passed its checks (below).
    let mut join = None;
    let w = match kind {
        JOIN_TOKEN_TYPE => {
            let (w, spend) = workload::peek_join(view, subject)
                .await
                .map_err(OAuthError::server)?
                .ok_or_else(refused)?;
            join = Some(spend);
            w
        }
        kubernetes::JWT_TOKEN_TYPE => {
            let (ns, sa) = kubernetes::service_account(view, subject)
                .await
                .map_err(OAuthError::server)?
                .ok_or_else(refused)?;
            workload::bound(view, &ns, &sa)
                .await
                .map_err(OAuthError::server)?
                .ok_or_else(refused)?
        }
        ACCESS_TOKEN_TYPE => {
            let (w, claims) = workload::of_api_token(engine, view, subject)
                .await
                .map_err(OAuthError::server)?
                .ok_or_else(refused)?;
            // Only a token for qsafe alone renews: one that also names a peer service's
            // audience may have been sent to that service, which must not renew it.
            let only_qsafe = match claims.get("aud") {
                Some(Value::String(a)) => a == workload::API_AUDIENCE,
                Some(Value::Array(list)) => {
                    list.len() == 1 && list[0].as_str() == Some(workload::API_AUDIENCE)
                }
                _ => false,
            };
            if !only_qsafe
                || claims.get("iss").and_then(Value::as_str) != Some(provider.issuer.as_str())
            {
                return Err(refused());
            }
            w
        }
        other => {
            let other: String = other.chars().take(80).collect();
            return Err(OAuthError::invalid_request(format!(
                "subject_token_type {other:?} is not accepted (use {JOIN_TOKEN_TYPE}, {} or {ACCESS_TOKEN_TYPE})",
                kubernetes::JWT_TOKEN_TYPE
            )));
        }
    };
    if !provider.record.allows(&w.spiffe_id) {
        return Err(OAuthError::unauthorized_client(
            "this provider does not serve the workload",
        ));
    }
    let scope = granted_scope(&w.scopes, data)?;
    let mut claims = Map::new();
    claims.insert("sub".into(), w.spiffe_id.clone().into());
    claims.insert(
        "aud".into(),
        granted_audience(&w.audiences, &w.spiffe_id, data)?,
    );
    claims.insert("client_id".into(), w.spiffe_id.clone().into());
    claims.insert("workload".into(), w.name.clone().into());
    let signer = Signer {
        key: &w.key,
        who: &w.spiffe_id,
        ttl: w.access_token_ttl,
    };
    // A CSR asks for the workload's certificate too (the key never leaves the pod).
    let csr = field_str(data, "csr").ok().flatten();
    if csr.is_some() && w.pki_mount.is_none() {
        return Err(OAuthError::invalid_request(
            "the workload has no pki_mount: no certificate can be issued",
        ));
    }
    if let Some(spend) = join
        && !workload::spend(view, spend)
            .await
            .map_err(OAuthError::server)?
    {
        return Err(refused());
    }
    let mut body = mint(engine, view, provider, signer, claims, scope)
        .await?
        .body;
    if let Some(csr) = csr {
        let cert = workload::certificate(engine, view, &w, csr)
            .await
            .map_err(|e| match e {
                qsafe_core::Error::InvalidInput(why) => OAuthError::invalid_request(why),
                other => OAuthError::server(other),
            })?;
        for field in [
            "certificate",
            "issuing_ca",
            "ca_chain",
            "serial_number",
            "expiration",
        ] {
            body[field] = cert[field].clone();
        }
    }
    Ok(json_response(&body))
}

/// The scopes asked for, each one of the workload's; none asked: all of them.
fn granted_scope(allowed: &[String], data: Option<&Value>) -> Result<String, OAuthError> {
    let asked = field_str(data, "scope").ok().flatten().unwrap_or_default();
    let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
    if let Some(bad) = asked.iter().find(|s| !allowed.iter().any(|a| a == *s)) {
        let bad: String = bad.chars().take(80).collect();
        return Err(OAuthError::invalid_scope(format!(
            "scope {bad:?} is not allowed"
        )));
    }
    Ok(if asked.is_empty() {
        allowed.join(" ")
    } else {
        asked.join(" ")
    })
}
