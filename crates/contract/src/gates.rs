//! Gate evaluations and the alias compare-and-set, as `/api/cairn/v1/gate-evaluations` and
//! `/api/cairn/v1/models/{name}/aliases/{alias}` serve them.

use std::collections::BTreeMap;

use cairn_domain::gate_evaluation::{
    Action, Decision, GateEvaluation, GateEvaluationRecord, PinnedAlias, RuleOutcome, RuleResult,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

/// `PUT /models/{name}/aliases/{alias}`: move the alias only if it is still where the caller pinned it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AliasBody {
    /// The version to point the alias at.
    #[schema(example = "5")]
    pub version: String,
    /// Required: the version the alias must still point at, or `null` for "must still be unset".
    /// When it moved, the answer is 409 `RESOURCE_CONFLICT` and nothing changes.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = true, example = "4")]
    pub expected_version: Option<Option<String>>,
}

/// A field that may be `null` but must be there: `None` when absent, `Some(None)` when `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Where the alias points now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AliasResponse {
    pub name: String,
    pub alias: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionDto {
    Passed,
    Failed,
    Inconclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcomeDto {
    Passed,
    Failed,
    /// A comparison with no baseline yet: it does not fail the gate.
    Skipped,
    Inconclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionDto {
    Promoted,
    NotPromoted,
    /// Every gate passed but the alias moved away from the pinned baseline first.
    LostRace,
}

/// One rule as evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleResultDto {
    pub name: String,
    pub metric: String,
    /// The rule as written, e.g. `>= 0.8` or `>= @champion + 0.002`.
    pub rule: String,
    pub observed: Option<f64>,
    pub baseline: Option<f64>,
    pub threshold: Option<f64>,
    pub outcome: RuleOutcomeDto,
    #[serde(default)]
    pub note: String,
}

/// An alias and the version it pointed at when the gates started (`null`: unset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PinnedAliasDto {
    pub alias: String,
    pub version: Option<String>,
}

/// A gate evaluation, as a pipeline reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateEvaluationBody {
    pub pipeline_run_id: String,
    #[serde(default)]
    pub pipeline: String,
    #[serde(default)]
    pub model_name: Option<String>,
    #[serde(default)]
    pub model_version: Option<String>,
    /// Every metric the stages logged (`null`: not a number).
    #[serde(default)]
    pub metrics: BTreeMap<String, Option<f64>>,
    #[serde(default)]
    pub baselines: Vec<PinnedAliasDto>,
    #[serde(default)]
    pub dataset_digest: Option<String>,
    #[serde(default)]
    pub rules: Vec<RuleResultDto>,
    pub decision: DecisionDto,
    pub action: ActionDto,
    #[serde(default)]
    pub action_detail: String,
}

/// A stored evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GateEvaluationDto {
    pub id: i64,
    pub actor: String,
    pub created_ms: i64,
    #[serde(flatten)]
    pub evaluation: GateEvaluationBody,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GateEvaluationResponse {
    pub gate_evaluation: GateEvaluationDto,
}

/// Newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GateEvaluationsResponse {
    pub gate_evaluations: Vec<GateEvaluationDto>,
}

impl From<Decision> for DecisionDto {
    fn from(d: Decision) -> Self {
        match d {
            Decision::Passed => Self::Passed,
            Decision::Failed => Self::Failed,
            Decision::Inconclusive => Self::Inconclusive,
        }
    }
}

impl From<DecisionDto> for Decision {
    fn from(d: DecisionDto) -> Self {
        match d {
            DecisionDto::Passed => Self::Passed,
            DecisionDto::Failed => Self::Failed,
            DecisionDto::Inconclusive => Self::Inconclusive,
        }
    }
}

impl From<RuleOutcome> for RuleOutcomeDto {
    fn from(o: RuleOutcome) -> Self {
        match o {
            RuleOutcome::Passed => Self::Passed,
            RuleOutcome::Failed => Self::Failed,
            RuleOutcome::Skipped => Self::Skipped,
            RuleOutcome::Inconclusive => Self::Inconclusive,
        }
    }
}

impl From<RuleOutcomeDto> for RuleOutcome {
    fn from(o: RuleOutcomeDto) -> Self {
        match o {
            RuleOutcomeDto::Passed => Self::Passed,
            RuleOutcomeDto::Failed => Self::Failed,
            RuleOutcomeDto::Skipped => Self::Skipped,
            RuleOutcomeDto::Inconclusive => Self::Inconclusive,
        }
    }
}

impl From<Action> for ActionDto {
    fn from(a: Action) -> Self {
        match a {
            Action::Promoted => Self::Promoted,
            Action::NotPromoted => Self::NotPromoted,
            Action::LostRace => Self::LostRace,
        }
    }
}

impl From<ActionDto> for Action {
    fn from(a: ActionDto) -> Self {
        match a {
            ActionDto::Promoted => Self::Promoted,
            ActionDto::NotPromoted => Self::NotPromoted,
            ActionDto::LostRace => Self::LostRace,
        }
    }
}

impl From<RuleResult> for RuleResultDto {
    fn from(r: RuleResult) -> Self {
        Self {
            name: r.name,
            metric: r.metric,
            rule: r.rule,
            observed: r.observed,
            baseline: r.baseline,
            threshold: r.threshold,
            outcome: r.outcome.into(),
            note: r.note,
        }
    }
}

impl From<RuleResultDto> for RuleResult {
    fn from(r: RuleResultDto) -> Self {
        Self {
            name: r.name,
            metric: r.metric,
            rule: r.rule,
            observed: r.observed,
            baseline: r.baseline,
            threshold: r.threshold,
            outcome: r.outcome.into(),
            note: r.note,
        }
    }
}

impl From<GateEvaluationRecord> for GateEvaluationBody {
    fn from(r: GateEvaluationRecord) -> Self {
        Self {
            pipeline_run_id: r.pipeline_run_id,
            pipeline: r.pipeline,
            model_name: r.model_name,
            model_version: r.model_version.map(|v| v.to_string()),
            metrics: r.metrics,
            baselines: r
                .baselines
                .into_iter()
                .map(|b| PinnedAliasDto {
                    alias: b.alias,
                    version: b.version.map(|v| v.to_string()),
                })
                .collect(),
            dataset_digest: r.dataset_digest,
            rules: r.rules.into_iter().map(Into::into).collect(),
            decision: r.decision.into(),
            action: r.action.into(),
            action_detail: r.action_detail,
        }
    }
}

/// A version number as the wire spells it ("3"); `Err` names the field.
fn version(field: &str, v: Option<String>) -> Result<Option<i64>, String> {
    v.map(|s| {
        s.trim()
            .parse::<i64>()
            .map_err(|_| format!("'{field}' must be a version number, got '{s}'."))
    })
    .transpose()
}

impl GateEvaluationBody {
    /// The domain's record; `Err` says which version field is not a number.
    pub fn into_record(self) -> Result<GateEvaluationRecord, String> {
        let mut baselines = Vec::with_capacity(self.baselines.len());
        for b in self.baselines {
            baselines.push(PinnedAlias {
                version: version("baselines.version", b.version)?,
                alias: b.alias,
            });
        }
        Ok(GateEvaluationRecord {
            pipeline_run_id: self.pipeline_run_id,
            pipeline: self.pipeline,
            model_name: self.model_name,
            model_version: version("model_version", self.model_version)?,
            metrics: self.metrics,
            baselines,
            dataset_digest: self.dataset_digest,
            rules: self.rules.into_iter().map(Into::into).collect(),
            decision: self.decision.into(),
            action: self.action.into(),
            action_detail: self.action_detail,
        })
    }
}

impl From<GateEvaluation> for GateEvaluationDto {
    fn from(e: GateEvaluation) -> Self {
        Self {
            id: e.id,
            actor: e.actor,
            created_ms: e.created_ms,
            evaluation: e.record.into(),
        }
    }
}
