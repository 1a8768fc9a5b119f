//! Gate evaluations (stored by pipelines, read by the UI and audits) and the alias compare-and-set
//! that promotion uses so that two pipelines cannot promote over each other.

use axum::Json;
use axum::extract::{Extension, State};
use cairn_contract::{
    AliasBody, AliasResponse, ErrorBody, GateEvaluationBody, GateEvaluationResponse,
    GateEvaluationsResponse,
};
use cairn_service::{Actor, GateRecords, Registry};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Body, Params, Segment};

type Who = Option<Extension<Actor>>;

fn who(actor: &Who) -> &str {
    actor.as_ref().map_or("", |Extension(a)| a.as_str())
}

/// Points an alias at a version only if it still points at `expected_version` (`null`: only if it
/// is unset) — checked and moved in one transaction, recorded on the change log like any alias move.
#[utoipa::path(
    put,
    path = "/api/cairn/v1/models/{name}/aliases/{alias}",
    tag = "registry",
    params(
        ("name" = String, Path, description = "Registered model name"),
        ("alias" = String, Path, description = "Alias to move"),
    ),
    request_body = AliasBody,
    responses(
        (status = 200, description = "The alias now points at the version", body = AliasResponse),
        (status = 400, description = "Bad version or alias, or `expected_version` missing", body = ErrorBody),
        (status = 404, description = "No such model or version", body = ErrorBody),
        (status = 409, description = "The alias moved: `RESOURCE_CONFLICT`, nothing changed", body = ErrorBody),
    )
)]
pub(crate) async fn compare_and_set_alias(
    State(r): State<Registry>,
    actor: Who,
    Segment((name, alias)): Segment<(String, String)>,
    Body(body): Body<AliasBody>,
) -> Result<Json<AliasResponse>, ApiError> {
    let expected = body.expected_version.ok_or_else(|| {
        ApiError::invalid(
            "Missing value for required field 'expected_version' (the version the alias must still \
             point at, or null if it must be unset).",
        )
    })?;
    r.compare_and_set_alias(
        &name,
        &alias,
        &body.version,
        expected.as_deref(),
        who(&actor),
    )
    .await?;
    // The version the move set (read back, it could already show a later move by someone else).
    let version = cairn_domain::registry_rules::parse_version(&body.version)
        .map_or(body.version, |v| v.to_string());
    Ok(Json(AliasResponse {
        name,
        alias,
        version,
    }))
}

/// Stores a gate evaluation (a pipeline's gates: inputs, pinned versions, per-rule values, decision,
/// action), with its change-log entry (topic `gate`).
#[utoipa::path(
    post,
    path = "/api/cairn/v1/gate-evaluations",
    tag = "gates",
    request_body = GateEvaluationBody,
    responses(
        (status = 200, description = "The stored evaluation", body = GateEvaluationResponse),
        (status = 400, description = "Bad field", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(g): State<GateRecords>,
    actor: Who,
    Body(body): Body<GateEvaluationBody>,
) -> Result<Json<GateEvaluationResponse>, ApiError> {
    let record = body.into_record().map_err(ApiError::invalid)?;
    let stored = g.record(&record, who(&actor)).await?;
    Ok(Json(GateEvaluationResponse {
        gate_evaluation: stored.into(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// Only the evaluations of this pipeline run.
    pipeline_run_id: Option<String>,
    /// Only the evaluations of this registered model.
    model: Option<String>,
    /// At most this many (1–1000, default 100).
    max_results: Option<usize>,
}

/// Gate evaluations, newest first.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/gate-evaluations",
    tag = "gates",
    params(ListParams),
    responses(
        (status = 200, description = "Evaluations, newest first", body = GateEvaluationsResponse),
        (status = 400, description = "Bad parameter", body = ErrorBody),
    )
)]
pub(crate) async fn list(
    State(g): State<GateRecords>,
    Params(p): Params<ListParams>,
) -> Result<Json<GateEvaluationsResponse>, ApiError> {
    let found = g.list(p.pipeline_run_id, p.model, p.max_results).await?;
    Ok(Json(GateEvaluationsResponse {
        gate_evaluations: found.into_iter().map(Into::into).collect(),
    }))
}

/// One gate evaluation.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/gate-evaluations/{id}",
    tag = "gates",
    params(("id" = i64, Path, description = "Evaluation id")),
    responses(
        (status = 200, description = "The evaluation", body = GateEvaluationResponse),
        (status = 400, description = "Not an id", body = ErrorBody),
        (status = 404, description = "No such evaluation", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(g): State<GateRecords>,
    Segment(id): Segment<i64>,
) -> Result<Json<GateEvaluationResponse>, ApiError> {
    Ok(Json(GateEvaluationResponse {
        gate_evaluation: g.get(id).await?.into(),
    }))
}
