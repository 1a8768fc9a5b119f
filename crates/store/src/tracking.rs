//! The tracking store contract: what experiment tracking needs from a metadata engine.
//!
//! Writes are atomic: each method commits all of its effect or none of it. Methods validate nothing that
//! the domain layer validates already; they enforce only what needs stored state (existence, uniqueness,
//! param immutability), inside the same transaction as the write.

use async_trait::async_trait;
use cairn_domain::metric_series::StepBucket;
use cairn_domain::search::{Keyset, RunFields, RunFilter, RunOrder};
use cairn_domain::{
    DatasetInput, Experiment, ExperimentId, LifecycleStage, LoggedModel, LoggedModelId,
    LoggedModelStatus, Metric, ModelInput, ModelOutput, Param, Run, RunId, RunInfo, RunStatus, Tag,
    ViewType,
};

use crate::StoreResult;

/// An experiment to create. When `artifact_location` is `None` the store sets it to
/// `{default_artifact_root}/{id}` once the id is allocated.
#[derive(Debug, Clone)]
pub struct NewExperiment {
    pub name: String,
    pub artifact_location: Option<String>,
    pub default_artifact_root: String,
    pub tags: Vec<Tag>,
    pub creation_time: i64,
}

/// A run to create: its info (the artifact URI is derived by the store from the experiment's artifact
/// location) and its initial tags.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub run_id: RunId,
    pub experiment_id: ExperimentId,
    pub run_name: String,
    pub user_id: String,
    pub start_time: i64,
    pub tags: Vec<Tag>,
}

/// A run search for a store that filters, sorts and pages itself
/// ([`TrackingStore::search_run_ids`]).
#[derive(Debug, Clone, Copy)]
pub struct RunQuery<'a> {
    pub experiments: &'a [ExperimentId],
    pub view: ViewType,
    pub filter: &'a RunFilter,
    pub order: &'a RunOrder,
    /// Where the page starts: after this keyset (one the store wrote), or else after `offset` rows.
    pub after: Option<&'a Keyset>,
    pub offset: usize,
    /// At most this many ids.
    pub limit: usize,
}

/// One page of a run search: ids in order, and the keyset of the last one when more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct RunIdPage {
    pub ids: Vec<RunId>,
    pub next: Option<Keyset>,
}

/// Changes to a run's info; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RunUpdate {
    pub status: Option<RunStatus>,
    pub end_time: Option<i64>,
    pub run_name: Option<String>,
}

/// A logged model to create; the store derives its artifact URI from the experiment's location.
#[derive(Debug, Clone)]
pub struct NewLoggedModel {
    pub model_id: LoggedModelId,
    pub experiment_id: ExperimentId,
    pub name: String,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
    pub creation_timestamp_ms: i64,
}

/// Changes to a logged model's status.
#[derive(Debug, Clone)]
pub struct LoggedModelUpdate {
    pub status: LoggedModelStatus,
    pub status_message: Option<String>,
    pub updated_ms: i64,
}

/// Which metric points to read, and in which order.
#[derive(Debug, Clone)]
pub struct MetricHistoryQuery {
    pub run_ids: Vec<RunId>,
    pub key: String,
    /// Inclusive step bounds, for bulk-interval queries.
    pub min_step: Option<i64>,
    pub max_step: Option<i64>,
    pub order: HistoryOrder,
}

/// One level of the summary pyramid of some runs' metric ([`cairn_domain::metric_series`]), over an
/// inclusive step range (the buckets that hold those steps).
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryQuery {
    pub run_ids: Vec<RunId>,
    pub key: String,
    pub level: u8,
    pub steps: Option<(i64, i64)>,
}

/// The smallest and largest value ever logged for one metric of one run (NaN left out; `None` while
/// every value is NaN).
#[derive(Debug, Clone, PartialEq)]
pub struct MetricExtremes {
    pub run_id: String,
    pub key: String,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// How the points of a history are ordered: by run id first, then as MLflow's SQL store orders each
/// query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryOrder {
    /// `get_metric_history`: by timestamp, then step, then value.
    Time,
    /// `get_metric_history_bulk_interval`: by step, then timestamp, then value.
    Step,
}

#[async_trait]
pub trait TrackingStore: Send + Sync + 'static {
    // --- experiments ---
    async fn create_experiment(&self, new: NewExperiment) -> StoreResult<ExperimentId>;
    async fn get_experiment(&self, id: ExperimentId) -> StoreResult<Experiment>;
    async fn get_experiment_by_name(&self, name: &str) -> StoreResult<Experiment>;
    /// All experiments in the given lifecycle stages, with their tags.
    async fn list_experiments(&self, view: ViewType) -> StoreResult<Vec<Experiment>>;
    async fn rename_experiment(&self, id: ExperimentId, name: &str, now: i64) -> StoreResult<()>;
    /// Soft-deletes or restores an experiment together with its runs.
    async fn set_experiment_lifecycle(
        &self,
        id: ExperimentId,
        stage: LifecycleStage,
        now: i64,
    ) -> StoreResult<()>;
    async fn set_experiment_tag(&self, id: ExperimentId, tag: Tag) -> StoreResult<()>;
    async fn delete_experiment_tag(&self, id: ExperimentId, key: &str) -> StoreResult<()>;

    // --- runs ---
    async fn create_run(&self, new: NewRun) -> StoreResult<Run>;
    async fn get_run(&self, id: &RunId) -> StoreResult<Run>;
    async fn update_run(&self, id: &RunId, update: RunUpdate) -> StoreResult<RunInfo>;
    async fn set_run_lifecycle(
        &self,
        id: &RunId,
        stage: LifecycleStage,
        now: i64,
    ) -> StoreResult<()>;
    /// Writes metrics, params and tags in one transaction. A param already logged with another value is a
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) and nothing is written.
    async fn log_batch(
        &self,
        id: &RunId,
        metrics: Vec<Metric>,
        params: Vec<Param>,
        tags: Vec<Tag>,
    ) -> StoreResult<()>;
    async fn delete_run_tag(&self, id: &RunId, key: &str) -> StoreResult<()>;
    async fn log_inputs(
        &self,
        id: &RunId,
        datasets: Vec<DatasetInput>,
        models: Vec<ModelInput>,
    ) -> StoreResult<()>;
    async fn log_outputs(&self, id: &RunId, models: Vec<ModelOutput>) -> StoreResult<()>;
    /// Every point of one metric for the given runs, ordered by run, step, timestamp.
    async fn metric_history(&self, query: MetricHistoryQuery) -> StoreResult<Vec<Metric>>;
    /// The summary buckets a [`SummaryQuery`] names, with their run's id, by run then bucket.
    async fn metric_summary(&self, query: SummaryQuery) -> StoreResult<Vec<(String, StepBucket)>>;
    /// Every metric's extremes for these runs, by run then key.
    async fn metric_extremes(&self, runs: &[RunId]) -> StoreResult<Vec<MetricExtremes>>;
    /// Every run of the given experiments whose lifecycle stage the view admits, fully loaded.
    async fn list_runs(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
    ) -> StoreResult<Vec<Run>>;
    /// The runs a search considers: like [`list_runs`](Self::list_runs), but with only the metrics,
    /// params, tags and datasets that `fields` names loaded (run info always). Filtering and ordering need
    /// no more; the page returned is then read whole with [`get_runs`](Self::get_runs).
    async fn list_runs_for_search(
        &self,
        experiments: &[ExperimentId],
        view: ViewType,
        fields: &RunFields,
    ) -> StoreResult<Vec<Run>>;
    /// The ids of one page of a run search, filtered and ordered exactly as
    /// [`RunFilter::matches`] and [`RunOrder::compare`] would. `None`: this store cannot answer this
    /// query with those semantics (the caller then filters [`list_runs_for_search`](Self::list_runs_for_search)
    /// itself); the default answers `None` to every query.
    async fn search_run_ids(&self, query: RunQuery<'_>) -> StoreResult<Option<RunIdPage>> {
        let _ = query;
        Ok(None)
    }
    /// Whole runs by id, in the order given; ids that name no run are left out.
    async fn get_runs(&self, ids: &[RunId]) -> StoreResult<Vec<Run>>;

    // --- logged models ---
    async fn create_logged_model(&self, new: NewLoggedModel) -> StoreResult<LoggedModel>;
    async fn get_logged_model(&self, id: &LoggedModelId) -> StoreResult<LoggedModel>;
    async fn update_logged_model(
        &self,
        id: &LoggedModelId,
        update: LoggedModelUpdate,
    ) -> StoreResult<LoggedModel>;
    async fn set_logged_model_tags(&self, id: &LoggedModelId, tags: Vec<Tag>) -> StoreResult<()>;
    async fn delete_logged_model_tag(&self, id: &LoggedModelId, key: &str) -> StoreResult<()>;
    async fn delete_logged_model(&self, id: &LoggedModelId, now: i64) -> StoreResult<()>;
    /// Every active logged model of the given experiments, fully loaded.
    async fn list_logged_models(
        &self,
        experiments: &[ExperimentId],
    ) -> StoreResult<Vec<LoggedModel>>;

    /// Cheap liveness probe of the engine (for `/health` and readiness).
    async fn ping(&self) -> StoreResult<()>;

    /// Per experiment among `experiments` that has active runs: how many, and the latest start or end
    /// time among them. Counted in the engine, without loading runs (the UI's experiments list).
    async fn run_activity(&self, experiments: &[ExperimentId]) -> StoreResult<Vec<RunActivity>>;
}

/// How busy an experiment is: its active runs and when one last started or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunActivity {
    pub experiment: ExperimentId,
    pub runs: i64,
    pub last_ms: Option<i64>,
}
