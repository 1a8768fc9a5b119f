//! A monitor's window of logged predictions: the Parquet files the serving wrote under
//! `monitoring/<deployment>/date=YYYY-MM-DD/`, read newest first until the window is covered.

use cairn_domain::monitor::Window;

use super::Monitors;
use crate::{ServiceError, ServiceResult};

/// Where a deployment's logged predictions live under the artifact root.
pub fn predictions_dir(deployment: &str) -> String {
    format!("monitoring/{deployment}")
}

/// The most bytes of logged predictions one evaluation reads.
const MAX_WINDOW_BYTES: u64 = 4 << 30;
/// How far back a rows window looks.
const MAX_DAYS_BACK: usize = 400;

/// The files of a window, raw: parsed and cut to the window on a blocking thread.
pub(super) struct RawWindow {
    pub files: Vec<Vec<u8>>,
}

/// `YYYY-MM-DD` (UTC) of a time in milliseconds.
pub fn date_of(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

impl Monitors {
    /// The logged-prediction files that may hold rows of `window` ending at `end_ms`, newest first.
    pub(super) async fn window_files(
        &self,
        deployment: &str,
        window: &Window,
        end_ms: i64,
    ) -> ServiceResult<RawWindow> {
        let dir = predictions_dir(deployment);
        let mut days: Vec<String> = match self.artifacts.list(Some(&dir)).await {
            Ok(entries) => entries
                .into_iter()
                .filter(|e| e.is_dir)
                .filter_map(|e| e.name.strip_prefix("date=").map(str::to_owned))
                .collect(),
            Err(ServiceError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        days.sort_unstable_by(|a, b| b.cmp(a));
        let last = date_of(end_ms);
        days.retain(|d| *d <= last);
        if let Window::Duration { ms } = window {
            let first = date_of(end_ms - ms);
            days.retain(|d| *d >= first);
        }
        days.truncate(MAX_DAYS_BACK);
        let mut files = Vec::new();
        let mut bytes = 0u64;
        let mut rows_seen = 0u64;
        for day in days {
            let mut entries = self
                .artifacts
                .list(Some(&format!("{dir}/date={day}")))
                .await?;
            entries.retain(|e| !e.is_dir && e.name.ends_with(".parquet"));
            // Names start with the flush time: newest first.
            entries.sort_unstable_by(|a, b| b.name.cmp(&a.name));
            for e in entries {
                let data = self
                    .artifacts
                    .read(&format!("{dir}/date={day}/{}", e.name), MAX_WINDOW_BYTES)
                    .await?;
                bytes += data.len() as u64;
                if bytes > MAX_WINDOW_BYTES {
                    return Err(ServiceError::InvalidArgument(format!(
                        "the window holds more than {MAX_WINDOW_BYTES} bytes of logged predictions: \
                         use a shorter window or fewer rows"
                    )));
                }
                if let Window::Rows { rows } = window {
                    rows_seen += super::evaluate::parquet_rows(&data);
                    files.push(data);
                    if rows_seen >= *rows {
                        return Ok(RawWindow { files });
                    }
                } else {
                    files.push(data);
                }
            }
        }
        Ok(RawWindow { files })
    }
}
