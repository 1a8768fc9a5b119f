//! `/mlflow/experiments/*`.

use axum::Json;
use axum::extract::State;
use cairn_domain::{Tag, ViewType};
use cairn_service::ExperimentSearch;

use super::{Empty, required_str};
use crate::MlflowState as AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Msg;
use crate::wire::experiments::*;
use crate::wire::tags::tags;

pub async fn create(
    State(s): State<AppState>,
    Msg(m): Msg<CreateExperiment>,
) -> ApiResult<Json<CreateExperimentResponse>> {
    let name = required_str(m.name, "name")?;
    let id = s
        .tracking
        .create_experiment(&name, m.artifact_location, tags(m.tags))
        .await?;
    Ok(Json(CreateExperimentResponse {
        experiment_id: id.to_string(),
    }))
}

pub async fn get(
    State(s): State<AppState>,
    Msg(m): Msg<ExperimentRef>,
) -> ApiResult<Json<ExperimentResponse>> {
    let id = required_str(m.experiment_id, "experiment_id")?;
    let e = s.tracking.get_experiment(&id).await?;
    Ok(Json(ExperimentResponse {
        experiment: (&e).into(),
    }))
}

pub async fn get_by_name(
    State(s): State<AppState>,
    Msg(m): Msg<ExperimentByName>,
) -> ApiResult<Json<ExperimentResponse>> {
    let name = required_str(m.experiment_name, "experiment_name")?;
    let e = s.tracking.get_experiment_by_name(&name).await?;
    Ok(Json(ExperimentResponse {
        experiment: (&e).into(),
    }))
}

pub async fn search(
    State(s): State<AppState>,
    Msg(m): Msg<SearchExperiments>,
) -> ApiResult<Json<SearchExperimentsResponse>> {
    let view = view_type(m.view_type.as_deref())?;
    let page = s
        .tracking
        .search_experiments(ExperimentSearch {
            filter: m.filter.unwrap_or_default(),
            max_results: m.max_results,
            order_by: m.order_by,
            page_token: m.page_token,
            view,
        })
        .await?;
    Ok(Json(SearchExperimentsResponse {
        experiments: page.items.iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn update(
    State(s): State<AppState>,
    Msg(m): Msg<UpdateExperiment>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(m.experiment_id, "experiment_id")?;
    let name = required_str(m.new_name, "new_name")?;
    s.tracking.rename_experiment(&id, &name).await?;
    Ok(Json(Empty {}))
}

pub async fn delete(
    State(s): State<AppState>,
    Msg(m): Msg<ExperimentRef>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(m.experiment_id, "experiment_id")?;
    s.tracking.delete_experiment(&id).await?;
    Ok(Json(Empty {}))
}

pub async fn restore(
    State(s): State<AppState>,
    Msg(m): Msg<ExperimentRef>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(m.experiment_id, "experiment_id")?;
    s.tracking.restore_experiment(&id).await?;
    Ok(Json(Empty {}))
}

pub async fn set_tag(
    State(s): State<AppState>,
    Msg(m): Msg<ExperimentTag>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(m.experiment_id, "experiment_id")?;
    let key = required_str(m.key, "key")?;
    let value = m.value.ok_or_else(|| ApiError::missing("value"))?;
    s.tracking
        .set_experiment_tag(&id, Tag { key, value })
        .await?;
    Ok(Json(Empty {}))
}

pub async fn delete_tag(
    State(s): State<AppState>,
    Msg(m): Msg<ExperimentTag>,
) -> ApiResult<Json<Empty>> {
    let id = required_str(m.experiment_id, "experiment_id")?;
    let key = required_str(m.key, "key")?;
    s.tracking.delete_experiment_tag(&id, &key).await?;
    Ok(Json(Empty {}))
}

pub(crate) fn view_type(raw: Option<&str>) -> Result<ViewType, ApiError> {
    match raw.filter(|v| !v.is_empty()) {
        None => Ok(ViewType::ActiveOnly),
        Some(v) => v
            .parse()
            .map_err(|e: cairn_domain::DomainError| ApiError::invalid(e.to_string())),
    }
}
