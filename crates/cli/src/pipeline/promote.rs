//! After the stages: the gates and the promotion. The baselines are pinned once (each alias resolved to
//! a version when the gates start); the candidate is registered from the `promote.model` out (uploaded
//! into the run of the stage that produced it, so the version's lineage reaches that run and its
//! datasets), the candidate alias set, and the alias moved by compare-and-set from the pinned version
//! only when every gate passed — so two pipelines cannot promote over each other. Each evaluation is
//! stored as a gate record on the server.

use std::collections::BTreeMap;

use cairn_client::Client;
use cairn_contract::{
    ActionDto, DecisionDto, GateEvaluationBody, PinnedAliasDto, RuleOutcomeDto, RuleResultDto,
};
use cairn_pipelines::Project;
use cairn_pipelines::gates::{Evaluated, Outcome};
use cairn_pipelines::report::{Promotion, RunReport};
use cairn_pipelines::spec::GateRule;
use cairn_pipelines::tracker::TrackerError;

use super::mlflow::{MlflowTracker, Pinned};
use super::per_example::{Scores, per_example, scores_artifact};

/// What the gates decided and what was done.
#[derive(Debug, Default)]
pub struct Decided {
    pub evaluated: Vec<Evaluated>,
    /// Each alias the gates or the promotion use, and where it pointed when the gates started.
    pub pins: BTreeMap<String, Option<Pinned>>,
    /// Metrics of the run behind the promote alias's pinned version.
    pub baseline_metrics: BTreeMap<String, f64>,
    /// The registered candidate version.
    pub candidate: Option<(String, i64)>,
    /// What was done, in words.
    pub note: Option<String>,
    pub record_id: Option<i64>,
}

/// Why the gates or the promotion could not finish.
enum Failure {
    /// The server failed or refused a write: exit 3.
    Infra(String),
    /// The project's mistake (the promoted out holds no model): exit 4.
    Config(String),
}

impl From<TrackerError> for Failure {
    fn from(e: TrackerError) -> Self {
        Failure::Infra(e.0)
    }
}

/// Evaluates the gates and promotes; failures land in `report.infra_error` or
/// `report.configuration_error`.
pub async fn decide(
    project: &Project,
    tracker: &MlflowTracker,
    client: &Client,
    report: &mut RunReport,
    promote: bool,
) -> Decided {
    let mut d = Decided::default();
    match run(project, tracker, client, report, promote, &mut d).await {
        Ok(()) => {}
        Err(Failure::Infra(why)) => {
            report.infra_error.get_or_insert(why);
        }
        Err(Failure::Config(why)) => {
            report.configuration_error.get_or_insert(why);
        }
    }
    d
}

fn client_error(what: &str, e: cairn_client::ClientError) -> Failure {
    Failure::Infra(format!("{what}: {e}"))
}

async fn run(
    project: &Project,
    tracker: &MlflowTracker,
    client: &Client,
    report: &mut RunReport,
    promote: bool,
    d: &mut Decided,
) -> Result<(), Failure> {
    let pipeline = &project.pipeline;
    let spec = pipeline.promote.as_ref();
    // Pin every alias once, before anything is decided.
    if let Some(p) = spec {
        let mut aliases: Vec<&str> = pipeline
            .gates
            .iter()
            .filter_map(|g| match &g.rule {
                GateRule::CompareTo { alias, .. } => Some(alias.as_str()),
                GateRule::Absolute { .. } => None,
            })
            .collect();
        aliases.extend(p.alias.as_deref());
        for alias in aliases {
            if !d.pins.contains_key(alias) {
                d.pins
                    .insert(alias.to_owned(), tracker.pin(&p.name, alias).await?);
            }
        }
    }
    let mut run_metrics: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for pin in d.pins.values().flatten() {
        if let Some(run) = &pin.run_id
            && !run_metrics.contains_key(run)
        {
            run_metrics.insert(run.clone(), tracker.run_metrics(run).await?);
        }
    }
    let metric_of = |alias: &str, metric: &str| -> Option<f64> {
        let pin = d.pins.get(alias)?.as_ref()?;
        run_metrics.get(pin.run_id.as_ref()?)?.get(metric).copied()
    };
    let mut baselines = BTreeMap::new();
    for g in &pipeline.gates {
        if let GateRule::CompareTo { alias, .. } = &g.rule {
            baselines.insert(
                (alias.clone(), g.metric.clone()),
                metric_of(alias, &g.metric),
            );
        }
    }
    if let Some(alias) = spec.and_then(|p| p.alias.as_deref())
        && let Some(Some(pin)) = d.pins.get(alias)
        && let Some(run) = &pin.run_id
    {
        d.baseline_metrics = run_metrics.get(run).cloned().unwrap_or_default();
    }
    let found = per_example(project, tracker, &d.pins).await?;
    let (paired, scores) = (found.paired, found.keep);
    d.evaluated =
        cairn_pipelines::gates::evaluate(&pipeline.gates, &report.metrics, &baselines, &paired);
    report.gates = d.evaluated.iter().map(|e| e.result.clone()).collect();
    let decision = report.decision();

    let (action, detail) = match spec {
        None => (ActionDto::NotPromoted, "nothing to promote (no promote: section)".to_owned()),
        Some(_) if !promote => (
            ActionDto::NotPromoted,
            "not promoted (--no-promote): gates decided and reported, nothing registered, aliases untouched"
                .to_owned(),
        ),
        Some(p) => {
            let version = register(project, tracker, report, p, &scores).await?;
            d.candidate = Some((p.name.clone(), version));
            let mut aliases = Vec::new();
            if let Some(c) = &p.candidate_alias {
                tracker.set_alias(&p.name, c, version).await?;
                aliases.push(c.clone());
            }
            let outcome = match (&p.alias, decision) {
                (None, _) => (
                    ActionDto::NotPromoted,
                    format!("registered {} v{version}; no alias to move", p.name),
                ),
                (Some(alias), "passed") => {
                    let pinned = d.pins.get(alias).cloned().flatten().map(|p| p.version);
                    let expected = pinned.map(|v| v.to_string());
                    match client
                        .compare_and_set_alias(&p.name, alias, &version.to_string(), expected.as_deref())
                        .await
                    {
                        Ok(_) => {
                            aliases.push(alias.clone());
                            (
                                ActionDto::Promoted,
                                format!("promoted {} v{version} to @{alias}", p.name),
                            )
                        }
                        Err(e) if e.is_conflict() => {
                            let was = pinned.map_or("unset".to_owned(), |v| format!("v{v}"));
                            let why = format!(
                                "every gate passed, but @{alias} moved away from {was} (pinned when the gates \
                                 started) before the move: {} v{version} not promoted; rerun to evaluate against \
                                 the new baseline",
                                p.name
                            );
                            report.promotion_refused = Some(why.clone());
                            (ActionDto::LostRace, why)
                        }
                        // A protected alias moves only by an approved request: open one instead.
                        Err(e) if e.is_permission_denied() => {
                            let reason = format!(
                                "pipeline run {}: every gate passed",
                                report.pipeline_run_id.as_deref().unwrap_or("?")
                            );
                            let body = serde_json::json!({
                                "model": p.name, "version": version, "alias": alias, "reason": reason,
                            });
                            let opened = client
                                .json(reqwest::Method::POST, "/promotions", &[], Some(&body))
                                .await
                                .map_err(|e| client_error("opening a promotion request", e))?;
                            let id = opened["promotion"]["id"].as_str().unwrap_or("?").to_owned();
                            let needs = opened["promotion"]["required_approvals"].clone();
                            (
                                ActionDto::NotPromoted,
                                format!(
                                    "every gate passed; @{alias} is protected, so promotion request {id} \
                                     asks for {} v{version} ({needs} approval(s) needed: \
                                     cairn promote approve {id})",
                                    p.name
                                ),
                            )
                        }
                        Err(e) => return Err(client_error("moving the alias (compare-and-set)", e)),
                    }
                }
                (Some(alias), decision) => (
                    ActionDto::NotPromoted,
                    format!(
                        "gates {decision}: {} v{version} registered{}, @{alias} untouched",
                        p.name,
                        p.candidate_alias
                            .as_deref()
                            .map_or(String::new(), |c| format!(" as @{c}"))
                    ),
                ),
            };
            report.promotion = Some(Promotion {
                name: p.name.clone(),
                version: version.to_string(),
                aliases,
            });
            outcome
        }
    };
    d.note = Some(detail.clone());

    if pipeline.gates.is_empty() && spec.is_none() {
        return Ok(());
    }
    let Some(run_id) = report.pipeline_run_id.clone() else {
        return Ok(());
    };
    let body = GateEvaluationBody {
        pipeline_run_id: run_id.clone(),
        pipeline: pipeline.name.clone(),
        model_name: spec.map(|p| p.name.clone()),
        model_version: d.candidate.as_ref().map(|(_, v)| v.to_string()),
        metrics: report
            .metrics
            .iter()
            .map(|(k, v)| (k.clone(), Some(*v).filter(|v| v.is_finite())))
            .collect(),
        baselines: d
            .pins
            .iter()
            .map(|(alias, pin)| PinnedAliasDto {
                alias: alias.clone(),
                version: pin.as_ref().map(|p| p.version.to_string()),
            })
            .collect(),
        dataset_digest: found.dataset_digest,
        rules: d.evaluated.iter().map(rule).collect(),
        decision: match decision {
            "failed" => DecisionDto::Failed,
            "inconclusive" => DecisionDto::Inconclusive,
            _ => DecisionDto::Passed,
        },
        action,
        action_detail: detail.clone(),
    };
    // An MLflow server without Cairn's native API keeps the evaluation as the run's tags only.
    match client.record_gate_evaluation(&body).await {
        Ok(stored) => d.record_id = Some(stored.id),
        Err(e) if e.is_not_found() => tracing::warn!(
            "the server has no gate-evaluation API (not a Cairn server?): the evaluation is kept as \
             tags of the pipeline run only"
        ),
        Err(e) => return Err(client_error("storing the gate evaluation", e)),
    }
    tracker.record_gates(&run_id, &d.evaluated).await?;
    let mut tags = vec![
        ("cairn.gate.decision", decision.to_owned()),
        ("cairn.promotion", detail),
    ];
    if let Some(id) = d.record_id {
        tags.push(("cairn.gate.evaluation_id", id.to_string()));
    }
    if let Some((name, v)) = &d.candidate {
        tags.push(("cairn.promotion.version", format!("{name}/{v}")));
    }
    tracker.tag(&run_id, &tags).await?;
    if report.promotion_refused.is_some() {
        tracker.finish_failed(&run_id).await?;
    }
    Ok(())
}

fn rule(e: &Evaluated) -> RuleResultDto {
    let finite = |v: Option<f64>| v.filter(|v| v.is_finite());
    RuleResultDto {
        name: e.result.name.clone(),
        metric: e.metric.clone(),
        rule: e.rule.clone(),
        observed: finite(e.result.observed),
        baseline: finite(e.result.baseline),
        threshold: finite(e.result.threshold),
        outcome: match e.outcome {
            Outcome::Passed => RuleOutcomeDto::Passed,
            Outcome::Failed => RuleOutcomeDto::Failed,
            Outcome::Skipped => RuleOutcomeDto::Skipped,
            Outcome::Inconclusive => RuleOutcomeDto::Inconclusive,
        },
        note: e.note.clone(),
    }
}

/// Uploads the `promote.model` out into the run of the stage that produced it (else the pipeline run)
/// and registers it, with the confidence gates' per-example scores beside it; the version's tags name
/// the pipeline run.
async fn register(
    project: &Project,
    tracker: &MlflowTracker,
    report: &RunReport,
    p: &cairn_pipelines::spec::Promote,
    scores: &[Scores],
) -> Result<i64, Failure> {
    let local = project.root.join(&p.model.path);
    let is_onnx = local.extension().is_some_and(|e| e == "onnx") && local.is_file();
    if !is_onnx && !local.join("MLmodel").is_file() {
        return Err(Failure::Config(format!(
            "promote: model '{}' is neither a directory holding an MLmodel file nor a .onnx file",
            p.model.path
        )));
    }
    let producer = project
        .pipeline
        .stages
        .iter()
        .find(|s| {
            s.outs
                .iter()
                .any(|o| cairn_pipelines::paths::within(&p.model.path, &o.path))
        })
        .map(|s| s.name.as_str());
    let pipeline_run = report.pipeline_run_id.clone().unwrap_or_default();
    let run_id = report
        .stages
        .iter()
        .find(|s| Some(s.name.as_str()) == producer)
        .and_then(|s| s.run_id.clone())
        .unwrap_or_else(|| pipeline_run.clone());
    let source = tracker.upload_model(&run_id, &local).await?;
    for s in scores {
        let json = serde_json::to_vec(s).expect("scores are JSON");
        tracker
            .put_artifact(&run_id, &scores_artifact(&s.per_example), json)
            .await?;
    }
    let mut tags = vec![("cairn.pipeline_run_id", pipeline_run)];
    if let Some(stage) = producer {
        tags.push(("cairn.stage", stage.to_owned()));
    }
    Ok(tracker
        .register_version(&p.name, &source, &run_id, &tags)
        .await?)
}
