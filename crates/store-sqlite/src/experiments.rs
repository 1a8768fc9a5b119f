//! Finding experiments, with their tags, in this engine's SQL (their writes are
//! `cairn_store_sql::SqlTracking`'s).

use async_trait::async_trait;
use cairn_domain::Experiment;
use cairn_store::StoreResult;
use cairn_store_sql::{EXPERIMENT_COLUMNS, EngineExperiments, attach_experiment_tags, experiments};
use sqlx::AssertSqlSafe;

use crate::SqliteDb;
use crate::errors::db;

#[async_trait]
impl EngineExperiments for SqliteDb {
    /// The experiments matching `condition` (which may refer to `bind` as `?1`), with their tags.
    async fn find_experiments(
        &self,
        condition: &str,
        bind: Option<&str>,
    ) -> StoreResult<Vec<Experiment>> {
        let mut conn = self.read.acquire().await.map_err(db)?;
        let fetch = |sql: String| {
            let q = sqlx::query(AssertSqlSafe(sql));
            match bind {
                Some(b) => q.bind(b.to_string()),
                None => q,
            }
        };
        let rows = fetch(format!(
            "SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE {condition} ORDER BY experiment_id"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        let mut exps = experiments(&rows)?;
        if exps.is_empty() {
            return Ok(exps);
        }
        let tags = fetch(format!(
            "SELECT experiment_id, key, value FROM experiment_tags WHERE experiment_id IN \
             (SELECT experiment_id FROM experiments WHERE {condition}) ORDER BY key"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
        attach_experiment_tags(&mut exps, &tags);
        Ok(exps)
    }
}
