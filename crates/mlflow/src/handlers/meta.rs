//! Server-level endpoints: health, version, server info, and the clear refusal of tracing routes.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::MlflowState as AppState;
use crate::error::{ApiError, ErrorCode};

/// The MLflow version Cairn's wire behaviour matches. Clients gate features on it (e.g. tracing needs
/// ≥ 3.4), so it must be MLflow's numbering, not Cairn's own.
pub const MLFLOW_COMPAT_VERSION: &str = "3.17.2";

/// `GET /health`: `OK` when the metadata store answers, 503 when it does not.
pub async fn health(State(s): State<AppState>) -> Response {
    match s.tracking.ping().await {
        Ok(()) => (StatusCode::OK, "OK").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("metadata store unavailable: {e}"),
        )
            .into_response(),
    }
}

pub async fn version() -> &'static str {
    MLFLOW_COMPAT_VERSION
}

pub async fn server_info() -> Json<Value> {
    Json(json!({
        "store_type": "SqlStore",
        "workspaces_enabled": false,
        "trace_archival_enabled": false,
        "multipart_uploads_enabled": false,
        "multipart_downloads_enabled": false,
        "presigned_upload_run_id_supported": false,
        "presigned_upload_model_id_supported": false,
        "features_enabled": {"gateway": false},
    }))
}

/// Tracing is not part of Cairn yet: a 404 in MLflow's format, which the client logs and moves past
/// (a 5xx would make it retry for minutes).
pub async fn traces_unsupported() -> ApiError {
    ApiError::new(
        ErrorCode::EndpointNotFound,
        "Tracing is not supported by this Cairn server yet; trace data was not stored.",
    )
}

/// Any route Cairn does not serve.
pub async fn not_found() -> ApiError {
    ApiError::new(
        ErrorCode::EndpointNotFound,
        "No such endpoint on this Cairn server.",
    )
}
