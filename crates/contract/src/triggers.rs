//! Triggers on the wire: what `/api/cairn/v1/triggers` and `/api/cairn/v1/pipelines/{name}/triggers…`
//! take and answer.

use cairn_domain::trigger::{Fire, Trigger};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One firing of a trigger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FireDto {
    /// What made it unique: a cron slot (ms), a digest, `alert:<id>`, `key:<idempotency key>`.
    pub slot: String,
    /// `started` (a run was queued) or `skipped` (concurrency or cooldown: see `reason`).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub pipeline_run_id: Option<String>,
    #[schema(value_type = Object)]
    pub cause: Value,
    pub fired_by: String,
    pub fired_ms: i64,
}

impl From<&Fire> for FireDto {
    fn from(f: &Fire) -> Self {
        Self {
            slot: f.slot.clone(),
            outcome: f.outcome.as_str().to_owned(),
            reason: f.reason.clone(),
            pipeline_run_id: f.run_id.clone(),
            cause: f.cause.clone(),
            fired_by: f.actor.clone(),
            fired_ms: f.fired_ms,
        }
    }
}

/// A registered pipeline's trigger, its next cron slot and its latest firings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TriggerDto {
    pub pipeline: String,
    pub name: String,
    /// `cron`, `watch`, `alert`, `registry` or `manual`.
    pub kind: String,
    /// As `cairn.yaml` writes it, with every default filled in.
    #[schema(value_type = Object)]
    pub spec: Value,
    pub paused: bool,
    /// A cron trigger's next slot (not while paused).
    pub next_fire_ms: Option<i64>,
    /// Newest first.
    pub last_fires: Vec<FireDto>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl TriggerDto {
    pub fn new(t: &Trigger, next_fire_ms: Option<i64>, fires: &[Fire]) -> Self {
        Self {
            pipeline: t.pipeline.clone(),
            name: t.name.clone(),
            kind: t.spec.kind.name().to_owned(),
            spec: t.spec.to_json(),
            paused: t.paused,
            next_fire_ms,
            last_fires: fires.iter().map(FireDto::from).collect(),
            created_ms: t.created_ms,
            updated_ms: t.updated_ms,
        }
    }
}

/// `{"triggers": […]}`, by pipeline and name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TriggersResponse {
    pub triggers: Vec<TriggerDto>,
}

/// `{"trigger": …}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TriggerResponse {
    pub trigger: TriggerDto,
}

/// Fires a trigger by hand.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct FireBody {
    /// The same key again (on any server) starts no second run: it answers the first firing's run.
    /// The `Idempotency-Key` header works too.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Whether this call started a run, and which run answers it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FireResponse {
    /// `true` when this call queued a new run.
    pub fired: bool,
    /// The run this firing (or the earlier one with the same key) started; none when skipped.
    pub pipeline_run_id: Option<String>,
    /// `started` or `skipped`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
