//! The run-row helpers `log_batch` (the one tracking write PostgreSQL spells its own way) starts with:
//! it locks the run's row first, so writes to one run follow one another, whichever server issues them.

use cairn_domain::{RunId, Tag};
use cairn_store_sql::{RUN_NAME_TAG, active_run};
use sqlx::PgConnection;

use crate::errors::TxResult;
use crate::key_values;

/// Locks the run's row for the rest of the transaction and fails unless the run exists and is active;
/// returns its experiment id. Waiting for the lock means reading the run as the last writer left it.
pub(crate) async fn lock_active(conn: &mut PgConnection, id: &RunId) -> TxResult<i64> {
    let row =
        sqlx::query("SELECT experiment_id, lifecycle_stage FROM runs WHERE run_id = $1 FOR UPDATE")
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(active_run(id, row)?)
}

/// Sets run tags (the last of repeated keys wins) and keeps the run's name in step with `mlflow.runName`.
pub(crate) async fn upsert_tags(conn: &mut PgConnection, id: &RunId, tags: &[Tag]) -> TxResult<()> {
    key_values::upsert_tags(conn, "tags", "run_id", id.as_str().to_string(), tags).await?;
    if let Some(name) = tags.iter().rev().find(|t| t.key == RUN_NAME_TAG) {
        sqlx::query("UPDATE runs SET name = $1 WHERE run_id = $2")
            .bind(&name.value)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
