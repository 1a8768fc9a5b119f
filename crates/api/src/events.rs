//! The control plane's change log, for followers in other processes (serving replicas, the UI): a
//! long poll that answers as soon as there is an entry after `after`.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use cairn_contract::{ChangeDto, ChangesResponse, ErrorBody};
use cairn_service::{ChangeLog, MAX_CHANGES};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Params};

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct ChangesParams {
    /// Entries after this sequence number (default 0: from the start).
    after: Option<i64>,
    /// Seconds to wait for an entry when there is none yet (0–60, default 0: answer at once).
    wait: Option<u64>,
    /// At most this many entries (1–1000, default 1000).
    max_results: Option<usize>,
}

/// Change-log entries after `after`, oldest first; with `wait`, held until one arrives.
#[utoipa::path(
    get,
    path = "/api/cairn/v1/events",
    tag = "change log",
    params(ChangesParams),
    responses(
        (status = 200, description = "Entries, oldest first", body = ChangesResponse),
        (status = 400, description = "Bad parameter", body = ErrorBody),
    )
)]
pub(crate) async fn changes(
    State(log): State<ChangeLog>,
    Params(p): Params<ChangesParams>,
) -> Result<Json<ChangesResponse>, ApiError> {
    let after = p.after.unwrap_or(0);
    let wait = Duration::from_secs(p.wait.unwrap_or(0));
    let limit = p.max_results.unwrap_or(MAX_CHANGES);
    let (entries, head) = log.changes(after, limit, wait).await?;
    let events: Vec<ChangeDto> = entries.into_iter().map(Into::into).collect();
    let last_seq = events.last().map_or(after, |e| e.seq);
    Ok(Json(ChangesResponse {
        events,
        last_seq,
        head,
    }))
}
