//! Monitoring: monitors (create, read, replace, delete, run), their snapshots and alerts, uploaded
//! references, and delayed labels for a deployment's logged predictions. Thin: the use cases live in
//! `cairn_service::Monitors`.

use axum::Json;
use axum::extract::{Extension, State};
use cairn_contract::{
    AlertsResponse, ErrorBody, FeedbackBody, FeedbackResponse, MonitorBody, MonitorDto,
    MonitorResponse, MonitorsResponse, PredictionBatchResponse, ReferenceResponse,
    RunMonitorResponse, SnapshotDto, SnapshotResponse, SnapshotsResponse,
};
use cairn_service::{Actor, LabelRequest, Monitors};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use crate::error::{ApiError, Body, Params, Segment};

type Who = Option<Extension<Actor>>;

fn who(actor: &Who) -> &str {
    actor.as_ref().map_or("", |Extension(a)| a.as_str())
}

/// Stores a reference table (the request body: CSV, or Parquet), checked readable, content-addressed;
/// name the answer's `reference` in a monitor.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/monitor-references",
    tag = "monitoring",
    request_body(content = Vec<u8>, description = "A CSV or Parquet file", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Stored", body = ReferenceResponse),
        (status = 400, description = "Not a readable table, empty, or too large", body = ErrorBody),
    )
)]
pub(crate) async fn upload_reference(
    State(m): State<Monitors>,
    body: axum::body::Bytes,
) -> Result<Json<ReferenceResponse>, ApiError> {
    let stored = m.upload_reference(body).await?;
    Ok(Json(ReferenceResponse {
        reference: stored.uri,
        rows: stored.rows,
        columns: stored.columns,
    }))
}

/// Creates a monitor named by the body's `name`.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/monitors",
    tag = "monitoring",
    request_body = MonitorBody,
    responses(
        (status = 200, description = "Created", body = MonitorResponse),
        (status = 400, description = "Bad field, unreadable reference", body = ErrorBody),
        (status = 404, description = "No such deployment or run", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(m): State<Monitors>,
    actor: Who,
    Body(body): Body<MonitorBody>,
) -> Result<Json<MonitorResponse>, ApiError> {
    let name = body
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::missing("name"))?;
    put_monitor(&m, &name, body, false, who(&actor)).await
}

/// Creates the monitor, or replaces its spec (and re-profiles its reference).
#[utoipa::path(
    put,
    path = "/api/cairn/v1/monitors/{name}",
    tag = "monitoring",
    params(("name" = String, Path, description = "Monitor name")),
    request_body = MonitorBody,
    responses(
        (status = 200, description = "Stored", body = MonitorResponse),
        (status = 400, description = "Bad field, unreadable reference", body = ErrorBody),
        (status = 404, description = "No such deployment or run", body = ErrorBody),
    )
)]
pub(crate) async fn replace(
    State(m): State<Monitors>,
    actor: Who,
    Segment(name): Segment<String>,
    Body(body): Body<MonitorBody>,
) -> Result<Json<MonitorResponse>, ApiError> {
    put_monitor(&m, &name, body, true, who(&actor)).await
}

async fn put_monitor(
    m: &Monitors,
    name: &str,
    body: MonitorBody,
    replace: bool,
    actor: &str,
) -> Result<Json<MonitorResponse>, ApiError> {
    if body.deployment.is_empty() {
        return Err(ApiError::missing("deployment"));
    }
    if body.reference.is_empty() {
        return Err(ApiError::missing("reference"));
    }
    let spec = body
        .into_spec()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    let stored = m.put(name, spec, replace, actor).await?;
    Ok(Json(MonitorResponse {
        monitor: MonitorDto::full(&stored),
    }))
}

/// Every monitor, by name.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/monitors",
    tag = "monitoring",
    responses((status = 200, description = "Monitors", body = MonitorsResponse))
)]
pub(crate) async fn list(State(m): State<Monitors>) -> Result<Json<MonitorsResponse>, ApiError> {
    Ok(Json(MonitorsResponse {
        monitors: m.list().await?.iter().map(MonitorDto::summary).collect(),
    }))
}

/// One monitor, with its reference's profile.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/monitors/{name}",
    tag = "monitoring",
    params(("name" = String, Path, description = "Monitor name")),
    responses(
        (status = 200, description = "The monitor", body = MonitorResponse),
        (status = 404, description = "No such monitor", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(m): State<Monitors>,
    Segment(name): Segment<String>,
) -> Result<Json<MonitorResponse>, ApiError> {
    Ok(Json(MonitorResponse {
        monitor: MonitorDto::full(&m.get(&name).await?),
    }))
}

/// Deletes the monitor with its snapshots and alerts.
#[utoipa::path(
    delete,
    path = "/api/cairn/v1/monitors/{name}",
    tag = "monitoring",
    params(("name" = String, Path, description = "Monitor name")),
    responses(
        (status = 200, description = "Deleted", body = Object),
        (status = 404, description = "No such monitor", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(m): State<Monitors>,
    actor: Who,
    Segment(name): Segment<String>,
) -> Result<Json<Value>, ApiError> {
    m.delete(&name, who(&actor)).await?;
    Ok(Json(json!({})))
}

/// Evaluates the monitor now: stores a snapshot and the alerts it fires. An empty window is a 400 and
/// stores nothing.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/monitors/{name}/run",
    tag = "monitoring",
    params(("name" = String, Path, description = "Monitor name")),
    responses(
        (status = 200, description = "The snapshot and alerts", body = RunMonitorResponse),
        (status = 400, description = "Empty window, no common columns, unreadable data", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
    )
)]
pub(crate) async fn run(
    State(m): State<Monitors>,
    actor: Who,
    Segment(name): Segment<String>,
) -> Result<Json<RunMonitorResponse>, ApiError> {
    let (snapshot, alerts) = m.run(&name, None, who(&actor)).await?;
    Ok(Json(RunMonitorResponse {
        snapshot: SnapshotDto::new(snapshot, true),
        alerts: alerts.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct SnapshotParams {
    /// At most this many (1–1000, default 100).
    max_results: Option<usize>,
    /// Only snapshots older than this id (the next page).
    before: Option<i64>,
    /// Include each snapshot's whole report (default: only its values).
    #[serde(default)]
    report: bool,
}

/// The monitor's snapshots, newest first: a time series of its values.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/monitors/{name}/snapshots",
    tag = "monitoring",
    params(("name" = String, Path, description = "Monitor name"), SnapshotParams),
    responses(
        (status = 200, description = "Snapshots, newest first", body = SnapshotsResponse),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 404, description = "No such monitor", body = ErrorBody),
    )
)]
pub(crate) async fn snapshots(
    State(m): State<Monitors>,
    Segment(name): Segment<String>,
    Params(p): Params<SnapshotParams>,
) -> Result<Json<SnapshotsResponse>, ApiError> {
    let found = m.snapshots(&name, p.max_results, p.before).await?;
    Ok(Json(SnapshotsResponse {
        snapshots: found
            .into_iter()
            .map(|s| SnapshotDto::new(s, p.report))
            .collect(),
    }))
}

/// One snapshot with its whole report.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/monitors/{name}/snapshots/{id}",
    tag = "monitoring",
    params(
        ("name" = String, Path, description = "Monitor name"),
        ("id" = i64, Path, description = "Snapshot id"),
    ),
    responses(
        (status = 200, description = "The snapshot", body = SnapshotResponse),
        (status = 404, description = "No such monitor or snapshot", body = ErrorBody),
    )
)]
pub(crate) async fn snapshot(
    State(m): State<Monitors>,
    Segment((name, id)): Segment<(String, i64)>,
) -> Result<Json<SnapshotResponse>, ApiError> {
    Ok(Json(SnapshotResponse {
        snapshot: SnapshotDto::new(m.snapshot(&name, id).await?, true),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct AlertParams {
    /// Only this monitor's alerts.
    monitor: Option<String>,
    /// At most this many (1–1000, default 100).
    max_results: Option<usize>,
}

/// Fired alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/alerts",
    tag = "monitoring",
    params(AlertParams),
    responses(
        (status = 200, description = "Alerts, newest first", body = AlertsResponse),
        (status = 404, description = "No such monitor", body = ErrorBody),
    )
)]
pub(crate) async fn alerts(
    State(m): State<Monitors>,
    Params(p): Params<AlertParams>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let found = m.alerts(p.monitor.as_deref(), p.max_results).await?;
    Ok(Json(AlertsResponse {
        alerts: found.into_iter().map(Into::into).collect(),
    }))
}

/// Delayed labels for the deployment's logged predictions, by request id (`x-request-id` of the
/// inference request; `row` within it) or by a key column of the model's input; joined when monitors
/// evaluate. A later label for the same row replaces the earlier one.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/deployments/{name}/feedback",
    tag = "monitoring",
    params(("name" = String, Path, description = "Deployment name")),
    request_body = FeedbackBody,
    responses(
        (status = 200, description = "Stored", body = FeedbackResponse),
        (status = 400, description = "Bad label; nothing stored", body = ErrorBody),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub(crate) async fn feedback(
    State(m): State<Monitors>,
    Segment(name): Segment<String>,
    Body(body): Body<FeedbackBody>,
) -> Result<Json<FeedbackResponse>, ApiError> {
    let labels = body
        .labels
        .into_iter()
        .map(|l| LabelRequest {
            request_id: l.request_id,
            row: l.row,
            key: l.key,
            label: l.label,
        })
        .collect();
    let accepted = m
        .add_labels(&name, body.key_column.as_deref(), labels)
        .await?;
    Ok(Json(FeedbackResponse { accepted }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct PredictionBatchParams {
    /// `date=YYYY-MM-DD/<name>.parquet`, under the deployment's prediction log.
    file: String,
}

/// A batch of the deployment's logged predictions (a Parquet file), as a serving replica uploads it;
/// stored at `monitoring/<deployment>/<file>` in the artifact store, where monitors read their windows.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/deployments/{name}/predictions",
    tag = "monitoring",
    params(("name" = String, Path, description = "Deployment name"), PredictionBatchParams),
    request_body(content = Vec<u8>, description = "A Parquet file", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Stored", body = PredictionBatchResponse),
        (status = 400, description = "Not a Parquet file, or a bad file name", body = ErrorBody),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub(crate) async fn predictions(
    State(m): State<Monitors>,
    Segment(name): Segment<String>,
    Params(p): Params<PredictionBatchParams>,
    body: axum::body::Bytes,
) -> Result<Json<PredictionBatchResponse>, ApiError> {
    m.store_predictions(&name, &p.file, body).await?;
    Ok(Json(PredictionBatchResponse {
        path: format!("monitoring/{name}/{}", p.file),
    }))
}
