//! The run-row helpers `log_batch` (the one tracking write SQLite spells its own way) starts with.

use cairn_domain::{RunId, Tag};
use cairn_store::StoreResult;
use cairn_store_sql::{RUN_NAME_TAG, active_run};
use sqlx::SqliteConnection;

use crate::errors::db;

/// Fails unless the run exists and is active; returns its experiment id.
pub(crate) async fn require_active(conn: &mut SqliteConnection, id: &RunId) -> StoreResult<i64> {
    let row = sqlx::query("SELECT experiment_id, lifecycle_stage FROM runs WHERE run_id = ?1")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    active_run(id, row)
}

pub(crate) async fn upsert_tag(
    conn: &mut SqliteConnection,
    id: &RunId,
    tag: &Tag,
) -> StoreResult<()> {
    sqlx::query("INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?1, ?2, ?3)")
        .bind(id.as_str())
        .bind(&tag.key)
        .bind(&tag.value)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    if tag.key == RUN_NAME_TAG {
        sqlx::query("UPDATE runs SET name = ?1 WHERE run_id = ?2")
            .bind(&tag.value)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    Ok(())
}
