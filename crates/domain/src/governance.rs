//! Governance records (maturity level 6): users, API tokens, grants, protected aliases, promotion requests
//! with their approvals, policy bundles and decisions, model cards, and the audit chain's stored rows.
//! Roles and scopes stay text here; `cairn-auth` gives them meaning.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A user who signs in with a password (or only holds tokens); `password_hash` is an argon2id PHC string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    #[serde(skip)]
    pub password_hash: Option<String>,
    pub is_admin: bool,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An API token as stored: never its secret, only the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub user: String,
    pub name: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

/// A role held over a scope (`*`, `experiment:<id>`, `model:<glob>`, `deployment:<glob>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantRecord {
    pub user: String,
    pub role: String,
    pub scope: String,
    pub created_ms: i64,
    pub created_by: String,
}

/// A protected alias: models whose name matches `models` move `alias` only by an approved promotion
/// request with `approvals` distinct approvers. An alias named like a stage (`Production`) protects the
/// stage too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    pub models: String,
    pub alias: String,
    pub approvals: i64,
    pub created_ms: i64,
    pub created_by: String,
}

impl Protection {
    /// Whether this rule covers `alias` (exactly, or a stage name in any case).
    pub fn covers_alias(&self, alias: &str) -> bool {
        self.alias == alias
            || (is_stage_name(&self.alias) && self.alias.eq_ignore_ascii_case(alias))
    }
}

fn is_stage_name(s: &str) -> bool {
    ["production", "staging", "archived"]
        .iter()
        .any(|st| st.eq_ignore_ascii_case(s))
}

/// Where a promotion request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromotionState {
    Open,
    Approved,
    Applied,
    Rejected,
    Withdrawn,
    Failed,
    Expired,
}

impl PromotionState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Approved => "approved",
            Self::Applied => "applied",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "approved" => Self::Approved,
            "applied" => Self::Applied,
            "rejected" => Self::Rejected,
            "withdrawn" => Self::Withdrawn,
            "failed" => Self::Failed,
            "expired" => Self::Expired,
            _ => return None,
        })
    }

    /// Open and approved requests may still change; the rest are final.
    pub fn is_pending(self) -> bool {
        matches!(self, Self::Open | Self::Approved)
    }
}

/// One approver's verdict on a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub by: String,
    /// `approve` or `reject`.
    pub verdict: String,
    pub comment: Option<String>,
    pub at_ms: i64,
    /// How the approver proved who they were (`password`, `token`, `oidc`; `unauthenticated` when the
    /// server ran without authentication and the name was only claimed).
    #[serde(default)]
    pub via: String,
}

/// A request to move a protected alias to a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Promotion {
    pub id: String,
    pub model: String,
    pub version: i64,
    pub alias: String,
    pub reason: String,
    pub state: PromotionState,
    pub requested_by: String,
    /// How the requester proved who they were (see [`Approval::via`]).
    pub requested_via: String,
    /// Who registered the version: may not approve it.
    pub version_creator: Option<String>,
    /// The version's artifact digest when requested; approvals hold for this content only.
    pub artifact_digest: Option<String>,
    pub required_approvals: i64,
    pub approvals: Vec<Approval>,
    /// Where the alias pointed when the request was applied (for the record and rollback).
    pub previous_version: Option<i64>,
    /// The latest policy decision's id, when a policy is active.
    pub decision_id: Option<String>,
    /// Why the request ended as it did (rejected, failed, expired).
    pub note: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub expires_ms: i64,
}

impl Promotion {
    pub fn approvers(&self) -> impl Iterator<Item = &str> {
        self.approvals
            .iter()
            .filter(|a| a.verdict == "approve")
            .map(|a| a.by.as_str())
    }
}

/// An uploaded set of Rego files; the active one is evaluated at promotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyBundleRecord {
    /// `sha256:<hex>` over the files.
    pub hash: String,
    /// `[{"path", "source"}]`.
    pub files: Value,
    pub entrypoint: String,
    pub created_ms: i64,
    pub created_by: String,
}

/// One policy evaluation, with the input it saw, kept so it can be shown and replayed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyDecision {
    pub id: String,
    pub promotion_id: Option<String>,
    /// `request`, `approve` or `apply`.
    pub action: String,
    pub bundle_hash: String,
    pub input_hash: String,
    pub input: Value,
    pub result: Value,
    pub allow: bool,
    pub at_ms: i64,
}

/// A model card's authored part and review status; the factual part is generated from evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardRecord {
    pub model: String,
    pub version: i64,
    /// `draft` or `approved`.
    pub status: String,
    /// Authored sections: intended_use, limitations, risk, owners, … (free-form strings).
    pub authored: Value,
    pub updated_by: String,
    pub updated_ms: i64,
}

/// One row of the audit chain as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub seq: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub resource_kind: String,
    pub resource_id: String,
    /// The canonical entry's exact bytes (UTF-8 JSON).
    pub entry: String,
    pub leaf_hash: String,
    pub chain_hash: String,
}

/// A signed checkpoint note over the chain's first `size` entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditCheckpoint {
    pub size: i64,
    pub note: String,
    pub ts_ms: i64,
}
