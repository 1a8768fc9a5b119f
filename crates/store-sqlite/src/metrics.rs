//! Batched logging of metrics, params and tags, and metric history.

use std::collections::HashMap;

use async_trait::async_trait;
use cairn_domain::{Metric, Param, RunId, Tag};
use cairn_store::{MetricHistoryQuery, StoreResult};
use cairn_store_sql::{
    EngineMetrics, check_params, history_metric, history_query, metric_statements, points,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use crate::SqliteDb;
use crate::errors::db;
use crate::runs::{require_active, upsert_tag};

/// Rows per multi-row INSERT: 9 columns × 500 stays far below SQLite's 32,766 bound variables.
const METRIC_ROWS_PER_STATEMENT: usize = 500;

#[async_trait]
impl EngineMetrics for SqliteDb {
    async fn log_batch(
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
        // Identical points in one batch need no merging: SQLite applies a multi-row upsert row by row.
        let points = points(&metrics);
        for mut b in metric_statements::<Sqlite>(id, &points, METRIC_ROWS_PER_STATEMENT) {
            b.build().execute(&mut *tx).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn metric_history(&self, q: MetricHistoryQuery) -> StoreResult<Vec<Metric>> {
        let mut b = history_query::<Sqlite>(&q, |b| {
            b.push(" AND run_id IN (");
            let mut sep = b.separated(", ");
            for r in &q.run_ids {
                sep.push_bind(r.as_str().to_string());
            }
            b.push(")");
        });
        let rows = b.build().fetch_all(&self.read).await.map_err(db)?;
        Ok(rows.iter().map(history_metric).collect())
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
    check_params(id, &existing, params)?;
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
