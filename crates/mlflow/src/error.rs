//! MLflow's error contract: `{"error_code": …, "message": …}` with the HTTP status derived from the code
//! in one place. User errors are always 4xx: the MLflow client retries 5xx for minutes.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_service::ServiceError;
use serde::Serialize;

use crate::wording;

/// The MLflow error codes Cairn answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    EndpointNotFound,
    BadRequest,
    TemporarilyUnavailable,
    InternalError,
    PermissionDenied,
    Unauthenticated,
}

impl ErrorCode {
    /// The one place an HTTP status is chosen.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidParameterValue | Self::ResourceAlreadyExists | Self::BadRequest => {
                StatusCode::BAD_REQUEST
            }
            Self::ResourceDoesNotExist | Self::EndpointNotFound => StatusCode::NOT_FOUND,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error in MLflow's wire format.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    pub error_code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(error_code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error_code,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }
    pub fn missing(field: &str) -> Self {
        Self::invalid(format!("Missing value for required parameter '{field}'."))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match &e {
            ServiceError::InvalidArgument(m) => Self::invalid(m.clone()),
            ServiceError::NotFound(m) => {
                Self::new(ErrorCode::ResourceDoesNotExist, wording::missing(m))
            }
            ServiceError::AlreadyExists(t) => {
                Self::new(ErrorCode::ResourceAlreadyExists, wording::taken(t))
            }
            ServiceError::Conflict(c) => Self::invalid(wording::clash(c)),
            ServiceError::Unavailable(m) => Self::new(ErrorCode::TemporarilyUnavailable, m.clone()),
            ServiceError::PermissionDenied(m) => Self::new(ErrorCode::PermissionDenied, m.clone()),
            ServiceError::Unauthenticated(m) => Self::new(ErrorCode::Unauthenticated, m.clone()),
            _ => Self::new(ErrorCode::InternalError, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.error_code.status();
        if status.is_server_error() {
            tracing::error!(code = ?self.error_code, message = %self.message, "request failed");
        }
        (status, Json(self)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
