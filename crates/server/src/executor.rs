//! The server's pipeline executor: it claims triggered runs from the queue (one server per run, under
//! a lease it renews while the run lasts), unpacks the registered snapshot into a work folder and runs
//! `cairn run` there against this server — the same runner, cache and executors (local or Ray) as on a
//! laptop. A run whose server dies is claimed again once its lease lapses; its child notices its parent
//! is gone and stops.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cairn_domain::pipeline::{PipelineRun, PipelineRunStatus};
use cairn_service::{Artifacts, PipelineRunEnd, Pipelines, Triggers};
use cairn_store::Lease;
use futures::StreamExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

/// How often the queue is looked at.
const POLL: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub(crate) struct Executor {
    pub triggers: Triggers,
    pub pipelines: Pipelines,
    pub artifacts: Artifacts,
    /// This server's name on the leases it holds.
    pub server_id: String,
    /// Where snapshots are unpacked.
    pub work_dir: PathBuf,
    /// This server, as the runs' `cairn run` reaches it.
    pub self_url: String,
    pub lease_ms: i64,
    /// Runs this server executes at once (`CAIRN_EXECUTOR_SLOTS`); the rest wait in the queue for
    /// this server or another.
    pub slots: Arc<tokio::sync::Semaphore>,
    /// With authentication on, each run calls this server with a token of the executor's account.
    pub governance: cairn_service::Governance,
}

impl Executor {
    /// Runs forever.
    pub(crate) async fn run(self) {
        loop {
            tokio::time::sleep(POLL).await;
            loop {
                let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                    break;
                };
                match self.triggers.claim(&self.server_id, self.lease_ms).await {
                    Ok(Some(run)) => {
                        let me = self.clone();
                        tokio::spawn(async move {
                            let _slot = slot;
                            let id = run.run_id.clone();
                            if let Err(e) = me.execute(run).await {
                                tracing::warn!(run_id = %id, error = %format!("{e:#}"), "pipeline run failed to execute");
                                me.end(&id, PipelineRunStatus::Failed, None, &format!("{e:#}"))
                                    .await;
                            }
                        });
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "claiming a pipeline run");
                        break;
                    }
                }
            }
        }
    }

    async fn execute(&self, run: PipelineRun) -> anyhow::Result<()> {
        let exec = run
            .execution
            .clone()
            .context("a claimed run has an execution")?;
        tracing::info!(run_id = %run.run_id, pipeline = %run.pipeline, attempt = exec.attempts, "executing pipeline run");
        let version = self
            .pipelines
            .get(&run.pipeline, run.pipeline_version)
            .await?;
        let dir = self
            .work_dir
            .join(format!("{}-{}", run.run_id, exec.attempts));
        self.unpack(&version.files, &dir).await?;
        let experiment_id = self
            .triggers
            .ensure_mlflow_run(&run.pipeline, &exec.trigger, &run.run_id, &run.actor)
            .await?;
        let exe = std::env::current_exe().context("locating the cairn binary")?;
        let log_path = dir.join(".cairn-run.log");
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = tokio::process::Command::new(exe);
        cmd.arg("run")
            .arg("--file")
            .arg(&version.file)
            .arg("--server")
            .arg(&self.self_url);
        for (k, v) in &exec.params {
            cmd.arg("-P").arg(format!("{k}={v}"));
        }
        cmd.current_dir(&dir)
            .env("MLFLOW_TRACKING_URI", &self.self_url)
            .env("MLFLOW_EXPERIMENT_ID", &experiment_id)
            .env_remove("MLFLOW_EXPERIMENT_NAME")
            .env_remove("MLFLOW_RUN_ID")
            .env("CAIRN_PIPELINE_RUN_ID", &run.run_id)
            .env("CAIRN_PIPELINE_CAUSE", run.cause.to_string())
            .env("CAIRN_PIPELINE_NAME", &run.pipeline)
            .env("CAIRN_TRIGGER", &exec.trigger)
            .env("CAIRN_WATCH_PARENT", "1")
            .env_remove("MLFLOW_TRACKING_USERNAME")
            .env_remove("MLFLOW_TRACKING_PASSWORD")
            .env_remove("MLFLOW_TRACKING_TOKEN")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        if self.governance.auth_enabled() {
            cmd.env("MLFLOW_TRACKING_TOKEN", self.governance.run_token().await?);
        }
        let mut child = cmd.spawn().context("starting cairn run")?;
        // Often enough to keep the lease and to notice a cancellation within a couple of seconds.
        let renew = Duration::from_millis((self.lease_ms / 3).clamp(200, 2_000) as u64);
        let status = loop {
            tokio::select! {
                s = child.wait() => break Some(s?),
                () = tokio::time::sleep(renew) => {
                    match self.triggers.renew(&run.run_id, &self.server_id, self.lease_ms).await {
                        Ok(Lease::Held { cancel_requested: false }) => {}
                        Ok(Lease::Held { cancel_requested: true }) => {
                            tracing::info!(run_id = %run.run_id, "cancelling pipeline run (concurrency: cancel_previous)");
                            // Recorded first: `cairn run` would record its interruption as a failure.
                            self.end(&run.run_id, PipelineRunStatus::Cancelled, None, "cancelled by a newer run (concurrency: cancel_previous)").await;
                            interrupt(&mut child).await;
                            return Ok(());
                        }
                        Ok(Lease::Lost) => {
                            tracing::warn!(run_id = %run.run_id, "lost the lease on a pipeline run; stopping it");
                            interrupt(&mut child).await;
                            return Ok(());
                        }
                        // The database is unreachable for a moment: keep running, try again.
                        Err(e) => tracing::warn!(run_id = %run.run_id, error = %e, "renewing a lease"),
                    }
                }
            }
        };
        let code = status.and_then(|s| s.code());
        let tail = tail(&log_path);
        let _ = self.upload_log(&run, &log_path).await;
        // `cairn run` records its own end; this covers a run that died before it could.
        let status = if code == Some(0) {
            PipelineRunStatus::Succeeded
        } else {
            PipelineRunStatus::Failed
        };
        self.end(&run.run_id, status, code, &tail).await;
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(())
    }

    /// Writes every file of the snapshot under `dir`.
    async fn unpack(
        &self,
        files: &[cairn_domain::pipeline::SnapshotFile],
        dir: &Path,
    ) -> anyhow::Result<()> {
        let _ = tokio::fs::remove_dir_all(dir).await;
        for f in files {
            let path = dir.join(&f.path);
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent).await?;
            }
            let mut download = self.pipelines.object(&f.digest).await?;
            let mut out = tokio::fs::File::create(&path).await?;
            while let Some(chunk) = download.stream.next().await {
                out.write_all(&chunk?).await?;
            }
            out.flush().await?;
            if f.executable {
                use std::os::unix::fs::PermissionsExt;
                tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).await?;
            }
        }
        Ok(())
    }

    /// Keeps the run's output beside its MLflow run, as `cairn-run.log`.
    async fn upload_log(&self, run: &PipelineRun, log: &Path) -> anyhow::Result<()> {
        let bytes = tokio::fs::read(log).await?;
        let path = format!("{}/cairn-run.log", run_artifact_dir(&run.run_id));
        let stream = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
        self.artifacts.upload(&path, stream).await?;
        Ok(())
    }

    /// Ends a run that is still active (a run `cairn run` already ended is left as it ended).
    async fn end(&self, run_id: &str, status: PipelineRunStatus, code: Option<i32>, why: &str) {
        match self.pipelines.get_run(run_id).await {
            Ok(r) if r.status.is_active() => {}
            _ => return,
        }
        let end = PipelineRunEnd {
            status,
            exit_code: code,
            report: Some(json!({ "error": why })),
        };
        if let Err(e) = self.pipelines.finish_run(run_id, end, "executor").await {
            tracing::warn!(run_id, error = %e, "recording the end of a pipeline run");
        }
    }
}

/// How long a run gets to stop its steps after SIGINT before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// Stops `cairn run` as Ctrl-C does, so it cancels its running steps (a Ray job is stopped), then
/// kills it if it has not exited within the grace period.
async fn interrupt(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        );
        if tokio::time::timeout(STOP_GRACE, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

/// Where a pipeline run's own files go in the artifact store: beside its MLflow run's artifacts is
/// not known here (the experiment decides), so under the pipelines area.
fn run_artifact_dir(run_id: &str) -> String {
    format!("_cairn/pipelines/runs/{run_id}")
}

/// The last lines of the run's output, for a run that failed before recording why.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
