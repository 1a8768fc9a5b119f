//! The Ray executor: a step is a Ray job. Submit uploads the step's files as a content-addressed
//! package (only when the head lacks it) and posts the job with the attempt's `submission_id`;
//! `wait` polls the job while appending new log text to Cairn's own log of the step, then maps the
//! end to a [`StepState`] and brings the outs back. Ray's record of the job is not relied on after
//! that (a head restart forgets it).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use cairn_pipelines::executor::{
    Executor, ExecutorError, ExecutorKind, FailureClass, RunningStep, StepLaunch, StepState,
};
use serde_json::json;
use tokio::time::Instant;

use super::client::{JobInfo, RayClient, RayError, Submitted};
use super::{outs, package};

/// The step runner, shipped in every package.
const SHIM: &[u8] = include_bytes!("cairn_step.py");
const SHIM_NAME: &str = "_cairn_step.py";
/// What the shim prints, and exits with, when the outs could not be shipped (see cairn_step.py).
const OUTS_FAILED: &str = "cairn-step: could not ship the outs back:";
const OUTS_FAILED_CODE: i32 = 70;

/// Polling: fast at first (a short step should not wait a second for its end), then every second.
const FAST_POLL: Duration = Duration::from_millis(200);
const SLOW_POLL: Duration = Duration::from_secs(1);
const FAST_FOR: Duration = Duration::from_secs(5);
/// A head that does not answer for this long has lost the step (it is down or restarting).
const LOST_AFTER: Duration = Duration::from_secs(10);
/// How long a stopped job gets to reach STOPPED (Ray: ~2 s) before the step is given up.
const STOP_WAIT: Duration = Duration::from_secs(15);

pub struct RayExecutor {
    client: RayClient,
    /// For the tracking server's artifact proxy (the outs).
    http: reqwest::Client,
}

impl RayExecutor {
    /// An executor of the head whose dashboard is at `address`.
    pub fn new(address: &str) -> RayExecutor {
        RayExecutor {
            client: RayClient::new(address),
            http: outs::client(),
        }
    }

    fn unreachable(&self, e: &RayError) -> ExecutorError {
        ExecutorError(match e {
            RayError::Unreachable(_) => format!(
                "{e} (start a head with `ray start --head --dashboard-host=127.0.0.1`, or point \
                 --ray-address / RAY_ADDRESS at its dashboard)"
            ),
            RayError::Status(..) => format!("the Ray head at {}: {e}", self.client.base()),
        })
    }
}

/// The log of an attempt: a first attempt starts it, a retry appends with a marker (as locally).
fn open_log(launch: &StepLaunch) -> Result<std::fs::File, ExecutorError> {
    let err = |e: std::io::Error| ExecutorError(format!("{}: {e}", launch.log_path.display()));
    if let Some(dir) = launch.log_path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut log = std::fs::File::options()
        .create(true)
        .write(true)
        .append(launch.attempt > 1)
        .truncate(launch.attempt <= 1)
        .open(&launch.log_path)
        .map_err(err)?;
    if launch.attempt > 1 {
        writeln!(log, "--- attempt {} ---", launch.attempt).map_err(err)?;
    }
    Ok(log)
}

#[async_trait::async_trait]
impl Executor for RayExecutor {
    fn kind(&self) -> ExecutorKind {
        ExecutorKind::Ray
    }

    async fn submit(&self, launch: &StepLaunch) -> Result<Box<dyn RunningStep>, ExecutorError> {
        let mut log = open_log(launch)?;
        let outs_url = match self.start(launch).await {
            Ok(url) => url,
            Err(e) => {
                // Cairn's log says why this attempt never ran (the next one follows it).
                let _ = writeln!(log, "cairn: not submitted: {e}");
                return Err(e);
            }
        };
        Ok(Box::new(RayStep {
            client: self.client.clone(),
            http: self.http.clone(),
            id: launch.submission_id.clone(),
            log,
            log_len: 0,
            outs_failed: false,
            deadline: launch.timeout.map(|t| Instant::now() + t),
            root: launch.root.clone(),
            outs: launch.outs.clone(),
            outs_url,
            finished: false,
        }))
    }
}

impl RayExecutor {
    /// Ships the package (when the head lacks it) and submits the job, or re-attaches to it; returns
    /// where the attempt's outs will be.
    async fn start(&self, launch: &StepLaunch) -> Result<Option<String>, ExecutorError> {
        let outs_url = match launch.outs.is_empty() {
            true => None,
            false => Some(
                outs::channel(&self.http, &launch.env, launch.attempt)
                    .await
                    .map_err(ExecutorError)?,
            ),
        };
        let wdir = launch
            .cwd
            .strip_prefix(&launch.root)
            .ok()
            .and_then(|p| p.to_str())
            .filter(|p| !p.is_empty())
            .unwrap_or(".")
            .to_owned();
        let (root, files) = (launch.root.clone(), launch.files.clone());
        let pkg = tokio::task::spawn_blocking(move || {
            package::build(&root, &files, &[(SHIM_NAME, SHIM)])
        })
        .await
        .map_err(|e| ExecutorError(e.to_string()))?
        .map_err(|e| ExecutorError(format!("packaging the step: {e}")))?;
        let uploaded = !self
            .client
            .has_package(&pkg.name)
            .await
            .map_err(|e| self.unreachable(&e))?;
        if uploaded {
            self.client
                .put_package(&pkg.name, pkg.bytes)
                .await
                .map_err(|e| self.unreachable(&e))?;
        }
        let step = json!({
            "commands": launch.commands,
            "wdir": wdir,
            "outs": launch.outs,
            "outs_url": outs_url,
        });
        let mut env_vars: BTreeMap<String, String> = launch.env.clone();
        env_vars.insert("CAIRN_STEP".into(), step.to_string());
        let mut body = json!({
            "entrypoint": format!("python3 {SHIM_NAME}"),
            "submission_id": launch.submission_id,
            "runtime_env": {
                "working_dir": format!("gcs://{}", pkg.name),
                "env_vars": env_vars,
            },
            "metadata": {
                "cairn_stage": launch.stage,
                "cairn_attempt": launch.attempt.to_string(),
            },
        });
        let r = &launch.resources;
        if let Some(cpu) = r.cpu {
            body["entrypoint_num_cpus"] = json!(cpu);
        }
        if let Some(gpu) = r.gpu {
            body["entrypoint_num_gpus"] = json!(gpu);
        }
        if let Some(memory) = r.memory {
            body["entrypoint_memory"] = json!(memory);
        }
        if !r.custom.is_empty() {
            body["entrypoint_resources"] = json!(r.custom);
        }
        let id = launch.submission_id.clone();
        let how = match self.client.submit(&body).await {
            Ok(Submitted::New) => "submitted",
            Ok(Submitted::AlreadyExists) => "re-attached to",
            // The answer may be lost after the head took the job: ask for it before giving up.
            Err(e @ RayError::Unreachable(_)) => match self.client.job(&id).await {
                Ok(Some(_)) => "re-attached to",
                _ => return Err(self.unreachable(&e)),
            },
            Err(e) => return Err(self.unreachable(&e)),
        };
        tracing::info!(
            "{}: {how} Ray job {id} at {} (package {}, {} files{})",
            launch.stage,
            self.client.base(),
            pkg.name,
            pkg.files,
            if uploaded { ", uploaded" } else { "" }
        );
        Ok(outs_url)
    }
}

struct RayStep {
    client: RayClient,
    http: reqwest::Client,
    id: String,
    log: std::fs::File,
    /// Bytes of Ray's log of this job already in Cairn's log.
    log_len: usize,
    /// The shim said it could not ship the outs.
    outs_failed: bool,
    deadline: Option<Instant>,
    root: PathBuf,
    outs: Vec<String>,
    outs_url: Option<String>,
    /// The job ended (or was stopped, or lost): nothing to stop on drop.
    finished: bool,
}

/// The end of a failed job, by class (see the spec's §9.5).
fn classify(info: &JobInfo, outs_failed: bool) -> StepState {
    let first = info.message.lines().next().unwrap_or("").to_owned();
    let failed = |class, exit_code, message| StepState::Failed {
        class,
        exit_code,
        message,
    };
    match info.error_type.as_deref() {
        Some("JOB_ENTRYPOINT_COMMAND_ERROR") => match info.driver_exit_code {
            Some(OUTS_FAILED_CODE) if outs_failed => failed(
                FailureClass::Infra,
                Some(OUTS_FAILED_CODE),
                "the outs could not be shipped back".into(),
            ),
            // 128 + SIGKILL: the OOM killer's usual mark; 128 + SIGTERM: an eviction's (worded as the
            // local executor words a signal).
            Some(137) => failed(FailureClass::Oom, Some(137), "killed by signal 9".into()),
            Some(143) => failed(
                FailureClass::Preempted,
                Some(143),
                "killed by signal 15".into(),
            ),
            Some(code) => failed(FailureClass::User, Some(code), format!("exit code {code}")),
            None => failed(FailureClass::User, None, first),
        },
        Some(t @ ("RUNTIME_ENV_SETUP_FAILURE" | "JOB_ENTRYPOINT_COMMAND_START_ERROR")) => {
            failed(FailureClass::Env, None, format!("Ray {t}: {first}"))
        }
        Some(t) => failed(FailureClass::Infra, None, format!("Ray {t}: {first}")),
        None => failed(FailureClass::Infra, None, format!("Ray: {first}")),
    }
}

impl RayStep {
    /// Appends what Ray's log has beyond what Cairn's log holds.
    async fn copy_logs(&mut self) {
        let Ok(Some(text)) = self.client.logs(&self.id).await else {
            return;
        };
        if text.len() > self.log_len {
            let _ = self.log.write_all(&text.as_bytes()[self.log_len..]);
            let _ = self.log.flush();
            self.log_len = text.len();
        }
        self.outs_failed |= text.contains(OUTS_FAILED);
    }

    fn note(&mut self, text: &str) {
        let _ = writeln!(self.log, "cairn: {text}");
        let _ = self.log.flush();
    }

    /// Stops the job and waits (briefly) for it to end, keeping its last log lines.
    async fn stop(&mut self) -> Result<(), ExecutorError> {
        self.finished = true;
        let result = self.client.stop(&self.id).await;
        let until = Instant::now() + STOP_WAIT;
        while Instant::now() < until {
            match self.client.job(&self.id).await {
                Ok(Some(info)) if !info.is_terminal() => {}
                _ => break,
            }
            tokio::time::sleep(FAST_POLL).await;
        }
        self.copy_logs().await;
        result.map_err(|e| ExecutorError(format!("stopping Ray job {}: {e}", self.id)))
    }

    /// The job ended: its state, with the outs in the workspace when it succeeded.
    async fn settle(&mut self, info: &JobInfo) -> StepState {
        match info.status.as_str() {
            "SUCCEEDED" => {
                let Some(url) = self.outs_url.clone() else {
                    return StepState::Succeeded;
                };
                match outs::fetch(&self.http, &url, &self.root, &self.outs).await {
                    Ok(_) => StepState::Succeeded,
                    Err(e) => {
                        self.note(&format!("bringing the outs back failed: {e}"));
                        StepState::Failed {
                            class: FailureClass::Infra,
                            exit_code: None,
                            message: format!("bringing the outs back: {e}"),
                        }
                    }
                }
            }
            "STOPPED" => StepState::Cancelled,
            _ => classify(info, self.outs_failed),
        }
    }
}

impl Drop for RayStep {
    fn drop(&mut self) {
        // A step dropped while its job runs (its run was torn down): stop the job, best effort.
        if !self.finished
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (client, id) = (self.client.clone(), self.id.clone());
            rt.spawn(async move {
                let _ = client.stop(&id).await;
            });
        }
    }
}

#[async_trait::async_trait]
impl RunningStep for RayStep {
    fn id(&self) -> String {
        self.id.clone()
    }

    async fn wait(&mut self) -> Result<StepState, ExecutorError> {
        let started = Instant::now();
        let mut silent_since: Option<Instant> = None;
        loop {
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                if let Err(e) = self.stop().await {
                    tracing::warn!("{e}");
                }
                return Ok(StepState::Failed {
                    class: FailureClass::Timeout,
                    exit_code: None,
                    message: "timed out".into(),
                });
            }
            match self.client.job(&self.id).await {
                Ok(Some(info)) => {
                    silent_since = None;
                    self.copy_logs().await;
                    if info.is_terminal() {
                        self.finished = true;
                        return Ok(self.settle(&info).await);
                    }
                }
                Ok(None) => {
                    self.finished = true;
                    self.note(&format!("the Ray head no longer knows job {}", self.id));
                    return Ok(StepState::Lost);
                }
                Err(e) => {
                    let since = *silent_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= LOST_AFTER {
                        self.finished = true;
                        self.note(&format!("the Ray head stopped answering: {e}"));
                        return Ok(StepState::Lost);
                    }
                }
            }
            let pause = if started.elapsed() < FAST_FOR {
                FAST_POLL
            } else {
                SLOW_POLL
            };
            let wake = match self.deadline {
                Some(d) => (Instant::now() + pause).min(d),
                None => Instant::now() + pause,
            };
            tokio::time::sleep_until(wake).await;
        }
    }

    async fn cancel(&mut self) -> Result<(), ExecutorError> {
        self.note("cancelled: stopping the Ray job");
        self.stop().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(error_type: &str, code: Option<i32>) -> JobInfo {
        JobInfo {
            status: "FAILED".into(),
            error_type: Some(error_type.into()),
            driver_exit_code: code,
            message: "Job entrypoint command failed\nlogs…".into(),
        }
    }

    fn class(s: StepState) -> (FailureClass, Option<i32>) {
        match s {
            StepState::Failed {
                class, exit_code, ..
            } => (class, exit_code),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failures_map_to_classes() {
        let cmd = "JOB_ENTRYPOINT_COMMAND_ERROR";
        assert_eq!(
            class(classify(&info(cmd, Some(3)), false)),
            (FailureClass::User, Some(3))
        );
        assert_eq!(
            class(classify(&info(cmd, Some(137)), false)),
            (FailureClass::Oom, Some(137))
        );
        assert_eq!(
            class(classify(&info(cmd, Some(143)), false)),
            (FailureClass::Preempted, Some(143))
        );
        // Exit 70 is the user's own unless the shim said it could not ship the outs.
        assert_eq!(
            class(classify(&info(cmd, Some(70)), false)),
            (FailureClass::User, Some(70))
        );
        assert_eq!(
            class(classify(&info(cmd, Some(70)), true)),
            (FailureClass::Infra, Some(70))
        );
        assert_eq!(
            class(classify(&info("RUNTIME_ENV_SETUP_FAILURE", None), false)).0,
            FailureClass::Env
        );
        assert_eq!(
            class(classify(&info("JOB_SUPERVISOR_ACTOR_DIED", None), false)).0,
            FailureClass::Infra
        );
    }
}
