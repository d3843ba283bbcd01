//! `ApiError`: every failure the API reports, turned into Twilio's error body
//! `{code, message, more_info, status}` with the matching HTTP status. Internal causes are
//! logged, not shown. Each API maps its own domain errors onto it (accounts in
//! `http::accounts`, TaskRouter in `http::taskrouter`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tracing::error;

/// See the module doc.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Twilio error code.
    pub code: u32,
    /// Human message.
    pub message: String,
}

impl ApiError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 401, Twilio code 20003.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, 20003, message)
    }

    /// 404, Twilio code 20404: also what another account's resource looks like.
    pub fn not_found(path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            20404,
            format!("The requested resource {path} was not found"),
        )
    }

    /// 400 for a bad parameter, Twilio code 20001 unless a more specific one is given.
    pub fn bad_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, 20001, message)
    }

    /// 500: the cause is logged, the client gets a generic message naming what failed.
    pub fn internal(what: &str, cause: impl std::fmt::Display) -> ApiError {
        error!(cause = %cause, "{what}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            format!("Internal server error: {what}"),
        )
    }

    /// 503: the log or the store cannot take the request now.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, 20503, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        });
        (self.status, Json(body)).into_response()
    }
}
