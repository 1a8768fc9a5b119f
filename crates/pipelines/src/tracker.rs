//! The tracking contract: a pipeline run is a run, each stage a nested run. The CLI implements it over
//! the MLflow REST API (see `cairn-cli`'s `pipeline::mlflow`); this crate only says what is recorded
//! and when, and never speaks HTTP.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The tracking server failed or refused a write: infrastructure, exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TrackerError(pub String);

/// The pipeline run being opened.
#[derive(Debug, Clone)]
pub struct PipelineStart {
    pub pipeline: String,
    /// The pipeline file as given (`cairn.yaml`).
    pub file: String,
    /// `-P` overrides, as `key=value` params of the pipeline run.
    pub overrides: Vec<(String, String)>,
    pub executor: String,
}

/// A stage run being opened (before the stage runs, so the stage's own code can log into it).
#[derive(Debug, Clone)]
pub struct StageStart {
    pub pipeline_run_id: String,
    pub stage: String,
    /// The declared params, by key path (`train.C`), as text.
    pub params: Vec<(String, String)>,
    pub key: String,
    /// `hit` or `miss`.
    pub cache: &'static str,
    pub executor: String,
}

/// A stage run once opened: its id, and the environment the stage's process gets so that unchanged
/// client code logs into it (`MLFLOW_TRACKING_URI`, `MLFLOW_RUN_ID`, …).
#[derive(Debug, Clone)]
pub struct TrackedStage {
    pub run_id: String,
    pub env: BTreeMap<String, String>,
}

/// A dep or an out, with its content digest.
#[derive(Debug, Clone)]
pub struct DataRef {
    pub path: String,
    /// BLAKE3, hex.
    pub hash: String,
    pub size: u64,
    /// `file` or `dir`.
    pub kind: &'static str,
}

/// How a stage run ends.
#[derive(Debug, Clone)]
pub struct StageFinish {
    pub succeeded: bool,
    /// `ran`, `cached` or `failed`.
    pub status: &'static str,
    pub reason: String,
    pub duration_ms: u64,
    /// From the stage's metrics files.
    pub metrics: Vec<(String, f64)>,
    pub inputs: Vec<DataRef>,
    pub outputs: Vec<DataRef>,
    /// The stage's log file, to attach.
    pub log: Option<PathBuf>,
    /// For a cache hit: the run that computed the outs.
    pub source_run_id: Option<String>,
    /// For a failed step: `user`, `oom`, `timeout`, `env`, `infra` or `preempted`.
    pub failure_class: Option<&'static str>,
}

#[async_trait::async_trait]
pub trait Tracker: Send + Sync {
    /// Opens the pipeline run; also how the server's reachability is checked before anything runs.
    async fn start_pipeline(&self, p: &PipelineStart) -> Result<String, TrackerError>;
    async fn start_stage(&self, s: &StageStart) -> Result<TrackedStage, TrackerError>;
    async fn finish_stage(&self, run_id: &str, f: &StageFinish) -> Result<(), TrackerError>;
    async fn finish_pipeline(&self, run_id: &str, succeeded: bool) -> Result<(), TrackerError>;
}

/// Records nothing (runs without a tracking server, and tests of the scheduler alone).
#[derive(Debug, Default)]
pub struct NoTracker;

#[async_trait::async_trait]
impl Tracker for NoTracker {
    async fn start_pipeline(&self, _: &PipelineStart) -> Result<String, TrackerError> {
        Ok(String::new())
    }
    async fn start_stage(&self, _: &StageStart) -> Result<TrackedStage, TrackerError> {
        Ok(TrackedStage {
            run_id: String::new(),
            env: BTreeMap::new(),
        })
    }
    async fn finish_stage(&self, _: &str, _: &StageFinish) -> Result<(), TrackerError> {
        Ok(())
    }
    async fn finish_pipeline(&self, _: &str, _: bool) -> Result<(), TrackerError> {
        Ok(())
    }
}
