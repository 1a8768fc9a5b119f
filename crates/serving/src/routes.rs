//! The model server's routes: Open Inference Protocol v2 under `/v2`, MLflow scoring at
//! `/serving-endpoints/{name}/invocations` (and `/invocations` where one model is served), and the probes
//! both protocols define. Thin: find the endpoint, pick its model, decode, run the engine, encode; each
//! protocol answers errors in its own format. Every inference response names the version that answered
//! in `x-cairn-model-version`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cairn_onnx::EngineError;
use serde_json::{Value, json};

use crate::Served;
use crate::endpoints::{Endpoints, Logging, Routing, Unservable};
use crate::predictions::{PredictionLog, Record};
use crate::telemetry::{self, Timer};
use crate::{oip, scoring};

const VERSION_HEADER: HeaderName = HeaderName::from_static("x-cairn-model-version");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request whose prediction is logged: where to, and what identifies it.
struct Capture<'a> {
    log: &'a PredictionLog,
    logging: &'a Logging,
    request_id: String,
    started: std::time::Instant,
}

impl<'a> Capture<'a> {
    /// The capture of a request to `routing`, when it is sampled. The request id is the one the
    /// middleware set (the client's, or generated).
    fn of(e: &'a Endpoints, routing: &'a Routing, headers: &HeaderMap) -> Option<Self> {
        let (log, logging) = e.log_for(routing)?;
        let request_id = headers
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Some(Capture {
            log,
            logging,
            request_id,
            started: std::time::Instant::now(),
        })
    }

    fn record(self, s: &Served, inputs: Vec<cairn_onnx::Tensor>, outputs: Vec<cairn_onnx::Tensor>) {
        let timestamp_ms = cairn_domain::time::now_millis();
        self.log.record(Record {
            deployment: self.logging.deployment.clone(),
            origin: s.origin.clone(),
            request_id: self.request_id,
            timestamp_ms,
            latency_ms: self.started.elapsed().as_secs_f64() * 1e3,
            inputs,
            outputs,
        });
    }
}

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
        let code = match self.0 {
            StatusCode::NOT_FOUND => "RESOURCE_DOES_NOT_EXIST",
            StatusCode::SERVICE_UNAVAILABLE => "TEMPORARILY_UNAVAILABLE",
            s if s.is_client_error() => "BAD_REQUEST",
            _ => "INTERNAL_ERROR",
        };
        (
            self.0,
            Json(json!({ "error_code": code, "message": self.1 })),
        )
            .into_response()
    }
}

/// An endpoint that cannot serve: unknown (404) or not loaded (503).
fn unservable(u: Unservable) -> (StatusCode, String) {
    match u {
        Unservable::Unknown(m) => (StatusCode::NOT_FOUND, m),
        Unservable::NotReady(m) => (StatusCode::SERVICE_UNAVAILABLE, m),
    }
}

impl From<Unservable> for OipError {
    fn from(u: Unservable) -> Self {
        let (s, m) = unservable(u);
        OipError(s, m)
    }
}

impl From<Unservable> for ScoringError {
    fn from(u: Unservable) -> Self {
        let (s, m) = unservable(u);
        ScoringError(s, m)
    }
}

/// What went wrong running the engine: the caller's input (400) or the server (500).
fn engine_status(e: &EngineError) -> StatusCode {
    match e {
        EngineError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

type Eps = State<Arc<Endpoints>>;

/// The routes. `/ping` (MLflow's scoring-server liveness probe) is always answered; `standalone` adds
/// what a process serving one model answers at its root: `/invocations`, `/health`, `/metrics` (inside
/// `cairn server` these need a name, belong to the tracking API, or carry the server's gauges too).
pub fn router(endpoints: Arc<Endpoints>, standalone: bool) -> Router {
    let mut r = Router::new()
        .route("/v2", get(server_metadata))
        .route(
            "/v2/health/live",
            get(|| async { Json(json!({"live": true})) }),
        )
        .route("/v2/health/ready", get(server_ready))
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
        .route(
            "/serving-endpoints/{name}/invocations",
            post(invocations_named),
        )
        .route("/ping", get(|| async { "" }));
    if standalone {
        r = r
            .route("/metrics", get(|| async { telemetry::render() }))
            .route("/invocations", post(invocations))
            .route("/health", get(|| async { "OK" }));
    }
    r.with_state(endpoints)
}

async fn server_metadata() -> Json<Value> {
    Json(json!({"name": "cairn", "version": env!("CARGO_PKG_VERSION"), "extensions": []}))
}

/// Ready when every endpoint can serve.
async fn server_ready(State(e): Eps) -> (StatusCode, Json<Value>) {
    let ready = e.all_ready();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "ready": ready })))
}

/// The endpoint's model serving `version`, or the one routing picks for this request.
fn choose(routing: &Routing, name: &str, version: Option<&str>) -> Result<Arc<Served>, OipError> {
    match version {
        None => Ok(routing.pick().clone()),
        Some(v) => routing.version(v).cloned().ok_or_else(|| {
            let serving: Vec<&str> = routing
                .models()
                .filter_map(|s| s.version.as_deref())
                .collect();
            OipError(
                StatusCode::NOT_FOUND,
                format!("model '{name}' has no version '{v}' here (serving {serving:?})"),
            )
        }),
    }
}

fn metadata(
    e: &Endpoints,
    name: &str,
    version: Option<&str>,
) -> Result<Json<oip::ModelMetadata>, OipError> {
    let routing = e.get(name)?;
    let s = choose(&routing, name, version)?;
    let mut meta = oip::metadata(name, s.version.as_deref(), s.model.signature());
    if version.is_none() {
        meta.versions = routing.models().filter_map(|s| s.version.clone()).collect();
    }
    Ok(Json(meta))
}

async fn model_metadata(
    State(e): Eps,
    Path(name): Path<String>,
) -> Result<Json<oip::ModelMetadata>, OipError> {
    metadata(&e, &name, None)
}

async fn model_metadata_versioned(
    State(e): Eps,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<oip::ModelMetadata>, OipError> {
    metadata(&e, &name, Some(&version))
}

fn ready(e: &Endpoints, name: &str, version: Option<&str>) -> Result<Json<Value>, OipError> {
    choose(&*e.get(name)?, name, version)?;
    Ok(Json(json!({"name": name, "ready": true})))
}

async fn model_ready(State(e): Eps, Path(name): Path<String>) -> Result<Json<Value>, OipError> {
    ready(&e, &name, None)
}

async fn model_ready_versioned(
    State(e): Eps,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, OipError> {
    ready(&e, &name, Some(&version))
}

/// A response naming the version that answered.
fn with_version<T: IntoResponse>(s: &Served, body: T) -> Response {
    let mut resp = body.into_response();
    if let Some(v) = s
        .version
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        resp.headers_mut().insert(VERSION_HEADER, v);
    }
    resp
}

async fn run_infer(
    e: &Endpoints,
    name: &str,
    version: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OipError> {
    let routing = e.get(name)?;
    let s = choose(&routing, name, version)?;
    let timer = Timer::start("oip", name, &s).counting(routing.counters_for(&s));
    let capture = Capture::of(e, &routing, headers);
    let result = infer_oip(&s, name, body, capture).await;
    timer.finish(result.as_ref().map_or_else(|e| e.0.as_u16(), |_| 200));
    result.map(|r| with_version(&s, r))
}

async fn infer_oip(
    s: &Served,
    name: &str,
    body: &[u8],
    capture: Option<Capture<'_>>,
) -> Result<Json<oip::InferResponse>, OipError> {
    let bad = |m: String| OipError(StatusCode::BAD_REQUEST, m);
    let req: oip::InferRequest =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid inference request: {e}")))?;
    let inputs = oip::inputs(&req, s.model.signature()).map_err(bad)?;
    let (inputs, outputs) = s
        .model
        .infer_keeping_inputs(inputs)
        .await
        .map_err(|e| OipError(engine_status(&e), e.to_string()))?;
    if let Some(c) = capture {
        c.record(s, inputs, outputs.clone());
    }
    oip::response(&req, name, s.version.as_deref(), outputs)
        .map(Json)
        .map_err(bad)
}

async fn infer(
    State(e): Eps,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OipError> {
    run_infer(&e, &name, None, &headers, &body).await
}

async fn infer_versioned(
    State(e): Eps,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OipError> {
    run_infer(&e, &name, Some(&version), &headers, &body).await
}

/// A scoring request: its headers (`Content-Type`: JSON unless `text/csv`; the request id) and body.
struct Scoring {
    headers: HeaderMap,
    body: axum::body::Bytes,
}

impl Scoring {
    fn new(headers: HeaderMap, body: axum::body::Bytes) -> Self {
        Scoring { headers, body }
    }

    fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }
}

async fn run_scoring(e: &Endpoints, name: &str, req: Scoring) -> Result<Response, ScoringError> {
    let routing = e.get(name)?;
    let s = routing.pick().clone();
    let timer = Timer::start("mlflow", name, &s).counting(routing.counters_for(&s));
    let capture = Capture::of(e, &routing, &req.headers);
    let result = score(&s, &req, capture).await;
    timer.finish(result.as_ref().map_or_else(|e| e.0.as_u16(), |_| 200));
    result.map(|r| with_version(&s, r))
}

async fn invocations(
    State(e): Eps,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ScoringError> {
    let Some(name) = e.default_name().map(str::to_owned) else {
        return Err(ScoringError(
            StatusCode::NOT_FOUND,
            "this server serves several deployments: POST to /serving-endpoints/<name>/invocations"
                .into(),
        ));
    };
    run_scoring(&e, &name, Scoring::new(headers, body)).await
}

async fn invocations_named(
    State(e): Eps,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ScoringError> {
    run_scoring(&e, &name, Scoring::new(headers, body)).await
}

async fn score(
    s: &Served,
    req: &Scoring,
    capture: Option<Capture<'_>>,
) -> Result<Json<Value>, ScoringError> {
    let bad = |m: String| ScoringError(StatusCode::BAD_REQUEST, m);
    let (inputs, answer) = scoring::parse(
        req.content_type(),
        &req.body,
        s.model.signature(),
        s.columns.as_deref(),
    )
    .map_err(bad)?;
    let (inputs, outputs) = s
        .model
        .infer_keeping_inputs(inputs)
        .await
        .map_err(|e| ScoringError(engine_status(&e), e.to_string()))?;
    let answer = scoring::predictions(&outputs, answer);
    if let Some(c) = capture {
        c.record(s, inputs, outputs);
    }
    Ok(Json(answer))
}
