//! The control plane's change log, as `GET /api/cairn/v1/events` serves it.

use cairn_domain::change_log::ChangeEntry;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One control-plane change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ChangeDto {
    /// Position in the log: increasing in commit order, never reused.
    pub seq: i64,
    /// `registry`, `deployment` or `pipeline` (later: monitors, alerts, approvals, …).
    #[schema(example = "registry")]
    pub topic: String,
    /// The model's, deployment's or pipeline's name.
    pub subject: String,
    /// The topic's event kind, e.g. `alias_moved` or `rolled_out`.
    #[schema(example = "alias_moved")]
    pub kind: String,
    /// The detailed event's `seq` in its topic's history (`/registry/events`, `/deployments/{name}/history`).
    pub topic_seq: i64,
    pub actor: String,
    pub timestamp_ms: i64,
    /// A few fields naming what changed, e.g. `{"version": 3, "alias": "champion"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<ChangeEntry> for ChangeDto {
    fn from(e: ChangeEntry) -> Self {
        Self {
            seq: e.seq,
            topic: e.topic.as_str().to_owned(),
            subject: e.subject,
            kind: e.kind,
            topic_seq: e.topic_seq,
            actor: e.actor,
            timestamp_ms: e.timestamp_ms,
            detail: e.detail,
        }
    }
}

/// Entries after the requested position, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChangesResponse {
    pub events: Vec<ChangeDto>,
    /// Pass as `after` to read on: the last entry's `seq`, or the `after` asked for when none came.
    pub last_seq: i64,
    /// The log's newest sequence when the server answered (≥ `last_seq`). A follower that re-reads
    /// state on every change can resume from here instead of reading every entry.
    pub head: i64,
}
