//! Batched logging of metrics, params and tags, and metric history.

use std::collections::HashMap;

use cairn_domain::{Metric, Param, RunId, Tag};
use cairn_store::{MetricHistoryQuery, StoreError, StoreResult};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::SqliteStore;
use crate::errors::db;
use crate::load::metric_value;
use crate::runs::{require_active, upsert_tag};

/// Rows per multi-row INSERT: 9 columns × 500 stays far below SQLite's 32,766 bound variables.
const METRIC_ROWS_PER_STATEMENT: usize = 500;

impl SqliteStore {
    pub(crate) async fn log_batch_impl(
        &self,
        id: &RunId,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_active(&mut tx, id).await?;
        insert_params(&mut tx, id, &params).await?;
        for tag in &tags {
            upsert_tag(&mut tx, id, tag).await?;
        }
        insert_metrics(&mut tx, id, &metrics).await?;
        tx.commit().await.map_err(db)
    }

    pub(crate) async fn metric_history_impl(
        &self,
        q: MetricHistoryQuery,
    ) -> StoreResult<Vec<Metric>> {
        if q.run_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut b: QueryBuilder<Sqlite> = QueryBuilder::new(
            "SELECT run_id, key, value, is_nan, step, timestamp, model_id, dataset_name, dataset_digest \
             FROM metrics WHERE key = ",
        );
        b.push_bind(q.key.clone()).push(" AND run_id IN (");
        let mut sep = b.separated(", ");
        for r in &q.run_ids {
            sep.push_bind(r.as_str().to_string());
        }
        b.push(")");
        if let Some(min) = q.min_step {
            b.push(" AND step >= ").push_bind(min);
        }
        if let Some(max) = q.max_step {
            b.push(" AND step <= ").push_bind(max);
        }
        b.push(" ORDER BY run_id, step, timestamp, value");
        let rows = b.build().fetch_all(&self.read).await.map_err(db)?;
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
    }
}

/// Inserts params, refusing (and so rolling back the batch) any that would change a logged value.
async fn insert_params(
    conn: &mut SqliteConnection,
    id: &RunId,
    params: &[Param],
) -> StoreResult<()> {
    if params.is_empty() {
        return Ok(());
    }
    let mut b: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT key, value FROM params WHERE run_id = ");
    b.push_bind(id.as_str().to_string()).push(" AND key IN (");
    let mut sep = b.separated(", ");
    for p in params {
        sep.push_bind(p.key.clone());
    }
    b.push(")");
    let existing: HashMap<String, String> = b
        .build()
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?
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
            )));
        }
    }
    let mut b: QueryBuilder<Sqlite> =
        QueryBuilder::new("INSERT OR IGNORE INTO params (run_id, key, value) ");
    b.push_values(params, |mut row, p| {
        row.push_bind(id.as_str().to_string())
            .push_bind(p.key.clone())
            .push_bind(p.value.clone());
    });
    b.build().execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

/// Appends metric points and moves each key's latest value forward when a newer point arrives.
async fn insert_metrics(
    conn: &mut SqliteConnection,
    id: &RunId,
    metrics: &[Metric],
) -> StoreResult<()> {
    if metrics.is_empty() {
        return Ok(());
    }
    for chunk in metrics.chunks(METRIC_ROWS_PER_STATEMENT) {
        let mut b: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO metrics (run_id, key, value, is_nan, step, timestamp, model_id, dataset_name, \
             dataset_digest) ",
        );
        b.push_values(chunk, |mut row, m| {
            let (value, is_nan) = stored(m.value);
            row.push_bind(id.as_str().to_string())
                .push_bind(m.key.clone())
                .push_bind(value)
                .push_bind(is_nan)
                .push_bind(m.step)
                .push_bind(m.timestamp)
                .push_bind(m.model_id.clone())
                .push_bind(m.dataset_name.clone())
                .push_bind(m.dataset_digest.clone());
        });
        // Re-logging an identical point (MLflow's log_model does, to attach a model id) keeps one row.
        b.push(
            " ON CONFLICT (run_id, key, step, timestamp, value, is_nan) DO UPDATE SET \
             model_id = COALESCE(excluded.model_id, metrics.model_id), \
             dataset_name = COALESCE(excluded.dataset_name, metrics.dataset_name), \
             dataset_digest = COALESCE(excluded.dataset_digest, metrics.dataset_digest)",
        );
        b.build().execute(&mut *conn).await.map_err(db)?;
    }
    let mut latest: HashMap<&str, &Metric> = HashMap::new();
    for m in metrics {
        match latest.get(m.key.as_str()) {
            Some(cur) if !m.is_newer_than(cur) => {}
            _ => {
                latest.insert(&m.key, m);
            }
        }
    }
    let mut b: QueryBuilder<Sqlite> = QueryBuilder::new(
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
    b.push(
        " ON CONFLICT (run_id, key) DO UPDATE SET value = excluded.value, is_nan = excluded.is_nan, \
         step = excluded.step, timestamp = excluded.timestamp \
         WHERE (excluded.step, excluded.timestamp, excluded.is_nan, excluded.value) > \
               (latest_metrics.step, latest_metrics.timestamp, latest_metrics.is_nan, latest_metrics.value)",
    );
    b.build().execute(&mut *conn).await.map_err(db)?;
    Ok(())
}

/// NaN cannot be stored in a SQLite REAL (it becomes NULL), so it is kept as (0, true).
fn stored(v: f64) -> (f64, bool) {
    if v.is_nan() { (0.0, true) } else { (v, false) }
}
