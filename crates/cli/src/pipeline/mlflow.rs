//! The pipeline tracker over the MLflow REST API: a pipeline run is a run, each stage a nested run
//! (`mlflow.parentRunId`), so the official client inside a stage (given `MLFLOW_RUN_ID`) logs into
//! its stage's run. Works against `cairn server` and any MLflow-compatible server.
//!
//! What a stage run holds: its declared params under their key paths (`train.C`); its metrics files'
//! numbers as metrics; its deps as dataset inputs with the context tag `mlflow.data.context=input`
//! and its outs as datasets with `mlflow.data.context=output` (MLflow's `log-outputs` takes only
//! logged models), each named by its path with the first 32 hex digits of its BLAKE3 hash as digest
//! (MLflow caps digests at 36 characters; the full hash is in the profile); its log as the artifact
//! `stage.log` (through the server's proxied artifact API); tags `cairn.stage.cache` (`hit`/`miss`),
//! `cairn.stage.status`, `cairn.stage.duration_ms`, `cairn.stage.reason`, `cairn.stage.key`, and for a
//! failed step `cairn.stage.failure_class` (`user`, `oom`, `timeout`, `env`, `infra`, `preempted`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cairn_pipelines::tracker::{
    DataRef, PipelineStart, StageFinish, StageStart, TrackedStage, Tracker, TrackerError,
};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

mod registry;

pub use registry::Pinned;

/// MLflow's prefix of proxied artifact URIs.
const ARTIFACTS_SCHEME: &str = "mlflow-artifacts:";
/// The longest tag value MLflow accepts.
const MAX_TAG: usize = 8000;
/// Per call.
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct MlflowTracker {
    base: String,
    http: reqwest::Client,
    /// `MLFLOW_EXPERIMENT_ID`, else the experiment of this name (created when missing).
    experiment_id: Option<String>,
    experiment_name: Option<String>,
    /// Resolved once, by the pipeline run.
    experiment: OnceCell<String>,
    /// Each stage run's artifact URI, as `runs/create` answered it (no `runs/get` to find it again).
    artifact_uris: std::sync::Mutex<std::collections::HashMap<String, String>>,
    user: Option<(String, Option<String>)>,
    token: Option<String>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn tags(pairs: &[(&str, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({"key": k, "value": truncate(v, MAX_TAG)}))
            .collect(),
    )
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

impl MlflowTracker {
    /// A tracker of the server at `base`; the experiment is `MLFLOW_EXPERIMENT_ID`, else
    /// `experiment_name`, else the pipeline's name.
    pub fn new(base: &str, experiment_name: Option<String>) -> MlflowTracker {
        MlflowTracker {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            experiment_id: std::env::var("MLFLOW_EXPERIMENT_ID")
                .ok()
                .filter(|s| !s.is_empty()),
            experiment_name,
            experiment: OnceCell::new(),
            artifact_uris: Default::default(),
            user: std::env::var("MLFLOW_TRACKING_USERNAME")
                .ok()
                .map(|u| (u, std::env::var("MLFLOW_TRACKING_PASSWORD").ok())),
            token: std::env::var("MLFLOW_TRACKING_TOKEN").ok(),
        }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, url).timeout(TIMEOUT);
        if let Some((user, password)) = &self.user {
            req = req.basic_auth(user, password.as_ref());
        } else if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// One MLflow REST call; `Ok(Err(code))` when the server answered with an MLflow error code.
    async fn call(
        &self,
        method: reqwest::Method,
        endpoint: &str,
        body: Option<Value>,
        query: &[(&str, &str)],
    ) -> Result<Result<Value, (u16, String, String)>, TrackerError> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.base);
        let mut req = self.request(method, &url).query(query);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.map_err(|e| {
            TrackerError(format!(
                "cannot reach the tracking server at {}: {e}",
                self.base
            ))
        })?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .map_err(|e| TrackerError(format!("reading {endpoint} from {}: {e}", self.base)))?;
        if status.is_success() {
            let v = serde_json::from_str(&text).unwrap_or(Value::Null);
            return Ok(Ok(v));
        }
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let code = parsed["error_code"].as_str().unwrap_or("").to_owned();
        let message = parsed["message"]
            .as_str()
            .map_or_else(|| text.trim().to_owned(), str::to_owned);
        Ok(Err((status.as_u16(), code, message)))
    }

    /// A call that must succeed.
    async fn must(&self, endpoint: &str, body: Value) -> Result<Value, TrackerError> {
        self.call(reqwest::Method::POST, endpoint, Some(body), &[])
            .await?
            .map_err(|(status, code, message)| {
                TrackerError(format!("{endpoint} answered {status} {code}: {message}"))
            })
    }

    /// The experiment the pipeline run went to, once it is open.
    pub fn experiment_id(&self) -> Option<String> {
        self.experiment.get().cloned()
    }

    async fn experiment(&self, pipeline: &str) -> Result<String, TrackerError> {
        self.experiment
            .get_or_try_init(|| async {
                if let Some(id) = &self.experiment_id {
                    return Ok(id.clone());
                }
                let name = self.experiment_name.as_deref().unwrap_or(pipeline);
                for _ in 0..2 {
                    let got = self
                        .call(
                            reqwest::Method::GET,
                            "experiments/get-by-name",
                            None,
                            &[("experiment_name", name)],
                        )
                        .await?;
                    match got {
                        Ok(v) => {
                            return v["experiment"]["experiment_id"]
                                .as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| {
                                    TrackerError("experiments/get-by-name: no id".into())
                                });
                        }
                        Err((404, _, _)) => {}
                        Err((status, code, message)) => {
                            return Err(TrackerError(format!(
                                "experiments/get-by-name answered {status} {code}: {message}"
                            )));
                        }
                    }
                    let created = self
                        .call(
                            reqwest::Method::POST,
                            "experiments/create",
                            Some(json!({"name": name})),
                            &[],
                        )
                        .await?;
                    match created {
                        Ok(v) => {
                            if let Some(id) = v["experiment_id"].as_str() {
                                return Ok(id.to_owned());
                            }
                        }
                        // Created by someone else meanwhile: read it again.
                        Err((_, code, _)) if code == "RESOURCE_ALREADY_EXISTS" => continue,
                        Err((status, code, message)) => {
                            return Err(TrackerError(format!(
                                "experiments/create answered {status} {code}: {message}"
                            )));
                        }
                    }
                }
                Err(TrackerError(format!(
                    "cannot find or create experiment '{name}'"
                )))
            })
            .await
            .cloned()
    }

    async fn create_run(
        &self,
        experiment: &str,
        name: &str,
        tag_pairs: &[(&str, String)],
    ) -> Result<(String, String), TrackerError> {
        let mut pairs = tag_pairs.to_vec();
        if let Ok(user) = std::env::var("USER") {
            pairs.push(("mlflow.user", user));
        }
        let v = self
            .must(
                "runs/create",
                json!({
                    "experiment_id": experiment,
                    "run_name": name,
                    "start_time": now_ms(),
                    "tags": tags(&pairs),
                }),
            )
            .await?;
        let info = &v["run"]["info"];
        let id = info["run_id"]
            .as_str()
            .ok_or_else(|| TrackerError("runs/create answered no run id".into()))?;
        Ok((
            id.to_owned(),
            info["artifact_uri"].as_str().unwrap_or("").to_owned(),
        ))
    }

    /// params, metrics and tags, in batches within MLflow's limits.
    async fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        metrics: &[(String, f64)],
        tag_pairs: &[(&str, String)],
    ) -> Result<(), TrackerError> {
        let ts = now_ms();
        for chunk in params.chunks(100) {
            let params: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({"key": k, "value": truncate(v, 6000)}))
                .collect();
            self.must(
                "runs/log-batch",
                json!({"run_id": run_id, "params": params}),
            )
            .await?;
        }
        for chunk in metrics.chunks(1000) {
            let metrics: Vec<Value> = chunk
                .iter()
                .filter(|(_, v)| v.is_finite())
                .map(|(k, v)| json!({"key": k, "value": v, "timestamp": ts, "step": 0}))
                .collect();
            self.must(
                "runs/log-batch",
                json!({"run_id": run_id, "metrics": metrics}),
            )
            .await?;
        }
        if !tag_pairs.is_empty() {
            self.must(
                "runs/log-batch",
                json!({"run_id": run_id, "tags": tags(tag_pairs)}),
            )
            .await?;
        }
        Ok(())
    }

    async fn log_datasets(
        &self,
        run_id: &str,
        inputs: &[DataRef],
        outputs: &[DataRef],
    ) -> Result<(), TrackerError> {
        let dataset = |d: &DataRef, context: &str| {
            json!({
                "tags": [{"key": "mlflow.data.context", "value": context}],
                "dataset": {
                    "name": d.path,
                    "digest": &d.hash[..d.hash.len().min(32)],
                    "source_type": "local",
                    "source": json!({"uri": d.path}).to_string(),
                    "profile": json!({"blake3": d.hash, "size": d.size, "kind": d.kind}).to_string(),
                }
            })
        };
        let datasets: Vec<Value> = inputs
            .iter()
            .map(|d| dataset(d, "input"))
            .chain(outputs.iter().map(|d| dataset(d, "output")))
            .collect();
        if datasets.is_empty() {
            return Ok(());
        }
        self.must(
            "runs/log-inputs",
            json!({"run_id": run_id, "datasets": datasets}),
        )
        .await
        .map(drop)
    }

    /// Uploads the log through the proxied artifact API (only for `mlflow-artifacts:` runs).
    async fn upload_log(
        &self,
        artifact_uri: &str,
        log: &std::path::Path,
    ) -> Result<(), TrackerError> {
        let Some(path) = artifact_uri.strip_prefix(ARTIFACTS_SCHEME) else {
            tracing::warn!(
                "artifact root {artifact_uri} is not served by the tracking server: log not uploaded"
            );
            return Ok(());
        };
        let bytes = tokio::fs::read(log)
            .await
            .map_err(|e| TrackerError(format!("{}: {e}", log.display())))?;
        self.put_at(path.trim_matches('/'), "stage.log", bytes)
            .await
    }

    /// Records the gates' outcome on the pipeline run: a tag per gate (`cairn.gate.0`, …: the verdict,
    /// its name and why) and the run's status failed when one did not pass.
    pub async fn record_gates(
        &self,
        run_id: &str,
        gates: &[cairn_pipelines::gates::Evaluated],
    ) -> Result<(), TrackerError> {
        if gates.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = (0..gates.len())
            .map(|i| format!("cairn.gate.{i}"))
            .collect();
        let values: Vec<String> = gates
            .iter()
            .map(|g| {
                let verdict = if g.result.passed { "passed" } else { "failed" };
                format!("{verdict}: {} ({})", g.result.name, g.note)
            })
            .collect();
        let pairs: Vec<(&str, String)> = keys.iter().map(String::as_str).zip(values).collect();
        self.log_batch(run_id, &[], &[], &pairs).await?;
        if gates.iter().any(|g| !g.result.passed) {
            self.end_run(run_id, false).await?;
        }
        Ok(())
    }

    /// Marks a run failed (a promotion refused after it finished).
    pub async fn finish_failed(&self, run_id: &str) -> Result<(), TrackerError> {
        self.end_run(run_id, false).await
    }

    /// Sets tags on a run.
    pub async fn tag(&self, run_id: &str, pairs: &[(&str, String)]) -> Result<(), TrackerError> {
        self.log_batch(run_id, &[], &[], pairs).await
    }

    async fn end_run(&self, run_id: &str, succeeded: bool) -> Result<(), TrackerError> {
        let status = if succeeded { "FINISHED" } else { "FAILED" };
        self.must(
            "runs/update",
            json!({"run_id": run_id, "status": status, "end_time": now_ms()}),
        )
        .await
        .map(drop)
    }
}

#[async_trait::async_trait]
impl Tracker for MlflowTracker {
    async fn start_pipeline(&self, p: &PipelineStart) -> Result<String, TrackerError> {
        let experiment = self.experiment(&p.pipeline).await?;
        let id = match std::env::var("CAIRN_PIPELINE_RUN_ID") {
            // A server's executor runs a triggered run: its parent run exists already.
            Ok(id) if !id.is_empty() => {
                let tags = [
                    ("cairn.pipeline.file", p.file.clone()),
                    ("cairn.executor", p.executor.clone()),
                ];
                self.log_batch(&id, &[], &[], &tags).await?;
                id
            }
            _ => {
                self.create_run(
                    &experiment,
                    &p.pipeline,
                    &[
                        ("cairn.pipeline", p.pipeline.clone()),
                        ("cairn.pipeline.file", p.file.clone()),
                        ("cairn.executor", p.executor.clone()),
                    ],
                )
                .await?
                .0
            }
        };
        self.log_batch(&id, &p.overrides, &[], &[]).await?;
        Ok(id)
    }

    async fn start_stage(&self, s: &StageStart) -> Result<TrackedStage, TrackerError> {
        let experiment = self.experiment(&s.stage).await?;
        let (id, artifact_uri) = self
            .create_run(
                &experiment,
                &s.stage,
                &[
                    ("mlflow.parentRunId", s.pipeline_run_id.clone()),
                    ("cairn.stage", s.stage.clone()),
                    ("cairn.stage.key", s.key.clone()),
                    ("cairn.stage.cache", s.cache.to_owned()),
                    ("cairn.executor", s.executor.clone()),
                ],
            )
            .await?;
        self.log_batch(&id, &s.params, &[], &[]).await?;
        self.artifact_uris
            .lock()
            .expect("lock")
            .insert(id.clone(), artifact_uri);
        let env = [
            ("MLFLOW_TRACKING_URI", self.base.clone()),
            ("MLFLOW_RUN_ID", id.clone()),
            ("MLFLOW_EXPERIMENT_ID", experiment),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok(TrackedStage { run_id: id, env })
    }

    async fn finish_stage(&self, run_id: &str, f: &StageFinish) -> Result<(), TrackerError> {
        let mut pairs = vec![
            ("cairn.stage.status", f.status.to_owned()),
            ("cairn.stage.duration_ms", f.duration_ms.to_string()),
            ("cairn.stage.reason", f.reason.clone()),
        ];
        if let Some(class) = f.failure_class {
            pairs.push(("cairn.stage.failure_class", class.to_owned()));
        }
        if let Some(source) = &f.source_run_id {
            pairs.push(("cairn.stage.source_run_id", source.clone()));
        }
        // Independent writes to the stage run go together (a stage's tracking is on the critical path
        // of every stage after it); the run ends once they are all in.
        let log = async {
            let Some(log) = &f.log else {
                return Ok(());
            };
            let known = self.artifact_uris.lock().expect("lock").remove(run_id);
            let uri = match known {
                Some(uri) => uri,
                None => self
                    .call(
                        reqwest::Method::GET,
                        "runs/get",
                        None,
                        &[("run_id", run_id)],
                    )
                    .await?
                    .map_err(|(s, c, m)| TrackerError(format!("runs/get answered {s} {c}: {m}")))?
                    ["run"]["info"]["artifact_uri"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            };
            self.upload_log(&uri, log).await
        };
        tokio::try_join!(
            self.log_batch(run_id, &[], &f.metrics, &pairs),
            self.log_datasets(run_id, &f.inputs, &f.outputs),
            log,
        )?;
        self.end_run(run_id, f.succeeded).await
    }

    async fn finish_pipeline(&self, run_id: &str, succeeded: bool) -> Result<(), TrackerError> {
        self.end_run(run_id, succeeded).await
    }
}
