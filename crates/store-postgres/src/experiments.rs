//! Experiments: creation with their tags, and finding them (the writes both engines spell alike are
//! `cairn_store_sql::SqlTracking`'s).

use async_trait::async_trait;
use cairn_domain::{Experiment, ExperimentId, Tag};
use cairn_store::{NewExperiment, StoreError, StoreResult};
use cairn_store_sql::{
    EXPERIMENT_COLUMNS, EngineExperiments, attach_experiment_tags, default_artifact_location,
    experiments,
};
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::PostgresDb;
use crate::errors::{TxResult, is_unique_violation};
use crate::key_values;

#[async_trait]
impl EngineExperiments for PostgresDb {
    async fn create_experiment(&self, new: NewExperiment) -> StoreResult<ExperimentId> {
        let new = &new;
        self.write(|| async move {
            let mut tx = self.begin().await?;
            // The unique constraint decides between concurrent creators: the second waits for the first
            // to commit, then fails here.
            let inserted = sqlx::query(
                "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
                 last_update_time) VALUES ($1, $2, 'active', $3, $3) RETURNING experiment_id",
            )
            .bind(&new.name)
            .bind(new.artifact_location.clone().unwrap_or_default())
            .bind(new.creation_time)
            .fetch_one(&mut *tx)
            .await;
            let id: i64 = match inserted {
                Ok(row) => row.get(0),
                Err(e) if is_unique_violation(&e) => return Err(already_exists(&new.name).into()),
                Err(e) => return Err(e.into()),
            };
            if new.artifact_location.is_none() {
                sqlx::query(
                    "UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2",
                )
                .bind(default_artifact_location(&new.default_artifact_root, id))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            upsert_tags(&mut tx, id, &new.tags).await?;
            tx.commit().await?;
            Ok(ExperimentId(id))
        })
        .await
    }

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

/// Sets experiment tags; the last of repeated keys wins.
async fn upsert_tags(conn: &mut PgConnection, id: i64, tags: &[Tag]) -> TxResult<()> {
    key_values::upsert_tags(conn, "experiment_tags", "experiment_id", id, tags).await
}

fn already_exists(name: &str) -> StoreError {
    StoreError::AlreadyExists(format!(
        "Experiment(name={name}) already exists. Error: duplicate key value violates unique \
         constraint \"experiments_name_key\""
    ))
}
