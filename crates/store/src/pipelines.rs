//! The pipeline store contract: registered pipelines (versioned snapshots) and pipeline runs.
//!
//! Every write appends its change-log entry (topic `pipeline`) in the same transaction.

use async_trait::async_trait;
use cairn_domain::pipeline::{PipelineRun, PipelineRunStatus, PipelineVersion, SnapshotFile};

use crate::StoreResult;

/// A snapshot to register under a name.
#[derive(Debug, Clone)]
pub struct NewPipelineVersion {
    pub name: String,
    pub file: String,
    pub files: Vec<SnapshotFile>,
    pub digest: String,
    pub triggers: serde_json::Value,
}

/// A pipeline run as it starts.
#[derive(Debug, Clone)]
pub struct NewPipelineRun {
    pub run_id: String,
    pub pipeline: String,
    pub experiment_id: String,
    pub pipeline_version: Option<i64>,
    pub executor: String,
    pub cause: serde_json::Value,
    pub dag: serde_json::Value,
}

/// How a pipeline run ended.
#[derive(Debug, Clone)]
pub struct PipelineRunEnd {
    pub status: PipelineRunStatus,
    pub exit_code: Option<i32>,
    pub report: Option<serde_json::Value>,
}

#[async_trait]
pub trait PipelineStore: Send + Sync + 'static {
    /// Stores `new` as the next version of its name — unless the latest version has the same digest,
    /// which is returned as it is (`false`: nothing was written).
    async fn register_pipeline(
        &self,
        new: &NewPipelineVersion,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<(PipelineVersion, bool)>;
    /// A version, or the latest when `version` is `None`; `NotFound` when there is none.
    async fn get_pipeline(&self, name: &str, version: Option<i64>) -> StoreResult<PipelineVersion>;
    /// The latest version of every registered pipeline, by name.
    async fn list_pipelines(&self) -> StoreResult<Vec<PipelineVersion>>;
    /// Records a run as running; `AlreadyExists` when its run id is taken.
    async fn start_pipeline_run(
        &self,
        run: &NewPipelineRun,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<PipelineRun>;
    /// Ends a running run; `NotFound`, or `Conflict` when it has already ended.
    async fn finish_pipeline_run(
        &self,
        run_id: &str,
        end: &PipelineRunEnd,
        actor: &str,
        timestamp_ms: i64,
    ) -> StoreResult<PipelineRun>;
    async fn get_pipeline_run(&self, run_id: &str) -> StoreResult<PipelineRun>;
    /// Runs newest first, of one pipeline or all, started before the run at `before` (a page token:
    /// the last run of the previous page), at most `limit`.
    async fn list_pipeline_runs(
        &self,
        pipeline: Option<&str>,
        before: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<PipelineRun>>;
}
