//! Metric series for charts and sparklines, downsampled in the server per pixel: the x range is cut
//! into as many buckets as the chart is wide and each bucket sends its min, max and last value, so a
//! curve never lies about spikes and the browser never receives more than a few thousand points,
//! however long the history — read from the store's summary pyramid, so the server never reads them
//! all either ([`cairn_domain::metric_series`]). A zoomed range is re-queried at full resolution: when
//! it holds no more points than the chart has pixels, every point is sent as it is.

use axum::Json;
use axum::extract::State;
use cairn_domain::metric_series::{XAxis, XRange};
use serde::{Deserialize, Serialize};

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
) -> DataResult<Json<SeriesResponse>> {
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
        let ys = |v: Vec<Option<f64>>| v.into_iter().map(|v| v.map(|v| Y::of(v, p.raw))).collect();
        series.push(RunSeries {
            run: (*run).to_owned(),
            points: s.points,
            raw: p.raw,
            min: ys(p.min),
            max: ys(p.max),
            last: ys(p.last),
            x: p.x,
        });
    }
    Ok(Json(SeriesResponse {
        key: q.key,
        x: q.x,
        series,
    }))
}

#[derive(Serialize)]
pub struct SeriesResponse {
    key: String,
    x: String,
    series: Vec<RunSeries>,
}

#[derive(Serialize)]
pub struct RunSeries {
    run: String,
    /// Points the run has over the range, however many are sent.
    points: i64,
    /// Every point as logged (a zoom that fits the width), not buckets.
    raw: bool,
    x: Vec<f64>,
    min: Vec<Option<Y>>,
    max: Vec<Option<Y>>,
    last: Vec<Option<Y>>,
}

/// A y value as sent. A bucket's min, max and last go with f32's shortest digits (7 significant, far
/// finer than a pixel), which halves the JSON the browser parses before its first frame; raw points,
/// and values outside f32's normal range, go exactly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Y {
    Short(f32),
    Exact(f64),
}

impl Y {
    fn of(v: f64, raw: bool) -> Y {
        let short = v as f32;
        let fits = v == 0.0
            || (short.is_normal() && f64::from(short.abs()) >= f64::from(f32::MIN_POSITIVE));
        if raw || !fits {
            Y::Exact(v)
        } else {
            Y::Short(short)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Y;

    #[test]
    fn buckets_go_short_and_raw_points_exact() {
        let text = |v, raw| serde_json::to_string(&Y::of(v, raw)).unwrap();
        assert_eq!(text(1.0 / 3.0, false), "0.33333334");
        assert_eq!(text(1.0 / 3.0, true), "0.3333333333333333");
        assert_eq!(text(50.0, false), "50.0");
        assert_eq!(text(1e-300, false), "1e-300");
        assert_eq!(text(1e300, false), "1e+300");
        assert_eq!(text(0.0, false), "0.0");
    }
}
