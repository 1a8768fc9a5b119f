//! Pipelines on the wire: what `/api/cairn/v1/pipelines…` and `/api/cairn/v1/pipeline-runs…` take and
//! answer.

use cairn_domain::pipeline::{PipelineRun, PipelineVersion, SnapshotFile};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SnapshotFileDto {
    /// Project-relative, `/`-separated.
    #[schema(example = "src/train.py")]
    pub path: String,
    /// BLAKE3 of the content, 64 lowercase hex digits.
    pub digest: String,
    pub size: u64,
    #[serde(default)]
    pub executable: bool,
}

impl From<&SnapshotFile> for SnapshotFileDto {
    fn from(f: &SnapshotFile) -> Self {
        Self {
            path: f.path.clone(),
            digest: f.digest.clone(),
            size: f.size,
            executable: f.executable,
        }
    }
}

impl From<SnapshotFileDto> for SnapshotFile {
    fn from(f: SnapshotFileDto) -> Self {
        Self {
            path: f.path,
            digest: f.digest,
            size: f.size,
            executable: f.executable,
        }
    }
}

/// `PUT /pipelines/{name}`: a snapshot to register.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterPipelineBody {
    /// The pipeline file's path in the snapshot.
    #[schema(example = "cairn.yaml")]
    pub file: String,
    pub files: Vec<SnapshotFileDto>,
    /// The file's `triggers:`, as an object.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub triggers: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// A registered pipeline version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PipelineDto {
    pub name: String,
    pub version: i64,
    pub file: String,
    pub files: Vec<SnapshotFileDto>,
    /// BLAKE3 of the manifest: equal digests, equal snapshots.
    pub digest: String,
    #[schema(value_type = Object)]
    pub triggers: Value,
    pub registered_by: String,
    pub registered_ms: i64,
}

impl From<&PipelineVersion> for PipelineDto {
    fn from(p: &PipelineVersion) -> Self {
        Self {
            name: p.name.clone(),
            version: p.version,
            file: p.file.clone(),
            files: p.files.iter().map(Into::into).collect(),
            digest: p.digest.clone(),
            triggers: p.triggers.clone(),
            registered_by: p.actor.clone(),
            registered_ms: p.registered_ms,
        }
    }
}

/// `{"pipeline": …, "created": bool}`: `created` is false when the snapshot equals the latest version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PipelineResponse {
    pub pipeline: PipelineDto,
    #[serde(default)]
    pub created: bool,
}

/// `{"pipelines": […]}`: the latest version of each, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PipelinesResponse {
    pub pipelines: Vec<PipelineDto>,
}

/// `POST /pipelines/objects/missing`: digests to check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectsBody {
    pub digests: Vec<String>,
}

/// The digests the server does not hold.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MissingObjectsResponse {
    pub missing: Vec<String>,
}

/// `POST /pipeline-runs`: a run as it starts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StartPipelineRunBody {
    /// The pipeline run's MLflow run (the parent of its stages' runs).
    pub run_id: String,
    pub pipeline: String,
    pub experiment_id: String,
    #[serde(default)]
    pub pipeline_version: Option<i64>,
    #[serde(default = "local")]
    pub executor: String,
    /// What started it; `{"kind": "manual"}` when absent.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub cause: Option<Value>,
    /// `[{"name": "train", "needs": ["prepare"]}]`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub dag: Option<Value>,
}

fn local() -> String {
    "local".into()
}

/// `POST /pipeline-runs/{run_id}/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FinishPipelineRunBody {
    /// `succeeded` or `failed`.
    #[schema(example = "succeeded")]
    pub status: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// `cairn run --json`'s report: stages, gates, promotion.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub report: Option<Value>,
}

/// A pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PipelineRunDto {
    pub run_id: String,
    pub pipeline: String,
    pub experiment_id: String,
    pub pipeline_version: Option<i64>,
    pub executor: String,
    #[schema(value_type = Object)]
    pub cause: Value,
    #[schema(value_type = Vec<Object>)]
    pub dag: Value,
    /// `queued` (a trigger fired it; no server has claimed it yet), `running`, `succeeded`, `failed`
    /// or `cancelled`.
    pub status: String,
    pub exit_code: Option<i32>,
    #[schema(value_type = Object)]
    pub report: Option<Value>,
    pub started_by: String,
    pub started_ms: i64,
    pub ended_ms: Option<i64>,
    /// The trigger that fired it (none for a run `cairn run` started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// How many times a server claimed it: more than 1 when its server died and another took over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<i64>,
    /// The server executing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
}

impl From<&PipelineRun> for PipelineRunDto {
    fn from(r: &PipelineRun) -> Self {
        Self {
            run_id: r.run_id.clone(),
            pipeline: r.pipeline.clone(),
            experiment_id: r.experiment_id.clone(),
            pipeline_version: r.pipeline_version,
            executor: r.executor.clone(),
            cause: r.cause.clone(),
            dag: r.dag.clone(),
            status: r.status.as_str().to_owned(),
            exit_code: r.exit_code,
            report: r.report.clone(),
            started_by: r.actor.clone(),
            started_ms: r.started_ms,
            ended_ms: r.ended_ms,
            trigger: r.execution.as_ref().map(|e| e.trigger.clone()),
            attempts: r.execution.as_ref().map(|e| e.attempts),
            claimed_by: r.execution.as_ref().and_then(|e| e.claimed_by.clone()),
        }
    }
}

/// `{"pipeline_run": …}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PipelineRunResponse {
    pub pipeline_run: PipelineRunDto,
}

/// `{"pipeline_runs": […], "next_page_token"}`: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PipelineRunsResponse {
    pub pipeline_runs: Vec<PipelineRunDto>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
}
