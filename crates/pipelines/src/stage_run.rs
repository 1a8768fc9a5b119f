//! One stage's run on a hit or a miss: the nested tracking run, restoring outs from the cache, or
//! running the commands on the executor and storing what they produced; then the stage's state.

use std::collections::BTreeMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::cache::CacheEntry;
use crate::error::PipelineError;
use crate::executor::{FailureClass, StepLaunch, StepState};
use crate::hashing::hash_bytes;
use crate::metrics;
use crate::outputs::{self, OutKind, OutRecord};
use crate::plan::StagePlan;
use crate::report::{StageResult, StageStatus};
use crate::runner::{Done, Runner, stopped};
use crate::state::StageState;
use crate::tracker::{DataRef, StageFinish, StageStart};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Runner {
    fn stage_start(&self, ctx: &StageCtx<'_>, cache: &'static str) -> StageStart {
        let project = &self.planner.project;
        let params = ctx
            .plan
            .manifest
            .params
            .iter()
            .map(|(k, v)| (k.clone(), crate::params::display(v)))
            .collect();
        StageStart {
            pipeline_run_id: ctx.pipeline_run.to_owned(),
            stage: project.pipeline.stages[ctx.index].name.clone(),
            params,
            key: ctx.plan.key.clone(),
            cache,
            executor: self
                .executor_for(ctx.index)
                .map_or("none", |e| e.kind().as_str())
                .to_owned(),
        }
    }

    /// A hit: the outs are there, or are put back from the cache; the stage does not run.
    pub(crate) async fn cached(
        &self,
        ctx: &StageCtx<'_>,
        entry: Option<CacheEntry>,
        stale: Vec<String>,
        why: String,
    ) -> Result<Done, PipelineError> {
        let project = &self.planner.project;
        let stage = &project.pipeline.stages[ctx.index];
        let tracked = self
            .tracker
            .start_stage(&self.stage_start(ctx, "hit"))
            .await
            .map_err(|e| PipelineError::Tracker(e.0))?;
        let previous = project.state.stage(&stage.name);
        let log_file = project.state.log_file(&stage.name);
        let (outs, source_run_id) = match &entry {
            Some(entry) => {
                for path in &stale {
                    let rec = entry.outs.get(path).ok_or_else(|| {
                        PipelineError::Cache(format!("the cache entry {} lacks {path}", entry.key))
                    })?;
                    outputs::restore(&*self.cache, &project.root, path, rec)
                        .await
                        .map_err(|e| PipelineError::Cache(e.to_string()))?;
                }
                if let Some(log) = &entry.log
                    && let Ok(bytes) = self.cache.get_bytes(log).await
                {
                    let _ = crate::state::write_atomic(&log_file, &bytes);
                }
                (entry.outs.clone(), entry.run_id.clone())
            }
            None => (
                ctx.plan
                    .current_outs
                    .iter()
                    .filter_map(|(p, r)| r.clone().map(|r| (p.clone(), r)))
                    .collect(),
                previous.and_then(|s| s.source_run_id),
            ),
        };
        let log = log_file.is_file().then_some(log_file);
        let done = Completion {
            status: StageStatus::Cached,
            why,
            outs: &outs,
            log,
            state_source: source_run_id.clone(),
            source_run_id,
        };
        self.completed(ctx, &tracked.run_id, done).await
    }

    /// A miss: the stage runs on the executor, and its outs go into the cache.
    pub(crate) async fn execute(
        &self,
        ctx: &StageCtx<'_>,
        why: String,
    ) -> Result<Done, PipelineError> {
        let project = &self.planner.project;
        let stage = &project.pipeline.stages[ctx.index];
        let executor = self
            .executor_for(ctx.index)
            .ok_or_else(|| {
                PipelineError::Executor(format!(
                    "{}: no {} executor in this run",
                    stage.name,
                    stage.policy.executor.map_or("", |k| k.as_str())
                ))
            })?
            .clone();
        // Outs are removed first, so a stale file can never pass for a new one.
        for o in &stage.outs {
            let full = project.root.join(&o.path);
            outputs::remove(&full).map_err(|e| PipelineError::io(&full, e))?;
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).map_err(|e| PipelineError::io(parent, e))?;
            }
        }
        let tracked = self
            .tracker
            .start_stage(&self.stage_start(ctx, "miss"))
            .await
            .map_err(|e| PipelineError::Tracker(e.0))?;
        let mut env = tracked.env.clone();
        env.insert("CAIRN_STAGE".into(), stage.name.clone());
        // Declared env vars are in the key: a step elsewhere (Ray) must see the same values.
        for name in &stage.env {
            if let Ok(value) = std::env::var(name) {
                env.entry(name.clone()).or_insert(value);
            }
        }
        let files = step_files(stage, ctx.plan);
        let outs: Vec<String> = stage.outs.iter().map(|o| o.path.clone()).collect();
        let mut stop = ctx.stop.clone();
        let log_file = project.state.log_file(&stage.name);
        let policy = &stage.policy;
        let mut attempt = 1;
        let failure = loop {
            let launch = StepLaunch {
                submission_id: format!(
                    "cairn-{}-{}-a{attempt}",
                    short(ctx.pipeline_run),
                    stage.name
                ),
                stage: stage.name.clone(),
                attempt,
                commands: stage.cmd.clone(),
                cwd: project.root.join(&stage.wdir),
                root: project.root.clone(),
                files: files.clone(),
                outs: outs.clone(),
                env: env.clone(),
                log_path: log_file.clone(),
                timeout: policy.timeout,
                resources: policy.resources.clone(),
            };
            if *stop.borrow() {
                break Some(Failure::cancelled());
            }
            // An executor that cannot take the step (a Ray head down or restarting) is an infra
            // failure like a lost step: retried when `retry.on` has infra, else exit code 3.
            let (state, refused) = match executor.submit(&launch).await {
                Ok(mut step) => {
                    let state = tokio::select! {
                        state = step.wait() => state.map_err(|e| PipelineError::Executor(e.0))?,
                        _ = stopped(&mut stop) => {
                            if let Err(e) = step.cancel().await {
                                tracing::warn!("{}: cancelling {}: {e}", stage.name, step.id());
                            }
                            StepState::Cancelled
                        }
                    };
                    (state, None)
                }
                Err(e) => (StepState::Lost, Some(e.0)),
            };
            let (class, message, lost) = match state {
                StepState::Succeeded => break None,
                StepState::Cancelled => break Some(Failure::cancelled()),
                StepState::Failed { class, message, .. } => (class, message, false),
                StepState::Lost => (
                    FailureClass::Infra,
                    refused.unwrap_or_else(|| "the executor lost the step".into()),
                    true,
                ),
            };
            if attempt <= policy.retry.max && policy.retry.on.contains(&class) {
                attempt += 1;
                let wait = policy.retry.delay(attempt);
                tracing::warn!(
                    "{}: {message} ({}); attempt {attempt} in {wait:?}",
                    stage.name,
                    class.as_str()
                );
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = stopped(&mut stop) => break Some(Failure::cancelled()),
                }
            }
            let mut text = match class {
                FailureClass::User => message,
                other => format!("{message} ({})", other.as_str()),
            };
            if attempt > 1 {
                text.push_str(&format!(" after {attempt} attempts"));
            }
            break Some(Failure {
                reason: text,
                class: Some(class),
                // A lost step, or the executor failing it, is infrastructure: exit code 3.
                infra: lost || class == FailureClass::Infra,
            });
        };
        let why = if attempt > 1 && failure.is_none() {
            format!("{why} (succeeded on attempt {attempt})")
        } else {
            why
        };
        let hasher = self.planner.hasher.clone();
        let (root, outs_decl) = (project.root.clone(), stage.outs.clone());
        let produced = match failure {
            Some(_) => Vec::new(),
            None => tokio::task::spawn_blocking(move || {
                outs_decl
                    .iter()
                    .map(|o| hasher.content(&o.path).map(|c| (o.path.clone(), c)))
                    .collect::<std::io::Result<Vec<_>>>()
            })
            .await
            .map_err(|e| PipelineError::Usage(e.to_string()))?
            .map_err(|e| PipelineError::io(&root, e))?,
        };
        let missing: Vec<&str> = produced
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(p, _)| p.as_str())
            .collect();
        let failure = failure.or_else(|| {
            (!missing.is_empty()).then(|| Failure {
                reason: format!("the stage did not produce {}", missing.join(", ")),
                class: Some(FailureClass::User),
                infra: false,
            })
        });
        let log = log_file.is_file().then_some(log_file.clone());
        if let Some(f) = failure {
            let result = StageResult {
                name: stage.name.clone(),
                status: StageStatus::Failed,
                run_id: non_empty(&tracked.run_id),
                duration_ms: elapsed(ctx.clock),
                reason: f.reason,
            };
            let end = Ending {
                outs: &BTreeMap::new(),
                metrics: &[],
                log,
                source_run_id: None,
                failure_class: f.class.map(FailureClass::as_str),
            };
            self.finish(&tracked.run_id, ctx, &result, end).await?;
            return Ok(Done {
                index: ctx.index,
                infra: f
                    .infra
                    .then(|| format!("{}: {}", stage.name, result.reason)),
                result,
                metrics: Vec::new(),
            });
        }
        let mut outs = BTreeMap::new();
        for (path, content) in &produced {
            let content = content.as_ref().expect("checked above");
            let rec = outputs::store(&*self.cache, &project.root, path, content)
                .await
                .map_err(|e| PipelineError::Cache(e.to_string()))?;
            outs.insert(path.clone(), rec);
        }
        let log_hash = match std::fs::read(&log_file) {
            Ok(bytes) => {
                let h = hash_bytes(&bytes);
                self.cache
                    .put_bytes(&h, &bytes)
                    .await
                    .map_err(|e| PipelineError::Cache(e.to_string()))?;
                Some(h)
            }
            Err(_) => None,
        };
        if !outs.is_empty() {
            let entry = CacheEntry {
                key: ctx.plan.key.clone(),
                outs: outs.clone(),
                log: log_hash,
                run_id: non_empty(&tracked.run_id),
                created_ms: now_ms(),
            };
            self.cache
                .put_entry(&entry)
                .await
                .map_err(|e| PipelineError::Cache(e.to_string()))?;
        }
        let done = Completion {
            status: StageStatus::Ran,
            why,
            outs: &outs,
            log,
            state_source: non_empty(&tracked.run_id),
            source_run_id: None,
        };
        self.completed(ctx, &tracked.run_id, done).await
    }

    /// A stage that ended well, cached or ran: its state saved, its run's record written, its result.
    async fn completed(
        &self,
        ctx: &StageCtx<'_>,
        run_id: &str,
        done: Completion<'_>,
    ) -> Result<Done, PipelineError> {
        let stage = &self.planner.project.pipeline.stages[ctx.index];
        self.save_state(ctx, done.outs, done.state_source)?;
        let metrics = self.read_metrics(ctx.index);
        let result = StageResult {
            name: stage.name.clone(),
            status: done.status,
            run_id: non_empty(run_id),
            duration_ms: elapsed(ctx.clock),
            reason: done.why,
        };
        let end = Ending {
            outs: done.outs,
            metrics: &metrics,
            log: done.log,
            source_run_id: done.source_run_id,
            failure_class: None,
        };
        self.finish(run_id, ctx, &result, end).await?;
        Ok(Done {
            index: ctx.index,
            result,
            metrics,
            infra: None,
        })
    }

    fn save_state(
        &self,
        ctx: &StageCtx<'_>,
        outs: &BTreeMap<String, OutRecord>,
        source_run_id: Option<String>,
    ) -> Result<(), PipelineError> {
        let state = &self.planner.project.state;
        let stage = &self.planner.project.pipeline.stages[ctx.index];
        let io = |e| PipelineError::io(&state.root, e);
        state
            .save_tree(&ctx.plan.manifest.code.hash, &ctx.plan.code_tree.encode())
            .map_err(io)?;
        state
            .save_stage(
                &stage.name,
                &StageState {
                    key: ctx.plan.key.clone(),
                    manifest: ctx.plan.manifest.clone(),
                    outs: outs.clone(),
                    source_run_id,
                },
            )
            .map_err(io)
    }

    fn read_metrics(&self, index: usize) -> Vec<(String, f64)> {
        let project = &self.planner.project;
        let stage = &project.pipeline.stages[index];
        let mut out = Vec::new();
        for m in &stage.metrics {
            match metrics::read(&project.root, &m.path) {
                Ok(values) => out.extend(values),
                Err(e) => tracing::warn!("stage {}: metrics file {}: {e}", stage.name, m.path),
            }
        }
        out
    }

    /// Closes the stage's run with its result, outs, metrics and log.
    async fn finish(
        &self,
        run_id: &str,
        ctx: &StageCtx<'_>,
        result: &StageResult,
        end: Ending<'_>,
    ) -> Result<(), PipelineError> {
        let outputs = end
            .outs
            .iter()
            .map(|(path, r)| DataRef {
                path: path.clone(),
                hash: r.hash.clone(),
                size: r.size,
                kind: match r.kind {
                    OutKind::File => "file",
                    OutKind::Dir => "dir",
                },
            })
            .collect();
        let finish = StageFinish {
            succeeded: result.status != StageStatus::Failed,
            status: result.status.as_str(),
            reason: result.reason.clone(),
            duration_ms: result.duration_ms,
            metrics: end.metrics.to_vec(),
            inputs: ctx.plan.deps.clone(),
            outputs,
            log: end.log,
            source_run_id: end.source_run_id,
            failure_class: end.failure_class,
        };
        self.tracker
            .finish_stage(run_id, &finish)
            .await
            .map_err(|e| PipelineError::Tracker(e.0))
    }
}

/// What a stage run ends with, besides its result.
/// How a stage that ended well ended: what `completed` records.
struct Completion<'a> {
    status: StageStatus,
    why: String,
    outs: &'a BTreeMap<String, OutRecord>,
    log: Option<std::path::PathBuf>,
    /// The run whose outputs these are, kept in the stage's local state.
    state_source: Option<String>,
    /// The run a cache hit restored from, recorded on the stage's run.
    source_run_id: Option<String>,
}

pub(crate) struct Ending<'a> {
    outs: &'a BTreeMap<String, OutRecord>,
    metrics: &'a [(String, f64)],
    log: Option<std::path::PathBuf>,
    source_run_id: Option<String>,
    failure_class: Option<&'static str>,
}

/// Why a stage that ran failed.
struct Failure {
    reason: String,
    /// `None` for a cancelled step.
    class: Option<FailureClass>,
    /// Infrastructure failed the step for good — lost, refused, or an infra failure after its
    /// retries — rather than the step's own command: exit code 3.
    infra: bool,
}

impl Failure {
    fn cancelled() -> Failure {
        Failure {
            reason: "cancelled".into(),
            class: None,
            infra: false,
        }
    }
}

/// What a stage's steps share.
pub(crate) struct StageCtx<'a> {
    pub(crate) index: usize,
    pub(crate) pipeline_run: &'a str,
    pub(crate) plan: &'a StagePlan,
    pub(crate) clock: Instant,
    /// Turns true when the run is stopped.
    pub(crate) stop: tokio::sync::watch::Receiver<bool>,
}

/// What a step reads, project-relative: its code scope, deps, params files and lock file (sorted,
/// each once) — what an executor elsewhere ships.
fn step_files(stage: &crate::spec::Stage, plan: &StagePlan) -> Vec<String> {
    let mut files: std::collections::BTreeSet<String> = plan
        .code_tree
        .entries
        .iter()
        .map(|e| e.path.clone())
        .collect();
    files.extend(stage.deps.iter().map(|d| d.path.clone()));
    files.extend(stage.params.iter().map(|p| p.file.clone()));
    files.extend(stage.lock.iter().map(|l| l.path.clone()));
    files.into_iter().collect()
}

pub(crate) fn elapsed(clock: Instant) -> u64 {
    clock.elapsed().as_millis() as u64
}

pub(crate) fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// The first characters of a run id, for submission ids.
pub(crate) fn short(run_id: &str) -> &str {
    &run_id[..run_id.len().min(12)]
}
