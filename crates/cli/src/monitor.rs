//! `cairn monitor …`: monitors of a deployment's logged predictions — create, change, list, run, read
//! their snapshots and alerts, and render a snapshot as the drift report `cairn drift` writes.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use cairn_contract::{AlertRuleDto, MonitorBody, MonitorDto, SnapshotDto};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::client::{client, time};

/// The server's limit on a reference, repeated so an oversized file is refused before it is sent.
const MAX_REFERENCE_BYTES: u64 = 512 << 20;

#[derive(Debug, Args)]
pub struct MonitorCommand {
    /// The Cairn server [default: MLFLOW_TRACKING_URI when it is an http(s) URL, else
    /// http://127.0.0.1:5000].
    #[arg(long, env = "CAIRN_SERVER", global = true)]
    server: Option<String>,
    /// Print the server's JSON answer instead of a summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: MonitorSub,
}

#[derive(Debug, Subcommand)]
enum MonitorSub {
    /// Create a monitor: the deployment's logged predictions, window by window, against a reference.
    Create(SpecArgs),
    /// Replace a monitor's settings (its alert rules are kept unless --clear-rules).
    Update(SpecArgs),
    /// List monitors.
    List,
    /// Show a monitor and its latest snapshot.
    Get(NameArg),
    /// Evaluate a monitor now: drift, data quality and performance of its window, stored as a snapshot;
    /// fires its alert rules.
    Run(NameArg),
    /// Delete a monitor with its snapshots and alerts.
    Delete(NameArg),
    /// A monitor's snapshots, newest first.
    Snapshots(SnapshotsArgs),
    /// Add or replace an alert rule on a monitor (or remove it with --delete).
    Alert(AlertArgs),
    /// Fired alerts, newest first (of one monitor when named).
    Alerts(AlertsArgs),
    /// A snapshot as the drift report `cairn drift` writes (JSON and self-contained HTML). Exit 0 no
    /// dataset drift, 1 dataset drift, 2 error.
    Report(ReportArgs),
}

#[derive(Debug, Args)]
struct NameArg {
    /// The monitor's name.
    name: String,
}

#[derive(Debug, Args)]
struct SpecArgs {
    /// The monitor's name: letters, digits, '_', '-', '.'.
    name: String,
    /// The deployment whose logged predictions are watched.
    #[arg(long)]
    deployment: String,
    /// The reference: a CSV or Parquet file (uploaded), runs:/<run_id>/<path> of a run's artifact, or
    /// models:/<name>/<version> (the training dataset logged with the version's run).
    #[arg(long)]
    reference: String,
    /// The window: the last this-long of predictions (e.g. 1h, 30m, 1d) [default: 1h].
    #[arg(long, conflicts_with = "rows")]
    window: Option<String>,
    /// Or the last N logged rows.
    #[arg(long)]
    rows: Option<u64>,
    /// Evaluate on this cron schedule (e.g. "*/5 * * * *"); else only on `cairn monitor run`.
    #[arg(long)]
    schedule: Option<String>,
    /// One drift test for every column (ks, wasserstein, psi, jensenshannon, chisquare, z, …)
    /// [default: Evidently's automatic choice per column].
    #[arg(long)]
    method: Option<String>,
    /// The test's drift threshold [default: the test's own].
    #[arg(long)]
    threshold: Option<f64>,
    /// Only these columns (comma-separated).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Dataset drift when at least this share of columns drift [default: 0.5].
    #[arg(long)]
    drift_share: Option<f64>,
    /// A dataset verdict with multiple-testing control: bonferroni or bh.
    #[arg(long)]
    correction: Option<String>,
    /// The logged output compared with delayed labels [default: prediction].
    #[arg(long)]
    prediction: Option<String>,
    /// On update: drop the monitor's alert rules.
    #[arg(long)]
    clear_rules: bool,
}

#[derive(Debug, Args)]
struct SnapshotsArgs {
    name: String,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    max: usize,
}

#[derive(Debug, Args)]
struct AlertArgs {
    /// The monitor.
    monitor: String,
    /// The rule's name.
    rule: String,
    /// The condition on a snapshot value: 'dataset.share >= 0.3', 'column.f3.score > 0.2',
    /// 'accuracy < 0.85', 'missing_share > 0.05'.
    #[arg(long, required_unless_present = "delete")]
    when: Option<String>,
    /// Fire only when the condition held for N consecutive windows.
    #[arg(long = "for", default_value_t = 1)]
    for_windows: u32,
    /// No new alert of this rule within this long of the last (e.g. 1h).
    #[arg(long)]
    cooldown: Option<String>,
    /// POST each alert as JSON to this URL (retried with backoff).
    #[arg(long)]
    webhook: Option<String>,
    /// Sign webhook deliveries with this secret (X-Cairn-Signature: sha256=<HMAC>).
    #[arg(long, env = "CAIRN_WEBHOOK_SECRET", requires = "webhook")]
    webhook_secret: Option<String>,
    /// Remove the rule.
    #[arg(long, conflicts_with_all = ["when", "webhook"])]
    delete: bool,
}

#[derive(Debug, Args)]
struct AlertsArgs {
    monitor: Option<String>,
    #[arg(long, default_value_t = 50)]
    max: usize,
}

#[derive(Debug, Args)]
struct ReportArgs {
    name: String,
    /// The snapshot [default: the latest].
    #[arg(long)]
    snapshot: Option<i64>,
    /// Write the JSON report here.
    #[arg(long = "json-file", value_name = "FILE")]
    json_file: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Exit codes of `cairn monitor report` (the rest: 0, or 1 with a message).
pub enum Outcome {
    Done,
    Drift,
}

pub async fn run(cmd: MonitorCommand) -> anyhow::Result<Outcome> {
    let api = client(cmd.server.as_deref());
    match cmd.command {
        MonitorSub::Create(a) => {
            let body = body(&api, &a, Vec::new()).await?;
            let m = api.put_monitor(&a.name, &body, false).await?;
            print_monitor(&m, cmd.json)?;
        }
        MonitorSub::Update(a) => {
            let rules = if a.clear_rules {
                Vec::new()
            } else {
                api.monitor(&a.name).await?.rules
            };
            let body = body(&api, &a, rules).await?;
            let m = api.put_monitor(&a.name, &body, true).await?;
            print_monitor(&m, cmd.json)?;
        }
        MonitorSub::List => {
            let monitors = api.monitors().await?;
            if cmd.json {
                println!("{}", json!({ "monitors": monitors }));
            } else if monitors.is_empty() {
                println!("No monitors.");
            } else {
                for m in &monitors {
                    println!("{}", describe(m));
                }
            }
        }
        MonitorSub::Get(a) => {
            let m = api.monitor(&a.name).await?;
            let latest = api.snapshots(&a.name, 1, false).await?;
            if cmd.json {
                println!(
                    "{}",
                    json!({ "monitor": m, "latest_snapshot": latest.first() })
                );
            } else {
                println!("{}", describe(&m));
                for r in &m.rules {
                    println!("  rule {}", describe_rule(r));
                }
                match latest.first() {
                    Some(s) => println!("  latest: {}", describe_snapshot(s)),
                    None => println!("  no snapshot yet (cairn monitor run {})", m.name),
                }
            }
        }
        MonitorSub::Run(a) => {
            let r = api.run_monitor(&a.name).await?;
            if cmd.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!("{}", describe_snapshot(&r.snapshot));
                for alert in &r.alerts {
                    println!(
                        "ALERT {} on {}: {} (value {})",
                        alert.rule, alert.monitor, alert.condition, alert.value
                    );
                }
            }
        }
        MonitorSub::Delete(a) => {
            api.delete_monitor(&a.name).await?;
            if cmd.json {
                println!("{{}}");
            } else {
                println!("deleted {}", a.name);
            }
        }
        MonitorSub::Snapshots(a) => {
            let snapshots = api.snapshots(&a.name, a.max, false).await?;
            if cmd.json {
                println!("{}", json!({ "snapshots": snapshots }));
            } else {
                for s in &snapshots {
                    println!("{}", describe_snapshot(s));
                }
            }
        }
        MonitorSub::Alert(a) => {
            let m = api.monitor(&a.monitor).await?;
            let mut rules: Vec<AlertRuleDto> =
                m.rules.into_iter().filter(|r| r.name != a.rule).collect();
            if !a.delete {
                rules.push(AlertRuleDto {
                    name: a.rule.clone(),
                    when: a.when.clone().unwrap_or_default(),
                    for_windows: Some(a.for_windows),
                    cooldown: a.cooldown.clone(),
                    webhook: a.webhook.clone(),
                    webhook_secret: a.webhook_secret.clone(),
                    signed: false,
                });
            }
            let body = MonitorBody {
                name: None,
                deployment: m.deployment,
                reference: m.reference,
                window: m.window,
                rows: m.rows,
                schedule: m.schedule,
                method: m.method,
                threshold: m.threshold,
                columns: m.columns,
                drift_share: m.drift_share,
                correction: m.correction,
                prediction: Some(m.prediction),
                rules,
            };
            let m = api.put_monitor(&a.monitor, &body, true).await?;
            print_monitor(&m, cmd.json)?;
        }
        MonitorSub::Alerts(a) => {
            let alerts = api.alerts(a.monitor.as_deref(), a.max).await?;
            if cmd.json {
                println!("{}", json!({ "alerts": alerts }));
            } else if alerts.is_empty() {
                println!("No alerts.");
            } else {
                for x in &alerts {
                    println!(
                        "{}  {}/{}  {}  value {}  (alert {}, snapshot {})",
                        time(Some(x.fired_ms)),
                        x.monitor,
                        x.rule,
                        x.condition,
                        x.value,
                        x.id,
                        x.snapshot_id
                    );
                }
            }
        }
        MonitorSub::Report(a) => return report(&api, a).await,
    }
    Ok(Outcome::Done)
}

/// The request body from the flags; a local reference file is uploaded first.
async fn body(
    api: &cairn_client::Client,
    a: &SpecArgs,
    rules: Vec<AlertRuleDto>,
) -> anyhow::Result<MonitorBody> {
    let remote = ["runs:/", "models:/", "upload:"];
    let reference = if remote.iter().any(|p| a.reference.starts_with(p)) {
        a.reference.clone()
    } else {
        upload(api, Path::new(&a.reference)).await?
    };
    Ok(MonitorBody {
        name: None,
        deployment: a.deployment.clone(),
        reference,
        window: a.window.clone(),
        rows: a.rows,
        schedule: a.schedule.clone(),
        method: a.method.clone(),
        threshold: a.threshold,
        columns: a.columns.clone(),
        drift_share: a.drift_share,
        correction: a.correction.clone(),
        prediction: a.prediction.clone(),
        rules,
    })
}

async fn upload(api: &cairn_client::Client, path: &Path) -> anyhow::Result<String> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("reading the reference {}", path.display()))?;
    if meta.len() > MAX_REFERENCE_BYTES {
        bail!(
            "the reference {} is {} bytes; at most {} are accepted",
            path.display(),
            meta.len(),
            MAX_REFERENCE_BYTES
        );
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(api.upload_reference(bytes).await?.reference)
}

async fn report(api: &cairn_client::Client, a: ReportArgs) -> anyhow::Result<Outcome> {
    let snapshot = match a.snapshot {
        Some(id) => api.snapshot(&a.name, id).await?,
        None => {
            let latest = api.snapshots(&a.name, 1, false).await?;
            let s = latest.first().ok_or_else(|| {
                anyhow::anyhow!(
                    "monitor '{}' has no snapshot yet: run `cairn monitor run {}`",
                    a.name,
                    a.name
                )
            })?;
            api.snapshot(&a.name, s.id).await?
        }
    };
    let report = snapshot
        .report
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the server sent the snapshot without its report"))?;
    if let Some(path) = &a.json_file {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let parsed: cairn_monitoring::Report =
        serde_json::from_value(report.clone()).context("reading the snapshot's report")?;
    if let Some(path) = &a.html {
        let title = format!("Monitor {} — snapshot {}", a.name, snapshot.id);
        std::fs::write(path, cairn_monitoring::html::render(&parsed, &title))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    println!("{}", describe_snapshot(&snapshot));
    for c in report["columns"].as_array().into_iter().flatten() {
        println!(
            "  {:<24} {:<14} {:>12.6}  threshold {:<8} {}",
            c["column"].as_str().unwrap_or("?"),
            c["method"].as_str().unwrap_or("?"),
            c["score"].as_f64().unwrap_or(f64::NAN),
            c["threshold"]
                .as_f64()
                .map_or("?".into(), |t| t.to_string()),
            if c["drifted"].as_bool() == Some(true) {
                "DRIFT"
            } else {
                "ok"
            }
        );
    }
    Ok(if report["dataset"]["drifted"].as_bool() == Some(true) {
        Outcome::Drift
    } else {
        Outcome::Done
    })
}

fn print_monitor(m: &MonitorDto, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string(&json!({ "monitor": m }))?);
    } else {
        println!("{}", describe(m));
        for r in &m.rules {
            println!("  rule {}", describe_rule(r));
        }
    }
    Ok(())
}

/// `churn-drift  deployment churn  window 1h  every */5 * * * *  reference upload:…  2 rules`.
fn describe(m: &MonitorDto) -> String {
    let window = match (&m.window, m.rows) {
        (Some(w), _) => format!("window {w}"),
        (None, Some(r)) => format!("last {r} rows"),
        _ => String::new(),
    };
    let schedule = m
        .schedule
        .as_ref()
        .map_or_else(|| "run by hand".to_owned(), |s| format!("schedule '{s}'"));
    format!(
        "{}  deployment {}  {window}  {schedule}  reference {}  {} rule(s)",
        m.name,
        m.deployment,
        m.reference,
        m.rules.len()
    )
}

fn describe_rule(r: &AlertRuleDto) -> String {
    let mut out = format!("{}: {}", r.name, r.when);
    if let Some(n) = r.for_windows.filter(|n| *n > 1) {
        out.push_str(&format!(" for {n} windows"));
    }
    if let Some(c) = &r.cooldown {
        out.push_str(&format!(", cooldown {c}"));
    }
    if let Some(w) = &r.webhook {
        out.push_str(&format!(
            ", webhook {w}{}",
            if r.signed { " (signed)" } else { "" }
        ));
    }
    out
}

fn describe_snapshot(s: &SnapshotDto) -> String {
    let v = |k: &str| s.values.get(k).copied();
    let mut out = format!(
        "snapshot {} of {} at {}: {} rows",
        s.id,
        s.monitor,
        time(Some(s.taken_ms)),
        s.rows
    );
    if let (Some(share), Some(drifted)) = (v("dataset.share"), v("dataset.drifted")) {
        out.push_str(&format!(
            ", drift share {share:.3} ({})",
            if drifted > 0.0 {
                "DATASET DRIFT"
            } else {
                "no dataset drift"
            }
        ));
    }
    if let Some(acc) = v("accuracy") {
        out.push_str(&format!(", accuracy {acc:.4}"));
    }
    if let Some(rmse) = v("rmse") {
        out.push_str(&format!(", rmse {rmse:.4}"));
    }
    out
}
