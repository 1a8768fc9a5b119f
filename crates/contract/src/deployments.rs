//! Deployments on the wire: what `/api/cairn/v1/deployments…` takes and answers.

use cairn_domain::deployment::{
    Condition, Deployment, DeploymentEvent, DeploymentState, DeploymentStatus, Resolved,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A share of traffic for a canary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CanaryDto {
    /// `models:/name@alias` or `models:/name/N`.
    #[schema(example = "models:/churn@challenger")]
    pub model: String,
    /// Percent of requests, 1–99.
    #[schema(example = 10)]
    pub weight: i64,
}

/// A registered model version that serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServingModelDto {
    pub name: String,
    /// As a decimal string, like MLflow's versions.
    #[schema(example = "3")]
    pub version: String,
    /// For the canary: its percent of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u8>,
}

/// What a deployment serves now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ServingDto {
    pub primary: ServingModelDto,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<ServingModelDto>,
}

/// A deployment's spec and what it serves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StateDto {
    /// The model it serves: an alias it follows, or a pinned version.
    #[schema(example = "models:/churn@champion")]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryDto>,
    /// The share of requests whose inputs and outputs are logged for monitoring, 0–1.
    #[serde(default = "every")]
    #[schema(example = 1.0)]
    pub log_sample: f64,
    pub serving: ServingDto,
}

fn every() -> f64 {
    1.0
}

/// A deployment: a named endpoint, served at `/v2/models/{name}/…` and
/// `/serving-endpoints/{name}/invocations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentDto {
    pub name: String,
    #[serde(flatten)]
    pub state: StateDto,
    /// Grows by one with every change.
    pub revision: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// `serving` (it serves what its spec asks for), `rolling_out` (an alias it follows moved; the new
    /// version is on its way), or `degraded` (what it asks for cannot be served; it keeps serving what
    /// it served, and `problem` says why).
    #[schema(example = "serving")]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `{"deployment": …}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentResponse {
    pub deployment: DeploymentDto,
}

/// `{"deployments": […]}`, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentsResponse {
    pub deployments: Vec<DeploymentDto>,
}

/// One change to a deployment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentEventDto {
    /// Position in the deployment events' log (increasing, shared by every deployment).
    pub seq: i64,
    /// The deployment's revision after the change: 1, 2, 3 … per deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeploymentEventsResponse {
    pub events: Vec<DeploymentEventDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

/// The body of create (with `name`) and update (without).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct DeploymentBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[schema(example = "models:/churn@champion")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryDto>,
    /// The share of requests logged for monitoring, 0–1 (default 1: every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = 0.1)]
    pub log_sample: Option<f64>,
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
            log_sample: s.spec.log_sample.get(),
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

impl DeploymentDto {
    pub fn new(d: &Deployment, condition: &Condition) -> Self {
        DeploymentDto {
            name: d.name.clone(),
            state: (&d.state).into(),
            revision: d.revision,
            created_ms: d.created_ms,
            updated_ms: d.updated_ms,
            status: condition.status.as_str().to_owned(),
            problem: condition.problem.clone(),
        }
    }

    /// Is it degraded?
    pub fn degraded(&self) -> bool {
        self.status == DeploymentStatus::Degraded.as_str()
    }
}

impl From<&DeploymentEvent> for DeploymentEventDto {
    fn from(e: &DeploymentEvent) -> Self {
        DeploymentEventDto {
            seq: e.seq,
            revision: e.revision,
            kind: e.kind.as_str().to_owned(),
            actor: e.actor.clone(),
            timestamp_ms: e.timestamp_ms,
            before: e.before.as_ref().map(Into::into),
            after: e.after.as_ref().map(Into::into),
        }
    }
}
