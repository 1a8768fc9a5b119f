//! Deployments: create, read, change, roll back, delete, and their history.

use axum::Json;
use axum::extract::{Extension, State};
use cairn_contract::{
    DeploymentBody, DeploymentDto, DeploymentEventsResponse, DeploymentResponse,
    DeploymentsResponse, ErrorBody,
};
use cairn_domain::deployment::Deployment;
use cairn_service::{Actor, DeploymentRequest, Deployments};
use serde_json::{Value, json};

use crate::error::{ApiError, Body, Params, Segment};
use crate::history::PageParams;

type Who = Option<Extension<Actor>>;

fn who(actor: &Who) -> &str {
    actor.as_ref().map_or("", |Extension(a)| a.as_str())
}

fn request(body: DeploymentBody) -> Result<(Option<String>, DeploymentRequest), ApiError> {
    let model = body
        .model
        .filter(|m| !m.is_empty())
        .ok_or_else(|| ApiError::missing("model"))?;
    let (canary, weight) = match body.canary {
        Some(c) => (Some(c.model), Some(c.weight)),
        None => (None, None),
    };
    Ok((
        body.name,
        DeploymentRequest {
            model,
            canary,
            weight,
            log_sample: body.log_sample,
            rollout: body.rollout.filter(|r| !r.is_empty()),
            candidate_alias: body.candidate_alias.filter(|a| !a.is_empty()),
        },
    ))
}

/// A deployment with its condition, as the contract shows it.
async fn dto(d: &Deployments, deployment: &Deployment) -> Result<DeploymentDto, ApiError> {
    let condition = d.condition(deployment).await?;
    Ok(DeploymentDto::new(deployment, &condition))
}

async fn one(
    d: &Deployments,
    deployment: &Deployment,
) -> Result<Json<DeploymentResponse>, ApiError> {
    Ok(Json(DeploymentResponse {
        deployment: dto(d, deployment).await?,
    }))
}

/// Creates a deployment bound to a registered model's alias or version, with an optional canary.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/deployments",
    tag = "deployments",
    request_body = DeploymentBody,
    responses(
        (status = 200, description = "The deployment", body = DeploymentResponse),
        (status = 400, description = "Bad reference, weight or name; the alias does not exist; the name \
                                      is taken (`RESOURCE_ALREADY_EXISTS`)", body = ErrorBody),
        (status = 404, description = "No such registered model or version", body = ErrorBody),
    )
)]
pub(crate) async fn create(
    State(d): State<Deployments>,
    actor: Who,
    Body(body): Body<DeploymentBody>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    let (name, req) = request(body)?;
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::missing("name"))?;
    one(&d, &d.create(&name, &req, who(&actor)).await?).await
}

/// All deployments, by name, each with its status.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/deployments",
    tag = "deployments",
    responses((status = 200, description = "Every deployment", body = DeploymentsResponse))
)]
pub(crate) async fn list(
    State(d): State<Deployments>,
) -> Result<Json<DeploymentsResponse>, ApiError> {
    let mut deployments = Vec::new();
    for deployment in d.list().await? {
        deployments.push(dto(&d, &deployment).await?);
    }
    Ok(Json(DeploymentsResponse { deployments }))
}

/// A deployment: its spec, what it serves, and whether that is what the spec asks for (`status`,
/// `problem`). Reading changes nothing.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/deployments/{name}",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentResponse),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    State(d): State<Deployments>,
    Segment(name): Segment<String>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    one(&d, &d.get(&name).await?).await
}

/// Replaces a deployment's model and canary.
#[utoipa::path(
    put,
    path = "/api/cairn/v1/deployments/{name}",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name")),
    request_body = DeploymentBody,
    responses(
        (status = 200, description = "The deployment", body = DeploymentResponse),
        (status = 400, description = "Bad reference or weight", body = ErrorBody),
        (status = 404, description = "No such deployment, model or version", body = ErrorBody),
    )
)]
pub(crate) async fn update(
    State(d): State<Deployments>,
    actor: Who,
    Segment(name): Segment<String>,
    Body(body): Body<DeploymentBody>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    let (body_name, req) = request(body)?;
    if body_name.is_some_and(|n| !n.is_empty() && n != name) {
        return Err(ApiError::invalid(
            "A deployment cannot be renamed: the name in the body differs from the path.",
        ));
    }
    one(&d, &d.update(&name, &req, who(&actor)).await?).await
}

/// Deletes a deployment; its history stays readable.
#[utoipa::path(
    delete,
    path = "/api/cairn/v1/deployments/{name}",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name")),
    responses(
        (status = 200, description = "`{}`"),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub(crate) async fn delete(
    State(d): State<Deployments>,
    actor: Who,
    Segment(name): Segment<String>,
) -> Result<Json<Value>, ApiError> {
    d.delete(&name, who(&actor)).await?;
    Ok(Json(json!({})))
}

/// Returns the deployment to what it served before, pinned to those versions.
///
/// A deployment that followed an alias stops following it (so that the alias cannot roll it forward
/// again); update it with the alias to follow it anew.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/deployments/{name}/rollback",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name")),
    responses(
        (status = 200, description = "The deployment", body = DeploymentResponse),
        (status = 400, description = "It has served nothing else", body = ErrorBody),
        (status = 404, description = "No such deployment", body = ErrorBody),
    )
)]
pub(crate) async fn rollback(
    State(d): State<Deployments>,
    actor: Who,
    Segment(name): Segment<String>,
) -> Result<Json<DeploymentResponse>, ApiError> {
    one(&d, &d.rollback(&name, who(&actor)).await?).await
}

/// A deployment's history, oldest first: every change of spec, every alias move it followed, every
/// rollback — what, who, when, from → to, and the revision each change left it at.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/deployments/{name}/history",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name"), PageParams),
    responses(
        (status = 200, description = "Events, oldest first", body = DeploymentEventsResponse),
        (status = 404, description = "No deployment of that name ever existed", body = ErrorBody),
    )
)]
pub(crate) async fn history(
    State(d): State<Deployments>,
    Segment(name): Segment<String>,
    Params(params): Params<PageParams>,
) -> Result<Json<DeploymentEventsResponse>, ApiError> {
    let page = d.history(&name, params.request()?).await?;
    Ok(Json(DeploymentEventsResponse {
        events: page.items.iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}
