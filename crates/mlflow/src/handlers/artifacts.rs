//! The proxied artifact service (`/mlflow-artifacts/artifacts/*`) behind `mlflow-artifacts:/` URIs, and
//! the run-relative listing `/mlflow/artifacts/list`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::Empty;
use crate::MlflowState as AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Msg;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct ListResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
}

pub async fn upload(
    State(s): State<AppState>,
    Path(path): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    let stream = body.into_data_stream().map_err(|e| e.to_string());
    s.artifacts.upload(&path, stream).await?;
    Ok(().into_response())
}

pub async fn download(State(s): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    let (name, file) = s.artifacts.download(&path).await?;
    let mut resp = Body::from_stream(file.stream).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(cairn_artifacts::content_type(&name)),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        name.replace('"', "")
    )) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

pub async fn list(
    State(s): State<AppState>,
    Msg(q): Msg<ListQuery>,
) -> ApiResult<Json<ListResponse>> {
    let entries = s.artifacts.list(q.path.as_deref()).await?;
    Ok(Json(ListResponse {
        root_uri: None,
        files: entries
            .into_iter()
            .map(|e| FileInfo {
                path: e.name,
                is_dir: e.is_dir,
                file_size: e.size,
            })
            .collect(),
    }))
}

pub async fn delete(State(s): State<AppState>, Path(path): Path<String>) -> ApiResult<Json<Empty>> {
    s.artifacts.delete(&path).await?;
    Ok(Json(Empty {}))
}

#[derive(Debug, Deserialize)]
pub struct RunListQuery {
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub run_uuid: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

/// `GET /mlflow/artifacts/list?run_id=…&path=…`: paths in the answer are relative to the run's root.
pub async fn list_for_run(
    State(s): State<AppState>,
    Msg(q): Msg<RunListQuery>,
) -> ApiResult<Json<ListResponse>> {
    let run_id = q
        .run_id
        .or(q.run_uuid)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::missing("run_id"))?;
    let run = s.tracking.get_run(&run_id).await?;
    let root = run.info.artifact_uri.clone();
    let base = root
        .strip_prefix(crate::ARTIFACT_SCHEME)
        .map(|p| p.trim_start_matches('/').to_string())
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "Run artifacts at {root} are not served by this server"
            ))
        })?;
    let rel = q.path.unwrap_or_default();
    let rel = rel.trim_matches('/');
    let dir = if rel.is_empty() {
        base
    } else {
        format!("{base}/{rel}")
    };
    let entries = s.artifacts.list(Some(&dir)).await?;
    Ok(Json(ListResponse {
        root_uri: Some(root),
        files: entries
            .into_iter()
            .map(|e| FileInfo {
                path: if rel.is_empty() {
                    e.name
                } else {
                    format!("{rel}/{}", e.name)
                },
                is_dir: e.is_dir,
                file_size: e.size,
            })
            .collect(),
    }))
}
