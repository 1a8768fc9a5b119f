//! The tracking writes whose statements both engines share: creating experiments, runs and logged
//! models, a run's info, inputs and outputs, a logged model's status and tags. Each runs on the
//! engine's tracking transaction ([`TrackingEngine::begin_tracking`], `$1` parameters) and locks the row
//! it depends on first with the engine's lock clause, so writes to one run or model follow one another
//! on every engine; what a write returns is read after its commit, through the engine's readers.

use std::collections::BTreeMap;

use cairn_domain::{
    DatasetInput, ExperimentId, LifecycleStage, LoggedModel, LoggedModelId, ModelInput,
    ModelOutput, Run, RunId, RunInfo, Tag,
};
use cairn_store::StoreResult;
use cairn_store::{
    LoggedModelUpdate, NewExperiment, NewLoggedModel, NewRun, RunUpdate, StoreError,
};

use crate::errors::{experiment_not_active, run_not_active};
use crate::registry::{Row, Tx, Val};
use crate::{
    RUN_NAME_TAG, SqlTracking, TrackingEngine, default_artifact_location, experiment_name_taken,
    experiment_not_found, load_model, load_run, model_artifact_uri, model_not_found,
    no_active_experiment, run_not_found,
};

impl<E: TrackingEngine> SqlTracking<E> {
    pub(crate) async fn insert_experiment(&self, new: NewExperiment) -> StoreResult<ExperimentId> {
        let mut tx = self.engine().begin_tracking().await?;
        let inserted = tx.execute(
            "INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time) VALUES ($1, $2, 'active', $3, $3)",
            vec![
                (&new.name).into(),
                new.artifact_location.clone().unwrap_or_default().into(),
                new.creation_time.into(),
            ],
        );
        match inserted.await {
            Ok(_) => {}
            Err(StoreError::AlreadyExists(_)) => return Err(experiment_name_taken(&new.name)),
            Err(e) => return Err(e),
        }
        let found = tx.query(
            "SELECT experiment_id FROM experiments WHERE name = $1",
            vec![(&new.name).into()],
        );
        let id = first(found.await?)?.int(0)?;
        if new.artifact_location.is_none() {
            let location = default_artifact_location(&new.default_artifact_root, id);
            tx.execute(
                "UPDATE experiments SET artifact_location = $1 WHERE experiment_id = $2",
                vec![location.into(), id.into()],
            )
            .await?;
        }
        upsert_key_values(
            &mut *tx,
            "experiment_tags",
            "experiment_id",
            id.into(),
            &tags(&new.tags),
        )
        .await?;
        tx.commit().await?;
        Ok(ExperimentId(id))
    }

    pub(crate) async fn insert_run(&self, new: NewRun) -> StoreResult<Run> {
        let mut tx = self.engine().begin_tracking().await?;
        // A shared lock on the experiment: one being deleted now waits for this run (and then deletes it
        // too), or this run waits and sees the experiment deleted.
        let experiment = format!(
            "SELECT artifact_location, lifecycle_stage FROM experiments WHERE experiment_id = $1{}",
            E::LOCK_SHARE
        );
        let rows = tx
            .query(&experiment, vec![new.experiment_id.0.into()])
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| experiment_not_found(new.experiment_id))?;
        let stage = row.text(1)?;
        if stage != LifecycleStage::Active.as_str() {
            return Err(experiment_not_active(new.experiment_id, &stage));
        }
        let location = row.text(0)?;
        let artifact_uri = format!(
            "{}/{}/artifacts",
            location.trim_end_matches('/'),
            new.run_id
        );
        tx.execute(
            "INSERT INTO runs (run_id, experiment_id, name, user_id, status, start_time, artifact_uri, \
             lifecycle_stage) VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, 'active')",
            vec![
                new.run_id.as_str().into(),
                new.experiment_id.0.into(),
                (&new.run_name).into(),
                (&new.user_id).into(),
                new.start_time.into(),
                artifact_uri.into(),
            ],
        )
        .await?;
        upsert_run_tags(&mut *tx, &new.run_id, &new.tags).await?;
        tx.commit().await?;
        load_run(&mut self.engine().reader().await?, &new.run_id).await
    }

    pub(crate) async fn write_run_info(
        &self,
        id: &RunId,
        update: RunUpdate,
    ) -> StoreResult<RunInfo> {
        let mut tx = self.engine().begin_tracking().await?;
        self.lock_active_run(&mut *tx, id).await?;
        tx.execute(
            "UPDATE runs SET status = COALESCE($1, status), end_time = COALESCE($2, end_time), \
             name = COALESCE($3, name) WHERE run_id = $4",
            vec![
                update.status.map(|s| s.as_str()).into(),
                update.end_time.into(),
                update.run_name.as_deref().into(),
                id.as_str().into(),
            ],
        )
        .await?;
        if let Some(name) = update.run_name {
            let tag = Tag {
                key: RUN_NAME_TAG.to_owned(),
                value: name,
            };
            upsert_run_tags(&mut *tx, id, &[tag]).await?;
        }
        tx.commit().await?;
        Ok(load_run(&mut self.engine().reader().await?, id).await?.info)
    }

    pub(crate) async fn write_inputs(
        &self,
        id: &RunId,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> StoreResult<()> {
        let mut tx = self.engine().begin_tracking().await?;
        let experiment_id = self.lock_active_run(&mut *tx, id).await?;
        if !datasets.is_empty() && !E::LOCK_DATASETS.is_empty() {
            tx.execute(E::LOCK_DATASETS, vec![experiment_id.into()])
                .await?;
        }
        for input in &datasets {
            let d = &input.dataset;
            // Same (name, digest) in an experiment is the same dataset: keep the first description.
            // Under READ COMMITTED the SELECT after a conflicting no-op insert sees the winner's row.
            tx.execute(
                "INSERT INTO datasets (experiment_id, name, digest, source_type, source, schema, \
                 profile) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (experiment_id, name, digest) DO NOTHING",
                vec![
                    experiment_id.into(),
                    (&d.name).into(),
                    (&d.digest).into(),
                    (&d.source_type).into(),
                    (&d.source).into(),
                    (&d.schema).into(),
                    (&d.profile).into(),
                ],
            )
            .await?;
            let found = tx.query(
                "SELECT dataset_id FROM datasets WHERE experiment_id = $1 AND name = $2 AND digest = $3",
                vec![experiment_id.into(), (&d.name).into(), (&d.digest).into()],
            );
            let dataset_id = first(found.await?)?.int(0)?;
            tx.execute(
                "INSERT INTO run_dataset_inputs (run_id, dataset_id) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
                vec![id.as_str().into(), dataset_id.into()],
            )
            .await?;
            for tag in &input.tags {
                tx.execute(
                    "INSERT INTO run_dataset_input_tags (run_id, dataset_id, key, value) \
                     VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (run_id, dataset_id, key) DO UPDATE SET value = excluded.value",
                    vec![
                        id.as_str().into(),
                        dataset_id.into(),
                        (&tag.key).into(),
                        (&tag.value).into(),
                    ],
                )
                .await?;
            }
        }
        if !models.is_empty() {
            let rows = models
                .iter()
                .map(|m| vec![id.as_str().into(), (&m.model_id).into()]);
            let insert = values("INSERT INTO run_model_inputs (run_id, model_id)", rows);
            let (sql, args) = insert;
            tx.execute(&format!("{sql} ON CONFLICT DO NOTHING"), args)
                .await?;
        }
        tx.commit().await
    }

    pub(crate) async fn write_outputs(
        &self,
        id: &RunId,
        models: Vec<ModelOutput>,
    ) -> StoreResult<()> {
        let mut tx = self.engine().begin_tracking().await?;
        self.lock_active_run(&mut *tx, id).await?;
        // The last output of a model in the list wins, as when each replaces the one before (and one
        // statement may not touch a row twice).
        let steps: BTreeMap<&str, i64> = models
            .iter()
            .map(|m| (m.model_id.as_str(), m.step))
            .collect();
        if !steps.is_empty() {
            let rows = steps
                .iter()
                .map(|(model, step)| vec![id.as_str().into(), (*model).into(), (*step).into()]);
            let (sql, args) = values(
                "INSERT INTO run_model_outputs (run_id, model_id, step)",
                rows,
            );
            let upsert =
                format!("{sql} ON CONFLICT (run_id, model_id) DO UPDATE SET step = excluded.step");
            tx.execute(&upsert, args).await?;
        }
        tx.commit().await
    }

    pub(crate) async fn insert_logged_model(
        &self,
        new: NewLoggedModel,
    ) -> StoreResult<LoggedModel> {
        let mut tx = self.engine().begin_tracking().await?;
        let experiment = format!(
            "SELECT artifact_location FROM experiments \
             WHERE experiment_id = $1 AND lifecycle_stage = 'active'{}",
            E::LOCK_SHARE
        );
        let rows = tx
            .query(&experiment, vec![new.experiment_id.0.into()])
            .await?;
        let location = rows
            .first()
            .ok_or_else(|| no_active_experiment(new.experiment_id))?
            .text(0)?;
        tx.execute(
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_uri, \
             creation_timestamp_ms, last_updated_timestamp_ms, status, model_type, source_run_id) \
             VALUES ($1, $2, $3, $4, $5, $5, 'LOGGED_MODEL_PENDING', $6, $7)",
            vec![
                new.model_id.as_str().into(),
                new.experiment_id.0.into(),
                (&new.name).into(),
                model_artifact_uri(&location, &new.model_id).into(),
                new.creation_timestamp_ms.into(),
                (&new.model_type).into(),
                (&new.source_run_id).into(),
            ],
        )
        .await?;
        let params: BTreeMap<&str, &str> = new
            .params
            .iter()
            .map(|p| (p.key.as_str(), p.value.as_str()))
            .collect();
        let owner: Val = new.model_id.as_str().into();
        if !params.is_empty() {
            let (sql, args) = key_value_rows("logged_model_params", "model_id", &owner, &params);
            tx.execute(&sql, args).await?;
        }
        upsert_key_values(
            &mut *tx,
            "logged_model_tags",
            "model_id",
            owner,
            &tags(&new.tags),
        )
        .await?;
        tx.commit().await?;
        load_model(&mut self.engine().reader().await?, &new.model_id).await
    }

    pub(crate) async fn write_logged_model_status(
        &self,
        id: &LoggedModelId,
        update: LoggedModelUpdate,
    ) -> StoreResult<LoggedModel> {
        let mut tx = self.engine().begin_tracking().await?;
        let updated = tx.execute(
            "UPDATE logged_models SET status = $1, status_message = $2, \
             last_updated_timestamp_ms = $3 WHERE model_id = $4 AND lifecycle_stage = 'active'",
            vec![
                update.status.as_str().into(),
                (&update.status_message).into(),
                update.updated_ms.into(),
                id.as_str().into(),
            ],
        );
        if updated.await? == 0 {
            return Err(model_not_found(id));
        }
        tx.commit().await?;
        load_model(&mut self.engine().reader().await?, id).await
    }

    pub(crate) async fn write_logged_model_tags(
        &self,
        id: &LoggedModelId,
        new: Vec<Tag>,
    ) -> StoreResult<()> {
        let mut tx = self.engine().begin_tracking().await?;
        let locate = format!(
            "SELECT 1 FROM logged_models WHERE model_id = $1 AND lifecycle_stage = 'active'{}",
            E::LOCK_ROW
        );
        if tx
            .query(&locate, vec![id.as_str().into()])
            .await?
            .is_empty()
        {
            return Err(model_not_found(id));
        }
        upsert_key_values(
            &mut *tx,
            "logged_model_tags",
            "model_id",
            id.as_str().into(),
            &tags(&new),
        )
        .await?;
        tx.commit().await
    }

    /// Locks the run's row for the rest of the transaction and fails unless the run exists and is
    /// active; returns its experiment id. Waiting for the lock means reading the run as the last writer
    /// left it.
    async fn lock_active_run(&self, tx: &mut dyn Tx, id: &RunId) -> StoreResult<i64> {
        let locate = format!(
            "SELECT experiment_id, lifecycle_stage FROM runs WHERE run_id = $1{}",
            E::LOCK_ROW
        );
        let rows = tx.query(&locate, vec![id.as_str().into()]).await?;
        let row = rows.first().ok_or_else(|| run_not_found(id))?;
        match row.text(1)?.as_str() {
            "active" => row.int(0),
            stage => Err(run_not_active(id, stage)),
        }
    }
}

fn first(rows: Vec<Row>) -> StoreResult<Row> {
    rows.into_iter()
        .next()
        .ok_or_else(|| StoreError::Internal("a row just written is not there".into()))
}

/// Each key's last value, keys in order: one statement may not touch a row twice, and applying the
/// pairs one by one would leave the last.
fn tags(tags: &[Tag]) -> BTreeMap<&str, &str> {
    tags.iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect()
}

/// Sets a run's tags and keeps the run's name in step with `mlflow.runName`.
async fn upsert_run_tags(tx: &mut dyn Tx, id: &RunId, new: &[Tag]) -> StoreResult<()> {
    upsert_key_values(tx, "tags", "run_id", id.as_str().into(), &tags(new)).await?;
    if let Some(name) = new.iter().rev().find(|t| t.key == RUN_NAME_TAG) {
        tx.execute(
            "UPDATE runs SET name = $1 WHERE run_id = $2",
            vec![(&name.value).into(), id.as_str().into()],
        )
        .await?;
    }
    Ok(())
}

/// Sets `owner`'s key/value rows in `table` (keyed by `(owner_column, key)`) in one statement.
async fn upsert_key_values(
    tx: &mut dyn Tx,
    table: &str,
    owner_column: &str,
    owner: Val,
    pairs: &BTreeMap<&str, &str>,
) -> StoreResult<()> {
    if pairs.is_empty() {
        return Ok(());
    }
    let (sql, args) = key_value_rows(table, owner_column, &owner, pairs);
    let upsert =
        format!("{sql} ON CONFLICT ({owner_column}, key) DO UPDATE SET value = excluded.value");
    tx.execute(&upsert, args).await.map(|_| ())
}

/// `INSERT INTO {table} ({owner_column}, key, value) VALUES …`: one row per pair, all of `owner`.
fn key_value_rows(
    table: &str,
    owner_column: &str,
    owner: &Val,
    pairs: &BTreeMap<&str, &str>,
) -> (String, Vec<Val>) {
    let rows = pairs
        .iter()
        .map(|(k, v)| vec![owner.clone(), (*k).into(), (*v).into()]);
    values(
        &format!("INSERT INTO {table} ({owner_column}, key, value)"),
        rows,
    )
}

/// `{insert} VALUES ($1, $2), ($3, $4), …` with the rows' values as its arguments.
fn values(insert: &str, rows: impl Iterator<Item = Vec<Val>>) -> (String, Vec<Val>) {
    let mut sql = format!("{insert} VALUES ");
    let mut args = Vec::new();
    for (i, row) in rows.enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (j, v) in row.into_iter().enumerate() {
            if j > 0 {
                sql.push_str(", ");
            }
            args.push(v);
            sql.push_str(&format!("${}", args.len()));
        }
        sql.push(')');
    }
    (sql, args)
}
