//! Metric series for charts and sparklines, downsampled in the server per pixel: the x range is cut
//! into as many buckets as the chart is wide and each bucket sends its min, max and last value, so a
//! curve never lies about spikes and the browser never receives more than a few thousand points,
//! however long the history — read from the store's summary pyramid, so the server never reads them
//! all either ([`cairn_domain::metric_series`]). A zoomed range is re-queried at full resolution: when
//! it holds no more points than the chart has pixels, every point is sent as it is.

use axum::Json;
use axum::extract::State;
use cairn_domain::metric_series::{XAxis, XRange};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WebUi;
use crate::error::{DataQuery, DataResult, invalid};

#[derive(Debug, Deserialize)]
pub struct SeriesQuery {
    /// Run ids, comma-separated.
    runs: String,
    key: String,
    /// `step` (default), `time` (wall clock, ms) or `relative` (ms since the run's first point).
    #[serde(default)]
    x: String,
    /// Pixels across: the number of buckets.
    #[serde(default)]
    width: Option<usize>,
    /// The x range to draw (zoom); the whole history when absent.
    min: Option<f64>,
    max: Option<f64>,
}

const MAX_WIDTH: usize = 4096;
const MAX_RUNS: usize = 100;

pub async fn series(
    State(ui): State<WebUi>,
    DataQuery(q): DataQuery<SeriesQuery>,
) -> DataResult<Json<Value>> {
    let runs: Vec<&str> = q.runs.split(',').filter(|r| !r.is_empty()).collect();
    if runs.is_empty() || runs.len() > MAX_RUNS {
        return Err(invalid(format!("give 1 to {MAX_RUNS} run ids in 'runs'")).into());
    }
    let axis = match q.x.as_str() {
        "" | "step" => XAxis::Step,
        "time" => XAxis::Time,
        "relative" => XAxis::Relative,
        other => {
            return Err(invalid(format!("x must be step, time or relative, not '{other}'")).into());
        }
    };
    let width = q.width.unwrap_or(800).clamp(1, MAX_WIDTH);
    let range = XRange {
        min: q.min,
        max: q.max,
    };
    let read = ui.tracking.metric_series(&runs, &q.key, axis, range, width);
    let mut series = Vec::with_capacity(runs.len());
    for (run, s) in runs.iter().zip(read.await?) {
        let p = s.pixels;
        series.push(json!({ "run": run, "points": s.points, "raw": p.raw, "x": p.x, "min": p.min, "max": p.max, "last": p.last }));
    }
    Ok(Json(json!({ "key": q.key, "x": q.x, "series": series })))
}
