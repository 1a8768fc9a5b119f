//! Experiments: creation with their tags, and finding them (the writes both engines spell alike are
//! `cairn_store_sql::SqlTracking`'s).

use async_trait::async_trait;
use cairn_domain::{Experiment, ExperimentId};
use cairn_store::{NewExperiment, StoreError, StoreResult};
use cairn_store_sql::{
    EXPERIMENT_COLUMNS, EngineExperiments, attach_experiment_tags, default_artifact_location,
    experiments,
};
use sqlx::AssertSqlSafe;

use crate::SqliteDb;
use crate::errors::{db, is_unique_violation};

#[async_trait]
impl EngineExperiments for SqliteDb {
    async fn create_experiment(&self, new: NewExperiment) -> StoreResult<ExperimentId> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time) VALUES (?1, ?2, 'active', ?3, ?3)",
        )
        .bind(&new.name)
        .bind(new.artifact_location.clone().unwrap_or_default())
        .bind(new.creation_time)
        .execute(&mut *tx)
        .await;
        let id = match inserted {
            Ok(r) => r.last_insert_rowid(),
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::AlreadyExists(format!(
                    "Experiment(name={}) already exists. Error: (sqlite3.IntegrityError) UNIQUE \
                     constraint failed: experiments.name",
                    new.name
                )));
            }
            Err(e) => return Err(db(e)),
        };
        if new.artifact_location.is_none() {
            sqlx::query("UPDATE experiments SET artifact_location = ?1 WHERE experiment_id = ?2")
                .bind(default_artifact_location(&new.default_artifact_root, id))
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        for tag in &new.tags {
            sqlx::query("INSERT OR REPLACE INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)")
                .bind(id)
                .bind(&tag.key)
                .bind(&tag.value)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(ExperimentId(id))
    }

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
