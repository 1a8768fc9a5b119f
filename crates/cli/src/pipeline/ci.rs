//! `cairn ci`: the CI entry point. Runs the pipeline through the same code path as `cairn run`, then
//! writes a Markdown report for a pull-request comment (also appended to `$GITHUB_STEP_SUMMARY`), a JSON
//! report (`cairn run --json`'s shape plus what CI needs) and JUnit XML. In a pull/merge request it
//! decides and reports but promotes nothing unless `--promote` is given; elsewhere it promotes.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use cairn_pipelines::ci_report::CiView;
use cairn_pipelines::report::{RunReport, exit};
use clap::Args;

use super::{Common, Executed, execute, fail, prepare, write_file};

#[derive(Debug, Args)]
pub struct CiCommand {
    #[command(flatten)]
    common: Common,
    /// The Markdown report, for a pull-request comment.
    #[arg(long, value_name = "FILE", default_value = "cairn-report.md")]
    report_md: PathBuf,
    /// The JSON report: `cairn run --json`'s shape, plus `decision`, `promote`, `pull_request`,
    /// `gate_evaluation_id`, `links` and `exit_code`.
    #[arg(long, value_name = "FILE", default_value = "cairn-report.json")]
    report_json: PathBuf,
    /// JUnit XML: a test case per gate rule (suite `cairn.gates`) and per stage (`cairn.stages`).
    #[arg(long, value_name = "FILE", default_value = "cairn-junit.xml")]
    junit: PathBuf,
    /// Register the candidate and move aliases [default outside pull/merge requests].
    #[arg(long, overrides_with = "no_promote")]
    promote: bool,
    /// Decide and report only: nothing registered, aliases untouched [default in pull/merge requests].
    #[arg(long, overrides_with = "promote")]
    no_promote: bool,
    /// The key of the report's hidden marker `<!-- cairn:ci key=KEY -->`, by which a bot finds and
    /// edits its one comment [default: the pipeline's name].
    #[arg(long, value_name = "KEY")]
    comment_key: Option<String>,
}

/// A pull request on GitHub Actions, or a merge request on GitLab CI.
pub fn in_pull_request() -> bool {
    let github = std::env::var("GITHUB_EVENT_NAME")
        .is_ok_and(|e| e == "pull_request" || e == "pull_request_target");
    let gitlab = std::env::var("CI_MERGE_REQUEST_IID").is_ok_and(|v| !v.is_empty());
    github || gitlab
}

pub async fn ci(cmd: CiCommand) -> ExitCode {
    let pull_request = in_pull_request();
    let promote = if cmd.promote {
        true
    } else if cmd.no_promote {
        false
    } else {
        !pull_request
    };
    let (planner, targets) = match prepare(&cmd.common, &[]) {
        Ok(p) => p,
        Err(e) => {
            let code = fail(&e);
            let report = RunReport::default();
            let view = CiView {
                key: cmd.comment_key.as_deref().unwrap_or("cairn"),
                pipeline: "pipeline",
                report: None,
                promotion_note: Some(format!("configuration error: {e}")),
                ..CiView::default()
            };
            let json = json_report(&report, &view, promote, pull_request, exit::CONFIGURATION);
            write_all(&cmd, &view, &json);
            return code;
        }
    };
    let pipeline = planner.project.pipeline.name.clone();
    let Executed {
        report,
        decided,
        server,
    } = execute(&cmd.common, planner.clone(), targets, promote).await;
    let alias = planner
        .project
        .pipeline
        .promote
        .as_ref()
        .and_then(|p| p.alias.as_deref());
    let view = CiView {
        key: cmd.comment_key.as_deref().unwrap_or(&pipeline),
        pipeline: &pipeline,
        server: &server,
        report: Some(&report),
        gates: &decided.evaluated,
        baseline: alias.map(|a| (a, decided.pins.get(a).cloned().flatten().map(|p| p.version))),
        baseline_metrics: decided.baseline_metrics.clone(),
        promotion_note: decided.note.clone(),
        gate_evaluation_id: decided.record_id,
        candidate: decided
            .candidate
            .as_ref()
            .map(|(n, v)| (n.as_str(), v.to_string())),
        neutral: report.inconclusive_is_neutral,
        not_evaluated: if decided.evaluated.is_empty() {
            planner
                .project
                .pipeline
                .gates
                .iter()
                .map(|g| g.name.clone())
                .collect()
        } else {
            Vec::new()
        },
    };
    let code = report.exit_code();
    let json = json_report(&report, &view, promote, pull_request, code);
    if let Some(failed) = write_all(&cmd, &view, &json) {
        return failed;
    }
    println!(
        "reports: {}, {}, {}",
        cmd.report_md.display(),
        cmd.report_json.display(),
        cmd.junit.display()
    );
    ExitCode::from(code)
}

/// The JSON report: the run's JSON plus the decision and what CI needs.
fn json_report(
    report: &RunReport,
    view: &CiView<'_>,
    promote: bool,
    pull_request: bool,
    code: u8,
) -> serde_json::Value {
    let mut v = serde_json::to_value(report).expect("a report is JSON");
    let mut links = serde_json::Map::new();
    if !view.server.is_empty() {
        if let Some(run) = &report.pipeline_run_id {
            links.insert(
                "pipeline_run".into(),
                format!("{}/runs/{}", view.server, cairn_client::encode_segment(run)).into(),
            );
        }
        if let Some((name, version)) = &view.candidate {
            links.insert(
                "model_version".into(),
                format!(
                    "{}/models/{}/versions/{version}",
                    view.server,
                    cairn_client::encode_segment(name)
                )
                .into(),
            );
        }
        if let Some(id) = view.gate_evaluation_id {
            links.insert(
                "gate_evaluation".into(),
                format!("{}/api/cairn/v1/gate-evaluations/{id}", view.server).into(),
            );
        }
    }
    let extra = serde_json::json!({
        "decision": report.decision(),
        "promote": promote,
        "pull_request": pull_request,
        "gate_evaluation_id": view.gate_evaluation_id,
        "promotion_note": view.promotion_note,
        "baseline": view.baseline.map(|(alias, version)| serde_json::json!({
            "alias": alias,
            "version": version.map(|v| v.to_string()),
        })),
        "links": links,
        "exit_code": code,
    });
    if let (Some(obj), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        obj.extend(extra);
    }
    v
}

/// Writes the three reports and appends the Markdown to `$GITHUB_STEP_SUMMARY`.
fn write_all(cmd: &CiCommand, view: &CiView<'_>, json: &serde_json::Value) -> Option<ExitCode> {
    let md = view.markdown();
    let json = serde_json::to_string_pretty(json).expect("JSON") + "\n";
    let mut failed = None;
    for (path, text) in [
        (&cmd.report_md, md.as_str()),
        (&cmd.report_json, json.as_str()),
        (&cmd.junit, view.junit().as_str()),
    ] {
        if let Some(code) = write_file(path, text) {
            failed.get_or_insert(code);
        }
    }
    if let Ok(summary) = std::env::var("GITHUB_STEP_SUMMARY")
        && !summary.is_empty()
    {
        let appended = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(format!("{md}\n").as_bytes()));
        if let Err(e) = appended {
            eprintln!("cairn: warning: appending to GITHUB_STEP_SUMMARY ({summary}): {e}");
        }
    }
    failed
}
