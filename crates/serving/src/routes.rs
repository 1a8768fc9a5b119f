//! The model server's routes: Open Inference Protocol v2 under `/v2`, MLflow scoring at `/invocations`,
//! and the probes both protocols define. Thin: decode, run the engine, encode; each protocol answers
//! errors in its own format.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_onnx::EngineError;
use serde_json::{Value, json};

use crate::telemetry::{self, Timer};
use crate::{Current, Served};
use crate::{oip, scoring};

/// An error in the Open Inference Protocol's format: `{"error": "…"}`.
struct OipError(StatusCode, String);

impl IntoResponse for OipError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

/// An error in MLflow's scoring-server format.
struct ScoringError(StatusCode, String);

impl IntoResponse for ScoringError {
    fn into_response(self) -> Response {
        let code = if self.0.is_client_error() {
            "BAD_REQUEST"
        } else {
            "INTERNAL_ERROR"
        };
        (
            self.0,
            Json(json!({ "error_code": code, "message": self.1 })),
        )
            .into_response()
    }
}

/// What went wrong running the engine: the caller's input (400) or the server (500).
fn engine_status(e: &EngineError) -> StatusCode {
    match e {
        EngineError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub fn router(current: Arc<Current>) -> Router {
    Router::new()
        .route("/v2", get(server_metadata))
        .route(
            "/v2/health/live",
            get(|| async { Json(json!({"live": true})) }),
        )
        .route(
            "/v2/health/ready",
            get(|| async { Json(json!({"ready": true})) }),
        )
        .route("/v2/models/{name}", get(model_metadata))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(model_metadata_versioned),
        )
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(model_ready_versioned),
        )
        .route("/v2/models/{name}/infer", post(infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer_versioned),
        )
        .route("/invocations", post(invocations))
        .route("/ping", get(|| async { "" }))
        .route("/health", get(|| async { "OK" }))
        .route("/metrics", get(|| async { telemetry::render() }))
        .with_state(current)
}

async fn server_metadata() -> Json<Value> {
    Json(json!({"name": "cairn", "version": env!("CARGO_PKG_VERSION"), "extensions": []}))
}

/// The served model, if `name` (and `version`, when given) names it.
fn check(s: &Served, name: &str, version: Option<&str>) -> Result<(), OipError> {
    if name != s.name {
        return Err(OipError(
            StatusCode::NOT_FOUND,
            format!("unknown model '{name}'; this server serves '{}'", s.name),
        ));
    }
    if let Some(v) = version
        && s.version.as_deref() != Some(v)
    {
        return Err(OipError(
            StatusCode::NOT_FOUND,
            format!(
                "model '{name}' has no version '{v}' here (serving {:?})",
                s.version
            ),
        ));
    }
    Ok(())
}

async fn model_metadata(
    State(c): State<Arc<Current>>,
    Path(name): Path<String>,
) -> Result<Json<oip::ModelMetadata>, OipError> {
    let s = c.get();
    check(&s, &name, None)?;
    Ok(Json(oip::metadata(
        &s.name,
        s.version.as_deref(),
        s.model.signature(),
    )))
}

async fn model_metadata_versioned(
    State(c): State<Arc<Current>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<oip::ModelMetadata>, OipError> {
    let s = c.get();
    check(&s, &name, Some(&version))?;
    Ok(Json(oip::metadata(
        &s.name,
        s.version.as_deref(),
        s.model.signature(),
    )))
}

async fn model_ready(
    State(c): State<Arc<Current>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, OipError> {
    let s = c.get();
    check(&s, &name, None)?;
    Ok(Json(json!({"name": name, "ready": true})))
}

async fn model_ready_versioned(
    State(c): State<Arc<Current>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, OipError> {
    let s = c.get();
    check(&s, &name, Some(&version))?;
    Ok(Json(json!({"name": name, "ready": true})))
}

async fn run_infer(s: &Served, body: &[u8]) -> Result<Json<oip::InferResponse>, OipError> {
    let timer = Timer::start("oip", &s.name, s.version.as_deref());
    let result = infer_oip(s, body).await;
    timer.finish(result.as_ref().map_or_else(|e| e.0.as_u16(), |_| 200));
    result
}

async fn infer_oip(s: &Served, body: &[u8]) -> Result<Json<oip::InferResponse>, OipError> {
    let bad = |m: String| OipError(StatusCode::BAD_REQUEST, m);
    let req: oip::InferRequest =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid inference request: {e}")))?;
    let inputs = oip::inputs(&req, s.model.signature()).map_err(bad)?;
    let outputs = s
        .model
        .infer(inputs)
        .await
        .map_err(|e| OipError(engine_status(&e), e.to_string()))?;
    oip::response(&req, &s.name, s.version.as_deref(), outputs)
        .map(Json)
        .map_err(bad)
}

async fn infer(
    State(c): State<Arc<Current>>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<oip::InferResponse>, OipError> {
    let s = c.get();
    check(&s, &name, None)?;
    run_infer(&s, &body).await
}

async fn infer_versioned(
    State(c): State<Arc<Current>>,
    Path((name, version)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<oip::InferResponse>, OipError> {
    let s = c.get();
    check(&s, &name, Some(&version))?;
    run_infer(&s, &body).await
}

async fn invocations(
    State(c): State<Arc<Current>>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ScoringError> {
    let s = c.get();
    let timer = Timer::start("mlflow", &s.name, s.version.as_deref());
    let result = score(&s, &body).await;
    timer.finish(result.as_ref().map_or_else(|e| e.0.as_u16(), |_| 200));
    result
}

async fn score(s: &Served, body: &[u8]) -> Result<Json<Value>, ScoringError> {
    let bad = |m: String| ScoringError(StatusCode::BAD_REQUEST, m);
    let body: Value = serde_json::from_slice(body)
        .map_err(|e| bad(format!("Invalid input. The request body is not JSON: {e}")))?;
    let (inputs, answer) =
        scoring::inputs(&body, s.model.signature(), s.columns.as_deref()).map_err(bad)?;
    let outputs = s
        .model
        .infer(inputs)
        .await
        .map_err(|e| ScoringError(engine_status(&e), e.to_string()))?;
    Ok(Json(scoring::predictions(&outputs, answer)))
}
