//! Metric points as stored, the statements that append them, move each key's latest value forward and
//! fold them into the summary pyramid charts read ([`cairn_domain::metric_series`]), and metric history.

use std::collections::BTreeMap;

use cairn_domain::metric_series::summarize;
use cairn_domain::{Metric, RunId};
use cairn_store::{HistoryOrder, MetricHistoryQuery};
use sqlx::{Database, Encode, QueryBuilder, Type};

use crate::Columns;

/// One metric point as stored: NaN as (0, true) — SQLite would turn a NaN REAL into NULL — so that both
/// engines order and deduplicate alike.
pub struct Point<'a> {
    pub metric: &'a Metric,
    pub value: f64,
    pub is_nan: bool,
    pub model_id: Option<&'a str>,
    pub dataset_name: Option<&'a str>,
    pub dataset_digest: Option<&'a str>,
}

impl<'a> Point<'a> {
    pub fn new(metric: &'a Metric) -> Self {
        let (value, is_nan) = stored(metric.value);
        Point {
            metric,
            value,
            is_nan,
            model_id: metric.model_id.as_deref(),
            dataset_name: metric.dataset_name.as_deref(),
            dataset_digest: metric.dataset_digest.as_deref(),
        }
    }
}

/// One point per metric, as given.
pub fn points(metrics: &[Metric]) -> Vec<Point<'_>> {
    metrics.iter().map(Point::new).collect()
}

/// A metric value as (value, is_nan) columns.
fn stored(v: f64) -> (f64, bool) {
    if v.is_nan() { (0.0, true) } else { (v, false) }
}

/// Whether the proposed latest point (`excluded`) is newer than the stored one.
const NEWER: &str = "(excluded.step, excluded.timestamp, excluded.is_nan, excluded.value) > \
     (latest_metrics.step, latest_metrics.timestamp, latest_metrics.is_nan, latest_metrics.value)";

/// The smallest and largest value, NaN left out (`None` while every value is NaN).
type Extremes = (Option<f64>, Option<f64>);

/// The newest point of each key, and its extremes; keys in order, so that row locks are always taken
/// alike.
fn latest_per_key<'a>(
    metrics: impl IntoIterator<Item = &'a Metric>,
) -> BTreeMap<&'a str, (&'a Metric, Extremes)> {
    let mut latest: BTreeMap<&str, (&Metric, Extremes)> = BTreeMap::new();
    for m in metrics {
        let v = (!m.value.is_nan()).then_some(m.value);
        match latest.get_mut(m.key.as_str()) {
            Some((cur, (min, max))) => {
                if m.is_newer_than(cur) {
                    *cur = m;
                }
                if let Some(v) = v {
                    *min = Some(min.map_or(v, |x| x.min(v)));
                    *max = Some(max.map_or(v, |x| x.max(v)));
                }
            }
            None => {
                latest.insert(&m.key, (m, (v, v)));
            }
        }
    }
    latest
}

/// Whether the proposed newest point of a summary bucket (`excluded`) is newer than the stored one.
const NEWER_IN_BUCKET: &str = "(excluded.last_step, excluded.last_timestamp, excluded.last_is_nan, \
     excluded.last_value) > (metric_summary.last_step, metric_summary.last_timestamp, \
     metric_summary.last_is_nan, metric_summary.last_value)";

/// The statements that log `points` for run `id`, to run in order: multi-row inserts of at most
/// `rows_per_statement` points each (the engine knows its bound-parameter limit), then one upsert of each
/// key's latest value, then upserts of the summary buckets the points fall in. None for no points.
pub fn metric_statements<DB>(
    id: &RunId,
    points: &[Point<'_>],
    rows_per_statement: usize,
) -> Vec<QueryBuilder<DB>>
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> Option<String>: Encode<'t, DB> + Type<DB>,
    for<'t> f64: Encode<'t, DB> + Type<DB>,
    for<'t> Option<f64>: Encode<'t, DB> + Type<DB>,
    for<'t> bool: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    if points.is_empty() {
        return Vec::new();
    }
    let mut statements = Vec::new();
    for chunk in points.chunks(rows_per_statement) {
        let mut b = QueryBuilder::new(
            "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp, model_id, \
             dataset_name, dataset_digest) ",
        );
        b.push_values(chunk, |mut row, p| {
            row.push_bind(id.as_str().to_string())
                .push_bind(p.metric.key.clone())
                .push_bind(p.value)
                .push_bind(p.is_nan)
                .push_bind(p.metric.step)
                .push_bind(p.metric.timestamp)
                .push_bind(p.model_id.map(str::to_string))
                .push_bind(p.dataset_name.map(str::to_string))
                .push_bind(p.dataset_digest.map(str::to_string));
        });
        // Re-logging an identical point (MLflow's log_model does, to attach a model id) keeps one row.
        b.push(
            " ON CONFLICT (run_id, key, step, timestamp, value, is_nan) DO UPDATE SET \
             model_id = COALESCE(excluded.model_id, metrics.model_id), \
             dataset_name = COALESCE(excluded.dataset_name, metrics.dataset_name), \
             dataset_digest = COALESCE(excluded.dataset_digest, metrics.dataset_digest)",
        );
        statements.push(b);
    }
    let mut b = QueryBuilder::new(
        "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp, min_value, \
         max_value) ",
    );
    b.push_values(
        latest_per_key(points.iter().map(|p| p.metric)),
        |mut row, (_, (m, (min, max)))| {
            let (value, is_nan) = stored(m.value);
            row.push_bind(id.as_str().to_string())
                .push_bind(m.key.clone())
                .push_bind(value)
                .push_bind(is_nan)
                .push_bind(m.step)
                .push_bind(m.timestamp)
                .push_bind(min)
                .push_bind(max);
        },
    );
    // Atomic per row: the stored point is replaced only by a newer one, whatever commits in between;
    // the extremes take in every point.
    b.push(
        " ON CONFLICT (run_id, key) DO UPDATE SET \
         value = CASE WHEN NEWER THEN excluded.value ELSE latest_metrics.value END, \
         is_nan = CASE WHEN NEWER THEN excluded.is_nan ELSE latest_metrics.is_nan END, \
         step = CASE WHEN NEWER THEN excluded.step ELSE latest_metrics.step END, \
         timestamp = CASE WHEN NEWER THEN excluded.timestamp ELSE latest_metrics.timestamp END, \
         min_value = CASE WHEN latest_metrics.min_value IS NULL \
             OR excluded.min_value < latest_metrics.min_value THEN excluded.min_value \
             ELSE latest_metrics.min_value END, \
         max_value = CASE WHEN latest_metrics.max_value IS NULL \
             OR excluded.max_value > latest_metrics.max_value THEN excluded.max_value \
             ELSE latest_metrics.max_value END"
            .replace("NEWER", NEWER),
    );
    statements.push(b);
    let buckets: Vec<_> = summarize(points.iter().map(|p| p.metric))
        .into_iter()
        .collect();
    for chunk in buckets.chunks(rows_per_statement) {
        let mut b = QueryBuilder::new(
            "INSERT INTO metric_summary (run_id, key, level, bucket, n, min_value, max_value, \
             first_step, min_timestamp, max_timestamp, last_step, last_timestamp, last_value, \
             last_is_nan) ",
        );
        b.push_values(chunk, |mut row, ((key, level, index), s)| {
            let (last_value, last_is_nan) = stored(s.last_value);
            row.push_bind(id.as_str().to_string())
                .push_bind(key.to_string())
                .push_bind(i64::from(*level))
                .push_bind(*index)
                .push_bind(s.count)
                .push_bind(s.min)
                .push_bind(s.max)
                .push_bind(s.first_step)
                .push_bind(s.min_timestamp)
                .push_bind(s.max_timestamp)
                .push_bind(s.last_step)
                .push_bind(s.last_timestamp)
                .push_bind(last_value)
                .push_bind(last_is_nan);
        });
        // The same merge as `StepBucket::merge`, atomic per row.
        b.push(
            " ON CONFLICT (run_id, key, level, bucket) DO UPDATE SET \
             n = metric_summary.n + excluded.n, \
             min_value = CASE WHEN metric_summary.min_value IS NULL \
                 OR excluded.min_value < metric_summary.min_value THEN excluded.min_value \
                 ELSE metric_summary.min_value END, \
             max_value = CASE WHEN metric_summary.max_value IS NULL \
                 OR excluded.max_value > metric_summary.max_value THEN excluded.max_value \
                 ELSE metric_summary.max_value END, \
             first_step = CASE WHEN excluded.first_step < metric_summary.first_step \
                 THEN excluded.first_step ELSE metric_summary.first_step END, \
             min_timestamp = CASE WHEN excluded.min_timestamp < metric_summary.min_timestamp \
                 THEN excluded.min_timestamp ELSE metric_summary.min_timestamp END, \
             max_timestamp = CASE WHEN excluded.max_timestamp > metric_summary.max_timestamp \
                 THEN excluded.max_timestamp ELSE metric_summary.max_timestamp END, \
             last_value = CASE WHEN NEWER THEN excluded.last_value ELSE metric_summary.last_value END, \
             last_is_nan = CASE WHEN NEWER THEN excluded.last_is_nan \
                 ELSE metric_summary.last_is_nan END, \
             last_timestamp = CASE WHEN NEWER THEN excluded.last_timestamp \
                 ELSE metric_summary.last_timestamp END, \
             last_step = CASE WHEN NEWER THEN excluded.last_step ELSE metric_summary.last_step END"
                .replace("NEWER", NEWER_IN_BUCKET),
        );
        statements.push(b);
    }
    statements
}

/// The history query for `q`; `runs_in` adds the condition on `run_id` in the engine's way of binding a
/// list. Rows are read by [`history_metric`].
pub fn history_query<DB>(
    q: &MetricHistoryQuery,
    runs_in: impl FnOnce(&mut QueryBuilder<DB>),
) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    let mut b = QueryBuilder::new(
        "SELECT run_id, key, value, is_nan, step, timestamp, model_id, dataset_name, \
         dataset_digest FROM metrics WHERE key = ",
    );
    b.push_bind(q.key.clone());
    runs_in(&mut b);
    if let Some(min) = q.min_step {
        b.push(" AND step >= ").push_bind(min);
    }
    if let Some(max) = q.max_step {
        b.push(" AND step <= ").push_bind(max);
    }
    b.push(match q.order {
        HistoryOrder::Time => " ORDER BY run_id, timestamp, step, value",
        HistoryOrder::Step => " ORDER BY run_id, step, timestamp, value",
    });
    b
}

/// One point of [`history_query`]'s result.
pub fn history_metric(row: &impl Columns) -> Metric {
    Metric {
        run_id: Some(row.text(0)),
        key: row.text(1),
        value: row.metric_value(2, 3),
        step: row.int(4),
        timestamp: row.int(5),
        model_id: row.opt_text(6),
        dataset_name: row.opt_text(7),
        dataset_digest: row.opt_text(8),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(key: &str, step: i64, timestamp: i64, value: f64) -> Metric {
        Metric {
            key: key.to_string(),
            value,
            timestamp,
            step,
            run_id: None,
            model_id: None,
            dataset_name: None,
            dataset_digest: None,
        }
    }

    #[test]
    fn nan_is_stored_as_a_flag() {
        assert_eq!(stored(1.5), (1.5, false));
        assert_eq!(stored(f64::NAN), (0.0, true));
    }

    #[test]
    fn latest_is_by_step_then_timestamp_then_value_first_wins_ties() {
        let batch = [
            point("b", 1, 5, 0.0),
            point("a", 2, 1, 1.0),
            point("a", 2, 1, 3.0),
            point("a", 1, 9, 9.0),
            point("b", 1, 5, 0.0),
        ];
        let latest = latest_per_key(&batch);
        let got: Vec<_> = latest.iter().map(|(k, (m, e))| (*k, m.value, *e)).collect();
        assert_eq!(
            got,
            [
                ("a", 3.0, (Some(1.0), Some(9.0))),
                ("b", 0.0, (Some(0.0), Some(0.0)))
            ]
        );
        assert!(std::ptr::eq(latest["b"].0, &batch[0]));
        let nan = [point("n", 1, 1, f64::NAN), point("n", 2, 1, 4.0)];
        assert_eq!(latest_per_key(&nan)["n"].1, (Some(4.0), Some(4.0)));
        assert_eq!(latest_per_key(&nan[..1])["n"].1, (None, None));
    }
}
