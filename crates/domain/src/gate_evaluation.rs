//! A stored gate evaluation: what a pipeline's gates saw (metrics, the baseline versions pinned per
//! alias, the dataset digest), what each rule decided, the overall decision and what was done about it
//! (promoted, not promoted, lost the alias race). Linked to the pipeline run and the model version, and
//! recorded on the change log with the write — the audit trail of every promotion.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::validation::validate_no_nul;

/// The most rules one evaluation may carry.
pub const MAX_RULES: usize = 1000;
/// The longest text field (ids, names, notes).
const MAX_TEXT: usize = 8000;

/// The overall outcome: fail if any rule failed, else inconclusive if any was, else passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Passed,
    Failed,
    Inconclusive,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Passed => "passed",
            Decision::Failed => "failed",
            Decision::Inconclusive => "inconclusive",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "passed" => Some(Decision::Passed),
            "failed" => Some(Decision::Failed),
            "inconclusive" => Some(Decision::Inconclusive),
            _ => None,
        }
    }
}

/// One rule's verdict. `skipped` is a comparison with no baseline yet: it does not fail the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleOutcome {
    Passed,
    Failed,
    Skipped,
    Inconclusive,
}

/// What was done after the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The alias now points at the candidate.
    Promoted,
    /// A gate failed or was inconclusive, there is no alias to move, or promotion was not asked for.
    NotPromoted,
    /// Every gate passed, but the alias moved away from the pinned baseline before the move.
    LostRace,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Promoted => "promoted",
            Action::NotPromoted => "not_promoted",
            Action::LostRace => "lost_race",
        }
    }
}

/// One rule as evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleResult {
    pub name: String,
    pub metric: String,
    /// The rule as written: `>= 0.8`, `>= @champion + 0.002`.
    pub rule: String,
    /// The candidate's value (`None`: missing or not a number).
    pub observed: Option<f64>,
    pub baseline: Option<f64>,
    pub threshold: Option<f64>,
    pub outcome: RuleOutcome,
    /// Why, for people (`skipped: no baseline yet …`).
    pub note: String,
}

/// An alias the gates compared against (or promotion moves), and the version it pointed at when the
/// gates started (`None`: unset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedAlias {
    pub alias: String,
    pub version: Option<i64>,
}

/// A gate evaluation as the pipeline reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateEvaluationRecord {
    /// The pipeline's MLflow run.
    pub pipeline_run_id: String,
    pub pipeline: String,
    /// `promote.name`, when the pipeline promotes.
    pub model_name: Option<String>,
    /// The candidate version registered by this run, if any.
    pub model_version: Option<i64>,
    /// Every metric the stages logged.
    pub metrics: BTreeMap<String, Option<f64>>,
    pub baselines: Vec<PinnedAlias>,
    /// Content digest of the evaluation dataset, when the gates scored one.
    pub dataset_digest: Option<String>,
    pub rules: Vec<RuleResult>,
    pub decision: Decision,
    pub action: Action,
    /// What the action was, in words (`promoted v3 to @champion`).
    pub action_detail: String,
}

impl GateEvaluationRecord {
    /// Checks what the store cannot: sizes, empty ids, NUL bytes.
    pub fn validate(&self) -> Result<(), DomainError> {
        let text = |field: &str, v: &str| -> Result<(), DomainError> {
            validate_no_nul(field, v)?;
            if v.len() > MAX_TEXT {
                return Err(DomainError::InvalidParameter(format!(
                    "'{field}' is longer than {MAX_TEXT} characters."
                )));
            }
            Ok(())
        };
        if self.pipeline_run_id.trim().is_empty() {
            return Err(DomainError::InvalidParameter(
                "'pipeline_run_id' must not be empty.".into(),
            ));
        }
        text("pipeline_run_id", &self.pipeline_run_id)?;
        text("pipeline", &self.pipeline)?;
        text("action_detail", &self.action_detail)?;
        if let Some(m) = &self.model_name {
            text("model_name", m)?;
        }
        if let Some(d) = &self.dataset_digest {
            text("dataset_digest", d)?;
        }
        if self.model_version.is_some_and(|v| v < 1) {
            return Err(DomainError::InvalidParameter(
                "'model_version' must be a version number ≥ 1.".into(),
            ));
        }
        if self.model_version.is_some() && self.model_name.is_none() {
            return Err(DomainError::InvalidParameter(
                "'model_version' needs 'model_name'.".into(),
            ));
        }
        if self.rules.len() > MAX_RULES || self.metrics.len() > MAX_RULES {
            return Err(DomainError::InvalidParameter(format!(
                "at most {MAX_RULES} rules and metrics per evaluation."
            )));
        }
        for r in &self.rules {
            text("rules.name", &r.name)?;
            text("rules.metric", &r.metric)?;
            text("rules.rule", &r.rule)?;
            text("rules.note", &r.note)?;
        }
        for (k, _) in self.metrics.iter() {
            text("metrics", k)?;
        }
        for b in &self.baselines {
            text("baselines.alias", &b.alias)?;
        }
        Ok(())
    }
}

/// A stored evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateEvaluation {
    /// Assigned by the store, increasing.
    pub id: i64,
    pub actor: String,
    pub created_ms: i64,
    #[serde(flatten)]
    pub record: GateEvaluationRecord,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> GateEvaluationRecord {
        GateEvaluationRecord {
            pipeline_run_id: "r1".into(),
            pipeline: "p".into(),
            model_name: Some("m".into()),
            model_version: Some(1),
            metrics: BTreeMap::new(),
            baselines: vec![],
            dataset_digest: None,
            rules: vec![],
            decision: Decision::Passed,
            action: Action::Promoted,
            action_detail: String::new(),
        }
    }

    #[test]
    fn validation_refuses_what_the_store_cannot_hold() {
        assert!(record().validate().is_ok());
        let mut r = record();
        r.pipeline_run_id = " ".into();
        assert!(r.validate().is_err());
        let mut r = record();
        r.model_version = Some(0);
        assert!(r.validate().is_err());
        let mut r = record();
        r.model_name = None;
        assert!(r.validate().is_err());
        let mut r = record();
        r.pipeline = "a\0b".into();
        assert!(r.validate().is_err());
    }
}
