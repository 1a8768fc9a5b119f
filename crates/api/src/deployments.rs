//! Deployments: create, read, change, roll back, delete, and their history.

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use cairn_domain::deployment::{Deployment, DeploymentEvent, DeploymentState, Resolved};
use cairn_mlflow::Msg;
use cairn_mlflow::error::ApiError;
use cairn_service::{Actor, DeploymentRequest, Deployments};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::history::{ErrorDto, PageParams};

type Who = Option<Extension<Actor>>;

fn who(actor: &Who) -> &str {
    actor.as_ref().map_or("", |Extension(a)| a.as_str())
}

/// A share of traffic for a canary.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CanaryDto {
    /// `models:/name@alias` or `models:/name/N`.
    #[schema(example = "models:/churn@challenger")]
    pub model: String,
    /// Percent of requests, 1–99.
    #[schema(example = 10)]
    pub weight: i64,
}

/// A registered model version that serves.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServingModelDto {
    pub name: String,
    /// As a decimal string, like MLflow's versions.
    #[schema(example = "3")]
    pub version: String,
    /// For the canary: its percent of requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
}

/// What a deployment serves now: its references resolved against the registry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServingDto {
    pub primary: ServingModelDto,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<ServingModelDto>,
}

/// A deployment's spec and what it serves.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StateDto {
    /// The model it serves: an alias it follows, or a pinned version.
    #[schema(example = "models:/churn@champion")]
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryDto>,
    pub serving: ServingDto,
}

/// A deployment: a named endpoint, served at `/v2/models/{name}/…` and
/// `/serving-endpoints/{name}/invocations`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentDto {
    pub name: String,
    #[serde(flatten)]
    pub state: StateDto,
    /// Grows by one with every change.
    pub revision: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One change to a deployment.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentEventDto {
    pub seq: i64,
    /// `created`, `updated`, `rolled_out` (an alias it follows moved), `rolled_back`, `deleted`.
    #[schema(example = "rolled_out")]
    pub kind: String,
    /// Who: the HTTP basic-auth user (for `rolled_out`, whoever moved the alias), or `anonymous`.
    pub actor: String,
    pub timestamp_ms: i64,
    /// Null when it did not exist.
    pub before: Option<StateDto>,
    /// Null once deleted.
    pub after: Option<StateDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentEventsResponse {
    pub events: Vec<DeploymentEventDto>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The body of create (with `name`) and update (without).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct DeploymentBody {
    pub name: Option<String>,
    #[schema(example = "models:/churn@champion")]
    pub model: Option<String>,
    pub canary: Option<CanaryDto>,
}

impl DeploymentBody {
    fn request(self) -> Result<(Option<String>, DeploymentRequest), ApiError> {
        let model = self
            .model
            .filter(|m| !m.is_empty())
            .ok_or_else(|| ApiError::missing("model"))?;
        let (canary, weight) = match self.canary {
            Some(c) => (Some(c.model), Some(c.weight)),
            None => (None, None),
        };
        Ok((
            self.name,
            DeploymentRequest {
                model,
                canary,
                weight,
            },
        ))
    }
}

fn model_dto(r: &Resolved, weight: Option<u8>) -> ServingModelDto {
    ServingModelDto {
        name: r.name.clone(),
        version: r.version.to_string(),
        weight,
    }
}

impl From<&DeploymentState> for StateDto {
    fn from(s: &DeploymentState) -> Self {
        StateDto {
            model: s.spec.model.uri(),
            canary: s.spec.canary.as_ref().map(|c| CanaryDto {
                model: c.model.uri(),
                weight: i64::from(c.weight),
            }),
            serving: ServingDto {
                primary: model_dto(&s.serving.primary, None),
                canary: s
                    .serving
                    .canary
                    .as_ref()
                    .map(|c| model_dto(&c.model, Some(c.weight))),
            },
        }
    }
}

impl From<&Deployment> for DeploymentDto {
    fn from(d: &Deployment) -> Self {
        DeploymentDto {
            name: d.name.clone(),
            state: (&d.state).into(),
            revision: d.revision,
            created_ms: d.created_ms,
            updated_ms: d.updated_ms,
        }
    }
}

impl From<&DeploymentEvent> for DeploymentEventDto {
    fn from(e: &DeploymentEvent) -> Self {
        DeploymentEventDto {
            seq: e.seq,
            kind: e.kind.as_str().to_owned(),
            actor: e.actor.clone(),
            timestamp_ms: e.timestamp_ms,
            before: e.before.as_ref().map(Into::into),
            after: e.after.as_ref().map(Into::into),
        }
    }
}

fn one(d: &Deployment) -> Json<Value> {
    Json(json!({ "deployment": DeploymentDto::from(d) }))
}

/// Creates a deployment bound to a registered model's alias or version, with an optional canary.
#[utoipa::path(
    post,
    path = "/api/cairn/v1/deployments",
    tag = "deployments",
    request_body = DeploymentBody,
    responses(
        (status = 200, description = "`{\"deployment\": …}`", body = DeploymentDto),
        (status = 400, description = "Bad reference, weight or name; the alias does not exist; the name \
                                      is taken (`RESOURCE_ALREADY_EXISTS`, as MLflow answers)", body = ErrorDto),
        (status = 404, description = "No such registered model or version", body = ErrorDto),
    )
)]
pub(crate) async fn create(
    State(d): State<Deployments>,
    actor: Who,
    Msg(body): Msg<DeploymentBody>,
) -> Result<Json<Value>, ApiError> {
    let (name, req) = body.request()?;
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::missing("name"))?;
    Ok(one(&d.create(&name, &req, who(&actor)).await?))
}

/// All deployments, by name, each as it serves now.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/deployments",
    tag = "deployments",
    responses((status = 200, description = "`{\"deployments\": […]}`", body = [DeploymentDto]))
)]
pub(crate) async fn list(State(d): State<Deployments>) -> Result<Json<Value>, ApiError> {
    let all: Vec<DeploymentDto> = d.list().await?.iter().map(Into::into).collect();
    Ok(Json(json!({ "deployments": all })))
}

/// A deployment as it serves now (an alias move is recorded before it answers).
#[utoipa::path(
    get,
    path = "/api/cairn/v1/deployments/{name}",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name")),
    responses(
        (status = 200, description = "`{\"deployment\": …}`", body = DeploymentDto),
        (status = 404, description = "No such deployment", body = ErrorDto),
    )
)]
pub(crate) async fn get(
    State(d): State<Deployments>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(one(&d.get(&name).await?))
}

/// Replaces a deployment's model and canary.
#[utoipa::path(
    put,
    path = "/api/cairn/v1/deployments/{name}",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name")),
    request_body = DeploymentBody,
    responses(
        (status = 200, description = "`{\"deployment\": …}`", body = DeploymentDto),
        (status = 400, description = "Bad reference or weight", body = ErrorDto),
        (status = 404, description = "No such deployment, model or version", body = ErrorDto),
    )
)]
pub(crate) async fn update(
    State(d): State<Deployments>,
    actor: Who,
    Path(name): Path<String>,
    Msg(body): Msg<DeploymentBody>,
) -> Result<Json<Value>, ApiError> {
    let (body_name, req) = body.request()?;
    if body_name.is_some_and(|n| !n.is_empty() && n != name) {
        return Err(ApiError::invalid(
            "A deployment cannot be renamed: the name in the body differs from the path.",
        ));
    }
    Ok(one(&d.update(&name, &req, who(&actor)).await?))
}

/// Deletes a deployment; its history stays readable.
#[utoipa::path(
    delete,
    path = "/api/cairn/v1/deployments/{name}",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name")),
    responses(
        (status = 200, description = "`{}`"),
        (status = 404, description = "No such deployment", body = ErrorDto),
    )
)]
pub(crate) async fn delete(
    State(d): State<Deployments>,
    actor: Who,
    Path(name): Path<String>,
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
        (status = 200, description = "`{\"deployment\": …}`", body = DeploymentDto),
        (status = 400, description = "It has served nothing else", body = ErrorDto),
        (status = 404, description = "No such deployment", body = ErrorDto),
    )
)]
pub(crate) async fn rollback(
    State(d): State<Deployments>,
    actor: Who,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(one(&d.rollback(&name, who(&actor)).await?))
}

/// A deployment's history, oldest first: every change of spec, every alias move it followed, every
/// rollback — what, who, when, from → to.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/deployments/{name}/history",
    tag = "deployments",
    params(("name" = String, Path, description = "Deployment name"), PageParams),
    responses(
        (status = 200, description = "Events, oldest first", body = DeploymentEventsResponse),
        (status = 404, description = "No deployment of that name ever existed", body = ErrorDto),
    )
)]
pub(crate) async fn history(
    State(d): State<Deployments>,
    Path(name): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<DeploymentEventsResponse>, ApiError> {
    let page = d.history(&name, params.request()?).await?;
    Ok(Json(DeploymentEventsResponse {
        events: page.items.iter().map(Into::into).collect(),
        next_page_token: page.next_page_token,
    }))
}
