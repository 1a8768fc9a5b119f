//! The scheduler: runs the selected stages, each as soon as its upstream stages are done, up to
//! `jobs` at once; a failed stage's downstream is skipped. A stage's key is computed when it becomes
//! ready, from its deps' content at that moment — so an upstream rerun that produced byte-identical
//! outs leaves the downstream key, and its cache hit, unchanged.
//!
//! Ctrl-C (SIGINT, which `cairn pipeline stop` sends) or SIGTERM stops the run: running steps are
//! cancelled through their executor (a Ray job is stopped, not only forgotten), stages not started
//! are skipped, and the report is marked interrupted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::cache::OutputCache;
use crate::error::PipelineError;
use crate::executor::Executor;
use crate::plan::{Decision, PlanError, Planner};
use crate::report::{RunReport, StageResult, StageStatus};
use crate::stage_run::{StageCtx, elapsed};
use crate::tracker::{PipelineStart, Tracker};

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Stage indexes named on the command line (with their upstream); empty: every stage.
    pub targets: Vec<usize>,
    pub force: bool,
    pub jobs: usize,
    /// `-P` overrides as given, recorded on the pipeline run.
    pub overrides: Vec<(String, String)>,
}

/// Runs a project's stages.
#[derive(Clone)]
pub struct Runner {
    pub planner: Arc<Planner>,
    pub cache: Arc<dyn OutputCache>,
    /// The run's executor (`--executor`).
    pub executor: Arc<dyn Executor>,
    /// Executors a stage's `executor:` may name besides the run's.
    pub other_executors: Vec<Arc<dyn Executor>>,
    pub tracker: Arc<dyn Tracker>,
}

/// How long running steps get to stop after a cancel before their tasks are dropped.
const CANCEL_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

/// Resolves when the run is told to stop (or the sender is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// One stage's end.
pub(crate) struct Done {
    pub(crate) index: usize,
    pub(crate) result: StageResult,
    pub(crate) metrics: Vec<(String, f64)>,
    pub(crate) infra: Option<String>,
}

impl Runner {
    /// The executor of a stage: its own `executor:`, else the run's.
    pub(crate) fn executor_for(&self, index: usize) -> Option<&Arc<dyn Executor>> {
        let stage = &self.planner.project.pipeline.stages[index];
        match stage.policy.executor {
            None => Some(&self.executor),
            Some(kind) => std::iter::once(&self.executor)
                .chain(&self.other_executors)
                .find(|e| e.kind() == kind),
        }
    }

    pub async fn run(&self, opts: &RunOptions) -> RunReport {
        let project = self.planner.project.clone();
        let selected = project.dag.select(&opts.targets);
        let mut report = RunReport::default();
        if let Err(e) = project.state.create() {
            report.infra_error = Some(format!("{}: {e}", project.state.root.display()));
            return report;
        }
        let start = PipelineStart {
            pipeline: project.pipeline.name.clone(),
            file: project.file.display().to_string(),
            overrides: opts.overrides.clone(),
            executor: self.executor.kind().as_str().to_owned(),
        };
        let pipeline_run = match self.tracker.start_pipeline(&start).await {
            Ok(id) => id,
            Err(e) => {
                report.infra_error = Some(e.0);
                return report;
            }
        };
        report.pipeline_run_id = (!pipeline_run.is_empty()).then(|| pipeline_run.clone());
        // Overridden params files hold the overrides while stages run, so scripts reading
        // params.yaml see them; the guard puts the files back.
        let _params = match crate::params_guard::ParamsGuard::write(&project) {
            Ok(g) => g,
            Err(e) => {
                report.infra_error = Some(e.to_string());
                return report;
            }
        };
        let jobs = Arc::new(Semaphore::new(opts.jobs.max(1)));
        let mut done: HashMap<usize, Done> = HashMap::new();
        let mut started: HashSet<usize> = HashSet::new();
        let mut running: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut stopping: Option<String> = None;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut interrupt = Interrupt::new();
        loop {
            // Start (or skip) every stage whose upstream is done; a skip can free others.
            let mut progressed = true;
            while progressed {
                progressed = false;
                for &i in &selected {
                    if started.contains(&i) {
                        continue;
                    }
                    let ups = &project.dag.upstream[i];
                    if !ups.iter().all(|u| done.contains_key(u)) {
                        continue;
                    }
                    started.insert(i);
                    progressed = true;
                    let failed_up = ups.iter().find(|u| {
                        matches!(
                            done[*u].result.status,
                            StageStatus::Failed | StageStatus::Skipped
                        )
                    });
                    let skip_reason = match (failed_up, &stopping) {
                        (Some(u), _) => Some(format!(
                            "upstream stage {} {}",
                            project.pipeline.stages[*u].name,
                            done[u].result.status.as_str()
                        )),
                        (None, Some(why)) => Some(format!("not started: {why}")),
                        (None, None) => None,
                    };
                    if let Some(reason) = skip_reason {
                        done.insert(i, skipped(&project.pipeline.stages[i].name, i, reason));
                        continue;
                    }
                    let runner = self.clone();
                    let (jobs, pipeline_run, force, stop) = (
                        jobs.clone(),
                        pipeline_run.clone(),
                        opts.force,
                        stop_rx.clone(),
                    );
                    let handle = tasks.spawn(async move {
                        let _permit = jobs.acquire_owned().await.expect("semaphore open");
                        runner.stage(i, &pipeline_run, force, stop).await
                    });
                    running.insert(handle.id(), i);
                }
            }
            if tasks.is_empty() {
                break;
            }
            tokio::select! {
                joined = tasks.join_next_with_id() => match joined {
                    Some(Ok((id, d))) => {
                        running.remove(&id);
                        if let Some(why) = &d.infra {
                            stopping.get_or_insert_with(|| why.clone());
                        }
                        done.insert(d.index, d);
                    }
                    Some(Err(e)) => {
                        if let Some(i) = running.remove(&e.id()) {
                            let name = &project.pipeline.stages[i].name;
                            done.insert(i, failed(name, i, format!("stage task failed: {e}"), None, 0));
                        }
                    }
                    None => {}
                },
                why = interrupt.next(), if !report.interrupted => {
                    stopping = Some(format!("interrupted ({why})"));
                    report.interrupted = true;
                    // Each running stage cancels its step through its executor and ends; a stage
                    // that does not within the grace is dropped (a local step's process group is
                    // killed on drop).
                    let _ = stop_tx.send(true);
                    let deadline = tokio::time::Instant::now() + CANCEL_GRACE;
                    let mut aborted = false;
                    loop {
                        let next = if aborted {
                            tasks.join_next_with_id().await
                        } else {
                            match tokio::time::timeout_at(deadline, tasks.join_next_with_id()).await {
                                Ok(next) => next,
                                Err(_) => {
                                    tasks.abort_all();
                                    aborted = true;
                                    continue;
                                }
                            }
                        };
                        let Some(joined) = next else { break };
                        match joined {
                            Ok((id, d)) => {
                                running.remove(&id);
                                done.insert(d.index, d);
                            }
                            Err(e) => {
                                if let Some(i) = running.remove(&e.id()) {
                                    let name = &project.pipeline.stages[i].name;
                                    done.insert(i, failed(name, i, format!("cancelled ({why})"), None, 0));
                                }
                            }
                        }
                    }
                }
            }
        }
        for i in &selected {
            if let Some(d) = done.remove(i) {
                if let Some(why) = d.infra {
                    report.infra_error.get_or_insert(why);
                }
                report.metrics.extend(d.metrics);
                report.stages.push(d.result);
            }
        }
        if let Err(e) = self.planner.hasher.save() {
            tracing::warn!("could not save the hash memo: {e}");
        }
        if !pipeline_run.is_empty() {
            let ok = report.exit_code() == crate::report::exit::OK;
            if let Err(e) = self.tracker.finish_pipeline(&pipeline_run, ok).await {
                report.infra_error.get_or_insert(e.0);
            }
        }
        report
    }

    /// Plans, decides and runs (or restores) one stage.
    async fn stage(
        self,
        i: usize,
        pipeline_run: &str,
        force: bool,
        stop: watch::Receiver<bool>,
    ) -> Done {
        let project = self.planner.project.clone();
        let stage = &project.pipeline.stages[i];
        let clock = Instant::now();
        let planner = self.planner.clone();
        let plan = tokio::task::spawn_blocking(move || {
            let stage = &planner.project.pipeline.stages[i];
            planner.plan(stage, &HashMap::new())
        })
        .await
        .unwrap_or_else(|e| Err(PlanError::Fatal(PipelineError::Usage(e.to_string()))));
        let plan = match plan {
            Ok(p) => p,
            Err(PlanError::Missing(why) | PlanError::Pending(why)) => {
                return failed(&stage.name, i, why, None, elapsed(clock));
            }
            Err(PlanError::Fatal(e)) => {
                return infra(&stage.name, i, e.to_string(), elapsed(clock));
            }
        };
        let decision = match self.planner.decide(stage, &plan, &*self.cache, force).await {
            Ok(d) => d,
            Err(e) => return infra(&stage.name, i, e.to_string(), elapsed(clock)),
        };
        let ctx = StageCtx {
            index: i,
            pipeline_run,
            plan: &plan,
            clock,
            stop,
        };
        match &decision {
            Decision::Run { why } => tracing::info!("{}: running ({why})", stage.name),
            Decision::Restore { why, .. } | Decision::UpToDate { why } => {
                tracing::info!("{}: {why}", stage.name)
            }
        }
        let outcome = match decision {
            Decision::Run { why } => self.execute(&ctx, why).await,
            Decision::UpToDate { why } => self.cached(&ctx, None, Vec::new(), why).await,
            Decision::Restore { entry, stale, why } => {
                self.cached(&ctx, Some(*entry), stale, why).await
            }
        };
        outcome.unwrap_or_else(|e| infra(&stage.name, i, e.to_string(), elapsed(clock)))
    }
}

/// SIGINT (Ctrl-C, `cairn pipeline stop`) or SIGTERM, listened to from the run's start so none is
/// missed between two turns of the scheduler's loop.
struct Interrupt {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Interrupt {
    fn new() -> Interrupt {
        use tokio::signal::unix::{SignalKind, signal};
        Interrupt {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    /// The next interrupt's name.
    async fn next(&mut self) -> &'static str {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = recv(&mut self.int) => "Ctrl-C",
            _ = recv(&mut self.term) => "SIGTERM",
        }
    }
}

fn skipped(name: &str, index: usize, reason: String) -> Done {
    Done {
        index,
        result: StageResult {
            name: name.to_owned(),
            status: StageStatus::Skipped,
            run_id: None,
            duration_ms: 0,
            reason,
        },
        metrics: Vec::new(),
        infra: None,
    }
}

fn failed(
    name: &str,
    index: usize,
    reason: String,
    run_id: Option<String>,
    duration_ms: u64,
) -> Done {
    Done {
        index,
        result: StageResult {
            name: name.to_owned(),
            status: StageStatus::Failed,
            run_id,
            duration_ms,
            reason,
        },
        metrics: Vec::new(),
        infra: None,
    }
}

fn infra(name: &str, index: usize, why: String, duration_ms: u64) -> Done {
    let mut d = failed(name, index, why.clone(), None, duration_ms);
    d.infra = Some(why);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::LocalCache;
    use crate::hashing::FileHasher;
    use crate::local::LocalExecutor;
    use crate::params::Override;
    use crate::project::Project;
    use crate::report::exit;
    use crate::status::{Planned, status};
    use crate::testutil::write;
    use crate::tracker::NoTracker;
    use std::path::Path;

    fn pipeline(counts: &Path) -> String {
        let c = counts.display();
        format!(
            "stages:\n  up:\n    cmd: echo x >> {c}/up && tr a-z A-Z < in.txt > up.txt\n    deps: [in.txt]\n    params: [up.n]\n    outs: [up.txt]\n  twice:\n    cmd: echo x >> {c}/twice && mkdir -p out && cat up.txt up.txt > out/twice.txt\n    deps: [up.txt]\n    outs: [out]\n"
        )
    }

    fn runner(root: &Path, overrides: &[&str]) -> Runner {
        let overrides: Vec<Override> = overrides
            .iter()
            .map(|o| Override::parse(o).unwrap())
            .collect();
        let project = Arc::new(Project::load(&root.join("cairn.yaml"), &overrides).unwrap());
        let hasher = Arc::new(FileHasher::open(&project.root, &project.state.memo_file()));
        Runner {
            cache: Arc::new(LocalCache::new(&project.state.cache_dir())),
            planner: Arc::new(Planner::new(project, hasher)),
            executor: Arc::new(LocalExecutor),
            other_executors: Vec::new(),
            tracker: Arc::new(NoTracker),
        }
    }

    async fn run(root: &Path, overrides: &[&str]) -> RunReport {
        let opts = RunOptions {
            jobs: 2,
            ..RunOptions::default()
        };
        runner(root, overrides).run(&opts).await
    }

    fn statuses(r: &RunReport) -> Vec<(&str, &str)> {
        r.stages
            .iter()
            .map(|s| (s.name.as_str(), s.status.as_str()))
            .collect()
    }

    fn count(counts: &Path, stage: &str) -> usize {
        std::fs::read_to_string(counts.join(stage)).map_or(0, |t| t.lines().count())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reruns_what_changed_restores_outs_and_cuts_off_identical_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let counts = tempfile::tempdir().unwrap();
        let (root, c) = (dir.path(), counts.path());
        write(
            root,
            &[
                ("cairn.yaml", &pipeline(c)),
                ("params.yaml", "up:\n  n: 1\n"),
                ("in.txt", "abc\n"),
            ],
        );

        let first = run(root, &[]).await;
        assert_eq!(statuses(&first), [("up", "ran"), ("twice", "ran")]);
        assert_eq!(first.exit_code(), exit::OK);
        assert_eq!(
            std::fs::read_to_string(root.join("out/twice.txt")).unwrap(),
            "ABC\nABC\n"
        );

        let second = run(root, &[]).await;
        assert_eq!(statuses(&second), [("up", "cached"), ("twice", "cached")]);
        assert_eq!((count(c, "up"), count(c, "twice")), (1, 1));

        // A declared param the command ignores: `up` reruns, writes the same bytes, `twice` stays cached.
        let cut = run(root, &["up.n=2"]).await;
        assert_eq!(statuses(&cut), [("up", "ran"), ("twice", "cached")]);
        assert_eq!(cut.stages[0].reason, "params.up.n 1 → 2");
        assert_eq!((count(c, "up"), count(c, "twice")), (2, 1));

        // A deleted out directory is restored from the cache without running.
        std::fs::remove_dir_all(root.join("out")).unwrap();
        let r = runner(root, &[]);
        let lines = status(&r.planner, &*r.cache, &r.planner.project.dag.order, false)
            .await
            .unwrap();
        assert_eq!(lines[1].status, Planned::Restore);
        let restored = run(root, &[]).await;
        assert_eq!(statuses(&restored), [("up", "cached"), ("twice", "cached")]);
        assert!(
            restored.stages[1].reason.contains("out out missing"),
            "{}",
            restored.stages[1].reason
        );
        assert_eq!(
            std::fs::read_to_string(root.join("out/twice.txt")).unwrap(),
            "ABC\nABC\n"
        );
        assert_eq!(count(c, "twice"), 1);

        // A dep change: status explains it and knows `twice` waits on `up`.
        write(root, &[("in.txt", "xyz\n")]);
        let r = runner(root, &[]);
        let lines = status(&r.planner, &*r.cache, &r.planner.project.dag.order, false)
            .await
            .unwrap();
        assert_eq!(
            (lines[0].status, lines[0].reason.as_str()),
            (Planned::Run, "dep in.txt changed")
        );
        assert_eq!(lines[1].status, Planned::Pending);
        let changed = run(root, &[]).await;
        assert_eq!(statuses(&changed), [("up", "ran"), ("twice", "ran")]);
        assert_eq!(changed.stages[1].reason, "dep up.txt changed");

        // Back to the first input: both come from the cache.
        write(root, &[("in.txt", "abc\n")]);
        let back = run(root, &[]).await;
        assert_eq!(statuses(&back), [("up", "cached"), ("twice", "cached")]);
        assert_eq!((count(c, "up"), count(c, "twice")), (3, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_stage_skips_its_downstream() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let yaml = "stages:\n  a:\n    cmd: echo broken; exit 3\n    outs: [a.txt]\n  b:\n    cmd: cp a.txt b.txt\n    deps: [a.txt]\n    outs: [b.txt]\n  c:\n    cmd: echo ok > c.txt\n    outs: [c.txt]\n  d:\n    cmd: 'true'\n    outs: [never.txt]\n";
        write(root, &[("cairn.yaml", yaml)]);
        let r = run(root, &[]).await;
        assert_eq!(
            statuses(&r),
            [
                ("a", "failed"),
                ("b", "skipped"),
                ("c", "ran"),
                ("d", "failed")
            ]
        );
        let by = |n: &str| r.stages.iter().find(|s| s.name == n).unwrap();
        assert_eq!(
            (by("a").status, by("a").reason.as_str()),
            (StageStatus::Failed, "exit code 3")
        );
        assert_eq!(by("b").status, StageStatus::Skipped);
        assert_eq!(by("b").reason, "upstream stage a failed");
        assert_eq!(by("c").status, StageStatus::Ran);
        assert_eq!(by("d").reason, "the stage did not produce never.txt");
        assert_eq!(r.exit_code(), exit::STAGE_FAILED);
        let log = std::fs::read_to_string(root.join(".cairn/logs/a.log")).unwrap();
        assert!(log.contains("broken"), "{log}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn retries_by_class_and_timeouts() {
        let dir = tempfile::tempdir().unwrap();
        let marks = tempfile::tempdir().unwrap();
        let (root, m) = (dir.path(), marks.path().display());
        let yaml = format!(
            "stages:\n  flaky:\n    cmd: test -f {m}/once || {{ touch {m}/once; exit 1; }}; echo ok > f.txt\n    outs: [f.txt]\n    retry: {{max: 2, on: [user], backoff: 10ms}}\n  slow:\n    cmd: sleep 5; touch s.txt\n    outs: [s.txt]\n    timeout: 300ms\n  strict:\n    cmd: exit 1\n    outs: [x.txt]\n    retry: {{max: 3}}\n"
        );
        write(root, &[("cairn.yaml", &yaml)]);
        let r = run(root, &[]).await;
        let by = |n: &str| r.stages.iter().find(|s| s.name == n).unwrap();
        assert_eq!(by("flaky").status, StageStatus::Ran);
        assert!(
            by("flaky").reason.ends_with("(succeeded on attempt 2)"),
            "{}",
            by("flaky").reason
        );
        let log = std::fs::read_to_string(root.join(".cairn/logs/flaky.log")).unwrap();
        assert!(log.contains("--- attempt 2 ---"), "{log}");
        assert_eq!(
            (by("slow").status, by("slow").reason.as_str()),
            (StageStatus::Failed, "timed out (timeout)")
        );
        // The default retry classes are infra and preempted: a user error is not retried.
        assert_eq!(by("strict").reason, "exit code 1");
    }
}
