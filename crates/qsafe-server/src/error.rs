//! Errors as the API shows them: Vault's envelope `{"errors": ["..."]}` with the status of the
//! error's kind. Causes of 5xx answers are logged here and never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use qsafe_core::ErrorKind;
use serde_json::json;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An answer with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<qsafe_core::Error> for ApiError {
    fn from(e: qsafe_core::Error) -> Self {
        let status = match e.kind() {
            ErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Sealed | ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match e.kind() {
            ErrorKind::Sealed => "qsafe is sealed".to_owned(),
            ErrorKind::PermissionDenied => "permission denied".to_owned(),
            ErrorKind::Internal | ErrorKind::Unavailable => {
                tracing::error!(error = %e, "request failed");
                match e.kind() {
                    ErrorKind::Unavailable => "service unavailable: see the server log".to_owned(),
                    _ => "internal error: see the server log".to_owned(),
                }
            }
            _ => e.to_string(),
        };
        Self::new(status, message)
    }
}

impl From<qsafe_store::Error> for ApiError {
    fn from(e: qsafe_store::Error) -> Self {
        qsafe_core::Error::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"errors": [self.message]}))).into_response()
    }
}
