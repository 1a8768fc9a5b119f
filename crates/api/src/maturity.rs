//! The maturity tracker: every model's level from evidence, and one model's six rungs.

use axum::Json;
use axum::extract::State;
use cairn_contract::{ErrorBody, MaturityDto, MaturityListResponse, ReachedDto};
use cairn_service::MaturityTracker;

use crate::error::{ApiError, Segment};

/// Every registered model's maturity level, with its next step, and how many models stand on each
/// level.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/maturity",
    tag = "maturity",
    responses((status = 200, description = "Every model, by name", body = MaturityListResponse))
)]
pub(crate) async fn overview(
    State(t): State<MaturityTracker>,
) -> Result<Json<MaturityListResponse>, ApiError> {
    let o = t.overview().await?;
    Ok(Json(MaturityListResponse {
        models: o.models.iter().map(Into::into).collect(),
        per_level: o.per_level.to_vec(),
    }))
}

/// One model's six rungs: each reached or not, the evidence found, what is missing; the next step; and
/// when it reached each level it stands on.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/maturity/{model}",
    tag = "maturity",
    params(("model" = String, Path, description = "Registered model name")),
    responses(
        (status = 200, description = "The model's ladder", body = MaturityDto),
        (status = 404, description = "No such registered model", body = ErrorBody),
    )
)]
pub(crate) async fn model(
    State(t): State<MaturityTracker>,
    Segment(name): Segment<String>,
) -> Result<Json<MaturityDto>, ApiError> {
    let (maturity, history) = t.model(&name).await?;
    let mut dto = MaturityDto::from(&maturity);
    dto.history = history
        .into_iter()
        .map(|r| ReachedDto {
            level: r.level,
            seq: r.seq,
            timestamp_ms: r.timestamp_ms,
        })
        .collect();
    Ok(Json(dto))
}
