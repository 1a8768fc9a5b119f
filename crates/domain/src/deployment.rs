//! Deployments (maturity level 3): a named serving endpoint bound to a registered model — to an alias it
//! follows, or to a pinned version — with an optional weighted canary. What it serves at any moment is
//! its [`Serving`]: the versions its references resolve to. Every change of spec or of serving is a
//! [`DeploymentEvent`] in the deployment's history.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::rollout::{RolloutPolicy, RolloutStatus};

/// A reference to a registered model: `models:/name@alias` (follows the alias) or `models:/name/3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRef {
    pub name: String,
    #[serde(flatten)]
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Alias(String),
    Version(i64),
}

impl ModelRef {
    /// Parses `models:/name@alias` or `models:/name/N`.
    pub fn parse(uri: &str) -> Result<Self, DomainError> {
        let bad = || {
            DomainError::invalid(format!(
                "'{uri}' is not a registered model reference: expected models:/<name>@<alias> or \
                 models:/<name>/<version>"
            ))
        };
        let rest = uri.strip_prefix("models:/").ok_or_else(bad)?;
        let (name, target) = if let Some((name, alias)) = rest.rsplit_once('@') {
            if alias.is_empty() || alias.contains('/') {
                return Err(bad());
            }
            (name, Target::Alias(alias.to_owned()))
        } else {
            let (name, version) = rest.rsplit_once('/').ok_or_else(bad)?;
            match version.parse::<i64>() {
                Ok(v) if v > 0 => (name, Target::Version(v)),
                _ => return Err(bad()),
            }
        };
        if name.is_empty() {
            return Err(bad());
        }
        Ok(ModelRef {
            name: name.to_owned(),
            target,
        })
    }

    /// The same model, pinned to `version`.
    pub fn pinned(&self, version: i64) -> Self {
        ModelRef {
            name: self.name.clone(),
            target: Target::Version(version),
        }
    }

    pub fn uri(&self) -> String {
        match &self.target {
            Target::Alias(a) => format!("models:/{}@{a}", self.name),
            Target::Version(v) => format!("models:/{}/{v}", self.name),
        }
    }
}

/// A share of traffic sent to another model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    pub model: ModelRef,
    /// Percent of requests, 1–99.
    pub weight: u8,
}

/// What a deployment is asked to serve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    pub model: ModelRef,
    pub canary: Option<Canary>,
    /// The share of requests whose inputs and outputs are logged for monitoring (every one by
    /// default; absent from states stored before prediction logging).
    #[serde(default, skip_serializing_if = "SampleRate::is_every")]
    pub log_sample: SampleRate,
    /// Automatic canary promotion of the versions its candidate alias moves to (absent from states
    /// stored before roll-out policies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutPolicy>,
}

impl DeploymentSpec {
    /// The alias the primary follows, when it follows one.
    pub fn primary_alias(&self) -> Option<&str> {
        match &self.model.target {
            Target::Alias(a) => Some(a),
            Target::Version(_) => None,
        }
    }

    /// A roll-out policy needs a primary that follows an alias other than the candidate, and manages the
    /// canary itself (none may be given with it).
    pub fn validate_rollout(&self) -> Result<(), DomainError> {
        let Some(policy) = &self.rollout else {
            return Ok(());
        };
        let Some(primary) = self.primary_alias() else {
            return Err(DomainError::invalid(format!(
                "A roll-out policy promotes versions by moving the alias the deployment follows, but it \
                 serves the pinned {}: give the model as models:/{}@<alias>",
                self.model.uri(),
                self.model.name
            )));
        };
        if primary == policy.candidate_alias {
            return Err(DomainError::invalid(format!(
                "The candidate alias '{primary}' is the alias the deployment follows: choose another \
                 (--candidate-alias)"
            )));
        }
        if self.canary.is_some() {
            return Err(DomainError::invalid(
                "A deployment with a roll-out policy runs its canaries itself: give no canary with it",
            ));
        }
        Ok(())
    }
}

/// A sampling rate in [0, 1], kept as parts per million so that specs compare exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct SampleRate(u32);

const PER_MILLION: u32 = 1_000_000;

impl SampleRate {
    pub const EVERY: SampleRate = SampleRate(PER_MILLION);
    pub const NONE: SampleRate = SampleRate(0);

    pub fn new(rate: f64) -> Result<Self, DomainError> {
        if (0.0..=1.0).contains(&rate) {
            Ok(SampleRate((rate * f64::from(PER_MILLION)).round() as u32))
        } else {
            Err(DomainError::invalid(format!(
                "Invalid prediction log sample rate {rate}: it is the share of requests logged, 0–1"
            )))
        }
    }

    pub fn get(self) -> f64 {
        f64::from(self.0) / f64::from(PER_MILLION)
    }

    pub fn is_every(&self) -> bool {
        *self == Self::EVERY
    }
}

impl Default for SampleRate {
    fn default() -> Self {
        Self::EVERY
    }
}

impl TryFrom<f64> for SampleRate {
    type Error = DomainError;
    fn try_from(rate: f64) -> Result<Self, DomainError> {
        SampleRate::new(rate)
    }
}

impl From<SampleRate> for f64 {
    fn from(r: SampleRate) -> f64 {
        r.get()
    }
}

/// One resolved model: which registered model and version serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    pub name: String,
    pub version: i64,
}

/// What a deployment serves now: its references resolved against the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Serving {
    pub primary: Resolved,
    pub canary: Option<CanaryServing>,
}

/// The canary's resolved model and its share of requests in percent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryServing {
    #[serde(flatten)]
    pub model: Resolved,
    pub weight: u8,
}

/// A deployment's spec and what it serves; `revision` grows with every change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentState {
    pub spec: DeploymentSpec,
    pub serving: Serving,
    /// The automatic roll-out's canary in progress and last decision (absent without a policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutStatus>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub name: String,
    pub state: DeploymentState,
    pub revision: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Whether a deployment serves what its spec asks for, as read from the registry now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Its references resolve to what it serves.
    Serving,
    /// An alias it follows moved to a servable version that is not serving yet (the controller is on it).
    RollingOut,
    /// What its spec asks for cannot be served (the alias moved to a version without the onnx flavour,
    /// the model or version was deleted): it keeps serving what it served, and `problem` says why.
    Degraded,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Serving => "serving",
            Self::RollingOut => "rolling_out",
            Self::Degraded => "degraded",
        }
    }
}

/// A deployment's status and, when degraded, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub status: DeploymentStatus,
    pub problem: Option<String>,
}

/// What changed a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentEventKind {
    Created,
    /// Its spec was changed (`cairn deploy update`).
    Updated,
    /// An alias it follows moved: the serving version changed without a change of spec.
    RolledOut,
    /// Pinned back to what it served before.
    RolledBack,
    Deleted,
    /// The roll-out policy started a canary of the version its candidate alias moved to.
    CanaryStarted,
    /// The canary passed: the primary alias moved to it.
    CanaryPromoted,
    /// The canary failed (or could not be judged): it stopped, the primary alias stayed.
    CanaryRolledBack,
}

impl DeploymentEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::RolledOut => "rolled_out",
            Self::RolledBack => "rolled_back",
            Self::Deleted => "deleted",
            Self::CanaryStarted => "canary_started",
            Self::CanaryPromoted => "canary_promoted",
            Self::CanaryRolledBack => "canary_rolled_back",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "created" => Self::Created,
            "updated" => Self::Updated,
            "rolled_out" => Self::RolledOut,
            "rolled_back" => Self::RolledBack,
            "deleted" => Self::Deleted,
            "canary_started" => Self::CanaryStarted,
            "canary_promoted" => Self::CanaryPromoted,
            "canary_rolled_back" => Self::CanaryRolledBack,
            _ => return None,
        })
    }
}

/// One entry of a deployment's history: what it was before and after, who changed it and when.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentEvent {
    pub seq: i64,
    pub deployment: String,
    pub kind: DeploymentEventKind,
    pub actor: String,
    pub timestamp_ms: i64,
    pub before: Option<DeploymentState>,
    pub after: Option<DeploymentState>,
    /// The deployment's revision after the change (1 at creation); unknown for events recorded before
    /// revisions were kept.
    pub revision: Option<i64>,
}

/// A deployment name is the OIP model name and a URL segment: letters, digits, `_`, `-`, `.`; 1–64
/// characters, not starting with `.`.
pub fn validate_deployment_name(name: &str) -> Result<(), DomainError> {
    crate::monitor::validate_name("deployment", name)
}

/// A canary weight is a percentage strictly between 0 and 100.
pub fn validate_weight(weight: i64) -> Result<u8, DomainError> {
    if (1..=99).contains(&weight) {
        Ok(weight as u8)
    } else {
        Err(DomainError::invalid(format!(
            "Invalid canary weight {weight}: it is the percent of requests the canary gets, 1–99"
        )))
    }
}

/// The state a rollback returns to: the latest serving, before the current one, that differs from it,
/// pinned to its versions so that a moving alias cannot roll it forward again. `history` is oldest first.
pub fn rollback_target(
    current: &DeploymentState,
    history: &[DeploymentEvent],
) -> Option<DeploymentState> {
    let previous = history
        .iter()
        .rev()
        .filter_map(|e| e.after.as_ref())
        .find(|s| s.serving != current.serving)?;
    let serving = previous.serving.clone();
    let spec = DeploymentSpec {
        model: previous.spec.model.pinned(serving.primary.version),
        canary: match (&previous.spec.canary, &serving.canary) {
            (Some(c), Some(s)) => Some(Canary {
                model: c.model.pinned(s.model.version),
                weight: s.weight,
            }),
            _ => None,
        },
        log_sample: current.spec.log_sample,
        rollout: None,
    };
    Some(DeploymentState {
        spec,
        serving,
        rollout: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r = ModelRef::parse("models:/churn@champion").unwrap();
        assert_eq!(r.target, Target::Alias("champion".into()));
        assert_eq!(r.uri(), "models:/churn@champion");
        let r = ModelRef::parse("models:/a/b/3").unwrap();
        assert_eq!((r.name.as_str(), &r.target), ("a/b", &Target::Version(3)));
        for bad in [
            "runs:/x/m",
            "models:/churn",
            "models:/churn/0",
            "models:/@a",
            "models:/x@",
            "models:/x/latest",
        ] {
            assert!(ModelRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_weights() {
        assert!(validate_deployment_name("churn-v2.prod").is_ok());
        for bad in ["", ".x", "a/b", "a b", &"x".repeat(65)] {
            assert!(validate_deployment_name(bad).is_err(), "{bad}");
        }
        assert_eq!(validate_weight(10).unwrap(), 10);
        assert!(validate_weight(0).is_err() && validate_weight(100).is_err());
    }

    fn state(spec: &str, v: i64) -> DeploymentState {
        let model = ModelRef::parse(spec).unwrap();
        DeploymentState {
            serving: Serving {
                primary: Resolved {
                    name: model.name.clone(),
                    version: v,
                },
                canary: None,
            },
            spec: DeploymentSpec {
                model,
                canary: None,
                log_sample: SampleRate::EVERY,
                rollout: None,
            },
            rollout: None,
        }
    }

    fn event(seq: i64, after: DeploymentState) -> DeploymentEvent {
        DeploymentEvent {
            seq,
            deployment: "d".into(),
            kind: DeploymentEventKind::RolledOut,
            actor: "a".into(),
            timestamp_ms: seq,
            before: None,
            after: Some(after),
            revision: Some(seq),
        }
    }

    #[test]
    fn a_rollout_policy_needs_an_alias_to_promote() {
        let policy = RolloutPolicy::parse("canary:10%/15m", None).unwrap();
        let mut spec = state("models:/m@production", 1).spec;
        spec.rollout = Some(policy.clone());
        assert!(spec.validate_rollout().is_ok());
        let mut pinned = state("models:/m/1", 1).spec;
        pinned.rollout = Some(policy.clone());
        let err = pinned.validate_rollout().unwrap_err().to_string();
        assert!(err.contains("models:/m@<alias>"), "{err}");
        let mut same = state("models:/m@candidate", 1).spec;
        same.rollout = Some(policy.clone());
        assert!(same.validate_rollout().is_err());
        spec.canary = Some(Canary {
            model: ModelRef::parse("models:/m/2").unwrap(),
            weight: 10,
        });
        assert!(spec.validate_rollout().is_err());
        // Old stored states (no rollout) still parse.
        let old: DeploymentState = serde_json::from_str(
            r#"{"spec":{"model":{"name":"m","alias":"a"},"canary":null},
                "serving":{"primary":{"name":"m","version":1},"canary":null}}"#,
        )
        .unwrap();
        assert!(old.spec.rollout.is_none() && old.rollout.is_none());
        for kind in ["canary_started", "canary_promoted", "canary_rolled_back"] {
            assert_eq!(DeploymentEventKind::parse(kind).unwrap().as_str(), kind);
        }
    }

    #[test]
    fn rollback_pins_the_previous_serving() {
        let history = [
            event(1, state("models:/m@champion", 1)),
            event(2, state("models:/m@champion", 2)),
            event(3, state("models:/m@champion", 3)),
        ];
        let current = &history[2].after.clone().unwrap();
        let target = rollback_target(current, &history).unwrap();
        assert_eq!(target.serving.primary.version, 2);
        assert_eq!(target.spec.model.uri(), "models:/m/2");
        // Only one state ever served: nothing to roll back to.
        assert!(rollback_target(current, &history[2..]).is_none());
    }
}
