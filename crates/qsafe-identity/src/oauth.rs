//! OAuth answers (RFC 6749 §5.1 and §5.2): JSON bodies, `Cache-Control: no-store`, and errors
//! as `{"error", "error_description"}` with status 400, or 401 for a failed client
//! authentication (with `WWW-Authenticate: Basic` when the client used Basic).

use qsafe_core::{RawBody, Response};
use serde_json::{Value, json};

/// An OAuth error answer.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: u16,
    code: &'static str,
    description: String,
    basic: bool,
}

impl OAuthError {
    fn new(status: u16, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            basic: false,
        }
    }

    /// `invalid_request`: a parameter is missing, repeated or malformed.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    /// `invalid_client`: unknown client, wrong secret, or no authentication (401).
    pub(crate) fn invalid_client(basic: bool) -> Self {
        Self {
            basic,
            ..Self::new(401, "invalid_client", "client authentication failed")
        }
    }

    /// `unauthorized_client`: the client may not use this grant (or this provider).
    pub(crate) fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(400, "unauthorized_client", description)
    }

    /// `invalid_grant`: the presented grant (a join token) is not good.
    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_grant", description)
    }

    /// `unsupported_grant_type`.
    pub(crate) fn unsupported_grant_type(grant: &str) -> Self {
        let grant: String = grant.chars().take(80).collect();
        Self::new(
            400,
            "unsupported_grant_type",
            format!("grant type {grant:?} is not supported"),
        )
    }

    /// `invalid_scope`.
    pub(crate) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_scope", description)
    }

    /// `invalid_target` (RFC 8707 §2): an audience the client may not ask for.
    pub(crate) fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_target", description)
    }

    /// A failure on the server's side: `server_error`, 500, the cause logged, not sent.
    pub(crate) fn server(e: qsafe_core::Error) -> Self {
        tracing::error!(error = %e, "OAuth endpoint failed");
        Self::new(500, "server_error", "the request could not be served")
    }

    /// The HTTP answer.
    pub(crate) fn response(&self) -> Response {
        let body = json!({"error": self.code, "error_description": self.description});
        let mut raw = RawBody::new("application/json", body.to_string().into_bytes())
            .with_status(self.status)
            .with_header("cache-control", "no-store");
        if self.basic {
            raw = raw.with_header("www-authenticate", "Basic realm=\"qsafe\"");
        }
        Response {
            raw: Some(raw),
            ..Response::default()
        }
    }
}

/// The parameter `name` of an OAuth request, or `invalid_request` naming it.
pub(crate) fn required<'a>(
    data: Option<&'a Value>,
    name: &'static str,
) -> Result<&'a str, OAuthError> {
    qsafe_core::fields::field_str(data, name)
        .ok()
        .flatten()
        .ok_or_else(|| OAuthError::invalid_request(format!("{name} is required")))
}

/// A successful OAuth JSON answer, never cached.
pub(crate) fn json_response(body: &Value) -> Response {
    let raw = RawBody::new("application/json", body.to_string().into_bytes())
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache");
    Response {
        raw: Some(raw),
        ..Response::default()
    }
}
