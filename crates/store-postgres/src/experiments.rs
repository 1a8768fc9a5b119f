//! Finding experiments, with their tags, in this engine's SQL (their writes are
//! `cairn_store_sql::SqlTracking`'s).

use async_trait::async_trait;
use cairn_domain::Experiment;
use cairn_store::StoreResult;
use cairn_store_sql::{EXPERIMENT_COLUMNS, EngineExperiments, attach_experiment_tags, experiments};
use sqlx::AssertSqlSafe;

use crate::PostgresDb;

#[async_trait]
impl EngineExperiments for PostgresDb {
    async fn find_experiments(
        &self,
        condition: &str,
        bind: Option<&str>,
    ) -> StoreResult<Vec<Experiment>> {
        self.read(async {
            let mut conn = self.conn().await?;
            let sql = format!(
                "SELECT {EXPERIMENT_COLUMNS} FROM experiments WHERE {condition} \
                 ORDER BY experiment_id"
            );
            let q = sqlx::query(AssertSqlSafe(sql));
            let q = match bind {
                Some(b) => q.bind(b.to_string()),
                None => q,
            };
            let rows = q.fetch_all(&mut *conn).await?;
            let mut exps = experiments(&rows)?;
            if exps.is_empty() {
                return Ok(exps);
            }
            let ids: Vec<i64> = exps.iter().map(|e| e.id.0).collect();
            let rows = sqlx::query(
                "SELECT experiment_id, key, value FROM experiment_tags \
                 WHERE experiment_id = ANY($1) ORDER BY key",
            )
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
            attach_experiment_tags(&mut exps, &rows);
            Ok(exps)
        })
        .await
    }
}
