//! `/mlflow/runs/*`.

use axum::Json;
use axum::extract::State;
use cairn_domain::{DomainError, Param, RunStatus, Tag};
use cairn_service::{NewRunRequest, RunSearch};

use super::{Empty, required, required_str};
use crate::MlflowState as AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Msg;
use crate::handlers::experiments::view_type;
use crate::wire::runs::*;
use crate::wire::tags::{KeyValue, tags};

fn run_id(r: &RunRef) -> Result<String, ApiError> {
    r.id()
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing("run_id"))
}

pub async fn create(
    State(s): State<AppState>,
    Msg(m): Msg<CreateRun>,
) -> ApiResult<Json<RunResponse>> {
    let run = s
        .tracking
        .create_run(NewRunRequest {
            experiment_id: m.experiment_id,
            user_id: m.user_id.unwrap_or_default(),
            run_name: m.run_name,
            start_time: m.start_time,
            tags: tags(m.tags),
        })
        .await?;
    Ok(Json(RunResponse { run: (&run).into() }))
}

pub async fn get(State(s): State<AppState>, Msg(m): Msg<RunRef>) -> ApiResult<Json<RunResponse>> {
    let run = s.tracking.get_run(&run_id(&m)?).await?;
    Ok(Json(RunResponse { run: (&run).into() }))
}

pub async fn update(
    State(s): State<AppState>,
    Msg(m): Msg<UpdateRun>,
) -> ApiResult<Json<UpdateRunResponse>> {
    let status = m
        .status
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<RunStatus>())
        .transpose()
        .map_err(|e: DomainError| ApiError::invalid(e.to_string()))?;
    let info = s
        .tracking
        .update_run(&run_id(&m.run)?, status, m.end_time, m.run_name)
        .await?;
    Ok(Json(UpdateRunResponse {
        run_info: (&info).into(),
    }))
}

pub async fn delete(State(s): State<AppState>, Msg(m): Msg<RunRef>) -> ApiResult<Json<Empty>> {
    s.tracking.delete_run(&run_id(&m)?).await?;
    Ok(Json(Empty {}))
}

pub async fn restore(State(s): State<AppState>, Msg(m): Msg<RunRef>) -> ApiResult<Json<Empty>> {
    s.tracking.restore_run(&run_id(&m)?).await?;
    Ok(Json(Empty {}))
}

pub async fn log_metric(
    State(s): State<AppState>,
    Msg(m): Msg<LogMetric>,
) -> ApiResult<Json<Empty>> {
    let id = run_id(&m.run)?;
    let metric = m.metric.into_metric().map_err(ApiError::missing)?;
    s.tracking.log_metric(&id, metric).await?;
    Ok(Json(Empty {}))
}

pub async fn log_param(
    State(s): State<AppState>,
    Msg(m): Msg<LogKeyValue>,
) -> ApiResult<Json<Empty>> {
    let id = run_id(&m.run)?;
    let key = required_str(m.key, "key")?;
    let value = required(m.value, "value")?;
    s.tracking.log_param(&id, Param { key, value }).await?;
    Ok(Json(Empty {}))
}

pub async fn set_tag(
    State(s): State<AppState>,
    Msg(m): Msg<LogKeyValue>,
) -> ApiResult<Json<Empty>> {
    let id = run_id(&m.run)?;
    let key = required_str(m.key, "key")?;
    let value = required(m.value, "value")?;
    s.tracking.set_tag(&id, Tag { key, value }).await?;
    Ok(Json(Empty {}))
}

pub async fn delete_tag(
    State(s): State<AppState>,
    Msg(m): Msg<DeleteTag>,
) -> ApiResult<Json<Empty>> {
    let id = run_id(&m.run)?;
    let key = required_str(m.key, "key")?;
    s.tracking.delete_tag(&id, &key).await?;
    Ok(Json(Empty {}))
}

pub async fn log_batch(State(s): State<AppState>, Msg(m): Msg<LogBatch>) -> ApiResult<Json<Empty>> {
    let id = run_id(&RunRef {
        run_id: m.run_id,
        run_uuid: m.run_uuid,
    })?;
    let metrics = m
        .metrics
        .into_iter()
        .map(|x| {
            x.into_metric()
                .map_err(|f| ApiError::missing(&format!("metrics.{f}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let params = m.params.into_iter().map(KeyValue::param).collect();
    s.tracking
        .log_batch(&id, metrics, params, tags(m.tags))
        .await?;
    Ok(Json(Empty {}))
}

pub async fn log_inputs(
    State(s): State<AppState>,
    Msg(m): Msg<LogInputs>,
) -> ApiResult<Json<Empty>> {
    let id = run_id(&m.run)?;
    let datasets = m.datasets.into_iter().map(Into::into).collect();
    let models = m.models.into_iter().map(Into::into).collect();
    s.tracking.log_inputs(&id, datasets, models).await?;
    Ok(Json(Empty {}))
}

pub async fn log_outputs(
    State(s): State<AppState>,
    Msg(m): Msg<LogOutputs>,
) -> ApiResult<Json<Empty>> {
    let id = run_id(&m.run)?;
    s.tracking
        .log_outputs(&id, m.models.into_iter().map(Into::into).collect())
        .await?;
    Ok(Json(Empty {}))
}

pub async fn search(
    State(s): State<AppState>,
    Msg(m): Msg<SearchRuns>,
) -> ApiResult<Json<SearchRunsResponse>> {
    let page = s
        .tracking
        .search_runs(RunSearch {
            experiment_ids: m.experiment_ids,
            filter: m.filter.unwrap_or_default(),
            view: view_type(m.run_view_type.as_deref())?,
            max_results: m.max_results,
            order_by: m.order_by,
            page_token: m.page_token,
        })
        .await?;
    Ok(Json(SearchRunsResponse {
        runs: page.items.iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}
