//! Runs: creation, info updates, lifecycle, tags and inputs/outputs.

use async_trait::async_trait;
use cairn_domain::{DatasetInput, ModelInput, ModelOutput, Run, RunId, RunInfo, Tag};
use cairn_store::{NewRun, RunUpdate, StoreResult};
use cairn_store_sql::{EngineRuns, RUN_NAME_TAG, active_run, load_run, run_artifact_uri};
use sqlx::{Row, SqliteConnection};

use crate::SqliteDb;
use crate::errors::db;
use crate::load::Loader;

#[async_trait]
impl EngineRuns for SqliteDb {
    async fn create_run(&self, new: NewRun) -> StoreResult<Run> {
        let mut tx = self.begin_write().await?;
        let exp = sqlx::query(
            "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = ?1",
        )
        .bind(new.experiment_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        let artifact_uri = run_artifact_uri(&new, exp)?;
        sqlx::query(
            "INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, artifact_uri, \
             lifecycle_stage) VALUES (?1, ?2, ?3, ?4, 'RUNNING', ?5, ?6, 'active')",
        )
        .bind(new.run_id.as_str())
        .bind(new.experiment_id.0)
        .bind(&new.run_name)
        .bind(&new.user_id)
        .bind(new.start_time)
        .bind(&artifact_uri)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        for tag in &new.tags {
            upsert_tag(&mut tx, &new.run_id, tag).await?;
        }
        let run = load_run(&mut Loader(&mut tx), &new.run_id).await?;
        tx.commit().await.map_err(db)?;
        Ok(run)
    }

    async fn update_run(&self, id: &RunId, update: RunUpdate) -> StoreResult<RunInfo> {
        let mut tx = self.begin_write().await?;
        require_active(&mut tx, id).await?;
        sqlx::query(
            "UPDATE runs SET status = COALESCE(?1, status), end_time = COALESCE(?2, end_time), \
             name = COALESCE(?3, name) WHERE run_id = ?4",
        )
        .bind(update.status.map(|s| s.as_str()))
        .bind(update.end_time)
        .bind(update.run_name.as_deref())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(name) = update.run_name {
            let tag = Tag {
                key: RUN_NAME_TAG.to_string(),
                value: name,
            };
            upsert_tag(&mut tx, id, &tag).await?;
        }
        let run = load_run(&mut Loader(&mut tx), id).await?;
        tx.commit().await.map_err(db)?;
        Ok(run.info)
    }

    async fn log_inputs(
        &self,
        id: &RunId,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        let experiment_id = require_active(&mut tx, id).await?;
        for input in datasets {
            let d = &input.dataset;
            // Same (name, digest) in an experiment is the same dataset: keep the first description.
            sqlx::query(
                "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, profile) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (experiment_id, name, digest) DO NOTHING",
            )
            .bind(experiment_id)
            .bind(&d.name)
            .bind(&d.digest)
            .bind(&d.source_type)
            .bind(&d.source)
            .bind(&d.schema)
            .bind(&d.profile)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            let dataset_id: i64 = sqlx::query(
                "SELECT dataset_id FROM datasets WHERE experiment_id = ?1 AND name = ?2 AND digest = ?3",
            )
            .bind(experiment_id)
            .bind(&d.name)
            .bind(&d.digest)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?
            .get(0);
            sqlx::query(
                "INSERT OR IGNORE INTO run_dataset_inputs (run_id, dataset_id) VALUES (?1, ?2)",
            )
            .bind(id.as_str())
            .bind(dataset_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
            for tag in &input.tags {
                sqlx::query(
                    "INSERT OR REPLACE INTO run_dataset_input_tags (run_id, dataset_id, key, value) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .bind(id.as_str())
                .bind(dataset_id)
                .bind(&tag.key)
                .bind(&tag.value)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
            }
        }
        for m in models {
            sqlx::query(
                "INSERT OR IGNORE INTO run_model_inputs (run_id, model_id) VALUES (?1, ?2)",
            )
            .bind(id.as_str())
            .bind(&m.model_id)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn log_outputs(&self, id: &RunId, models: Vec<ModelOutput>) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        require_active(&mut tx, id).await?;
        for m in models {
            sqlx::query(
                "INSERT OR REPLACE INTO run_model_outputs (run_id, model_id, step) VALUES (?1, ?2, ?3)",
            )
            .bind(id.as_str())
            .bind(&m.model_id)
            .bind(m.step)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }
}

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
