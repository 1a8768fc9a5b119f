//! Runs: creation, info updates, lifecycle, tags and inputs/outputs.
//!
//! Every write to an existing run begins with [`lock_active`], which locks the run's row: writes to one run
//! then follow one another, whichever server process issues them.

use std::collections::BTreeMap;

use async_trait::async_trait;
use cairn_domain::{DatasetInput, ModelInput, ModelOutput, Run, RunId, RunInfo, Tag};
use cairn_store::{NewRun, RunUpdate, StoreResult};
use cairn_store_sql::{EngineRuns, RUN_NAME_TAG, active_run, load_run, run_artifact_uri};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use crate::PostgresDb;
use crate::errors::TxResult;
use crate::key_values;
use crate::load::Loader;

#[async_trait]
impl EngineRuns for PostgresDb {
    async fn create_run(&self, new: NewRun) -> StoreResult<Run> {
        let new = &new;
        self.write(|| async move {
            let mut tx = self.begin().await?;
            // FOR SHARE: an experiment being deleted right now waits for this run (and then deletes it
            // too), or this run waits and sees the experiment deleted.
            let exp = sqlx::query(
                "SELECT artifact_location, lifecycle_stage FROM experiments \
                 WHERE experiment_id = $1 FOR SHARE",
            )
            .bind(new.experiment_id.0)
            .fetch_optional(&mut *tx)
            .await?;
            let artifact_uri = run_artifact_uri(new, exp)?;
            sqlx::query(
                "INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, \
                 artifact_uri, lifecycle_stage) VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, 'active')",
            )
            .bind(new.run_id.as_str())
            .bind(new.experiment_id.0)
            .bind(&new.run_name)
            .bind(&new.user_id)
            .bind(new.start_time)
            .bind(&artifact_uri)
            .execute(&mut *tx)
            .await?;
            upsert_tags(&mut tx, &new.run_id, &new.tags).await?;
            let run = load_run(&mut Loader(&mut tx), &new.run_id).await?;
            tx.commit().await?;
            Ok(run)
        })
        .await
    }

    async fn update_run(&self, id: &RunId, update: RunUpdate) -> StoreResult<RunInfo> {
        let update = &update;
        self.write(|| async move {
            let mut tx = self.begin().await?;
            lock_active(&mut tx, id).await?;
            sqlx::query(
                "UPDATE runs SET status = COALESCE($1, status), end_time = COALESCE($2, end_time), \
                 name = COALESCE($3, name) WHERE run_id = $4",
            )
            .bind(update.status.map(|s| s.as_str()))
            .bind(update.end_time)
            .bind(update.run_name.as_deref())
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            if let Some(name) = &update.run_name {
                let tag = Tag {
                    key: RUN_NAME_TAG.to_string(),
                    value: name.clone(),
                };
                upsert_tags(&mut tx, id, std::slice::from_ref(&tag)).await?;
            }
            let run = load_run(&mut Loader(&mut tx), id).await?;
            tx.commit().await?;
            Ok(run.info)
        })
        .await
    }

    async fn log_inputs(
        &self,
        id: &RunId,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> StoreResult<()> {
        let (datasets, models) = (&datasets, &models);
        self.write(|| async move {
            let mut tx = self.begin().await?;
            let experiment_id = lock_active(&mut tx, id).await?;
            if !datasets.is_empty() {
                // Datasets are shared by the runs of an experiment and inserted in the order given (their
                // ids keep that order for reads). Two runs inserting the same new datasets in opposite
                // orders would wait on each other until PostgreSQL's deadlock check (a second) aborts
                // one, so dataset writes of one experiment take turns instead.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('cairn.datasets', $1))")
                    .bind(experiment_id)
                    .execute(&mut *tx)
                    .await?;
            }
            for input in datasets {
                let d = &input.dataset;
                // Same (name, digest) in an experiment is the same dataset: keep the first description.
                // Under READ COMMITTED the SELECT after a conflicting no-op insert sees the winner's row.
                sqlx::query(
                    "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, \
                     profile) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (experiment_id, name, digest) DO NOTHING",
                )
                .bind(experiment_id)
                .bind(&d.name)
                .bind(&d.digest)
                .bind(&d.source_type)
                .bind(&d.source)
                .bind(&d.schema)
                .bind(&d.profile)
                .execute(&mut *tx)
                .await?;
                let dataset_id: i64 = sqlx::query(
                    "SELECT dataset_id FROM datasets \
                     WHERE experiment_id = $1 AND name = $2 AND digest = $3",
                )
                .bind(experiment_id)
                .bind(&d.name)
                .bind(&d.digest)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                sqlx::query(
                    "INSERT INTO run_dataset_inputs (run_id, dataset_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(id.as_str())
                .bind(dataset_id)
                .execute(&mut *tx)
                .await?;
                for tag in &input.tags {
                    sqlx::query(
                        "INSERT INTO run_dataset_input_tags (run_id, dataset_id, key, value) \
                         VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (run_id, dataset_id, key) DO UPDATE SET value = EXCLUDED.value",
                    )
                    .bind(id.as_str())
                    .bind(dataset_id)
                    .bind(&tag.key)
                    .bind(&tag.value)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            if !models.is_empty() {
                let mut b: QueryBuilder<Postgres> =
                    QueryBuilder::new("INSERT INTO run_model_inputs (run_id, model_id) ");
                b.push_values(models, |mut row, m| {
                    row.push_bind(id.as_str().to_string())
                        .push_bind(m.model_id.clone());
                });
                b.push(" ON CONFLICT DO NOTHING");
                b.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    async fn log_outputs(&self, id: &RunId, models: Vec<ModelOutput>) -> StoreResult<()> {
        // The last output of a model in the list wins, as when each replaces the one before.
        let steps: BTreeMap<&str, i64> = models
            .iter()
            .map(|m| (m.model_id.as_str(), m.step))
            .collect();
        let steps = &steps;
        self.write(|| async move {
            let mut tx = self.begin().await?;
            lock_active(&mut tx, id).await?;
            if !steps.is_empty() {
                let mut b: QueryBuilder<Postgres> =
                    QueryBuilder::new("INSERT INTO run_model_outputs (run_id, model_id, step) ");
                b.push_values(steps.iter(), |mut row, (model_id, step)| {
                    row.push_bind(id.as_str().to_string())
                        .push_bind(model_id.to_string())
                        .push_bind(*step);
                });
                b.push(" ON CONFLICT (run_id, model_id) DO UPDATE SET step = EXCLUDED.step");
                b.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

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
