//! The registry's change log: one model's history, and the registry-wide feed.

use axum::Json;
use axum::extract::State;
use cairn_contract::ErrorBody;
use cairn_domain::RegistryEvent;
use cairn_service::{HistoryRequest, Registry};

use crate::error::{ApiError, Params, Segment};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One change to the registry.
#[derive(Debug, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsResponse {
    pub events: Vec<EventDto>,
    /// Pass as `page_token` for the next page; absent on the last page. For the feed, the last token
    /// also serves to poll for new events later.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct PageParams {
    /// At most this many events (1–1000, default 100).
    max_results: Option<String>,
    /// From a previous response's `next_page_token`.
    page_token: Option<String>,
}

impl PageParams {
    pub(crate) fn request(self) -> Result<HistoryRequest, ApiError> {
        let max_results = self
            .max_results
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.trim().parse::<i64>().map_err(|_| {
                    ApiError::invalid(format!(
                        "Parameter 'max_results' must be an integer, got '{s}'."
                    ))
                })
            })
            .transpose()?;
        Ok(HistoryRequest {
            max_results,
            page_token: self.page_token,
        })
    }
}

fn page(p: cairn_service::Page<RegistryEvent>) -> Json<EventsResponse> {
    Json(EventsResponse {
        events: p.items.into_iter().map(Into::into).collect(),
        next_page_token: p.next_page_token,
    })
}

/// A registered model's change history.
///
/// Follows the model through renames. After the model is deleted, the history of the last model of
/// that name stays readable.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/registry/models/{name}/history",
    tag = "registry",
    params(("name" = String, Path, description = "Registered model name"), PageParams),
    responses(
        (status = 200, description = "Events, oldest first", body = EventsResponse),
        (status = 400, description = "Bad parameter", body = ErrorBody),
        (status = 404, description = "No model of that name ever existed", body = ErrorBody),
    )
)]
pub(crate) async fn model_history(
    State(registry): State<Registry>,
    Segment(name): Segment<String>,
    Params(params): Params<PageParams>,
) -> Result<Json<EventsResponse>, ApiError> {
    Ok(page(registry.history(&name, params.request()?).await?))
}

/// The registry-wide change log, oldest first.
///
/// Poll with the last `next_page_token` you saw to get only newer events.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/registry/events",
    tag = "registry",
    params(PageParams),
    responses(
        (status = 200, description = "Events, oldest first", body = EventsResponse),
        (status = 400, description = "Bad parameter", body = ErrorBody),
    )
)]
pub(crate) async fn events(
    State(registry): State<Registry>,
    Params(params): Params<PageParams>,
) -> Result<Json<EventsResponse>, ApiError> {
    Ok(page(registry.events(params.request()?).await?))
}
