//! A failed page is a page: the use case's message, the status its kind calls for (4xx for what the
//! user asked, never a 5xx for that), and a way back. The `/ui/…` data endpoints answer JSON instead.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn_service::ServiceError;
use maud::html;

use crate::layout::Page;

/// An error shown as a page.
#[derive(Debug)]
pub struct PageError(pub ServiceError);

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        Self(e)
    }
}

pub fn status(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::InvalidArgument(_)
        | ServiceError::AlreadyExists(_)
        | ServiceError::Conflict(_) => StatusCode::BAD_REQUEST,
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let code = status(&self.0);
        if code.is_server_error() {
            tracing::error!(error = %self.0, "page failed");
        }
        let page = Page {
            title: "Error".into(),
            section: "",
            scripts: &[],
            body: html! {
                h1 { (code.canonical_reason().unwrap_or("Error")) }
                p.error role="alert" { (self.0.to_string()) }
                p { a href="/" { "Back to experiments" } }
            },
        };
        (code, page).into_response()
    }
}

pub type PageResult<T> = Result<T, PageError>;

/// An error of a `/ui/…` data endpoint: `{"error": message}` with the same status rules.
#[derive(Debug)]
pub struct DataError(pub ServiceError);

impl From<ServiceError> for DataError {
    fn from(e: ServiceError) -> Self {
        Self(e)
    }
}

impl IntoResponse for DataError {
    fn into_response(self) -> Response {
        let code = status(&self.0);
        if code.is_server_error() {
            tracing::error!(error = %self.0, "ui data request failed");
        }
        (
            code,
            Json(serde_json::json!({ "error": self.0.to_string() })),
        )
            .into_response()
    }
}

pub type DataResult<T> = Result<T, DataError>;

/// A malformed query of a UI request.
pub fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError::InvalidArgument(message.into())
}

/// The query string as `T`, a malformed one the caller's error (`Query` alone would answer plain text).
async fn query<S: Send + Sync, T: serde::de::DeserializeOwned>(
    parts: &mut axum::http::request::Parts,
    state: &S,
) -> Result<T, ServiceError> {
    use axum::extract::FromRequestParts;
    axum::extract::Query::<T>::from_request_parts(parts, state)
        .await
        .map(|q| q.0)
        .map_err(|e| invalid(e.body_text()))
}

/// A query string of type `T`; a malformed one is a 400 page.
pub struct PageQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for PageQuery<T>
{
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        query(parts, state).await.map(Self).map_err(PageError)
    }
}

/// A query string of type `T` for a `/ui/…` data endpoint; a malformed one is a JSON 400.
pub struct DataQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for DataQuery<T>
{
    type Rejection = DataError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        query(parts, state).await.map(Self).map_err(DataError)
    }
}

/// A form body of type `T`; a malformed one is a 400 page.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::Form::<T>::from_request(req, state)
            .await
            .map(|f| Self(f.0))
            .map_err(|e| PageError(invalid(e.body_text())))
    }
}
