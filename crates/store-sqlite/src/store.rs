//! The [`TrackingStore`] implementation: each method delegates to the module that owns its tables.

use async_trait::async_trait;
use cairn_domain::search::RunFields;
use cairn_domain::{
    DatasetInput, Experiment, ExperimentId, LifecycleStage, LoggedModel, LoggedModelId, Metric,
    ModelInput, ModelOutput, Param, Run, RunId, RunInfo, Tag, ViewType,
};
use cairn_store::{
    LoggedModelUpdate, MetricHistoryQuery, NewExperiment, NewLoggedModel, NewRun, RunUpdate,
    StoreResult, TrackingStore,
};

use crate::SqliteStore;
use crate::errors::db;

#[async_trait]
impl TrackingStore for SqliteStore {
    async fn create_experiment(&self, new: NewExperiment) -> StoreResult<ExperimentId> {
        self.create_experiment_impl(new).await
    }
    async fn get_experiment(&self, id: ExperimentId) -> StoreResult<Experiment> {
        self.get_experiment_impl(id).await
    }
    async fn get_experiment_by_name(&self, name: &str) -> StoreResult<Experiment> {
        self.get_experiment_by_name_impl(name).await
    }
    async fn list_experiments(&self, view: ViewType) -> StoreResult<Vec<Experiment>> {
        self.list_experiments_impl(view).await
    }
    async fn rename_experiment(&self, id: ExperimentId, name: &str, now: i64) -> StoreResult<()> {
        self.rename_experiment_impl(id, name, now).await
    }
    async fn set_experiment_lifecycle(
        &self,
        id: ExperimentId,
        stage: LifecycleStage,
        now: i64,
    ) -> StoreResult<()> {
        self.set_experiment_lifecycle_impl(id, stage, now).await
    }
    async fn set_experiment_tag(&self, id: ExperimentId, tag: Tag) -> StoreResult<()> {
        self.set_experiment_tag_impl(id, tag).await
    }
    async fn delete_experiment_tag(&self, id: ExperimentId, key: &str) -> StoreResult<()> {
        self.delete_experiment_tag_impl(id, key).await
    }

    async fn create_run(&self, new: NewRun) -> StoreResult<Run> {
        self.create_run_impl(new).await
    }
    async fn get_run(&self, id: &RunId) -> StoreResult<Run> {
        self.get_run_impl(id).await
    }
    async fn update_run(&self, id: &RunId, update: RunUpdate) -> StoreResult<RunInfo> {
        self.update_run_impl(id, update).await
    }
    async fn set_run_lifecycle(
        &self,
        id: &RunId,
        stage: LifecycleStage,
        now: i64,
    ) -> StoreResult<()> {
        self.set_run_lifecycle_impl(id, stage, now).await
    }
    async fn log_batch(
        &self,
        id: &RunId,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> StoreResult<()> {
        self.log_batch_impl(id, metrics, params, tags).await
    }
    async fn delete_run_tag(&self, id: &RunId, key: &str) -> StoreResult<()> {
        self.delete_run_tag_impl(id, key).await
    }
    async fn log_inputs(
        &self,
        id: &RunId,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> StoreResult<()> {
        self.log_inputs_impl(id, datasets, models).await
    }
    async fn log_outputs(&self, id: &RunId, models: Vec<ModelOutput>) -> StoreResult<()> {
        self.log_outputs_impl(id, models).await
    }
    async fn metric_history(&self, query: MetricHistoryQuery) -> StoreResult<Vec<Metric>> {
        self.metric_history_impl(query).await
    }
    async fn list_runs(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
    ) -> StoreResult<Vec<Run>> {
        self.list_runs_impl(experiments, view, None).await
    }

    async fn list_runs_for_search(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        fields: &RunFields,
    ) -> StoreResult<Vec<Run>> {
        self.list_runs_impl(experiments, view, Some(fields)).await
    }
    async fn get_runs(&self, ids: &[RunId]) -> StoreResult<Vec<Run>> {
        self.get_runs_impl(ids).await
    }

    async fn create_logged_model(&self, new: NewLoggedModel) -> StoreResult<LoggedModel> {
        self.create_logged_model_impl(new).await
    }
    async fn get_logged_model(&self, id: &LoggedModelId) -> StoreResult<LoggedModel> {
        self.get_logged_model_impl(id).await
    }
    async fn update_logged_model(
        &self,
        id: &LoggedModelId,
        update: LoggedModelUpdate,
    ) -> StoreResult<LoggedModel> {
        self.update_logged_model_impl(id, update).await
    }
    async fn set_logged_model_tags(&self, id: &LoggedModelId, tags: Vec<Tag>) -> StoreResult<()> {
        self.set_logged_model_tags_impl(id, tags).await
    }
    async fn delete_logged_model_tag(&self, id: &LoggedModelId, key: &str) -> StoreResult<()> {
        self.delete_logged_model_tag_impl(id, key).await
    }
    async fn delete_logged_model(&self, id: &LoggedModelId, now: i64) -> StoreResult<()> {
        self.delete_logged_model_impl(id, now).await
    }
    async fn list_logged_models(
        &self,
        experiments: &[ExperimentId],
    ) -> StoreResult<Vec<LoggedModel>> {
        self.list_logged_models_impl(experiments).await
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map_err(db)?;
        Ok(())
    }
}
