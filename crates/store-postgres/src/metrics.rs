//! Batched logging of metrics, params and tags, and metric history.

use std::collections::{BTreeMap, HashMap};

use cairn_domain::{Metric, Param, RunId, Tag};
use cairn_store::{MetricHistoryQuery, StoreError, StoreResult};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use crate::PostgresStore;
use crate::errors::TxResult;
use crate::load::metric_value;
use crate::runs::{lock_active, upsert_tags};

/// Rows per multi-row INSERT: 9 columns × 1,000 stays far below PostgreSQL's 65,535 bound parameters.
const METRIC_ROWS_PER_STATEMENT: usize = 1_000;

impl PostgresStore {
    pub(crate) async fn log_batch_impl(
        &self,
        id: &RunId,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> StoreResult<()> {
        let points = distinct_points(&metrics);
        let (points, params, tags) = (&points, &params, &tags);
        self.write(|| async move {
            let mut tx = self.begin().await?;
            // From here on no other transaction writes to this run until we commit or roll back.
            lock_active(&mut tx, id).await?;
            insert_params(&mut tx, id, params).await?;
            upsert_tags(&mut tx, id, tags).await?;
            insert_metrics(&mut tx, id, points).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn metric_history_impl(
        &self,
        q: MetricHistoryQuery,
    ) -> StoreResult<Vec<Metric>> {
        if q.run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let run_ids: Vec<String> = q.run_ids.iter().map(|r| r.as_str().to_string()).collect();
        let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
            "SELECT run_id, key, value, is_nan, step, timestamp, model_id, dataset_name, \
             dataset_digest FROM metrics WHERE key = ",
        );
        b.push_bind(q.key.clone())
            .push(" AND run_id = ANY(")
            .push_bind(run_ids)
            .push(")");
        if let Some(min) = q.min_step {
            b.push(" AND step >= ").push_bind(min);
        }
        if let Some(max) = q.max_step {
            b.push(" AND step <= ").push_bind(max);
        }
        b.push(" ORDER BY run_id, step, timestamp, value");
        self.read(async {
            let rows = b.build().fetch_all(&mut *self.conn().await?).await?;
            Ok(rows
                .iter()
                .map(|row| Metric {
                    run_id: Some(row.get(0)),
                    key: row.get(1),
                    value: metric_value(row, 2, 3),
                    step: row.get(4),
                    timestamp: row.get(5),
                    model_id: row.get(6),
                    dataset_name: row.get(7),
                    dataset_digest: row.get(8),
                })
                .collect())
        })
        .await
    }
}

/// Inserts params, refusing (and so rolling back the batch) any that would change a logged value. The
/// caller holds the run's row lock, so no other writer can log a param of this run in between.
async fn insert_params(conn: &mut PgConnection, id: &RunId, params: &[Param]) -> TxResult<()> {
    if params.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = params.iter().map(|p| p.key.clone()).collect();
    let existing: HashMap<String, String> =
        sqlx::query("SELECT key, value FROM params WHERE run_id = $1 AND key = ANY($2)")
            .bind(id.as_str())
            .bind(keys)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    for p in params {
        if let Some(old) = existing.get(&p.key)
            && *old != p.value
        {
            return Err(StoreError::Conflict(format!(
                "Changing param values is not allowed. Param with key='{}' was already logged with \
                 value='{old}' for run ID='{id}'. Attempted logging new value '{}'.",
                p.key, p.value
            ))
            .into());
        }
    }
    let mut b: QueryBuilder<Postgres> =
        QueryBuilder::new("INSERT INTO params (run_id, key, value) ");
    b.push_values(params, |mut row, p| {
        row.push_bind(id.as_str().to_string())
            .push_bind(p.key.clone())
            .push_bind(p.value.clone());
    });
    // The first of repeated keys in one batch is kept, as with the SQLite store's INSERT OR IGNORE.
    b.push(" ON CONFLICT (run_id, key) DO NOTHING");
    b.build().execute(&mut *conn).await?;
    Ok(())
}

/// One metric point as stored: NaN becomes (0, true), as in the SQLite store.
struct Point<'a> {
    metric: &'a Metric,
    value: f64,
    is_nan: bool,
    model_id: Option<&'a str>,
    dataset_name: Option<&'a str>,
    dataset_digest: Option<&'a str>,
}

/// The batch with identical points merged, in first-seen order. PostgreSQL refuses a multi-row upsert that
/// touches one row twice; merging first gives what applying the points one by one would: one row, whose
/// model and dataset come from the last point that names them.
fn distinct_points(metrics: &[Metric]) -> Vec<Point<'_>> {
    let mut points: Vec<Point<'_>> = Vec::with_capacity(metrics.len());
    let mut seen: HashMap<(&str, i64, i64, u64, bool), usize> = HashMap::new();
    for m in metrics {
        let (value, is_nan) = stored(m.value);
        // -0.0 and 0.0 are one value to PostgreSQL's unique index.
        let bits = if value == 0.0 { 0 } else { value.to_bits() };
        let key = (m.key.as_str(), m.step, m.timestamp, bits, is_nan);
        match seen.get(&key) {
            Some(&i) => {
                let p = &mut points[i];
                p.model_id = m.model_id.as_deref().or(p.model_id);
                p.dataset_name = m.dataset_name.as_deref().or(p.dataset_name);
                p.dataset_digest = m.dataset_digest.as_deref().or(p.dataset_digest);
            }
            None => {
                seen.insert(key, points.len());
                points.push(Point {
                    metric: m,
                    value,
                    is_nan,
                    model_id: m.model_id.as_deref(),
                    dataset_name: m.dataset_name.as_deref(),
                    dataset_digest: m.dataset_digest.as_deref(),
                });
            }
        }
    }
    points
}

/// Appends metric points and moves each key's latest value forward when a newer point arrives.
async fn insert_metrics(conn: &mut PgConnection, id: &RunId, points: &[Point<'_>]) -> TxResult<()> {
    if points.is_empty() {
        return Ok(());
    }
    for chunk in points.chunks(METRIC_ROWS_PER_STATEMENT) {
        let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
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
             model_id = COALESCE(EXCLUDED.model_id, metrics.model_id), \
             dataset_name = COALESCE(EXCLUDED.dataset_name, metrics.dataset_name), \
             dataset_digest = COALESCE(EXCLUDED.dataset_digest, metrics.dataset_digest)",
        );
        b.build().execute(&mut *conn).await?;
    }
    // The newest point of each key in this batch; keys in order, so that row locks are always taken alike.
    let mut latest: BTreeMap<&str, &Metric> = BTreeMap::new();
    for p in points {
        let m = p.metric;
        match latest.get(m.key.as_str()) {
            Some(cur) if !m.is_newer_than(cur) => {}
            _ => {
                latest.insert(&m.key, m);
            }
        }
    }
    let mut b: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO latest_metrics (run_id, key, value, is_nan, step, timestamp) ",
    );
    b.push_values(latest.values(), |mut row, m| {
        let (value, is_nan) = stored(m.value);
        row.push_bind(id.as_str().to_string())
            .push_bind(m.key.clone())
            .push_bind(value)
            .push_bind(is_nan)
            .push_bind(m.step)
            .push_bind(m.timestamp);
    });
    // Atomic per row: the stored point is replaced only by a newer one, whatever commits in between.
    b.push(
        " ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, is_nan = EXCLUDED.is_nan, \
         step = EXCLUDED.step, timestamp = EXCLUDED.timestamp \
         WHERE (EXCLUDED.step, EXCLUDED.timestamp, EXCLUDED.is_nan, EXCLUDED.value) > \
               (latest_metrics.step, latest_metrics.timestamp, latest_metrics.is_nan, \
                latest_metrics.value)",
    );
    b.build().execute(&mut *conn).await?;
    Ok(())
}

/// NaN is kept as (0, true), as in the SQLite store, so both engines order and deduplicate alike.
fn stored(v: f64) -> (f64, bool) {
    if v.is_nan() { (0.0, true) } else { (v, false) }
}
