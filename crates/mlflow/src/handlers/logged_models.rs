//! `/mlflow/logged-models/*`.

use axum::Json;
use axum::extract::{Path, State};
use cairn_domain::{DomainError, LoggedModelStatus};
use cairn_service::{LoggedModelSearch, NewModel};

use super::{Empty, required_str};
use crate::MlflowState as AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Msg;
use crate::wire::logged_models::*;
use crate::wire::tags::{KeyValue, tags};

pub async fn create(
    State(s): State<AppState>,
    Msg(m): Msg<CreateLoggedModel>,
) -> ApiResult<Json<LoggedModelResponse>> {
    let model = s
        .tracking
        .create_logged_model(NewModel {
            experiment_id: required_str(m.experiment_id, "experiment_id")?,
            name: m.name,
            model_type: m.model_type,
            source_run_id: m.source_run_id,
            params: m.params.into_iter().map(KeyValue::param).collect(),
            tags: tags(m.tags),
        })
        .await?;
    Ok(Json(LoggedModelResponse {
        model: (&model).into(),
    }))
}

pub async fn get(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<LoggedModelResponse>> {
    let model = s.tracking.get_logged_model(&id).await?;
    Ok(Json(LoggedModelResponse {
        model: (&model).into(),
    }))
}

pub async fn finalize(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Msg(m): Msg<FinalizeLoggedModel>,
) -> ApiResult<Json<LoggedModelResponse>> {
    let status: LoggedModelStatus = required_str(m.status, "status")?
        .parse()
        .map_err(|e: DomainError| ApiError::invalid(e.to_string()))?;
    let model = s.tracking.finalize_logged_model(&id, status).await?;
    Ok(Json(LoggedModelResponse {
        model: (&model).into(),
    }))
}

pub async fn delete(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Empty>> {
    s.tracking.delete_logged_model(&id).await?;
    Ok(Json(Empty {}))
}

pub async fn set_tags(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Msg(m): Msg<SetLoggedModelTags>,
) -> ApiResult<Json<Empty>> {
    s.tracking.set_logged_model_tags(&id, tags(m.tags)).await?;
    Ok(Json(Empty {}))
}

pub async fn delete_tag(
    State(s): State<AppState>,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Json<Empty>> {
    s.tracking.delete_logged_model_tag(&id, &key).await?;
    Ok(Json(Empty {}))
}

pub async fn search(
    State(s): State<AppState>,
    Msg(m): Msg<SearchLoggedModels>,
) -> ApiResult<Json<SearchLoggedModelsResponse>> {
    let page = s
        .tracking
        .search_logged_models(LoggedModelSearch {
            experiment_ids: m.experiment_ids,
            filter: m.filter.unwrap_or_default(),
            max_results: m.max_results,
            order_by: m.order_by.into_iter().map(Into::into).collect(),
            page_token: m.page_token,
        })
        .await?;
    Ok(Json(SearchLoggedModelsResponse {
        models: page.items.iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}
