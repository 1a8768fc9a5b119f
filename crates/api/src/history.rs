//! The registry's change log: one model's history, and the registry-wide feed.

use axum::Json;
use axum::extract::State;
use cairn_contract::{ErrorBody, EventsResponse};
use cairn_domain::RegistryEvent;
use cairn_service::{HistoryRequest, Registry};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Params, Segment};

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
