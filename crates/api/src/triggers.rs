//! Triggers: listing, pausing and firing a registered pipeline's triggers, and a pipeline's runs
//! with their causes.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use cairn_contract::{
    ErrorBody, FireBody, FireResponse, PipelineRunsResponse, TriggerDto, TriggerResponse,
    TriggersResponse,
};
use cairn_domain::trigger::{Fire, Trigger};
use cairn_service::{Actor, Pipelines, Triggers};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Params, Segment};

type Who = Option<Extension<Actor>>;

fn who(actor: &Who) -> &str {
    actor.as_ref().map_or("", |Extension(a)| a.as_str())
}

fn dto(t: &Trigger, fires: &[Fire]) -> TriggerDto {
    TriggerDto::new(t, cairn_service::next_fire(t), fires)
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ListParams {
    /// Only this pipeline's triggers.
    pipeline: Option<String>,
}

/// Every registered pipeline's triggers, with their next slot and latest firings.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/triggers",
    tag = "triggers",
    params(ListParams),
    responses((status = 200, description = "By pipeline and name", body = TriggersResponse))
)]
pub(crate) async fn list(
    State(t): State<Triggers>,
    Params(q): Params<ListParams>,
) -> Result<Json<TriggersResponse>, ApiError> {
    let list = t.list(q.pipeline.as_deref()).await?;
    Ok(Json(TriggersResponse {
        triggers: list.iter().map(|(t, f)| dto(t, f)).collect(),
    }))
}

/// A pipeline's triggers.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipelines/{name}/triggers",
    tag = "triggers",
    params(("name" = String, Path, description = "The registered pipeline")),
    responses((status = 200, description = "By name", body = TriggersResponse))
)]
pub(crate) async fn list_of_pipeline(
    State(t): State<Triggers>,
    Segment(name): Segment<String>,
) -> Result<Json<TriggersResponse>, ApiError> {
    let list = t.list(Some(&name)).await?;
    Ok(Json(TriggersResponse {
        triggers: list.iter().map(|(t, f)| dto(t, f)).collect(),
    }))
}

/// Fires a trigger by hand (any trigger can be). With an idempotency key (body or
/// `Idempotency-Key` header), once per key across every server: the same key again answers
/// `fired: false` with the first call's run.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/pipelines/{name}/triggers/{trigger}/fire",
    tag = "triggers",
    params(
        ("name" = String, Path, description = "The registered pipeline"),
        ("trigger" = String, Path, description = "The trigger's name"),
        ("Idempotency-Key" = Option<String>, Header, description = "Starts one run per key"),
    ),
    request_body(content = FireBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Whether a run started, and which", body = FireResponse),
        (status = 400, description = "A bad key", body = ErrorBody),
        (status = 404, description = "No such pipeline or trigger", body = ErrorBody),
    )
)]
pub(crate) async fn fire(
    State(t): State<Triggers>,
    actor: Who,
    headers: HeaderMap,
    Segment((name, trigger)): Segment<(String, String)>,
    body: Option<Json<FireBody>>,
) -> Result<Json<FireResponse>, ApiError> {
    let header_key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| ApiError::invalid("the Idempotency-Key header must be text"))
        })
        .transpose()?;
    let key = body.and_then(|Json(b)| b.idempotency_key).or(header_key);
    let r = t
        .fire_by_hand(&name, &trigger, key.as_deref(), who(&actor))
        .await?;
    Ok(Json(FireResponse {
        fired: r.started(),
        pipeline_run_id: r.fired.fire.run_id.clone(),
        outcome: r.fired.fire.outcome.as_str().to_owned(),
        reason: r.fired.fire.reason.clone(),
    }))
}

async fn set_paused(
    t: &Triggers,
    actor: &Who,
    name: &str,
    trigger: &str,
    paused: bool,
) -> Result<Json<TriggerResponse>, ApiError> {
    let updated = t.set_paused(name, trigger, paused, who(actor)).await?;
    let fires = t.fires(name, trigger, cairn_service::LAST_FIRES).await?;
    Ok(Json(TriggerResponse {
        trigger: dto(&updated, &fires),
    }))
}

/// Pauses a trigger: it no longer fires on its own (by hand it still does).
#[utoipa::path(
    post,
    path = "/api/cairn/v1/pipelines/{name}/triggers/{trigger}/pause",
    tag = "triggers",
    params(
        ("name" = String, Path, description = "The registered pipeline"),
        ("trigger" = String, Path, description = "The trigger's name"),
    ),
    responses(
        (status = 200, description = "The trigger, paused", body = TriggerResponse),
        (status = 404, description = "No such pipeline or trigger", body = ErrorBody),
    )
)]
pub(crate) async fn pause(
    State(t): State<Triggers>,
    actor: Who,
    Segment((name, trigger)): Segment<(String, String)>,
) -> Result<Json<TriggerResponse>, ApiError> {
    set_paused(&t, &actor, &name, &trigger, true).await
}

/// Resumes a paused trigger.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/pipelines/{name}/triggers/{trigger}/resume",
    tag = "triggers",
    params(
        ("name" = String, Path, description = "The registered pipeline"),
        ("trigger" = String, Path, description = "The trigger's name"),
    ),
    responses(
        (status = 200, description = "The trigger, resumed", body = TriggerResponse),
        (status = 404, description = "No such pipeline or trigger", body = ErrorBody),
    )
)]
pub(crate) async fn resume(
    State(t): State<Triggers>,
    actor: Who,
    Segment((name, trigger)): Segment<(String, String)>,
) -> Result<Json<TriggerResponse>, ApiError> {
    set_paused(&t, &actor, &name, &trigger, false).await
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct RunsParams {
    /// At most this many (1–1000, default 100).
    max_results: Option<usize>,
    /// From a previous response's `next_page_token`.
    page_token: Option<String>,
}

/// A pipeline's runs, newest first, each with its status and cause (`{"kind": "cron|watch|alert|
/// registry|manual", "trigger", …}`).
#[utoipa::path(
    get,
    path = "/api/cairn/v1/pipelines/{name}/runs",
    tag = "triggers",
    params(("name" = String, Path, description = "The pipeline"), RunsParams),
    responses(
        (status = 200, description = "Newest first", body = PipelineRunsResponse),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 404, description = "No such pipeline, or the page token names no run", body = ErrorBody),
    )
)]
pub(crate) async fn runs(
    State(p): State<Pipelines>,
    Segment(name): Segment<String>,
    Params(q): Params<RunsParams>,
) -> Result<Json<PipelineRunsResponse>, ApiError> {
    if q.page_token.is_none() {
        // An unknown name is a 404, not an empty list.
        let none = p.list_runs(Some(&name), None, 1).await?.is_empty();
        if none {
            p.get(&name, None).await?;
        }
    }
    crate::pipelines::runs_page(&p, Some(&name), q.page_token.as_deref(), q.max_results).await
}
