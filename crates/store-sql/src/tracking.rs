//! Experiment tracking on SQL: [`TrackingStore`] written once, as [`SqlTracking`] over an engine
//! ([`TrackingEngine`]).
//!
//! Written here and in `tracking_writes`: the reads, over the engine's read connections
//! ([`TrackingEngine::reader`]) and the shared loads; and every write whose statements both engines
//! share, on the engine's tracking transactions ([`TrackingEngine::begin_tracking`], the registry's
//! [`Tx`]: `$1` parameters), locking the row it depends on with the engine's lock clauses
//! ([`TrackingEngine::LOCK_ROW`] and its siblings). An engine supplies only what really differs: its
//! connections and transactions, the ingest hot path `log_batch` (each dialect's bulk statements:
//! PostgreSQL's `UNNEST` arrays, SQLite's prepared multi-row inserts on its one writer), and the
//! experiment and metric-history lookups whose SQL is its own.

use async_trait::async_trait;
use cairn_domain::metric_series::StepBucket;
use cairn_domain::search::RunFields;
use cairn_domain::{
    DatasetInput, Experiment, ExperimentId, LifecycleStage, LoggedModel, LoggedModelId, Metric,
    ModelInput, ModelOutput, Param, Run, RunId, RunInfo, Tag, ViewType,
};
use cairn_store::{
    LoggedModelUpdate, MetricExtremes, MetricHistoryQuery, NewExperiment, NewLoggedModel, NewRun,
    RunActivity, RunIdPage, RunQuery, RunUpdate, StoreError, StoreResult, SummaryQuery,
    TrackingStore,
};

use crate::errors::run_not_active;
use crate::registry::{RegistryDb, Row, Tx, Val};
use crate::search_sql::Dialect;
use crate::{
    Columns, Fetch, RunScope, experiment_name_not_found, experiment_name_taken,
    experiment_not_found, experiment_not_in_stage, experiment_tag_not_found, experiments_in_view,
    in_request_order, load_active_model, load_active_models, load_run, load_runs, model_not_found,
    model_tag_not_found, run_not_found, run_tag_not_found, stage_before,
};

/// An engine tracking runs on: its read connections, and (through the supertraits)
/// the writes and lookups whose SQL is its own.
#[async_trait]
pub trait TrackingEngine:
    EngineExperiments + EngineMetrics + RegistryDb + Send + Sync + 'static
{
    /// A read connection running the shared loads; its failures are already [`StoreError`]s.
    type Reader: Fetch<Error = StoreError>;

    /// Opens the database `uri` names and brings its schema up to date.
    async fn open(uri: &str) -> StoreResult<Self>
    where
        Self: Sized;

    /// Closes every connection; operations after this fail with [`StoreError::Unavailable`].
    async fn close(&self);

    /// How a tracking write locks the row of the run or logged model whose children it changes
    /// (PostgreSQL: `FOR UPDATE`), and of the experiment it adds to or takes from (`FOR KEY SHARE`):
    /// appended to the SELECT that checks the row. Empty on SQLite, whose one writer holds the lock.
    const LOCK_ROW: &'static str;
    const LOCK_KEY: &'static str;
    /// How a write that adds a run or a logged model to an experiment locks the experiment's row
    /// against a concurrent lifecycle change (PostgreSQL: `FOR SHARE`; empty on SQLite).
    const LOCK_SHARE: &'static str;
    /// A statement (`$1`: the experiment id) that makes dataset writes of one experiment take turns, or
    /// empty. PostgreSQL needs it: two runs inserting the same new datasets in opposite orders would wait
    /// on each other until its deadlock check (a second) aborts one.
    const LOCK_DATASETS: &'static str;

    /// How run searches spell bytewise text comparison and LIKE on this engine.
    const DIALECT: Dialect;

    /// A read connection from the engine's pool (failing to get one is [`StoreError::Unavailable`]).
    async fn reader(&self) -> StoreResult<Self::Reader>;

    /// A tracking write transaction, running the statements written here (`$1` parameters). It takes
    /// no registry lock.
    async fn begin_tracking(&self) -> StoreResult<Box<dyn Tx>>;
}

/// Experiments: the lookup all reads of experiments go through (its SQL is the engine's own).
#[async_trait]
pub trait EngineExperiments {
    /// The experiments matching `condition` (which may refer to `bind` as the reader's
    /// [`Fetch::PARAM`]), with their tags, by id.
    async fn find_experiments(
        &self,
        condition: &str,
        bind: Option<&str>,
    ) -> StoreResult<Vec<Experiment>>;
}

/// Metrics, params and tags in one batch (the ingest hot path), and metric history.
#[async_trait]
pub trait EngineMetrics {
    async fn log_batch(
        &self,
        id: &RunId,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> StoreResult<()>;
    /// History for a query naming at least one run.
    async fn metric_history(&self, query: MetricHistoryQuery) -> StoreResult<Vec<Metric>>;
}

/// The tracking store on an engine; cheap to clone when the engine is.
#[derive(Clone)]
pub struct SqlTracking<E>(E);

impl<E: TrackingEngine> SqlTracking<E> {
    /// Opens the engine on the database `uri` names.
    pub async fn open(uri: &str) -> StoreResult<Self> {
        E::open(uri).await.map(Self)
    }

    /// Closes the engine's connections.
    pub async fn close(&self) {
        self.0.close().await
    }

    pub(crate) fn engine(&self) -> &E {
        &self.0
    }
}

/// The registry, deployments and change log run on the same engine's transactions.
#[async_trait]
impl<E: RegistryDb> RegistryDb for SqlTracking<E> {
    async fn begin_write(&self) -> StoreResult<Box<dyn Tx>> {
        self.0.begin_write().await
    }
    async fn begin_read(&self) -> StoreResult<Box<dyn Tx>> {
        self.0.begin_read().await
    }
}

impl<E: TrackingEngine> SqlTracking<E> {
    async fn one_experiment(
        &self,
        condition: &str,
        bind: Option<&str>,
        missing: impl FnOnce() -> StoreError,
    ) -> StoreResult<Experiment> {
        self.0
            .find_experiments(condition, bind)
            .await?
            .pop()
            .ok_or_else(missing)
    }

    /// Deletes the tag `key` of one experiment, run or logged model (`owner`, in `table`'s `column`) in one
    /// write transaction, once `check` accepts the owner's row as `locate` (`$1` the owner) selects and
    /// locks it. `None`: the owner has no such tag.
    async fn delete_tag(
        &self,
        locate: &str,
        check: impl FnOnce(&[Row]) -> StoreResult<()> + Send,
        (table, column): (&str, &str),
        owner: Val,
        key: &str,
    ) -> StoreResult<Option<()>> {
        let mut tx = self.0.begin_tracking().await?;
        check(&tx.query(locate, vec![owner.clone()]).await?)?;
        let delete = format!("DELETE FROM {table} WHERE {column} = $1 AND key = $2");
        if tx.execute(&delete, vec![owner, key.into()]).await? == 0 {
            return Ok(None);
        }
        tx.commit().await.map(Some)
    }

    /// Runs of the experiments: whole, or with only the children `fields` names (for a search).
    async fn runs_of(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        fields: Option<&RunFields>,
    ) -> StoreResult<Vec<Run>> {
        if experiments.is_empty() {
            return Ok(Vec::new());
        }
        let scope = RunScope::Experiments(experiments, view);
        load_runs(&mut self.0.reader().await?, scope, fields).await
    }
}

#[async_trait]
impl<E: TrackingEngine> TrackingStore for SqlTracking<E> {
    async fn create_experiment(&self, new: NewExperiment) -> StoreResult<ExperimentId> {
        self.insert_experiment(new).await
    }
    async fn get_experiment(&self, id: ExperimentId) -> StoreResult<Experiment> {
        let condition = format!("experiment_id = {}", id.0);
        self.one_experiment(&condition, None, || experiment_not_found(id))
            .await
    }
    async fn get_experiment_by_name(&self, name: &str) -> StoreResult<Experiment> {
        let condition = format!("name = {}", <E::Reader as Fetch>::PARAM);
        self.one_experiment(&condition, Some(name), || experiment_name_not_found(name))
            .await
    }
    async fn list_experiments(&self, view: ViewType) -> StoreResult<Vec<Experiment>> {
        self.0
            .find_experiments(experiments_in_view(view), None)
            .await
    }
    async fn rename_experiment(&self, id: ExperimentId, name: &str, now: i64) -> StoreResult<()> {
        let mut tx = self.0.begin_tracking().await?;
        let sql =
            "UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3";
        let renamed = tx.execute(sql, vec![name.into(), now.into(), id.0.into()]);
        match renamed.await {
            Ok(0) => return Err(experiment_not_found(id)),
            Ok(_) => {}
            Err(StoreError::AlreadyExists(_)) => return Err(experiment_name_taken(name)),
            Err(e) => return Err(e),
        }
        tx.commit().await
    }
    async fn set_experiment_lifecycle(
        &self,
        id: ExperimentId,
        stage: LifecycleStage,
        now: i64,
    ) -> StoreResult<()> {
        let from = stage_before(stage);
        let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
        // The experiment's row first, then its runs: the order every tracking write locks them in.
        let mut tx = self.0.begin_tracking().await?;
        let moved = tx.execute(
            "UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 \
             WHERE experiment_id = $3 AND lifecycle_stage = $4",
            vec![
                stage.as_str().into(),
                now.into(),
                id.0.into(),
                from.as_str().into(),
            ],
        );
        if moved.await? == 0 {
            return Err(experiment_not_in_stage(id, from.as_str()));
        }
        tx.execute(
            "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE experiment_id = $3",
            vec![stage.as_str().into(), deleted_time.into(), id.0.into()],
        )
        .await?;
        tx.commit().await
    }
    async fn set_experiment_tag(&self, id: ExperimentId, tag: Tag) -> StoreResult<()> {
        let mut tx = self.0.begin_tracking().await?;
        let exists = format!(
            "SELECT 1 FROM experiments WHERE experiment_id = $1{}",
            E::LOCK_KEY
        );
        if tx.query(&exists, vec![id.0.into()]).await?.is_empty() {
            return Err(experiment_not_found(id));
        }
        tx.execute(
            "INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) \
             ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            vec![id.0.into(), tag.key.into(), tag.value.into()],
        )
        .await?;
        tx.commit().await
    }
    async fn delete_experiment_tag(&self, id: ExperimentId, key: &str) -> StoreResult<()> {
        let locate = format!(
            "SELECT 1 FROM experiments WHERE experiment_id = $1{}",
            E::LOCK_KEY
        );
        let check = |rows: &[Row]| {
            rows.first()
                .map(|_| ())
                .ok_or_else(|| experiment_not_found(id))
        };
        let tags = ("experiment_tags", "experiment_id");
        self.delete_tag(&locate, check, tags, id.0.into(), key)
            .await?
            .ok_or_else(|| experiment_tag_not_found(id, key))
    }

    async fn create_run(&self, new: NewRun) -> StoreResult<Run> {
        self.insert_run(new).await
    }
    async fn get_run(&self, id: &RunId) -> StoreResult<Run> {
        load_run(&mut self.0.reader().await?, id).await
    }
    async fn update_run(&self, id: &RunId, update: RunUpdate) -> StoreResult<RunInfo> {
        self.write_run_info(id, update).await
    }
    async fn set_run_lifecycle(
        &self,
        id: &RunId,
        stage: LifecycleStage,
        now: i64,
    ) -> StoreResult<()> {
        let deleted_time = (stage == LifecycleStage::Deleted).then_some(now);
        let mut tx = self.0.begin_tracking().await?;
        let updated = tx.execute(
            "UPDATE runs SET lifecycle_stage = $1, deleted_time = $2 WHERE run_id = $3",
            vec![
                stage.as_str().into(),
                deleted_time.into(),
                id.as_str().into(),
            ],
        );
        if updated.await? == 0 {
            return Err(run_not_found(id));
        }
        tx.commit().await
    }
    async fn log_batch(
        &self,
        id: &RunId,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> StoreResult<()> {
        self.0.log_batch(id, metrics, params, tags).await
    }
    async fn delete_run_tag(&self, id: &RunId, key: &str) -> StoreResult<()> {
        let locate = format!(
            "SELECT lifecycle_stage FROM runs WHERE run_id = $1{}",
            E::LOCK_ROW
        );
        let check = |rows: &[Row]| match rows {
            [] => Err(run_not_found(id)),
            [row, ..] => match row.text(0)?.as_str() {
                "active" => Ok(()),
                stage => Err(run_not_active(id, stage)),
            },
        };
        self.delete_tag(&locate, check, ("tags", "run_id"), id.as_str().into(), key)
            .await?
            .ok_or_else(|| run_tag_not_found(id, key))
    }
    async fn log_inputs(
        &self,
        id: &RunId,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> StoreResult<()> {
        self.write_inputs(id, datasets, models).await
    }
    async fn log_outputs(&self, id: &RunId, models: Vec<ModelOutput>) -> StoreResult<()> {
        self.write_outputs(id, models).await
    }
    async fn metric_history(&self, query: MetricHistoryQuery) -> StoreResult<Vec<Metric>> {
        if query.run_ids.is_empty() {
            return Ok(Vec::new());
        }
        self.0.metric_history(query).await
    }
    async fn metric_summary(&self, query: SummaryQuery) -> StoreResult<Vec<(String, StepBucket)>> {
        crate::summary::metric_summary(&mut self.0.reader().await?, &query).await
    }
    async fn metric_extremes(&self, runs: &[RunId]) -> StoreResult<Vec<MetricExtremes>> {
        crate::summary::metric_extremes(&mut self.0.reader().await?, runs).await
    }
    async fn list_runs(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
    ) -> StoreResult<Vec<Run>> {
        self.runs_of(experiments, view, None).await
    }
    async fn list_runs_for_search(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        fields: &RunFields,
    ) -> StoreResult<Vec<Run>> {
        self.runs_of(experiments, view, Some(fields)).await
    }
    async fn search_run_ids(&self, query: RunQuery<'_>) -> StoreResult<Option<RunIdPage>> {
        let mut tx = RegistryDb::begin_read(&self.0).await?;
        crate::search::search_run_ids(&mut *tx, E::DIALECT, query).await
    }
    async fn get_runs(&self, ids: &[RunId]) -> StoreResult<Vec<Run>> {
        let loaded = load_runs(&mut self.0.reader().await?, RunScope::Ids(ids), None).await?;
        Ok(in_request_order(ids, loaded))
    }

    async fn create_logged_model(&self, new: NewLoggedModel) -> StoreResult<LoggedModel> {
        self.insert_logged_model(new).await
    }
    async fn get_logged_model(&self, id: &LoggedModelId) -> StoreResult<LoggedModel> {
        load_active_model(&mut self.0.reader().await?, id).await
    }
    async fn update_logged_model(
        &self,
        id: &LoggedModelId,
        update: LoggedModelUpdate,
    ) -> StoreResult<LoggedModel> {
        self.write_logged_model_status(id, update).await
    }
    async fn set_logged_model_tags(&self, id: &LoggedModelId, tags: Vec<Tag>) -> StoreResult<()> {
        self.write_logged_model_tags(id, tags).await
    }
    async fn delete_logged_model_tag(&self, id: &LoggedModelId, key: &str) -> StoreResult<()> {
        let locate = format!(
            "SELECT 1 FROM logged_models WHERE model_id = $1 AND lifecycle_stage = 'active'{}",
            E::LOCK_ROW
        );
        let check = |rows: &[Row]| rows.first().map(|_| ()).ok_or_else(|| model_not_found(id));
        let tags = ("logged_model_tags", "model_id");
        self.delete_tag(&locate, check, tags, id.as_str().into(), key)
            .await?
            .ok_or_else(|| model_tag_not_found(id, key))
    }
    async fn delete_logged_model(&self, id: &LoggedModelId, now: i64) -> StoreResult<()> {
        let mut tx = self.0.begin_tracking().await?;
        let deleted = tx.execute(
            "UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = $1 \
             WHERE model_id = $2 AND lifecycle_stage = 'active'",
            vec![now.into(), id.as_str().into()],
        );
        if deleted.await? == 0 {
            return Err(model_not_found(id));
        }
        tx.commit().await
    }
    async fn list_logged_models(
        &self,
        experiments: &[ExperimentId],
    ) -> StoreResult<Vec<LoggedModel>> {
        if experiments.is_empty() {
            return Ok(Vec::new());
        }
        load_active_models(&mut self.0.reader().await?, experiments).await
    }

    async fn run_activity(&self, experiments: &[ExperimentId]) -> StoreResult<Vec<RunActivity>> {
        if experiments.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = experiments.iter().map(|e| e.0.to_string()).collect();
        let sql = format!(
            "SELECT experiment_id, COUNT(*), MAX(COALESCE(end_time, start_time)) FROM runs \
             WHERE lifecycle_stage = 'active' AND experiment_id IN ({}) GROUP BY experiment_id",
            ids.join(", ")
        );
        let rows = self.0.reader().await?.fetch(sql, None).await?;
        Ok(rows
            .iter()
            .map(|r| RunActivity {
                experiment: ExperimentId(r.int(0)),
                runs: r.int(1),
                last_ms: r.opt_int(2),
            })
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut reader = self.0.reader().await?;
        reader.fetch("SELECT 1".to_owned(), None).await?;
        Ok(())
    }
}
