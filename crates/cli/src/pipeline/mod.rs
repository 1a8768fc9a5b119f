//! `cairn run` and `cairn pipeline status|validate`: the pipeline file in the current directory (or
//! `--file`), run against the tracking server, with exit codes that say what went wrong — 0 ok,
//! 1 a gate failed (or the promotion lost the alias race), 2 a stage failed, 3 infrastructure,
//! 4 configuration, 5 a gate inconclusive under `--on-inconclusive neutral`, 130 interrupted (Ctrl-C,
//! `cairn pipeline stop`). `cairn ci` (`ci.rs`) runs the same code path and writes reports for CI.

mod ci;
mod mlflow;
mod onnx_scores;
mod per_example;
mod print;
mod promote;
mod ray;
mod record;
mod register;
mod shared_cache;
mod stop;

pub use ci::{CiCommand, ci};

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use cairn_pipelines::cache::{LocalCache, OutputCache};
use cairn_pipelines::executor::Executor;
use cairn_pipelines::hashing::FileHasher;
use cairn_pipelines::params::Override;
use cairn_pipelines::plan::Planner;
use cairn_pipelines::report::{RunReport, exit};
use cairn_pipelines::runner::{RunOptions, Runner};
use cairn_pipelines::{PipelineError, Project};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct RunCommand {
    /// Stages to run, with what they depend on (a foreach stage's name runs all its items); all
    /// stages when none is named.
    stages: Vec<String>,
    #[command(flatten)]
    common: Common,
    /// Write the run's result as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Print what would run and why; run nothing.
    #[arg(long)]
    dry_run: bool,
}

/// What `cairn run` and `cairn ci` share.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// The pipeline file [default: cairn.yaml, else dvc.yaml, in the current directory].
    #[arg(long)]
    file: Option<PathBuf>,
    /// Run the stages even when they are up to date or cached.
    #[arg(long)]
    force: bool,
    /// Stages run at once [default: the number of CPUs].
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Override a param for this run: `-P train.C=0.5` (params.yaml) or `-P file.yaml:key=value`.
    #[arg(short = 'P', value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Where stages run (a stage's own `executor:` wins).
    #[arg(long, value_enum, default_value_t = ExecutorArg::Local)]
    executor: ExecutorArg,
    /// The Ray head's dashboard, for steps on Ray [default: RAY_ADDRESS, else
    /// http://127.0.0.1:8265].
    #[arg(long, env = "RAY_ADDRESS", value_name = "URL")]
    ray_address: Option<String>,
    /// The tracking server [default: MLFLOW_TRACKING_URI when it is an http(s) URL, else
    /// http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER")]
    server: Option<String>,
    /// The MLflow experiment of the runs [default: MLFLOW_EXPERIMENT_ID, else the pipeline's name].
    #[arg(long, env = "MLFLOW_EXPERIMENT_NAME")]
    experiment: Option<String>,
    /// What an inconclusive gate (a gain within noise) does: fail (exit 1) or neutral (exit 5).
    #[arg(long, value_enum, default_value_t = OnInconclusive::Fail)]
    on_inconclusive: OnInconclusive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OnInconclusive {
    Fail,
    Neutral,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExecutorArg {
    Local,
    Ray,
}

#[derive(Debug, Args)]
pub struct PipelineCommand {
    #[command(subcommand)]
    command: PipelineSub,
}

#[derive(Debug, Subcommand)]
enum PipelineSub {
    /// What a run would do with each stage, and why (a diff of cache manifests); runs nothing.
    Status(StatusArgs),
    /// Check the pipeline file, and report Python modules a stage imports from the project that are
    /// outside its deps and code scope (their changes would not rerun it).
    Validate(FileArg),
    /// Stop the project's running `cairn run`: its running steps are cancelled (Ray jobs stopped),
    /// and it exits 130.
    Stop(FileArg),
    /// Store a snapshot of the project on the server (content-addressed: only new files are sent) as
    /// the next version of pipeline NAME, with the file's triggers, so the server can run it without
    /// a checkout.
    Register(RegisterArgs),
}

#[derive(Debug, Args)]
struct RegisterArgs {
    /// The pipeline's name on the server.
    name: String,
    /// The pipeline file [default: cairn.yaml, else dvc.yaml, in the current directory].
    #[arg(long)]
    file: Option<PathBuf>,
    /// The Cairn server [default: MLFLOW_TRACKING_URI when it is an http(s) URL, else
    /// http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER")]
    server: Option<String>,
}

#[derive(Debug, Args)]
struct FileArg {
    /// The pipeline file [default: cairn.yaml, else dvc.yaml, in the current directory].
    #[arg(long)]
    file: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct StatusArgs {
    /// Stages to look at, with what they depend on; all when none is named.
    stages: Vec<String>,
    #[arg(long)]
    file: Option<PathBuf>,
    /// Print JSON: `{"stages": [{"name", "status", "reason"}]}`.
    #[arg(long)]
    json: bool,
}

/// A failure before any stage ran, printed as one line; its exit code from its kind.
fn fail(e: &PipelineError) -> ExitCode {
    eprintln!("cairn: error: {e}");
    ExitCode::from(if e.is_configuration() {
        exit::CONFIGURATION
    } else {
        exit::INFRASTRUCTURE
    })
}

/// The project and planner for a file and overrides.
fn open(
    file: Option<&std::path::Path>,
    overrides: &[Override],
) -> Result<Arc<Planner>, PipelineError> {
    let file = Project::find_file(file)?;
    let project = Arc::new(Project::load(&file, overrides)?);
    let hasher = Arc::new(FileHasher::open(&project.root, &project.state.memo_file()));
    Ok(Arc::new(Planner::new(project, hasher)))
}

fn local_cache(planner: &Planner) -> Arc<dyn OutputCache> {
    Arc::new(LocalCache::new(&planner.project.state.cache_dir()))
}

/// The project's cache in front of the server's shared one.
fn shared_cache(planner: &Planner, server: &str) -> Arc<dyn OutputCache> {
    Arc::new(shared_cache::SharedCache::new(
        LocalCache::new(&planner.project.state.cache_dir()),
        crate::client::client(Some(server)),
    ))
}

/// The project and the stages asked for, checked before anything runs (errors: configuration).
fn prepare(
    common: &Common,
    stages: &[String],
) -> Result<(Arc<Planner>, Vec<usize>), PipelineError> {
    let overrides = common
        .params
        .iter()
        .map(|p| Override::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let planner = open(common.file.as_deref(), &overrides)?;
    let targets = planner.project.stage_indexes(stages)?;
    Ok((planner, targets))
}

/// One pipeline run, its gates and its promotion, as `cairn run` and `cairn ci` report them.
pub(crate) struct Executed {
    pub report: RunReport,
    pub decided: promote::Decided,
    pub server: String,
}

/// Runs the stages, then (when they all succeeded) evaluates the gates and promotes (`promote`:
/// register the candidate and move aliases; otherwise only decide).
pub(crate) async fn execute(
    common: &Common,
    planner: Arc<Planner>,
    targets: Vec<usize>,
    promote: bool,
) -> Executed {
    let server = crate::client::server_url(common.server.as_deref());
    let tracker = Arc::new(mlflow::MlflowTracker::new(
        &server,
        common.experiment.clone(),
    ));
    let recorded = Arc::new(record::Recorded::new(
        tracker.clone(),
        crate::client::client(Some(&server)),
        &planner.project,
    ));
    // Both executors are cheap to make (Ray is not contacted before a step is submitted, so a run
    // whose stages are all cached needs no head).
    let local: Arc<dyn Executor> = Arc::new(cairn_pipelines::local::LocalExecutor);
    let ray: Arc<dyn Executor> = Arc::new(ray::RayExecutor::new(&ray::address(
        common.ray_address.as_deref(),
    )));
    let (executor, other) = match common.executor {
        ExecutorArg::Local => (local, ray),
        ExecutorArg::Ray => (ray, local),
    };
    let runner = Runner {
        planner: planner.clone(),
        cache: shared_cache(&planner, &server),
        executor,
        other_executors: vec![other],
        tracker: recorded.clone(),
    };
    // `cairn pipeline stop` finds this run by its marker.
    let _marker = match stop::RunMarker::create(&planner.project.state.root) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!("cairn pipeline stop will not find this run: {e}");
            None
        }
    };
    if std::env::var_os("CAIRN_WATCH_PARENT").is_some() {
        stop::stop_with_parent();
    }
    let opts = RunOptions {
        targets,
        force: common.force,
        jobs: common.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
        }),
        overrides: common
            .params
            .iter()
            .filter_map(|p| p.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
            .collect(),
    };
    let mut report = runner.run(&opts).await;
    report.inconclusive_is_neutral = common.on_inconclusive == OnInconclusive::Neutral;
    let mut decided = promote::Decided::default();
    if report.exit_code() == exit::OK {
        let client = crate::client::client(Some(&server));
        decided = promote::decide(&planner.project, &tracker, &client, &mut report, promote).await;
    }
    print!("{}", print::run_table(&report));
    for e in &decided.evaluated {
        println!("  gate {}: {}", e.result.name, e.note);
    }
    if let Some(note) = &decided.note {
        println!("promotion: {note}");
    }
    print::failed_logs(&planner.project, &report);
    if let Some(why) = &report.infra_error {
        eprintln!("cairn: error: {why}");
    }
    if let Some(why) = &report.configuration_error {
        eprintln!("cairn: error: {why}");
    }
    if let Some(why) = &report.promotion_refused {
        eprintln!("cairn: promotion refused: {why}");
    }
    recorded.finish(&report, report.exit_code()).await;
    Executed {
        report,
        decided,
        server,
    }
}

/// Writes `text` to `path`; a failure is printed and is infrastructure (exit 3).
pub(crate) fn write_file(path: &std::path::Path, text: &str) -> Option<ExitCode> {
    match std::fs::write(path, text) {
        Ok(()) => None,
        Err(e) => {
            eprintln!("cairn: error: writing {}: {e}", path.display());
            Some(ExitCode::from(exit::INFRASTRUCTURE))
        }
    }
}

pub async fn run(cmd: RunCommand) -> ExitCode {
    let write_json = |report: &RunReport| -> Option<ExitCode> {
        let path = cmd.json.as_ref()?;
        let text = serde_json::to_string_pretty(report).expect("a report is JSON");
        write_file(path, &(text + "\n"))
    };
    let (planner, targets) = match prepare(&cmd.common, &cmd.stages) {
        Ok(p) => p,
        Err(e) => {
            let _ = write_json(&RunReport::default());
            return fail(&e);
        }
    };
    if cmd.dry_run {
        let server = crate::client::server_url(cmd.common.server.as_deref());
        let cache = shared_cache(&planner, &server);
        let selected = planner.project.dag.select(&targets);
        return match cairn_pipelines::status::status(&planner, &*cache, &selected, cmd.common.force)
            .await
        {
            Ok(lines) => {
                print!("{}", print::status_table(&lines, true));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        };
    }
    let done = execute(&cmd.common, planner, targets, true).await;
    if let Some(code) = write_json(&done.report) {
        return code;
    }
    ExitCode::from(done.report.exit_code())
}

pub async fn pipeline(cmd: PipelineCommand) -> ExitCode {
    match cmd.command {
        PipelineSub::Status(args) => status(args).await,
        PipelineSub::Validate(args) => validate(args),
        PipelineSub::Register(args) => {
            register::register(&args.name, args.file.as_deref(), args.server.as_deref()).await
        }
        PipelineSub::Stop(args) => stop_runs(args),
    }
}

fn stop_runs(args: FileArg) -> ExitCode {
    let project = match Project::find_file(args.file.as_deref()) {
        Ok(file) => file,
        Err(e) => return fail(&e),
    };
    let root = match std::fs::canonicalize(&project) {
        Ok(full) => full
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or(full),
        Err(e) => return fail(&PipelineError::io(&project, e)),
    };
    let state = cairn_pipelines::state::StateDir::new(&root);
    match stop::stop(&state.root) {
        Ok(0) => {
            println!("no cairn run of {} is running", project.display());
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("stopped {n} run{}", if n == 1 { "" } else { "s" });
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cairn: error: {e}");
            ExitCode::from(exit::INFRASTRUCTURE)
        }
    }
}

async fn status(args: StatusArgs) -> ExitCode {
    let planner = match open(args.file.as_deref(), &[]) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let targets = match planner.project.stage_indexes(&args.stages) {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let selected = planner.project.dag.select(&targets);
    let cache = local_cache(&planner);
    let lines = match cairn_pipelines::status::status(&planner, &*cache, &selected, false).await {
        Ok(lines) => lines,
        Err(e) => return fail(&e),
    };
    // Warm hashes make the next status faster; a memo that cannot be written only costs time.
    let _ = planner.hasher.save();
    if args.json {
        let v = serde_json::json!({ "stages": lines });
        println!("{}", serde_json::to_string_pretty(&v).expect("JSON"));
    } else {
        print!("{}", print::status_table(&lines, false));
    }
    ExitCode::SUCCESS
}

fn validate(args: FileArg) -> ExitCode {
    let planner = match open(args.file.as_deref(), &[]) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let problems = match print::validation_problems(&planner.project) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let project = &planner.project;
    if problems.is_empty() {
        println!(
            "{}: ok ({} stages)",
            project.file.display(),
            project.pipeline.stages.len()
        );
        return ExitCode::SUCCESS;
    }
    for p in &problems {
        println!("{}:{p}", project.file.display());
    }
    ExitCode::from(exit::CONFIGURATION)
}
