//! The tracking entities. Field names follow MLflow's vocabulary so that a reader who knows MLflow knows
//! these types; the wire encodings themselves live in the protocol crates.

use std::fmt;
use std::str::FromStr;

use crate::{DomainError, ExperimentId, LoggedModelId, RunId};

/// Whether an entity is live or soft-deleted (and so restorable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleStage {
    Active,
    Deleted,
}

impl LifecycleStage {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Deleted => "deleted",
        }
    }
}

impl FromStr for LifecycleStage {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s {
            "active" => Ok(Self::Active),
            "deleted" => Ok(Self::Deleted),
            _ => Err(DomainError::invalid(format!(
                "Invalid lifecycle stage '{s}'"
            ))),
        }
    }
}

/// Which lifecycle stages a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewType {
    #[default]
    ActiveOnly,
    DeletedOnly,
    All,
}

impl ViewType {
    pub fn admits(self, stage: LifecycleStage) -> bool {
        match self {
            Self::ActiveOnly => stage == LifecycleStage::Active,
            Self::DeletedOnly => stage == LifecycleStage::Deleted,
            Self::All => true,
        }
    }
}

impl FromStr for ViewType {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s.to_ascii_uppercase().as_str() {
            "ACTIVE_ONLY" | "1" => Ok(Self::ActiveOnly),
            "DELETED_ONLY" | "2" => Ok(Self::DeletedOnly),
            "ALL" | "3" => Ok(Self::All),
            _ => Err(DomainError::invalid(format!("Invalid view type '{s}'"))),
        }
    }
}

/// The state of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Scheduled => "SCHEDULED",
            Self::Finished => "FINISHED",
            Self::Failed => "FAILED",
            Self::Killed => "KILLED",
        }
    }
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Failed | Self::Killed)
    }
}

impl FromStr for RunStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s {
            "RUNNING" | "1" => Ok(Self::Running),
            "SCHEDULED" | "2" => Ok(Self::Scheduled),
            "FINISHED" | "3" => Ok(Self::Finished),
            "FAILED" | "4" => Ok(Self::Failed),
            "KILLED" | "5" => Ok(Self::Killed),
            _ => Err(DomainError::invalid(format!("Invalid run status '{s}'"))),
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key/value tag on an experiment, run or logged model. Tags are mutable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// A run parameter. Params are immutable once logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub key: String,
    pub value: String,
}

/// One metric observation. `value` may be NaN; infinities are clamped to ±f64::MAX on write, as MLflow's
/// SQL store does.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metric {
    pub key: String,
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
    /// The run that logged it (set when read back; redundant on writes).
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    pub dataset_name: Option<String>,
    pub dataset_digest: Option<String>,
}

impl Metric {
    /// MLflow's "latest" order: the larger step wins, then the later timestamp, then the larger value.
    pub fn is_newer_than(&self, other: &Metric) -> bool {
        (self.step, self.timestamp) > (other.step, other.timestamp)
            || ((self.step, self.timestamp) == (other.step, other.timestamp)
                && total_order(self.value) > total_order(other.value))
    }
}

fn total_order(v: f64) -> f64 {
    if v.is_nan() { f64::INFINITY } else { v }
}

/// An experiment: a named folder of runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    pub id: ExperimentId,
    pub name: String,
    pub artifact_location: String,
    pub lifecycle_stage: LifecycleStage,
    pub creation_time: i64,
    pub last_update_time: i64,
    pub tags: Vec<Tag>,
}

/// A run's metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: RunId,
    pub experiment_id: ExperimentId,
    pub run_name: String,
    pub user_id: String,
    pub status: RunStatus,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub lifecycle_stage: LifecycleStage,
}

/// A run with everything logged to it. `data.metrics` holds the latest value of each metric key.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Run {
    pub info: RunInfo,
    pub data: RunData,
    pub inputs: RunInputs,
    pub outputs: RunOutputs,
}

impl Default for RunInfo {
    fn default() -> Self {
        Self {
            run_id: RunId::generate(),
            experiment_id: ExperimentId::DEFAULT,
            run_name: String::new(),
            user_id: String::new(),
            status: RunStatus::Running,
            start_time: None,
            end_time: None,
            artifact_uri: String::new(),
            lifecycle_stage: LifecycleStage::Active,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunData {
    pub metrics: Vec<Metric>,
    pub params: Vec<Param>,
    pub tags: Vec<Tag>,
}

impl RunData {
    pub fn metric(&self, key: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.key == key)
    }
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.key == key)
            .map(|p| p.value.as_str())
    }
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunInputs {
    pub dataset_inputs: Vec<DatasetInput>,
    pub model_inputs: Vec<ModelInput>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunOutputs {
    pub model_outputs: Vec<ModelOutput>,
}

/// A dataset's identity and description, as logged by `mlflow.log_input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    pub schema: Option<String>,
    pub profile: Option<String>,
}

/// A dataset used by a run, with the tags of that use (e.g. `mlflow.data.context = training`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetInput {
    pub tags: Vec<Tag>,
    pub dataset: Dataset,
}

impl DatasetInput {
    pub const CONTEXT_TAG: &'static str = "mlflow.data.context";

    pub fn context(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == Self::CONTEXT_TAG)
            .map(|t| t.value.as_str())
    }
}

/// A logged model a run consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelInput {
    pub model_id: String,
}

/// A logged model a run produced, at a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelOutput {
    pub model_id: String,
    pub step: i64,
}

/// The upload state of a logged model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoggedModelStatus {
    Pending,
    Ready,
    UploadFailed,
}

impl LoggedModelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "LOGGED_MODEL_PENDING",
            Self::Ready => "LOGGED_MODEL_READY",
            Self::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }
}

impl FromStr for LoggedModelStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s {
            "LOGGED_MODEL_PENDING" | "1" => Ok(Self::Pending),
            "LOGGED_MODEL_READY" | "2" => Ok(Self::Ready),
            "LOGGED_MODEL_UPLOAD_FAILED" | "3" => Ok(Self::UploadFailed),
            _ => Err(DomainError::invalid(format!(
                "Invalid logged model status '{s}'"
            ))),
        }
    }
}

/// A model logged by MLflow 3.x: a first-class entity with its own artifacts, params, tags and metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedModel {
    pub model_id: LoggedModelId,
    pub experiment_id: ExperimentId,
    pub name: String,
    pub artifact_uri: String,
    pub creation_timestamp_ms: i64,
    pub last_updated_timestamp_ms: i64,
    pub status: LoggedModelStatus,
    pub status_message: Option<String>,
    pub model_type: Option<String>,
    pub source_run_id: Option<String>,
    pub lifecycle_stage: LifecycleStage,
    pub tags: Vec<Tag>,
    pub params: Vec<Param>,
    /// Metrics logged with this model's id, latest per (key, dataset).
    pub metrics: Vec<Metric>,
}
