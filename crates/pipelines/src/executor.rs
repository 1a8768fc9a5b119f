//! The executor contract: where a stage's commands run. [`crate::local::LocalExecutor`] runs them as
//! subprocesses; the Ray Jobs executor (in the CLI, which may speak HTTP) submits the same
//! [`StepLaunch`] to a Ray head: `submit` maps to `POST /api/jobs/` with `submission_id` (idempotent
//! re-attach), `wait` to polling the job's status while copying its logs into `log_path` (Cairn keeps
//! logs, Ray forgets them) and then bringing the declared outs back into the workspace, `cancel` to
//! `POST /api/jobs/{id}/stop`. The runner only sees this trait, so the step semantics — env, cwd,
//! log, failure classes, outs in the workspace when `wait` says `Succeeded` — cannot drift between
//! executors.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Which executor runs a step (never part of a cache key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutorKind {
    Local,
    Ray,
}

impl ExecutorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutorKind::Local => "local",
            ExecutorKind::Ray => "ray",
        }
    }
}

/// Everything an executor needs to run one attempt of a stage.
#[derive(Debug, Clone)]
pub struct StepLaunch {
    /// Unique per attempt (`cairn-<run>-<stage>-a1`): an executor that is asked twice re-attaches.
    pub submission_id: String,
    pub stage: String,
    /// 1 for the first attempt; a retry appends to the log.
    pub attempt: u32,
    /// Shell commands, run in order; the first failure ends the step.
    pub commands: Vec<String>,
    /// Absolute working directory (the stage's wdir in the project).
    pub cwd: PathBuf,
    /// The project root; `cwd`, `files` and `outs` are below it.
    pub root: PathBuf,
    /// Project-relative files and directories the step reads (its code scope, deps, params files,
    /// lock file): what a remote executor ships. The local executor reads the workspace instead.
    pub files: Vec<String>,
    /// Project-relative declared outs: what a remote executor brings back into the workspace.
    pub outs: Vec<String>,
    /// Variables added to the executor's environment (`MLFLOW_RUN_ID`, …).
    pub env: BTreeMap<String, String>,
    /// Where the step's stdout and stderr go, interleaved.
    pub log_path: PathBuf,
    pub timeout: Option<Duration>,
    /// What the step reserves where that means something (Ray); the local executor ignores it.
    pub resources: crate::run_policy::Resources,
}

/// Why a step failed, so retries can be chosen by class (the user's bug is not retried; a lost
/// node is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The command exited non-zero.
    User,
    /// Killed for memory (SIGKILL is the usual sign).
    Oom,
    Timeout,
    /// The environment could not be set up (Ray's runtime env, a missing interpreter).
    Env,
    /// The executor itself failed.
    Infra,
    /// The node went away (eviction, SIGTERM).
    Preempted,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::User => "user",
            FailureClass::Oom => "oom",
            FailureClass::Timeout => "timeout",
            FailureClass::Env => "env",
            FailureClass::Infra => "infra",
            FailureClass::Preempted => "preempted",
        }
    }
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    Succeeded,
    Failed {
        class: FailureClass,
        exit_code: Option<i32>,
        message: String,
    },
    Cancelled,
    /// The executor no longer knows the step (a Ray head restarted).
    Lost,
}

/// The executor could not do what it was asked (unreachable, refused): infrastructure, exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExecutorError(pub String);

/// Runs steps somewhere.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    fn kind(&self) -> ExecutorKind;
    /// Starts the step and returns once it is submitted.
    async fn submit(&self, launch: &StepLaunch) -> Result<Box<dyn RunningStep>, ExecutorError>;
}

/// A submitted step.
#[async_trait::async_trait]
pub trait RunningStep: Send {
    /// The executor's id of the step (a process id, a Ray submission id).
    fn id(&self) -> String;
    /// Waits for the end. Cancel-safe: dropping the future leaves the step running, to be cancelled.
    async fn wait(&mut self) -> Result<StepState, ExecutorError>;
    /// Stops the step.
    async fn cancel(&mut self) -> Result<(), ExecutorError>;
}
