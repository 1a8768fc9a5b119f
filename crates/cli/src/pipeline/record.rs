//! The pipeline run on Cairn's own API, beside its MLflow run: started when the MLflow run opens (with
//! the DAG, so the UI can draw it while it runs) and finished with the run's report and exit code, so
//! that pipeline runs are on the server's change log and in its UI. A server that is not Cairn (a
//! plain `mlflow server`) has no such API: the run goes on, tracked in MLflow only.

use std::sync::{Arc, Mutex};

use cairn_client::Client;
use cairn_contract::{FinishPipelineRunBody, StartPipelineRunBody};
use cairn_pipelines::Project;
use cairn_pipelines::report::RunReport;
use cairn_pipelines::tracker::{
    PipelineStart, StageFinish, StageStart, TrackedStage, Tracker, TrackerError,
};
use serde_json::{Value, json};

use super::mlflow::MlflowTracker;

/// Tracks in MLflow through `inner`, and records the pipeline run on Cairn's API.
pub struct Recorded {
    pub inner: Arc<MlflowTracker>,
    client: Client,
    dag: Value,
    /// The run recorded on the server, once it is.
    recorded: Mutex<Option<String>>,
}

/// `[{"name", "needs": [...]}]` in file order.
fn dag(project: &Project) -> Value {
    let stages = &project.pipeline.stages;
    Value::Array(
        stages
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let needs: Vec<&str> = project.dag.upstream[i]
                    .iter()
                    .map(|&u| stages[u].name.as_str())
                    .collect();
                json!({ "name": s.name, "needs": needs })
            })
            .collect(),
    )
}

impl Recorded {
    pub fn new(inner: Arc<MlflowTracker>, client: Client, project: &Project) -> Self {
        Self {
            inner,
            client,
            dag: dag(project),
            recorded: Mutex::new(None),
        }
    }

    /// Ends the server's record of the run with the report and the exit code `cairn run` exits with.
    pub async fn finish(&self, report: &RunReport, exit_code: u8) {
        let Some(run_id) = self.recorded.lock().expect("lock").clone() else {
            return;
        };
        let body = FinishPipelineRunBody {
            status: if exit_code == 0 {
                "succeeded"
            } else {
                "failed"
            }
            .into(),
            exit_code: Some(i32::from(exit_code)),
            report: serde_json::to_value(report).ok(),
        };
        if let Err(e) = self.client.finish_pipeline_run(&run_id, &body).await {
            eprintln!(
                "cairn: warning: the server did not record the end of pipeline run {run_id}: {e}"
            );
        }
    }
}

#[async_trait::async_trait]
impl Tracker for Recorded {
    async fn start_pipeline(&self, p: &PipelineStart) -> Result<String, TrackerError> {
        let id = self.inner.start_pipeline(p).await?;
        let body = StartPipelineRunBody {
            run_id: id.clone(),
            // A triggered run is recorded under its registered pipeline's name.
            pipeline: std::env::var("CAIRN_PIPELINE_NAME").unwrap_or_else(|_| p.pipeline.clone()),
            experiment_id: self.inner.experiment_id().unwrap_or_default(),
            pipeline_version: None,
            executor: p.executor.clone(),
            cause: std::env::var("CAIRN_PIPELINE_CAUSE")
                .ok()
                .and_then(|c| serde_json::from_str(&c).ok()),
            dag: Some(self.dag.clone()),
        };
        match self.client.start_pipeline_run(&body).await {
            Ok(_) => *self.recorded.lock().expect("lock") = Some(id.clone()),
            // Not a Cairn server: MLflow alone tracks the run.
            Err(e) if e.is_not_found() => {}
            Err(e) => eprintln!("cairn: warning: the server did not record pipeline run {id}: {e}"),
        }
        Ok(id)
    }

    async fn start_stage(&self, s: &StageStart) -> Result<TrackedStage, TrackerError> {
        self.inner.start_stage(s).await
    }

    async fn finish_stage(&self, run_id: &str, f: &StageFinish) -> Result<(), TrackerError> {
        self.inner.finish_stage(run_id, f).await
    }

    async fn finish_pipeline(&self, run_id: &str, succeeded: bool) -> Result<(), TrackerError> {
        self.inner.finish_pipeline(run_id, succeeded).await
    }
}
