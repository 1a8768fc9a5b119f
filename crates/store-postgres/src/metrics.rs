//! Batched logging of metrics, params and tags, and metric history.

use std::collections::HashMap;

use async_trait::async_trait;
use cairn_domain::{Metric, Param, RunId, Tag};
use cairn_store::{MetricHistoryQuery, StoreResult};
use cairn_store_sql::{
    EngineMetrics, Point, check_params, history_metric, history_query, metric_statements,
};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use crate::PostgresDb;
use crate::errors::TxResult;
use crate::runs::{lock_active, upsert_tags};

/// Rows per multi-row INSERT: 9 columns × 1,000 stays far below PostgreSQL's 65,535 bound parameters.
const METRIC_ROWS_PER_STATEMENT: usize = 1_000;

#[async_trait]
impl EngineMetrics for PostgresDb {
    async fn log_batch(
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
            for mut b in metric_statements::<Postgres>(id, points, METRIC_ROWS_PER_STATEMENT) {
                b.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn metric_history(&self, q: MetricHistoryQuery) -> StoreResult<Vec<Metric>> {
        let run_ids: Vec<String> = q.run_ids.iter().map(|r| r.as_str().to_string()).collect();
        let mut b = history_query::<Postgres>(&q, |b| {
            b.push(" AND run_id = ANY(").push_bind(run_ids).push(")");
        });
        self.read(async {
            let rows = b.build().fetch_all(&mut *self.conn().await?).await?;
            Ok(rows.iter().map(history_metric).collect())
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
    check_params(id, &existing, params)?;
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

/// The batch with identical points merged, in first-seen order. PostgreSQL refuses a multi-row upsert that
/// touches one row twice; merging first gives what applying the points one by one would: one row, whose
/// model and dataset come from the last point that names them.
fn distinct_points(metrics: &[Metric]) -> Vec<Point<'_>> {
    let mut points: Vec<Point<'_>> = Vec::with_capacity(metrics.len());
    let mut seen: HashMap<(&str, i64, i64, u64, bool), usize> = HashMap::new();
    for m in metrics {
        let point = Point::new(m);
        // -0.0 and 0.0 are one value to PostgreSQL's unique index.
        let bits = if point.value == 0.0 {
            0
        } else {
            point.value.to_bits()
        };
        let key = (m.key.as_str(), m.step, m.timestamp, bits, point.is_nan);
        match seen.get(&key) {
            Some(&i) => {
                let p = &mut points[i];
                p.model_id = m.model_id.as_deref().or(p.model_id);
                p.dataset_name = m.dataset_name.as_deref().or(p.dataset_name);
                p.dataset_digest = m.dataset_digest.as_deref().or(p.dataset_digest);
            }
            None => {
                seen.insert(key, points.len());
                points.push(point);
            }
        }
    }
    points
}
