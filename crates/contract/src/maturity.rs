//! The maturity tracker on the wire: `GET /api/cairn/v1/maturity[/{model}]`, and `cairn maturity --json`.

use cairn_domain::maturity::{Maturity, Rung};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One rung of a model's ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LevelDto {
    /// 1–6.
    pub level: u8,
    #[schema(example = "Automated Deployment")]
    pub name: String,
    #[schema(example = "Medium")]
    pub automation: String,
    #[schema(example = "Faster, repeatable deployments")]
    pub outcome: String,
    /// Its evidence is there, and every rung below is reached.
    pub reached: bool,
    /// What was found: run ids, versions, deployments, change-log sequence numbers.
    pub evidence: Vec<String>,
    /// What is not there yet.
    pub missing: Vec<String>,
}

/// When a model reached a level: the change-log entry that brought its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReachedDto {
    pub level: u8,
    /// The change-log entry (`GET /api/cairn/v1/events`).
    pub seq: i64,
    pub timestamp_ms: i64,
}

/// One model's place on the ladder, with its six rungs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaturityDto {
    pub model: String,
    /// 0–6: the highest rung reached with every rung below it.
    pub level: u8,
    /// The reached level's automation (empty at level 0).
    pub automation: String,
    /// The reached level's outcome (empty at level 0).
    pub outcome: String,
    /// The one step that would reach the next level (empty at level 6).
    pub next_step: String,
    pub levels: Vec<LevelDto>,
    /// When each level it stands on was reached, from the change log (`/maturity/{model}` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<ReachedDto>,
}

/// One line of the organisation overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelLevelDto {
    pub model: String,
    pub level: u8,
    pub automation: String,
    pub outcome: String,
    pub next_step: String,
}

/// Every model's level, and how many models stand on each level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MaturityListResponse {
    pub models: Vec<ModelLevelDto>,
    /// Models per level: index 0 is level 0, …, index 6 level 6.
    pub per_level: Vec<usize>,
}

fn rung(r: &Rung) -> LevelDto {
    LevelDto {
        level: r.level.level,
        name: r.level.name.to_owned(),
        automation: r.level.automation.to_owned(),
        outcome: r.level.outcome.to_owned(),
        reached: r.reached,
        evidence: r.evidence.clone(),
        missing: r.missing.clone(),
    }
}

impl From<&Maturity> for MaturityDto {
    fn from(m: &Maturity) -> Self {
        let current = m.current();
        MaturityDto {
            model: m.model.clone(),
            level: m.level,
            automation: current.map_or_else(String::new, |l| l.automation.to_owned()),
            outcome: current.map_or_else(String::new, |l| l.outcome.to_owned()),
            next_step: m.next_step.clone(),
            levels: m.rungs.iter().map(rung).collect(),
            history: vec![],
        }
    }
}

impl From<&Maturity> for ModelLevelDto {
    fn from(m: &Maturity) -> Self {
        let full = MaturityDto::from(m);
        ModelLevelDto {
            model: full.model,
            level: full.level,
            automation: full.automation,
            outcome: full.outcome,
            next_step: full.next_step,
        }
    }
}
