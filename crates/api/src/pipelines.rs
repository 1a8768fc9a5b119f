//! Pipelines: snapshot objects, registered versions and their files, and pipeline runs.

use axum::Json;
use axum::body::Body as RawBody;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cairn_artifacts::ArtifactDownload;
use cairn_contract::{
    ErrorBody, FinishPipelineRunBody, MissingObjectsResponse, ObjectsBody, PipelineDto,
    PipelineResponse, PipelineRunDto, PipelineRunResponse, PipelineRunsResponse, PipelinesResponse,
    RegisterPipelineBody, StartPipelineRunBody,
};
use cairn_domain::pipeline::PipelineRunStatus;
use cairn_service::{Actor, NewPipelineRun, PipelineRunEnd, Pipelines, RegisterRequest};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;

use crate::error::{ApiError, Body, Params, Segment};

type Who = Option<Extension<Actor>>;

fn who(actor: &Who) -> &str {
    actor.as_ref().map_or("", |Extension(a)| a.as_str())
}

/// The largest snapshot object accepted in one request.
pub(crate) const MAX_OBJECT_BYTES: usize = 512 * 1024 * 1024;

/// A stored file's bytes as a streamed response.
fn streamed(download: ArtifactDownload, content_type: &'static str) -> Response {
    let mut r = RawBody::from_stream(download.stream).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(download.size));
    r
}

/// A raw request body of at most `limit` bytes; a larger or broken one is a 400.
async fn read_body(body: RawBody, limit: usize, what: &str) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        ApiError::invalid(format!(
            "could not read {what} (at most {limit} bytes): {e}"
        ))
    })
}

/// Which of these objects the server lacks.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/pipelines/objects/missing",
    tag = "pipelines",
    request_body = ObjectsBody,
    responses(
        (status = 200, description = "The digests not stored yet", body = MissingObjectsResponse),
        (status = 400, description = "A digest is not 64 lowercase hex digits", body = ErrorBody),
    )
)]
pub(crate) async fn missing_objects(
    State(p): State<Pipelines>,
    Body(body): Body<ObjectsBody>,
) -> Result<Json<MissingObjectsResponse>, ApiError> {
    Ok(Json(MissingObjectsResponse {
        missing: p.missing_objects(&body.digests).await?,
    }))
}

/// Stores a snapshot object: the body's bytes, whose BLAKE3 must be the digest in the path.
#[utoipa::path(
    put,
    path = "/api/cairn/v1/pipelines/objects/{digest}",
    tag = "pipelines",
    params(("digest" = String, Path, description = "BLAKE3 of the body, 64 lowercase hex digits")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Stored"),
        (status = 400, description = "The body hashes to another digest, or is too large", body = ErrorBody),
    )
)]
pub(crate) async fn put_object(
    State(p): State<Pipelines>,
    Segment(digest): Segment<String>,
    body: RawBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bytes = read_body(body, MAX_OBJECT_BYTES, "the object").await?;
    p.put_object(&digest, bytes).await?;
    Ok(Json(json!({})))
}

/// An object's bytes.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipelines/objects/{digest}",
    tag = "pipelines",
    params(("digest" = String, Path, description = "BLAKE3 of the bytes, 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream"),
        (status = 400, description = "Not a digest", body = ErrorBody),
        (status = 404, description = "Not stored", body = ErrorBody),
    )
)]
pub(crate) async fn get_object(
    State(p): State<Pipelines>,
    Segment(digest): Segment<String>,
) -> Result<Response, ApiError> {
    Ok(streamed(
        p.object(&digest).await?,
        "application/octet-stream",
    ))
}

/// Stores the shared output cache's entry for a stage key (`cairn run` does, after uploading the
/// objects it names).
#[utoipa::path(
    put,
    path = "/api/cairn/v1/pipeline-cache/{key}",
    tag = "pipelines",
    params(("key" = String, Path, description = "The stage's cache key, 64 lowercase hex digits")),
    request_body(content = Object, content_type = "application/json"),
    responses(
        (status = 200, description = "Stored"),
        (status = 400, description = "Not a key, or not a JSON object", body = ErrorBody),
    )
)]
pub(crate) async fn put_cache_entry(
    State(p): State<Pipelines>,
    Segment(key): Segment<String>,
    body: RawBody,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bytes = read_body(
        body,
        cairn_service::MAX_CACHE_ENTRY_BYTES,
        "the cache entry",
    )
    .await?;
    p.put_cache_entry(&key, bytes).await?;
    Ok(Json(json!({})))
}

/// The shared output cache's entry for a stage key.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipeline-cache/{key}",
    tag = "pipelines",
    params(("key" = String, Path, description = "The stage's cache key, 64 lowercase hex digits")),
    responses(
        (status = 200, description = "The entry, as stored", content_type = "application/json"),
        (status = 400, description = "Not a key", body = ErrorBody),
        (status = 404, description = "No entry for that key", body = ErrorBody),
    )
)]
pub(crate) async fn cache_entry(
    State(p): State<Pipelines>,
    Segment(key): Segment<String>,
) -> Result<Response, ApiError> {
    let bytes = p.cache_entry(&key).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response())
}

/// Registers a project snapshot as the next version of a pipeline (the same version again when the
/// snapshot has not changed).
#[utoipa::path(
    put,
    path = "/api/cairn/v1/pipelines/{name}",
    tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name")),
    request_body = RegisterPipelineBody,
    responses(
        (status = 200, description = "The registered version", body = PipelineResponse),
        (status = 400, description = "Bad name, path or digest; objects not uploaded", body = ErrorBody),
    )
)]
pub(crate) async fn register(
    State(p): State<Pipelines>,
    actor: Who,
    Segment(name): Segment<String>,
    Body(body): Body<RegisterPipelineBody>,
) -> Result<Json<PipelineResponse>, ApiError> {
    let req = RegisterRequest {
        name,
        file: body.file,
        files: body.files.into_iter().map(Into::into).collect(),
        triggers: body.triggers,
    };
    let (pipeline, created) = p.register(req, who(&actor)).await?;
    Ok(Json(PipelineResponse {
        pipeline: PipelineDto::from(&pipeline),
        created,
    }))
}

/// Registered pipelines: the latest version of each.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipelines",
    tag = "pipelines",
    responses((status = 200, description = "By name", body = PipelinesResponse))
)]
pub(crate) async fn list(State(p): State<Pipelines>) -> Result<Json<PipelinesResponse>, ApiError> {
    Ok(Json(PipelinesResponse {
        pipelines: p.list().await?.iter().map(PipelineDto::from).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct VersionParams {
    /// A version; the latest when absent.
    version: Option<i64>,
}

/// A registered pipeline: its latest version, or `?version=N`.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipelines/{name}",
    tag = "pipelines",
    params(("name" = String, Path, description = "Pipeline name"), VersionParams),
    responses(
        (status = 200, description = "The version", body = PipelineResponse),
        (status = 404, description = "No such pipeline or version", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(p): State<Pipelines>,
    Segment(name): Segment<String>,
    Params(q): Params<VersionParams>,
) -> Result<Json<PipelineResponse>, ApiError> {
    Ok(Json(PipelineResponse {
        pipeline: PipelineDto::from(&p.get(&name, q.version).await?),
        created: false,
    }))
}

/// A file of a registered snapshot, as it was registered.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipelines/{name}/files/{path}",
    tag = "pipelines",
    params(
        ("name" = String, Path, description = "Pipeline name"),
        ("path" = String, Path, description = "The file's project-relative path"),
        VersionParams
    ),
    responses(
        (status = 200, description = "The file's bytes"),
        (status = 404, description = "No such pipeline, version or file", body = ErrorBody),
    )
)]
pub(crate) async fn file(
    State(p): State<Pipelines>,
    Segment((name, path)): Segment<(String, String)>,
    Params(q): Params<VersionParams>,
) -> Result<Response, ApiError> {
    let (base, download) = p.file(&name, q.version, &path).await?;
    Ok(streamed(download, cairn_artifacts::content_type(&base)))
}

/// Records a pipeline run as it starts (the CLI does, beside its MLflow run).
#[utoipa::path(
    post,
    path = "/api/cairn/v1/pipeline-runs",
    tag = "pipelines",
    request_body = StartPipelineRunBody,
    responses(
        (status = 200, description = "The run, running", body = PipelineRunResponse),
        (status = 400, description = "Bad body; the run id is taken (`RESOURCE_ALREADY_EXISTS`)", body = ErrorBody),
    )
)]
pub(crate) async fn start_run(
    State(p): State<Pipelines>,
    actor: Who,
    Body(body): Body<StartPipelineRunBody>,
) -> Result<Json<PipelineRunResponse>, ApiError> {
    let req = NewPipelineRun {
        run_id: body.run_id,
        pipeline: body.pipeline,
        experiment_id: body.experiment_id,
        pipeline_version: body.pipeline_version,
        executor: body.executor,
        cause: body.cause.unwrap_or_else(|| json!({ "kind": "manual" })),
        dag: body.dag.unwrap_or_else(|| json!([])),
    };
    let run = p.start_run(req, who(&actor)).await?;
    Ok(Json(PipelineRunResponse {
        pipeline_run: PipelineRunDto::from(&run),
    }))
}

/// Ends a pipeline run with its status, exit code and report.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/pipeline-runs/{run_id}/finish",
    tag = "pipelines",
    params(("run_id" = String, Path, description = "The pipeline run's MLflow run id")),
    request_body = FinishPipelineRunBody,
    responses(
        (status = 200, description = "The run, ended", body = PipelineRunResponse),
        (status = 400, description = "Bad status; the run has already ended", body = ErrorBody),
        (status = 404, description = "No such pipeline run", body = ErrorBody),
    )
)]
pub(crate) async fn finish_run(
    State(p): State<Pipelines>,
    actor: Who,
    Segment(run_id): Segment<String>,
    Body(body): Body<FinishPipelineRunBody>,
) -> Result<Json<PipelineRunResponse>, ApiError> {
    let status = PipelineRunStatus::parse(&body.status).ok_or_else(|| {
        ApiError::invalid(format!(
            "status must be succeeded or failed, not '{}'",
            body.status
        ))
    })?;
    let end = PipelineRunEnd {
        status,
        exit_code: body.exit_code,
        report: body.report,
    };
    let run = p.finish_run(&run_id, end, who(&actor)).await?;
    Ok(Json(PipelineRunResponse {
        pipeline_run: PipelineRunDto::from(&run),
    }))
}

/// A pipeline run.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipeline-runs/{run_id}",
    tag = "pipelines",
    params(("run_id" = String, Path, description = "The pipeline run's MLflow run id")),
    responses(
        (status = 200, description = "The run", body = PipelineRunResponse),
        (status = 404, description = "No such pipeline run", body = ErrorBody),
    )
)]
pub(crate) async fn get_run(
    State(p): State<Pipelines>,
    Segment(run_id): Segment<String>,
) -> Result<Json<PipelineRunResponse>, ApiError> {
    Ok(Json(PipelineRunResponse {
        pipeline_run: PipelineRunDto::from(&p.get_run(&run_id).await?),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct RunsParams {
    /// Only this pipeline's runs.
    pipeline: Option<String>,
    /// At most this many (1–1000, default 100).
    max_results: Option<usize>,
    /// From a previous response's `next_page_token`.
    page_token: Option<String>,
}

/// Pipeline runs, newest first.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipeline-runs",
    tag = "pipelines",
    params(RunsParams),
    responses(
        (status = 200, description = "Newest first", body = PipelineRunsResponse),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 404, description = "The page token names no run", body = ErrorBody),
    )
)]
pub(crate) async fn list_runs(
    State(p): State<Pipelines>,
    Params(q): Params<RunsParams>,
) -> Result<Json<PipelineRunsResponse>, ApiError> {
    runs_page(
        &p,
        q.pipeline.as_deref(),
        q.page_token.as_deref(),
        q.max_results,
    )
    .await
}

/// A page of runs, newest first, with the token of the next.
pub(crate) async fn runs_page(
    p: &Pipelines,
    pipeline: Option<&str>,
    page_token: Option<&str>,
    max_results: Option<usize>,
) -> Result<Json<PipelineRunsResponse>, ApiError> {
    let limit = max_results.unwrap_or(100);
    let runs = p.list_runs(pipeline, page_token, limit).await?;
    let next_page_token = (runs.len() == limit)
        .then(|| runs.last().map(|r| r.run_id.clone()))
        .flatten();
    Ok(Json(PipelineRunsResponse {
        pipeline_runs: runs.iter().map(PipelineRunDto::from).collect(),
        next_page_token,
    }))
}
