//! The native API's error body. Its codes are Cairn's own; they are spelled like MLflow's where the
//! meaning is the same, so a client of both APIs reads one format.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What went wrong, as a stable code; the HTTP status follows from it ([`ErrorCode::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: a bad parameter, body or state change.
    #[serde(rename = "INVALID_PARAMETER_VALUE")]
    InvalidArgument,
    /// 404: no such thing.
    #[serde(rename = "RESOURCE_DOES_NOT_EXIST")]
    NotFound,
    /// 405: the path exists, but not with this method.
    #[serde(rename = "METHOD_NOT_ALLOWED")]
    MethodNotAllowed,
    /// 400: the name is taken.
    #[serde(rename = "RESOURCE_ALREADY_EXISTS")]
    AlreadyExists,
    /// 409: a conditional write found the state moved on (an alias compare-and-set).
    #[serde(rename = "RESOURCE_CONFLICT")]
    Conflict,
    /// 401: no credential, or one that is not valid.
    #[serde(rename = "UNAUTHENTICATED")]
    Unauthenticated,
    /// 403: the principal may not do this (a missing grant, a protected alias, a policy's deny).
    #[serde(rename = "PERMISSION_DENIED")]
    PermissionDenied,
    /// 503: a backing engine is unreachable; the same request may succeed later.
    #[serde(rename = "TEMPORARILY_UNAVAILABLE")]
    Unavailable,
    /// 500: a fault on the server's side.
    #[serde(rename = "INTERNAL_ERROR")]
    Internal,
}

impl ErrorCode {
    /// The HTTP status of this code: the one place it is decided.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidArgument | Self::AlreadyExists => 400,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Conflict => 409,
            Self::Unauthenticated => 401,
            Self::PermissionDenied => 403,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

/// Every error of the native API, extractor rejections (a body that is not JSON, a bad query string)
/// included: `{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Deployment 'churn' not found."}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error_code: ErrorCode,
    #[schema(example = "Deployment 'churn' not found.")]
    pub message: String,
}

impl ErrorBody {
    pub fn new(error_code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error_code,
            message: message.into(),
        }
    }
}
