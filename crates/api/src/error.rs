//! The native API's one error type and its extractors. Every failure — a use case's error, a body that
//! is not the JSON asked for, a bad query string — answers the contract's [`ErrorBody`], with the status
//! derived from its code in one place ([`ErrorCode::status`]).

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use cairn_contract::{ErrorBody, ErrorCode};
use cairn_service::ServiceError;
use serde::de::DeserializeOwned;

#[derive(Debug)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self(ErrorBody::new(ErrorCode::InvalidArgument, message))
    }

    pub fn missing(field: &str) -> Self {
        Self::invalid(format!("Missing value for required field '{field}'."))
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let code = match &e {
            ServiceError::Conflict(cairn_domain::Clash::AliasMoved { .. }) => ErrorCode::Conflict,
            ServiceError::InvalidArgument(_) | ServiceError::Conflict(_) => {
                ErrorCode::InvalidArgument
            }
            ServiceError::NotFound(_) => ErrorCode::NotFound,
            ServiceError::AlreadyExists(_) => ErrorCode::AlreadyExists,
            ServiceError::Unavailable(_) => ErrorCode::Unavailable,
            ServiceError::PermissionDenied(_) => ErrorCode::PermissionDenied,
            ServiceError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            _ => ErrorCode::Internal,
        };
        if code == ErrorCode::Internal {
            tracing::error!(error = %e, "request failed code=InternalError");
        }
        Self(ErrorBody::new(code, e.to_string()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.error_code.status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self.0)).into_response()
    }
}

/// serde's message without its position jargon ("at line 1 column 49"), which says nothing to a user.
fn plain(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A JSON request body of type `T`; anything else is a 400 in the API's format.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::invalid(
                "The body must be JSON, sent with Content-Type: application/json.",
            )),
            Err(JsonRejection::JsonSyntaxError(e)) => Err(ApiError::invalid(format!(
                "The body is not valid JSON: {}",
                plain(&e.body_text())
            ))),
            Err(JsonRejection::JsonDataError(e)) => Err(ApiError::invalid(format!(
                "The body does not fit the request: {}",
                plain(&e.body_text())
            ))),
            Err(e) => Err(ApiError::invalid(plain(&e.body_text()))),
        }
    }
}

/// A query string of type `T`; a bad one is a 400 in the API's format.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Params(v))
            .map_err(|e: QueryRejection| {
                ApiError::invalid(format!("Bad query string: {}", plain(&e.body_text())))
            })
    }
}

/// A path parameter of type `T`; a bad one is a 400 in the API's format.
pub struct Segment<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segment<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Segment(v))
            .map_err(|e| ApiError::invalid(format!("Bad path: {}", plain(&e.body_text()))))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn serde_positions_are_dropped() {
        assert_eq!(
            super::plain("invalid type: null, expected i64 at line 1 column 49"),
            "invalid type: null, expected i64"
        );
        assert_eq!(super::plain("missing field"), "missing field");
    }
}
