//! `/mlflow/metrics/*`.

use axum::Json;
use axum::extract::State;
use cairn_service::MetricHistoryRequest;

use super::required_str;
use crate::MlflowState as AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::Msg;
use crate::wire::runs::{
    GetMetricHistory, GetMetricHistoryBulkInterval, MetricDto, MetricsResponse,
};

pub async fn history(
    State(s): State<AppState>,
    Msg(m): Msg<GetMetricHistory>,
) -> ApiResult<Json<MetricsResponse>> {
    let run_id = m
        .run
        .id()
        .map(str::to_string)
        .ok_or_else(|| ApiError::missing("run_id"))?;
    let page = s
        .tracking
        .metric_history(MetricHistoryRequest {
            run_id,
            key: required_str(m.metric_key, "metric_key")?,
            max_results: m.max_results,
            page_token: m.page_token,
        })
        .await?;
    Ok(Json(MetricsResponse {
        metrics: page.items.iter().map(MetricDto::from).collect(),
        next_page_token: page.next_page_token,
    }))
}

pub async fn bulk_interval(
    State(s): State<AppState>,
    Msg(m): Msg<GetMetricHistoryBulkInterval>,
) -> ApiResult<Json<MetricsResponse>> {
    let key = required_str(m.metric_key, "metric_key")?;
    let points = s
        .tracking
        .metric_history_bulk_interval(&m.run_ids, &key, m.start_step, m.end_step, m.max_results)
        .await?;
    Ok(Json(MetricsResponse {
        metrics: points
            .iter()
            .map(|p| MetricDto {
                // MetricWithRunId carries only these fields.
                model_id: None,
                dataset_name: None,
                dataset_digest: None,
                ..MetricDto::from(p)
            })
            .collect(),
        next_page_token: None,
    }))
}
