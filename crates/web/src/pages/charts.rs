//! Metric series for charts and sparklines, downsampled in the server per pixel: the x range is cut
//! into as many buckets as the chart is wide and each bucket sends its min, max and last value, so a
//! curve never lies about spikes and the browser never receives more than a few thousand points,
//! however long the history. A zoomed range is re-queried at full resolution: when it holds no more
//! points than the chart has pixels, every point is sent as it is.

use axum::Json;
use axum::extract::State;
use cairn_domain::Metric;
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
    let runs: Vec<String> = q
        .runs
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if runs.is_empty() || runs.len() > MAX_RUNS {
        return Err(invalid(format!("give 1 to {MAX_RUNS} run ids in 'runs'")).into());
    }
    let mode = match q.x.as_str() {
        "" | "step" => XMode::Step,
        "time" => XMode::Time,
        "relative" => XMode::Relative,
        other => {
            return Err(invalid(format!("x must be step, time or relative, not '{other}'")).into());
        }
    };
    let width = q.width.unwrap_or(800).clamp(1, MAX_WIDTH);
    let points = ui.tracking.metric_points(&runs, &q.key).await?;
    let series: Vec<Value> = runs
        .iter()
        .map(|run| {
            let mine: Vec<&Metric> = points
                .iter()
                .filter(|m| m.run_id.as_deref() == Some(run.as_str()))
                .collect();
            let xy = xy(&mine, mode);
            let b = downsample(&xy, width, q.min, q.max);
            json!({ "run": run, "points": xy.len(), "raw": b.raw, "x": b.x, "min": b.min, "max": b.max, "last": b.last })
        })
        .collect();
    Ok(Json(json!({ "key": q.key, "x": q.x, "series": series })))
}

#[derive(Clone, Copy)]
enum XMode {
    Step,
    Time,
    Relative,
}

/// (x, y) in x order.
fn xy(points: &[&Metric], mode: XMode) -> Vec<(f64, f64)> {
    let t0 = points.iter().map(|m| m.timestamp).min().unwrap_or(0);
    let mut xy: Vec<(f64, f64)> = points
        .iter()
        .map(|m| {
            let x = match mode {
                XMode::Step => m.step as f64,
                XMode::Time => m.timestamp as f64,
                XMode::Relative => (m.timestamp - t0) as f64,
            };
            (x, m.value)
        })
        .collect();
    xy.sort_by(|a, b| a.0.total_cmp(&b.0));
    xy
}

/// Buckets of a series; `raw` when every point in range is sent as it is.
#[derive(Debug, Default, PartialEq)]
pub struct Buckets {
    pub raw: bool,
    pub x: Vec<f64>,
    pub min: Vec<Option<f64>>,
    pub max: Vec<Option<f64>>,
    pub last: Vec<Option<f64>>,
}

/// JSON has no NaN: a non-finite value is a gap.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

pub fn downsample(xy: &[(f64, f64)], width: usize, min: Option<f64>, max: Option<f64>) -> Buckets {
    let lo = min.unwrap_or(f64::NEG_INFINITY);
    let hi = max.unwrap_or(f64::INFINITY);
    let inside: Vec<(f64, f64)> = xy
        .iter()
        .copied()
        .filter(|(x, _)| *x >= lo && *x <= hi)
        .collect();
    let mut b = Buckets::default();
    if inside.len() <= width * 2 {
        b.raw = true;
        for (x, y) in inside {
            b.x.push(x);
            b.min.push(finite(y));
            b.max.push(finite(y));
            b.last.push(finite(y));
        }
        return b;
    }
    let (x0, x1) = (inside[0].0, inside[inside.len() - 1].0);
    let span = (x1 - x0).max(f64::MIN_POSITIVE);
    let mut current: Option<usize> = None;
    for (x, y) in inside {
        let i = (((x - x0) / span) * width as f64)
            .floor()
            .min(width as f64 - 1.0) as usize;
        if current != Some(i) {
            current = Some(i);
            b.x.push(x);
            b.min.push(None);
            b.max.push(None);
            b.last.push(None);
        }
        let k = b.x.len() - 1;
        // A bucket is drawn at its last point's x, so lines join where the data is.
        b.x[k] = x;
        if let Some(v) = finite(y) {
            b.min[k] = Some(b.min[k].map_or(v, |m| m.min(v)));
            b.max[k] = Some(b.max[k].map_or(v, |m| m.max(v)));
        }
        b.last[k] = finite(y);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_series_is_sent_raw() {
        let xy = vec![(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0)];
        let b = downsample(&xy, 800, None, None);
        assert!(b.raw);
        assert_eq!(b.x, vec![0.0, 1.0, 2.0]);
        assert_eq!(b.last, vec![Some(1.0), None, Some(3.0)]);
    }

    #[test]
    fn a_long_series_keeps_each_buckets_extremes_and_last_value() {
        // 1,000,000 points, a spike at one step: 100 buckets, and the spike survives as a bucket max.
        let xy: Vec<(f64, f64)> = (0..1_000_000)
            .map(|i| (i as f64, if i == 123_457 { 1e6 } else { (i % 10) as f64 }))
            .collect();
        let b = downsample(&xy, 100, None, None);
        assert!(!b.raw);
        assert_eq!(b.x.len(), 100);
        assert!(b.max.contains(&Some(1e6)));
        assert_eq!(
            b.min.iter().flatten().fold(f64::INFINITY, |a, v| a.min(*v)),
            0.0
        );
        assert_eq!(*b.last.last().unwrap(), Some(9.0));
        assert_eq!(*b.x.last().unwrap(), 999_999.0);
    }

    #[test]
    fn a_zoomed_range_is_read_at_full_resolution() {
        let xy: Vec<(f64, f64)> = (0..100_000).map(|i| (i as f64, i as f64)).collect();
        let b = downsample(&xy, 800, Some(500.0), Some(999.0));
        assert!(b.raw);
        assert_eq!(b.x.len(), 500);
        assert_eq!(b.x[0], 500.0);
    }
}
