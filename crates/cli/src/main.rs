//! `cairn`: the single binary of the Cairn MLOps platform.

mod client;
mod deploy;
mod drift;
mod governance;
mod maturity;
mod monitor;
mod pipeline;
mod registry;
mod trigger;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: experiment tracking to governed deployment, in one binary"
)]
struct Cli {
    /// Log format.
    #[arg(long, env = "CAIRN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: tracking and model registry (MLflow-compatible REST API), Cairn's own API, and the
    /// serving of every deployment.
    Server(cairn_server::ServerConfig),
    /// Serve one ONNX model (a registered version or alias, an MLflow ONNX folder, or a .onnx file), or
    /// one deployment as a stateless replica, over the Open Inference Protocol v2 and MLflow's scoring
    /// protocol.
    Serve(cairn_server::ServeConfig),
    /// Read the model registry of a running server.
    Registry(registry::RegistryCommand),
    /// Manage deployments: named endpoints serving a registry alias or version, with canaries and
    /// rollback.
    Deploy(deploy::DeployCommand),
    /// Where each registered model stands on the six MLOps maturity levels, computed from evidence:
    /// every model and the roll-up, or one model's rungs with the evidence, what is missing and the
    /// next step.
    Maturity(maturity::MaturityCommand),
    /// Monitors of a deployment's logged predictions: drift, data quality and performance with
    /// delayed labels, per window, as snapshots; alert rules with webhooks. `report` exits 0 no
    /// dataset drift, 1 dataset drift, 2 error.
    Monitor(monitor::MonitorCommand),
    /// A drift report of a current CSV or Parquet file against a reference, as Evidently's
    /// DataDriftPreset computes it: JSON, self-contained HTML and a summary. Exit 0 no dataset drift,
    /// 1 dataset drift, 2 error.
    Drift(drift::DriftArgs),
    /// Run the pipeline (cairn.yaml, or a dvc.yaml as it is): the stages whose inputs changed, the
    /// rest restored from the cache, each stage a nested MLflow run; then the gates and the promotion.
    /// Exit codes: 0 ok, 1 a gate failed or the promotion lost the alias race, 2 a stage failed,
    /// 3 infrastructure, 4 configuration, 5 inconclusive under --on-inconclusive neutral, 130
    /// interrupted (Ctrl-C, `cairn pipeline stop`).
    Run(pipeline::RunCommand),
    /// The CI entry point: run the pipeline, evaluate the gates, promote (not in a pull/merge request
    /// unless --promote), and write a Markdown report (also to $GITHUB_STEP_SUMMARY), a JSON report and
    /// JUnit XML. Exit codes as `cairn run`: 0 ok, 1 gate failed, 2 stage failed, 3 infrastructure,
    /// 4 configuration, 5 inconclusive under --on-inconclusive neutral.
    Ci(pipeline::CiCommand),
    /// Inspect the pipeline: `status` (what would run and why), `validate` (the file, and imports
    /// outside a stage's deps and code scope), `stop` (a running `cairn run`).
    Pipeline(pipeline::PipelineCommand),
    /// Triggers of registered pipelines (cron, watch, alert, registry, by hand): `list`, `fire`
    /// (once per --idempotency-key across the cluster), `pause`, `resume`.
    Trigger(trigger::TriggerCommand),
    /// Create the first admin of a server's store (`cairn admin init`), before `cairn server --auth`.
    Admin(governance::access::AdminCommand),
    /// Users (admin): create, list, delete, passwd.
    User(governance::access::UserCommand),
    /// API tokens: `create --name N` prints one once (stored hashed), `list`, `revoke`.
    Token(governance::access::TokenCommand),
    /// Grant a role (viewer, scientist, approver, operator, invoker, auditor, admin) to a user,
    /// everywhere or on --model GLOB, --experiment ID or --deployment GLOB; --revoke, --list.
    Grant(governance::access::GrantArgs),
    /// Protected aliases and stages: `set MODEL_GLOB --alias A --approvals N`, `list`, `remove`.
    Protect(governance::promote::ProtectCommand),
    /// Promotion requests, the only way to move a protected alias: `request`, `approve`, `reject`,
    /// `apply`, `withdraw`, `list`, `show`, `rollback`.
    Promote(governance::promote::PromoteCommand),
    /// The Rego policy judged at every promotion: `test` and `eval` offline, `set`, `show`, `clear`,
    /// `decisions`. `test`/`eval` exit 1 when a test fails or the policy denies.
    Policy(governance::policy::PolicyCommand),
    /// The tamper-evident audit chain: `verify` (exit 0 intact, 1 tampered, 2 cannot verify), `log`
    /// (filters, --jsonl export), `checkpoint`, `pubkey`.
    Audit(governance::audit::AuditCommand),
    /// Lineage of a deployment, version, run or dataset: up (provenance) or down (impact), at a time.
    Lineage(governance::lineage::LineageArgs),
    /// Model cards: `show` (md|json), `edit --set SECTION=TEXT`, `approve`.
    Card(governance::card::CardCommand),
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cairn: error: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Server(config) => runtime.block_on(cairn_server::run(config)),
        Command::Serve(config) => runtime.block_on(cairn_server::run_model_server(config)),
        Command::Registry(cmd) => runtime.block_on(registry::run(cmd)),
        Command::Deploy(cmd) => runtime.block_on(deploy::run(cmd)),
        Command::Maturity(cmd) => runtime.block_on(maturity::run(cmd)),
        Command::Trigger(cmd) => runtime.block_on(trigger::run(cmd)),
        Command::Admin(cmd) => runtime.block_on(governance::access::admin(cmd)),
        Command::User(cmd) => runtime.block_on(governance::access::user(cmd)),
        Command::Token(cmd) => runtime.block_on(governance::access::token(cmd)),
        Command::Grant(args) => runtime.block_on(governance::access::grant(args)),
        Command::Protect(cmd) => runtime.block_on(governance::promote::protect(cmd)),
        Command::Promote(cmd) => runtime.block_on(governance::promote::promote(cmd)),
        Command::Lineage(args) => runtime.block_on(governance::lineage::lineage(args)),
        Command::Card(cmd) => runtime.block_on(governance::card::card(cmd)),
        Command::Policy(cmd) => {
            return match runtime.block_on(governance::policy::policy(cmd)) {
                Ok(true) => std::process::ExitCode::SUCCESS,
                Ok(false) => std::process::ExitCode::from(1),
                Err(e) => {
                    eprintln!("cairn: error: {e:#}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Command::Audit(cmd) => {
            use governance::audit::Verified;
            return match runtime.block_on(governance::audit::audit(cmd)) {
                Ok(Verified::Intact) => std::process::ExitCode::SUCCESS,
                Ok(Verified::Tampered) => std::process::ExitCode::from(1),
                Ok(Verified::CannotVerify) => std::process::ExitCode::from(2),
                Err(e) => {
                    eprintln!("cairn: error: {e:#}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Command::Monitor(cmd) => {
            return match runtime.block_on(monitor::run(cmd)) {
                Ok(monitor::Outcome::Done) => std::process::ExitCode::SUCCESS,
                Ok(monitor::Outcome::Drift) => std::process::ExitCode::from(1),
                Err(e) => {
                    eprintln!("cairn: error: {e:#}");
                    std::process::ExitCode::from(2)
                }
            };
        }
        Command::Drift(args) => return drift::run(args),
        // The pipeline commands have exit codes of their own (0–5).
        Command::Run(cmd) => return runtime.block_on(pipeline::run(cmd)),
        Command::Pipeline(cmd) => return runtime.block_on(pipeline::pipeline(cmd)),
        Command::Ci(cmd) => return runtime.block_on(pipeline::ci(cmd)),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line naming what is wrong and why; no backtrace for a configuration mistake.
            eprintln!("cairn: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; text logs are coloured only on a terminal, and never when `NO_COLOR` is set to
/// anything but the empty string (<https://no-color.org>), so files and pipes get plain text.
fn init_logging(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal() && !no_color)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
