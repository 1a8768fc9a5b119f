//! The control plane's change log: every control-plane change (a registry event, a deployment event, and
//! what later levels add) is one [`ChangeEntry`] with a global sequence, written in the same transaction as
//! the change. Whatever reacts to changes — the deployment controller, serving replicas, the maturity
//! tracker, the UI's histories — follows this one log.

use serde::{Deserialize, Serialize};

/// What part of the control plane a change belongs to; its detailed event lives in that topic's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// A registered model (`subject` is its name when it changed).
    Registry,
    /// A deployment (`subject` is its name).
    Deployment,
    /// A pipeline (`subject` is its name): registered, a run started or finished.
    Pipeline,
    /// A pipeline's gate evaluation (`subject` is the model it promotes, else the pipeline's name).
    Gate,
    /// A monitor (`subject` is its name): created, updated, deleted, a snapshot taken.
    Monitor,
    /// An alert a monitor's rule fired (`subject` is the monitor, `detail` names the rule and value).
    Alert,
    /// A governance change (`subject` is what it governs: a user, a token id, a promotion request, a
    /// model's protection): users, tokens, grants, protections, promotions, approvals, policy decisions,
    /// model cards and denied requests.
    Governance,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Registry => "registry",
            Topic::Deployment => "deployment",
            Topic::Pipeline => "pipeline",
            Topic::Gate => "gate",
            Topic::Monitor => "monitor",
            Topic::Alert => "alert",
            Topic::Governance => "governance",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "registry" => Some(Topic::Registry),
            "deployment" => Some(Topic::Deployment),
            "pipeline" => Some(Topic::Pipeline),
            "gate" => Some(Topic::Gate),
            "monitor" => Some(Topic::Monitor),
            "alert" => Some(Topic::Alert),
            "governance" => Some(Topic::Governance),
            _ => None,
        }
    }
}

/// One control-plane change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeEntry {
    /// Position in the log: strictly increasing in commit order, never reused.
    pub seq: i64,
    pub topic: Topic,
    /// What changed: a model's or a deployment's name.
    pub subject: String,
    /// The topic's event kind (`alias_moved`, `rolled_out`, …).
    pub kind: String,
    /// The detailed event's sequence in its topic's history.
    pub topic_seq: i64,
    pub actor: String,
    pub timestamp_ms: i64,
    /// A few fields naming what changed (`{"version": 3, "alias": "champion"}`).
    pub detail: Option<serde_json::Value>,
}

/// A change about to be appended (its sequence is assigned by the store).
#[derive(Debug, Clone)]
pub struct NewChange<'a> {
    pub topic: Topic,
    pub subject: &'a str,
    pub kind: &'a str,
    pub topic_seq: i64,
    pub actor: &'a str,
    pub timestamp_ms: i64,
    pub detail: Option<serde_json::Value>,
}
