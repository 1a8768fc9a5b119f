//! Deployments on the wire: what `/api/cairn/v1/deployments…` takes and answers.

use cairn_domain::deployment::{
    Condition, Deployment, DeploymentEvent, DeploymentEventKind, DeploymentState, DeploymentStatus,
    Resolved,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
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
    /// The automatic roll-out policy, its canary in progress and its last decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutDto>,
}

/// A deployment's automatic canary promotion: when its candidate alias moves, the new version serves as
/// a canary at `weight` percent for `duration_ms` (or `requests` requests), then is promoted (the alias
/// the deployment follows moves to it) or rolled back, on the live comparison with the primary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolloutDto {
    /// As given: `canary:10%/15m` or `canary:10%/500req`.
    #[schema(example = "canary:10%/15m")]
    pub policy: String,
    pub weight: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<u64>,
    #[schema(example = "candidate")]
    pub candidate_alias: String,
    /// The canary in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryRunDto>,
    /// The last decision with the numbers it used: `outcome` (`promoted`, `rolled_back`), `version`,
    /// `primary_version`, `canary` and `primary` (`requests`, `errors`, `error_rate`, `p99_ms`),
    /// `max_error_rate`, `max_p99_ms`, `reason`, `started_ms`, `decided_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub last_decision: Option<Value>,
}

/// A canary the roll-out policy started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CanaryRunDto {
    /// The candidate version.
    pub version: i64,
    /// The primary version it is compared with.
    pub primary_version: i64,
    pub started_ms: i64,
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
    /// `created`, `updated`, `rolled_out` (an alias it follows moved), `rolled_back`, `deleted`,
    /// `canary_started`, `canary_promoted`, `canary_rolled_back` (its roll-out policy's steps).
    #[schema(example = "rolled_out")]
    pub kind: String,
    /// Who: the HTTP basic-auth user (for `rolled_out`, whoever moved the alias), or `anonymous`.
    pub actor: String,
    pub timestamp_ms: i64,
    /// Null when it did not exist.
    pub before: Option<StateDto>,
    /// Null once deleted.
    pub after: Option<StateDto>,
    /// For the roll-out policy's steps: `canary_started`, the canary (`version`, `primary_version`,
    /// `started_ms` and the traffic counters it started from); `canary_promoted` and
    /// `canary_rolled_back`, the decision with the numbers it used (as `rollout.last_decision`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<Value>,
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
    /// The automatic roll-out policy: `canary:WEIGHT%/DURATION` (`canary:10%/15m`; s, m, h, d) or
    /// `canary:WEIGHT%/Nreq`. Needs `model` to follow an alias (`models:/name@production`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "canary:10%/15m")]
    pub rollout: Option<String>,
    /// The alias whose moves the policy rolls out (default `candidate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_alias: Option<String>,
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
            rollout: s.spec.rollout.as_ref().map(|p| {
                let status = s.rollout.as_ref();
                RolloutDto {
                    policy: p.text(),
                    weight: p.weight,
                    duration_ms: p.duration_ms,
                    requests: p.requests,
                    candidate_alias: p.candidate_alias.clone(),
                    canary: status
                        .and_then(|r| r.canary.as_ref())
                        .map(|c| CanaryRunDto {
                            version: c.version,
                            primary_version: c.primary_version,
                            started_ms: c.started_ms,
                        }),
                    last_decision: status
                        .and_then(|r| r.last.as_ref())
                        .and_then(|d| serde_json::to_value(d).ok()),
                }
            }),
        }
    }
}

/// What a roll-out step's event carries beyond the states: see [`DeploymentEventDto::detail`].
fn event_detail(e: &DeploymentEvent) -> Option<Value> {
    let status = e.after.as_ref()?.rollout.as_ref()?;
    match e.kind {
        DeploymentEventKind::CanaryStarted => serde_json::to_value(status.canary.as_ref()?).ok(),
        DeploymentEventKind::CanaryPromoted | DeploymentEventKind::CanaryRolledBack => {
            serde_json::to_value(status.last.as_ref()?).ok()
        }
        _ => None,
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
            detail: event_detail(e),
        }
    }
}
