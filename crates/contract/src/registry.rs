//! The registry's change history on the wire: `/registry/models/{name}/history` and `/registry/events`.

use cairn_domain::RegistryEvent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One change to the registry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventDto {
    /// Position in the registry-wide log: increasing in commit order, never reused.
    pub seq: i64,
    /// What happened: `model_created`, `model_renamed`, `model_updated`, `model_deleted`,
    /// `model_tag_set`, `model_tag_deleted`, `version_created`, `version_updated`,
    /// `version_stage_changed`, `version_deleted`, `version_tag_set`, `version_tag_deleted`,
    /// `alias_set`, `alias_moved`, `alias_deleted`.
    #[schema(example = "alias_moved")]
    pub kind: String,
    /// The model's name when it happened.
    pub model_name: String,
    /// The version concerned (for alias events, the version the alias points to now, or pointed to
    /// when deleted), as a decimal string like MLflow's.
    #[schema(example = "3")]
    pub version: Option<String>,
    pub alias: Option<String>,
    /// Who made the change: the HTTP basic-auth user name, or `anonymous`.
    pub actor: String,
    /// When, in epoch milliseconds.
    pub timestamp_ms: i64,
    /// The changed fields before the change (null when the thing did not exist).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The changed fields after the change (null when the thing no longer exists).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

impl From<RegistryEvent> for EventDto {
    fn from(e: RegistryEvent) -> Self {
        Self {
            seq: e.seq,
            kind: e.kind.as_str().to_owned(),
            model_name: e.model_name,
            version: e.version.map(|v| v.to_string()),
            alias: e.alias,
            actor: e.actor,
            timestamp_ms: e.timestamp_ms,
            before: e.before,
            after: e.after,
        }
    }
}

/// A page of events, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventsResponse {
    pub events: Vec<EventDto>,
    /// Pass as `page_token` for the next page; absent on the last page. For the feed, the last token
    /// also serves to poll for new events later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}
